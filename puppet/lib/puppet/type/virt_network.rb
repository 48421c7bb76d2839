# frozen_string_literal: true

require 'puppet/resource_api'
require_relative '../../puppet_x/virtconverge/field_attributes'

Puppet::ResourceApi.register_type(
  name: 'virt_network',
  docs: <<-DOC,
    @summary A libvirt virtual network, converged by the virtconverge engine.

    This version creates `isolated` networks (a bridge with no forwarding, no IP address, no
    DHCP) and `bridge` networks (libvirt's name for a host bridge that already exists, named by
    `bridge`). Networks of mode nat, route and open can be declared when they exist (and are
    reported by `puppet resource virt_network`); creating one is refused by the engine's plan.
    The document's fields are attributes as schemas/desired-state.schema.json declares them
    (generated into lib/puppet_x/virtconverge/fields.rb); creating a network needs mode.

    @example
      virt_network { 'backend':
        mode => 'isolated',
      }
      virt_network { 'lan':
        mode   => 'bridge',
        bridge => 'br0',                # an existing host bridge
      }
  DOC
  features: ['canonicalize', 'simple_get_filter', 'custom_insync'],
  attributes: {
    ensure: {
      type: 'Enum[present, absent]',
      desc: 'Whether the network should exist.',
      default: 'present',
    },
    name: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: 'The network name.',
      behaviour: :namevar,
    },
    # The document's fields, with the schema's types and descriptions (generated: fields.rb).
    **PuppetX::Virtconverge::FieldAttributes.attributes('network'),
    allow_destroy: {
      type: 'Boolean',
      desc: 'Permit destructive changes of this network.',
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
