# frozen_string_literal: true

require 'puppet/resource_api'

Puppet::ResourceApi.register_type(
  name: 'virt_network',
  docs: <<-DOC,
    @summary A libvirt virtual network, converged by the virtconverge engine.

    This version creates `isolated` networks (a bridge with no forwarding, no IP address, no
    DHCP); the other modes are reported by `puppet resource virt_network`.

    @example
      virt_network { 'backend':
        mode => 'isolated',
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
      desc: 'The forwarding mode. Required to create the network; only `isolated` can be created.',
    },
    bridge: {
      type: 'Optional[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\z/]]',
      desc: 'The host bridge device (default: chosen by libvirt).',
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
