# frozen_string_literal: true

# GENERATED from schemas/desired-state.schema.json by scripts/generate-frontend-fields.py: do not edit.
# Regenerate after a change of the schema: python3 scripts/generate-frontend-fields.py
# (ctest puppet_fields_generated fails while this file is out of date).
#
# Every document field of every resource kind, in schema order (ensure is the types' own):
# type: its Puppet data type, derived from the schema; desc: the schema's description;
# size: bytes or a size string ($defs/size); policy: x-change 'policy', sent to the engine and
# never observed nor compared (a Puppet parameter, not a property). The types and providers
# read it through PuppetX::Virtconverge::FieldAttributes.
module PuppetX
  module Virtconverge
    module Fields
      TABLE = {
        'host' => [
          {
            name: :connection,
            type: 'Optional[Pattern[/\A[^\s]+\z/]]',
            desc: "The host's libvirt URI, e.g. qemu+ssh://root@hv-a.example.net/system.",
            size: false,
            policy: true,
          },
          {
            name: :maintenance,
            type: 'Optional[Boolean]',
            desc: 'Drain the host: every running domain on it is planned to move live to another host that ' \
                  'can take it: one whose CPU can run it and whose capacity limits the move keeps, the one ' \
                  'with the most headroom first. Taking the mark away moves nothing back. Default: false.',
            size: false,
            policy: true,
          },
          {
            name: :cpu_allocation_ratio,
            type: 'Optional[Variant[Integer[1, 1000], Float[0, 1000]]]',
            desc: "vCPUs the host's domains may commit per host CPU (libvirt's node info): a plan that " \
                  "takes the committed vCPUs of every domain defined on the host, declared or not, above " \
                  "cpus x this ratio is refused unless overcommit is allowed (--allow-overcommit). Default " \
                  "4.0 (Nova's).",
            size: false,
            policy: true,
          },
          {
            name: :ram_allocation_ratio,
            type: 'Optional[Variant[Integer[1, 1000], Float[0, 1000]]]',
            desc: "Memory the host's domains may commit per byte of host memory: a plan that takes " \
                  "reserved_memory plus the current memory of every domain defined on the host above its " \
                  "memory x this ratio is refused unless overcommit is allowed. Default 1.0 (Nova's); " \
                  "above 1 counts on the balloon and KSM.",
            size: false,
            policy: true,
          },
          {
            name: :reserved_memory,
            type: 'Optional[Variant[Integer[1], Pattern[/\A0*[1-9][0-9]*(B|KiB|MiB|GiB|TiB)?\z/]]]',
            desc: "Host memory kept for the host itself (kernel, libvirtd, QEMU's own overhead): counted " \
                  "as committed. Default 512MiB (Nova's reserved_host_memory_mb).",
            size: true,
            policy: true,
          },
          {
            name: :ksm,
            type: 'Optional[Struct[{Optional[enabled] => Boolean, Optional[pages_to_scan] => Integer[1, ' \
                  '100000], Optional[sleep_millisecs] => Integer[1, 100000], Optional[merge_across_nodes] ' \
                  '=> Boolean}]]',
            desc: "The host's kernel samepage merging, converged like a resource's fields (each setting a " \
                  "change of its own, made live). Only the fields declared are compared.",
            size: false,
            policy: false,
          },
        ],
        'pool' => [
          {
            name: :type,
            type: 'Optional[Enum[dir, logical, rbd]]',
            desc: "Storage pool type: dir (a directory of image files), logical (an LVM volume group) or " \
                  "rbd (a Ceph pool, with the ceph section's client).",
            size: false,
            policy: false,
          },
          {
            name: :path,
            type: 'Optional[Pattern[/\A(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+\z/]]',
            desc: 'The pool directory (target path). Required for dir pools.',
            size: false,
            policy: false,
          },
          {
            name: :volume_group,
            type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
            desc: 'The LVM volume group the pool maps. Required for logical pools.',
            size: false,
            policy: false,
          },
          {
            name: :autostart,
            type: 'Optional[Boolean]',
            desc: 'Start the pool when libvirtd starts. Default at creation: true.',
            size: false,
            policy: false,
          },
          {
            name: :ceph_pool,
            type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
            desc: 'The Ceph pool an rbd pool maps. Required for rbd pools.',
            size: false,
            policy: false,
          },
        ],
        'network' => [
          {
            name: :mode,
            type: 'Optional[Enum[isolated, nat, route, open, bridge]]',
            desc: 'Forwarding mode. isolated: a bridge libvirt makes, with no forwarding, no IP address ' \
                  'and no DHCP. bridge: guests join an existing host bridge, named by bridge (libvirt ' \
                  'neither creates nor configures it). These two can be created. nat, route and open ' \
                  'networks can be declared for networks that exist (observe reports them, and a plan ' \
                  'leaves them as they are), but planning to create or replace one is refused with code ' \
                  'unsupported.',
            size: false,
            policy: false,
          },
          {
            name: :bridge,
            type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\z/]]',
            desc: 'The bridge device name (at most 15 characters). For isolated networks the bridge ' \
                  'libvirt creates (default: chosen by libvirt); for bridge networks the existing host ' \
                  'bridge, required.',
            size: false,
            policy: false,
          },
          {
            name: :autostart,
            type: 'Optional[Boolean]',
            desc: 'Start the network when libvirtd starts. Default at creation: true.',
            size: false,
            policy: false,
          },
        ],
        'volume' => [
          {
            name: :format,
            type: 'Optional[Enum[qcow2, raw]]',
            desc: 'Image format. qcow2 volumes are thin (allocated on write). Default at creation: qcow2.',
            size: false,
            policy: false,
          },
          {
            name: :capacity,
            type: 'Optional[Variant[Integer[1], Pattern[/\A0*[1-9][0-9]*(B|KiB|MiB|GiB|TiB)?\z/]]]',
            desc: "Virtual size. Required unless backing_volume is given (the overlay then has the backing " \
                  "volume's size).",
            size: true,
            policy: false,
          },
          {
            name: :backing_volume,
            type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
            desc: 'Makes this volume a qcow2 copy-on-write overlay on that volume (<pool>/<volume>); ' \
                  'format must then be qcow2.',
            size: false,
            policy: false,
          },
        ],
        'rbd_image' => [
          {
            name: :size,
            type: 'Optional[Variant[Integer[1], Pattern[/\A0*[1-9][0-9]*(B|KiB|MiB|GiB|TiB)?\z/]]]',
            desc: 'Virtual size. Growing is live (a running guest is told); shrinking is destructive.',
            size: true,
            policy: false,
          },
          {
            name: :features,
            type: 'Optional[Array[Enum[layering, exclusive-lock, object-map, fast-diff, deep-flatten, ' \
                  'journaling, striping, data-pool]]]',
            desc: 'Enabled image features, switched on and off in place where Ceph allows it.',
            size: false,
            policy: false,
          },
          {
            name: :snapshots,
            type: 'Optional[Array[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]]',
            desc: 'Snapshots that must exist (created if missing; others are left alone).',
            size: false,
            policy: false,
          },
          {
            name: :clone_from,
            type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}@[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
            desc: '<pool>/<image>@<snapshot>: created as a copy-on-write clone of that snapshot (protected ' \
                  'first).',
            size: false,
            policy: false,
          },
          {
            name: :flatten,
            type: 'Optional[Boolean]',
            desc: "Copy the parent's data into the clone and drop the link to it.",
            size: false,
            policy: false,
          },
        ],
        'domain' => [
          {
            name: :vcpus,
            type: 'Optional[Integer[1, 4096]]',
            desc: 'vCPUs online at boot (1-4096). Must be <= max_vcpus (checked by the engine).',
            size: false,
            policy: false,
          },
          {
            name: :max_vcpus,
            type: 'Optional[Integer[1, 4096]]',
            desc: 'vCPU slots, headroom for hot-add (1-4096, >= vcpus). Default: vcpus.',
            size: false,
            policy: false,
          },
          {
            name: :memory,
            type: 'Optional[Variant[Integer[1], Pattern[/\A0*[1-9][0-9]*(B|KiB|MiB|GiB|TiB)?\z/]]]',
            desc: 'Current memory. Must be <= max_memory (checked by the engine).',
            size: true,
            policy: false,
          },
          {
            name: :max_memory,
            type: 'Optional[Variant[Integer[1], Pattern[/\A0*[1-9][0-9]*(B|KiB|MiB|GiB|TiB)?\z/]]]',
            desc: 'Memory ceiling, headroom for balloon and DIMM hot-add (>= memory). Default: memory.',
            size: true,
            policy: false,
          },
          {
            name: :disks,
            type: 'Optional[Array[Variant[Struct[{volume => ' \
                  'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], ' \
                  'target => Pattern[/\A(vd|sd)[a-z]{1,2}\z/], Optional[bus] => Enum[virtio, sata, scsi], ' \
                  'Optional[discard] => Enum[unmap, ignore]}], Struct[{target => ' \
                  'Pattern[/\A(vd|sd)[a-z]{1,2}\z/], Optional[bus] => Enum[virtio, sata, scsi], ' \
                  'Optional[discard] => Enum[unmap, ignore], rbd => ' \
                  'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]}]]]]',
            desc: 'Disks attached to the domain. Targets must be unique within the domain (checked by the ' \
                  'engine).',
            size: false,
            policy: false,
          },
          {
            name: :interfaces,
            type: 'Optional[Array[Struct[{network => Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], ' \
                  'Optional[mac] => Pattern[/\A[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}\z/], ' \
                  'Optional[model] => Enum[virtio, e1000, rtl8139]}]]]',
            desc: 'Network interfaces. MACs must be unique within the domain (checked by the engine).',
            size: false,
            policy: false,
          },
          {
            name: :state,
            type: 'Optional[Enum[running, stopped]]',
            desc: 'Whether the domain should be running or stopped. Default at creation: running.',
            size: false,
            policy: false,
          },
          {
            name: :autostart,
            type: 'Optional[Boolean]',
            desc: 'Start the domain when libvirtd starts. Default at creation: false.',
            size: false,
            policy: false,
          },
          {
            name: :virt_type,
            type: 'Optional[Enum[kvm, qemu]]',
            desc: 'The accelerator: kvm, or qemu (TCG emulation). Default: kvm when the host offers it, ' \
                  'else qemu.',
            size: false,
            policy: false,
          },
          {
            name: :cpu,
            type: 'Optional[Struct[{mode => Enum[host-model, host-passthrough, custom, baseline], ' \
                  'Optional[model] => Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\z/], Optional[require] => ' \
                  'Array[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]], Optional[disable] => ' \
                  'Array[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]}]]',
            desc: 'CPU model. A change needs a restart. A named custom model is what lets a VM migrate ' \
                  'between hosts with different CPUs.',
            size: false,
            policy: false,
          },
          {
            name: :memory_sharing,
            type: 'Optional[Boolean]',
            desc: "Whether the host's KSM may merge this guest's memory pages with others' (libvirt's " \
                  "memoryBacking/nosharepages when false). Default true.",
            size: false,
            policy: false,
          },
          {
            name: :snapshots,
            type: 'Optional[Array[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]]',
            desc: "Disk snapshots the domain must have, by name (a set). A name missing on the host is " \
                  "taken: every disk at one point in time, volumes as an external qcow2 overlay " \
                  "<volume>@<name> in the volume's pool, RBD images as the librbd snapshot vcsnap-<name>; " \
                  "a running guest is quiesced when its guest agent answers, else paused for the moment it " \
                  "takes (the plan says which). A snapshot the host has that is not listed is deleted: " \
                  "merged into the disks, its point in time lost (destructive: needs allow_destroy). " \
                  "Omitted: the domain's snapshots are left alone. Reverting is the `revert` command, " \
                  "never a document edit.",
            size: false,
            policy: false,
          },
          {
            name: :cloud_init,
            type: 'Optional[Struct[{pool => Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], user_data => ' \
                  'Variant[Hash[String, Data], String[0, 65536]], meta_data => Struct[{instance_id => ' \
                  'String[1, 255], Optional[local_hostname] => ' \
                  'Pattern[/\A[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?\z/]}], ' \
                  'Optional[network_config] => Variant[Hash[String, Data], String[0, 65536]], ' \
                  'Optional[bus] => Enum[sata, scsi, ide], Optional[on_change] => Enum[restart, ' \
                  'next_boot]}]]',
            desc: "A cloud-init NoCloud seed: the engine builds the 'cidata' ISO 9660 image (user-data, " \
                  "meta-data, network-config) itself, keeps it as the volume <pool>/<domain>-cidata.iso " \
                  "and attaches it as a read-only SATA CD-ROM. A change is shown per sub-field " \
                  "(cloud_init.user_data with a diff; values of keys that look secret, such as passwords, " \
                  "are redacted in plans and output) and is taken at the next boot.",
            size: false,
            policy: false,
          },
          {
            name: :memory_hotplug_unit,
            type: 'Optional[Variant[Integer[1], Pattern[/\A0*[1-9][0-9]*(B|KiB|MiB|GiB|TiB)?\z/]]]',
            desc: 'DIMM size for live memory hot-add: the step is rounded up to a multiple of it (then ' \
                  'ballooned to the exact value). Default 128MiB. Policy: never observed, never compared.',
            size: true,
            policy: true,
          },
          {
            name: :restart,
            type: 'Optional[Enum[allowed, pending]]',
            desc: "What apply may do with a change that needs a restart while the domain runs: 'pending' " \
                  "(default) writes it to the persistent config for the next boot; 'allowed' shuts the " \
                  "guest down gracefully and starts it again, like --allow-restart. Policy: never " \
                  "observed, never compared.",
            size: false,
            policy: true,
          },
        ],
      }.freeze
    end
  end
end
