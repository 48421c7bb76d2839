# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_pool'
require 'puppet/provider/virt_pool/virt_pool'

RSpec.describe Puppet::Provider::VirtPool::VirtPool, :test_driver, if: engine_binary do
  subject(:provider) { provider_for('virt_pool') }

  it 'creates a dir pool, then finds nothing to change, and changes autostart alone' do
    expect(converge(provider, 'vcp-images', type: 'dir', path: '/tmp/vcp-spec/images', autostart: false))
      .to eq(["defined 'ensure' as 'present': + pool.vcp-images (create, no disruption)"])
    expect(converge(provider_for('virt_pool', next_run_host), 'vcp-images', type: 'dir', path: '/tmp/vcp-spec/images')).to eq([])
    expect(converge(provider_for('virt_pool', next_run_host), 'vcp-images', autostart: true))
      .to match([a_string_starting_with('autostart false → true  (no disruption')])
  end

  it 'lists what the host holds' do
    expect(provider.get(context).map { |r| r[:name] }).to include('default-pool')
  end
end
