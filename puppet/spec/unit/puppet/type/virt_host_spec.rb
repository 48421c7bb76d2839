# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_host'

RSpec.describe 'the virt_host type' do
  let(:type) { Puppet::Type.type(:virt_host) }

  it 'takes the limits and the KSM settings of a hosts: entry' do
    host = type.new(name: 'hv-a', connection: 'qemu:///system', cpu_allocation_ratio: 4.0, ram_allocation_ratio: 1,
                    reserved_memory: '2GiB', ksm: { 'enabled' => true, 'pages_to_scan' => 100, 'sleep_millisecs' => 20 })
    expect(host[:cpu_allocation_ratio]).to eq(4.0)
    expect(host[:ksm]).to eq('enabled' => true, 'pages_to_scan' => 100, 'sleep_millisecs' => 20)
  end

  it "rejects what the schema's types rule out" do
    expect { type.new(name: 'hv-a', ksm: { 'pages_to_scan' => 0 }) }.to raise_error(Puppet::Error, %r{ksm})
    expect { type.new(name: 'hv-a', ksm: { 'run' => 1 }) }.to raise_error(Puppet::Error, %r{ksm})
    expect { type.new(name: 'hv-a', cpu_allocation_ratio: 1001) }.to raise_error(Puppet::Error, %r{cpu_allocation_ratio})
    expect { type.new(name: 'hv-a', reserved_memory: '2GB') }.to raise_error(Puppet::Error, %r{reserved_memory})
  end

  it 'is required by the virt_domain resources of its connection, however the connection is spelt' do
    require 'puppet/type/virt_domain'
    ENV.delete('LIBVIRT_DEFAULT_URI')
    catalog = Puppet::Resource::Catalog.new
    local = type.new(name: 'hv-a', connection: 'qemu:///system')
    other = type.new(name: 'hv-t', connection: 'test:///default')
    domain = Puppet::Type.type(:virt_domain).new(name: 'web1', vcpus: 1, memory: '1GiB') # the default URI
    elsewhere = Puppet::Type.type(:virt_domain).new(name: 'web2', vcpus: 1, memory: '1GiB', connection: 'test:///default')
    [local, other, domain, elsewhere].each { |r| catalog.add_resource(r) }
    expect(domain.autorequire.map { |edge| edge.source.ref }).to eq(['Virt_host[hv-a]'])
    expect(elsewhere.autorequire.map { |edge| edge.source.ref }).to eq(['Virt_host[hv-t]'])
  end

  it 'has no maintenance attribute (draining needs a fleet document) and no ensure (a host is not created)' do
    expect(type.validattr?(:maintenance)).to be false
    expect(type.validattr?(:ensure)).to be false
  end
end

describe 'virt_host', type: :type do
  let(:title) { 'hv-a' }

  it { is_expected.to be_valid_type.with_properties([:ksm]).with_parameters([:connection, :cpu_allocation_ratio, :ram_allocation_ratio, :reserved_memory]) }
end
