# frozen_string_literal: true

require 'puppet/resource_api'

Puppet::ResourceApi.register_type(
  name: 'virt_volume',
  docs: <<-DOC,
    @summary A storage volume in a libvirt pool, converged by the virtconverge engine.

    The title is `pool/volume`. Growing `capacity` is live (QEMU grows the image itself when a
    running guest uses it); shrinking, or deleting the volume, is destructive and fails the
    resource unless `allow_destroy => true`.

    @example
      virt_volume { 'images/web1-root':
        format   => 'qcow2',
        capacity => '20GiB',
      }
  DOC
  features: ['canonicalize', 'simple_get_filter', 'custom_insync'],
  title_patterns: [
    { pattern: %r{\A(?<pool>[^/]+)/(?<volume>[^/]+)\z}, desc: '`pool/volume`' },
    { pattern: %r{\A(?<volume>[^/]+)\z}, desc: 'the volume name alone, with `pool` set' },
  ],
  attributes: {
    ensure: {
      type: 'Enum[present, absent]',
      desc: 'Whether the volume should exist. Deleting one is destructive: it needs allow_destroy.',
      default: 'present',
    },
    pool: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: 'The storage pool.',
      behaviour: :namevar,
    },
    volume: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: 'The volume name within the pool.',
      behaviour: :namevar,
    },
    format: {
      type: 'Optional[Enum[qcow2, raw]]',
      desc: 'qcow2 (thin, the default at creation) or raw.',
    },
    capacity: {
      type: 'Optional[Variant[Integer[1], Pattern[/\A[0-9]+(B|KiB|MiB|GiB|TiB)?\z/]]]',
      desc: "Virtual size: bytes, or a size such as '20GiB'. Required to create the volume unless backing_volume is set.",
    },
    backing_volume: {
      type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]',
      desc: 'A qcow2 overlay on this `pool/volume` (copy-on-write).',
    },
    allow_destroy: {
      type: 'Boolean',
      desc: 'Permit destructive changes: shrinking or deleting the volume.',
      default: false,
      behaviour: :parameter,
    },
    connection: {
      type: 'Optional[String[1]]',
      desc: 'The libvirt URI. Default: $LIBVIRT_DEFAULT_URI, then qemu:///system.',
      behaviour: :parameter,
    },
  },
  autorequire: {
    virt_pool: '$pool',
    virt_volume: '$backing_volume',
  },
)
