# frozen_string_literal: true

require 'puppet/resource_api'
require_relative '../../puppet_x/virtconverge/field_attributes'

Puppet::ResourceApi.register_type(
  name: 'virt_pool',
  docs: <<-DOC,
    @summary A libvirt storage pool, converged by the virtconverge engine.

    The document's fields are attributes as schemas/desired-state.schema.json declares them
    (generated into lib/puppet_x/virtconverge/fields.rb). Creating a pool needs type, and path
    (dir), volume_group (logical) or ceph_pool (rbd, in the cluster of ceph_conf and ceph_user).

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
    # The document's fields, with the schema's types and descriptions (generated: fields.rb).
    **PuppetX::Virtconverge::FieldAttributes.attributes('pool'),
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
