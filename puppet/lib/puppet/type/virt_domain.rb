# frozen_string_literal: true

require 'puppet/resource_api'

Puppet::ResourceApi.register_type(
  name: 'virt_domain',
  docs: <<-DOC,
    @summary A libvirt domain (virtual machine), converged by the virtconverge engine.

    Only the attributes a manifest sets are compared and changed. A change to a running domain is
    made live where QEMU can (vCPU hot-plug, balloon, DIMM hot-add, disk and NIC hot-plug); what
    cannot be live is written to the persistent config and reported as pending restart, unless
    `allow_restart => true`. Every change message carries the engine's disruption class, e.g.
    `vcpus changed 1 to 2 (live: hot-plug)`.

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
    vcpus: {
      type: 'Optional[Integer[1, 4096]]',
      desc: 'vCPUs online at boot. Required to create the domain. Raising it up to the max_vcpus the guest booted with is live (hot-plug); lowering it needs a restart.',
    },
    max_vcpus: {
      type: 'Optional[Integer[1, 4096]]',
      desc: 'vCPU slots, headroom for hot-add (default at creation: vcpus). Fixed at boot.',
    },
    memory: {
      type: 'Optional[Variant[Integer[1], Pattern[/\A[0-9]+(B|KiB|MiB|GiB|TiB)?\z/]]]',
      desc: "Current memory: bytes, or a size such as '256MiB' or '2GiB'. Required to create the domain. Live within max_memory (balloon, DIMM hot-add).",
    },
    max_memory: {
      type: 'Optional[Variant[Integer[1], Pattern[/\A[0-9]+(B|KiB|MiB|GiB|TiB)?\z/]]]',
      desc: 'Memory ceiling (default at creation: memory). A domain created with max_memory above memory gets the slots DIMM hot-add needs. Fixed at boot.',
    },
    disks: {
      type: 'Optional[Array[Variant[Struct[{volume => Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], target => Pattern[/\A(vd|sd)[a-z]{1,2}\z/], Optional[bus] => Enum[virtio, sata, scsi], Optional[discard] => Enum[unmap, ignore]}], Struct[{rbd => Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], target => Pattern[/\A(vd|sd)[a-z]{1,2}\z/], Optional[bus] => Enum[virtio, sata, scsi], Optional[discard] => Enum[unmap, ignore]}]]]]',
      desc: "Disks, each { volume => 'pool/volume', target => 'vda', bus => virtio|sata|scsi, discard => unmap|ignore } " \
            "for a libvirt volume, or { rbd => 'ceph_pool/image', target => 'vdb', ... } for a Ceph RBD image (a network " \
            'disk authenticated with cephx through a libvirt secret virtconverge keeps; the cluster is ceph_conf and ' \
            'ceph_user). Only the declared sub-fields are compared.',
    },
    interfaces: {
      type: 'Optional[Array[Struct[{network => Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], Optional[mac] => Pattern[/\A[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}\z/], Optional[model] => Enum[virtio, e1000, rtl8139]}]]]',
      desc: 'Network interfaces, each { network => NAME, mac => 52:54:00:xx:xx:xx, model => virtio|e1000|rtl8139 }. A MAC left out is chosen by libvirt once and kept.',
    },
    state: {
      type: 'Optional[Enum[running, stopped]]',
      desc: 'Whether the domain runs (default at creation: running).',
    },
    autostart: {
      type: 'Optional[Boolean]',
      desc: 'Start the domain when libvirtd starts (default at creation: false).',
    },
    cpu: {
      type: 'Optional[Struct[{mode => Enum[host-model, host-passthrough, custom], Optional[model] => Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\z/]}]]',
      desc: "The guest CPU: { mode => 'host-model' }, { mode => 'host-passthrough' } or { mode => 'custom', model => NAME }. Fixed at boot.",
    },
    virt_type: {
      type: 'Optional[Enum[kvm, qemu]]',
      desc: 'The accelerator (qemu is TCG); default at creation: kvm when the host offers it. Fixed at boot.',
    },
    memory_hotplug_unit: {
      type: 'Optional[Variant[Integer[1], Pattern[/\A[0-9]+(B|KiB|MiB|GiB|TiB)?\z/]]]',
      desc: 'DIMM size for live memory hot-add (engine default 128MiB). A policy, never compared.',
      behaviour: :parameter,
    },
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
PuppetX::Virtconverge::Ceph.accept_sensitive(Puppet::Type.type(:virt_domain))
