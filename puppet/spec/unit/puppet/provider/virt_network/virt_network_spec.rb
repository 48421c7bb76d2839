# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_network'
require 'puppet/provider/virt_network/virt_network'

RSpec.describe Puppet::Provider::VirtNetwork::VirtNetwork, :test_driver, if: engine_binary do
  subject(:provider) { provider_for('virt_network') }

  it 'creates an isolated network, then finds nothing to change' do
    expect(converge(provider, 'vcp-net', mode: 'isolated')).to eq(["defined 'ensure' as 'present': + network.vcp-net (create, no disruption)"])
    expect(converge(provider_for('virt_network', next_run_host), 'vcp-net', mode: 'isolated', autostart: true)).to eq([])
  end

  it 'reports what the engine cannot create as the failure of that resource' do
    expect { converge(provider, 'vcp-nat', mode: 'nat') }.to raise_error(Puppet::ResourceError, %r{nat})
  end

  it 'lists what the host holds' do
    expect(provider.get(context)).to include(a_hash_including(name: 'default', mode: 'nat', ensure: 'present'))
  end
end
