# frozen_string_literal: true

require 'puppet/resource_api'

Puppet::ResourceApi.register_type(
  name: 'virt_network',
  docs: <<-DOC,
    @summary A libvirt virtual network, converged by the virtconverge engine.

    This version creates `isolated` networks (a bridge with no forwarding, no IP address, no
    DHCP) and `bridge` networks (libvirt's name for a host bridge that already exists, named by
    `bridge`). Networks of mode nat, route and open can be declared when they exist (and are
    reported by `puppet resource virt_network`); creating one is refused by the engine's plan.

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
    mode: {
      type: 'Optional[Enum[isolated, nat, route, open, bridge]]',
      desc: 'The forwarding mode. Required to create the network; `isolated` and `bridge` can be created ' \
            '(nat, route and open only declared for networks that exist).',
    },
    bridge: {
      type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\z/]]',
      desc: 'The host bridge device: for `isolated`, the one libvirt creates (default: chosen by libvirt); for ' \
            '`bridge`, the existing host bridge the network uses (required).',
    },
    autostart: {
      type: 'Optional[Boolean]',
      desc: 'Start the network when libvirtd starts (default at creation: true).',
    },
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
