# frozen_string_literal: true

require 'puppet/resource_api'
require_relative '../../puppet_x/virtconverge/field_attributes'

Puppet::ResourceApi.register_type(
  name: 'virt_host',
  docs: <<-DOC,
    @summary A hypervisor's capacity limits and kernel samepage merging (KSM), converged by the
    virtconverge engine: the document's `hosts:` entry of one libvirt connection.

    One virt_host per libvirt connection; its name is the host's name in the engine's plans
    (`host.hv-a`). `ksm` is converged like any property: only the settings declared are compared,
    each change is made live (pages_to_scan, sleep_millisecs and merge_across_nodes through
    libvirt's node memory parameters; `enabled` through /sys/kernel/mm/ksm/run, which only a host
    on this machine allows). The limits are parameters: they are what the plans of the catalog's
    virt_domain resources on the same connection are checked against. A change that would take
    the host past cpu_allocation_ratio or ram_allocation_ratio fails that domain with the engine's
    over_committed refusal (nothing is changed) unless it sets `allow_overcommit => true`. Without
    a virt_host for a connection, no limits are checked there. The fields are attributes as
    schemas/desired-state.schema.json declares them (`$defs/host`, generated into
    lib/puppet_x/virtconverge/fields.rb), but `maintenance` (draining a host moves its domains to
    another host: a fleet document of several hosts does that, not one Puppet resource per
    connection).

    @example
      virt_host { 'hv-a':
        connection           => 'qemu:///system',
        cpu_allocation_ratio => 4.0,
        ram_allocation_ratio => 1.0,
        reserved_memory      => '2GiB',
        ksm                  => { 'enabled' => true, 'pages_to_scan' => 100, 'sleep_millisecs' => 20 },
      }
  DOC
  features: ['canonicalize', 'simple_get_filter', 'custom_insync'],
  attributes: {
    name: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: "The host's name in the engine's plans and diagnostics (`host.hv-a`).",
      behaviour: :namevar,
    },
    # The hosts: entry's fields, with the schema's types and descriptions (generated: fields.rb).
    # connection is one of them: the libvirt URI, default $LIBVIRT_DEFAULT_URI, then qemu:///system.
    **PuppetX::Virtconverge::FieldAttributes.attributes('host'),
  },
)
