# frozen_string_literal: true

require 'puppet/resource_api'

Puppet::ResourceApi.register_type(
  name: 'virt_pool',
  docs: <<-DOC,
    @summary A libvirt storage pool, converged by the virtconverge engine.

    @example
      virt_pool { 'images':
        type => 'dir',
        path => '/var/lib/virtconverge/images',
      }
  DOC
  features: ['canonicalize', 'simple_get_filter', 'custom_insync'],
  attributes: {
    ensure: {
      type: 'Enum[present, absent]',
      desc: 'Whether the pool should exist.',
      default: 'present',
    },
    name: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: 'The pool name.',
      behaviour: :namevar,
    },
    type: {
      type: 'Optional[Enum[dir, logical]]',
      desc: 'The pool type. Required to create the pool.',
    },
    path: {
      type: 'Optional[Pattern[/\A(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+\z/]]',
      desc: 'The directory of a `dir` pool (an absolute path; no segment may start with a dot).',
    },
    volume_group: {
      type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
      desc: 'The LVM volume group a `logical` pool maps.',
    },
    autostart: {
      type: 'Optional[Boolean]',
      desc: 'Start the pool when libvirtd starts (default at creation: true).',
    },
    allow_destroy: {
      type: 'Boolean',
      desc: 'Permit destructive changes of this pool.',
      default: false,
      behaviour: :parameter,
    },
    connection: {
      type: 'Optional[String[1]]',
      desc: 'The libvirt URI. Default: $LIBVIRT_DEFAULT_URI, then qemu:///system.',
      behaviour: :parameter,
    },
  },
)
