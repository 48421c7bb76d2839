# frozen_string_literal: true

require 'puppet/resource_api'
require_relative '../../puppet_x/virtconverge/field_attributes'

Puppet::ResourceApi.register_type(
  name: 'virt_volume',
  docs: <<-DOC,
    @summary A storage volume in a libvirt pool, converged by the virtconverge engine.

    The title is `pool/volume`. Growing `capacity` is live (QEMU grows the image itself when a
    running guest uses it); shrinking, or deleting the volume, is destructive and fails the
    resource unless `allow_destroy => true`. The document's fields are attributes as
    schemas/desired-state.schema.json declares them (generated into
    lib/puppet_x/virtconverge/fields.rb); creating a volume needs capacity, unless it is an
    overlay (backing_volume).

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
    # The document's fields, with the schema's types and descriptions (generated: fields.rb).
    **PuppetX::Virtconverge::FieldAttributes.attributes('volume'),
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
