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
      virt_pool { 'ceph-vms':            # a libvirt pool over a Ceph pool
        type      => 'rbd',
        ceph_pool => 'vms',
        ceph_conf => '/etc/ceph/ceph.conf',
        ceph_user => 'libvirt',
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
      type: 'Optional[Enum[dir, logical, rbd]]',
      desc: 'The pool type: dir (a directory of image files), logical (an LVM volume group) or rbd (a Ceph pool). ' \
            'Required to create the pool.',
    },
    path: {
      type: 'Optional[Pattern[/\A(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+\z/]]',
      desc: 'The directory of a `dir` pool (an absolute path; no segment may start with a dot).',
    },
    volume_group: {
      type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
      desc: 'The LVM volume group a `logical` pool maps.',
    },
    ceph_pool: {
      type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
      desc: 'The Ceph pool an `rbd` pool maps (the cluster is ceph_conf and ceph_user).',
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
    ceph_conf: {
      type: 'Optional[Variant[Pattern[/\A(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+\z/], Sensitive[Pattern[/\A(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+\z/]]]]',
      desc: 'For `rbd` pools: the Ceph conf naming the monitors and the keyring. Default: $CEPH_CONF, else ' \
            '/etc/ceph/ceph.conf. May be Sensitive.',
      behaviour: :parameter,
    },
    ceph_user: {
      type: 'Optional[Variant[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], Sensitive[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]]]',
      desc: "For `rbd` pools: the cephx client without 'client.' (default admin). May be Sensitive.",
      behaviour: :parameter,
    },
  },
)

require_relative '../../puppet_x/virtconverge/ceph'
PuppetX::Virtconverge::Ceph.accept_sensitive(Puppet::Type.type(:virt_pool))
