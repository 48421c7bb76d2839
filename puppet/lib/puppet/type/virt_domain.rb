# frozen_string_literal: true

require 'puppet/resource_api'
require_relative '../../puppet_x/virtconverge/field_attributes'

Puppet::ResourceApi.register_type(
  name: 'virt_domain',
  docs: <<-DOC,
    @summary A libvirt domain (virtual machine), converged by the virtconverge engine.

    Only the attributes a manifest sets are compared and changed. A change to a running domain is
    made live where QEMU can (vCPU hot-plug, balloon, DIMM hot-add, disk and NIC hot-plug); what
    cannot be live is written to the persistent config and reported as pending restart, unless
    `allow_restart => true`. Every change message carries the engine's disruption class, e.g.
    `vcpus changed 1 to 2 (live: hot-plug)`.

    The document's fields (vcpus, memory, disks, ...) are attributes as
    schemas/desired-state.schema.json declares them (generated into
    lib/puppet_x/virtconverge/fields.rb); creating a domain needs vcpus and memory.

    @example
      virt_domain { 'web1':
        vcpus      => 1,
        max_vcpus  => 4,
        memory     => '256MiB',
        max_memory => '1GiB',
        disks      => [{ 'volume' => 'images/web1-root', 'target' => 'vda' }],
        interfaces => [{ 'network' => 'backend' }],
        state      => 'running',
      }

    A disk on a Ceph RBD image is `{ 'rbd' => 'rbd/web1-data', 'target' => 'vdb' }`; the domain then
    requires that rbd_image and reaches its cluster (ceph_conf, ceph_user) like it.
  DOC
  features: ['canonicalize', 'simple_get_filter', 'custom_insync'],
  attributes: {
    ensure: {
      type: 'Enum[present, absent]',
      desc: 'Whether the domain should exist; `absent` shuts it down and undefines it (its volumes are kept).',
      default: 'present',
    },
    name: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: 'The domain name.',
      behaviour: :namevar,
    },
    # The document's fields, with the schema's types and descriptions (generated: fields.rb).
    **PuppetX::Virtconverge::FieldAttributes.attributes('domain'),
    allow_restart: {
      type: 'Boolean',
      desc: "Restart the running domain (ACPI shutdown, then start) when a change needs it. When false, such a change is written to the persistent config and reported as pending restart (the engine's `restart: allowed`).",
      default: false,
      behaviour: :parameter,
    },
    shutdown_timeout: {
      type: 'Optional[Integer[0]]',
      desc: 'Seconds the guest gets to shut down (ACPI) when it is restarted or deleted, before it is forced off (engine default 60).',
      behaviour: :parameter,
    },
    allow_overcommit: {
      type: 'Boolean',
      desc: "Permit a change that takes the host past the cpu_allocation_ratio or ram_allocation_ratio of the connection's " \
            "virt_host (the engine refuses it otherwise, code over_committed, and the resource fails). Without a virt_host " \
            'for the connection no limits are checked.',
      default: false,
      behaviour: :parameter,
    },
    allow_destroy: {
      type: 'Boolean',
      desc: 'Permit destructive changes of this resource (the engine refuses them otherwise and the resource fails).',
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
      desc: 'For RBD disks: the Ceph conf naming the monitors and the keyring. Default: the ceph_conf of the ' \
            "disk's rbd_image in the catalog, else $CEPH_CONF, else /etc/ceph/ceph.conf. May be Sensitive.",
      behaviour: :parameter,
    },
    ceph_user: {
      type: 'Optional[Variant[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], Sensitive[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]]]',
      desc: "For RBD disks: the cephx client without 'client.'. Default: the ceph_user of the disk's rbd_image in " \
            'the catalog, else admin. May be Sensitive.',
      behaviour: :parameter,
    },
  },
)

require_relative '../../puppet_x/virtconverge/ceph'
require_relative '../../puppet_x/virtconverge/relationships'
PuppetX::Virtconverge::Relationships.add_domain_autorequires(Puppet::Type.type(:virt_domain))
PuppetX::Virtconverge::Relationships.add_host_autorequire(Puppet::Type.type(:virt_domain))
PuppetX::Virtconverge::Ceph.accept_sensitive(Puppet::Type.type(:virt_domain))
PuppetX::Virtconverge::FieldAttributes.mark_secret_properties(Puppet::Type.type(:virt_domain), 'domain')
