# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_network'

RSpec.describe 'the virt_network type' do
  let(:type) { Puppet::Type.type(:virt_network) }

  it 'accepts an isolated network with a bridge name' do
    expect(type.new(name: 'backend', mode: 'isolated', bridge: 'vcbr0')[:bridge]).to eq('vcbr0')
  end

  it 'rejects a bridge name longer than 15 characters and an unknown mode' do
    expect { type.new(name: 'backend', mode: 'isolated', bridge: 'a-very-long-bridge') }.to raise_error(Puppet::Error, %r{bridge})
    expect { type.new(name: 'backend', mode: 'vxlan') }.to raise_error(Puppet::Error, %r{mode})
  end
end

describe 'virt_network', type: :type do
  let(:title) { 'backend' }

  it { is_expected.to be_valid_type.with_properties([:mode, :bridge, :autostart]) }
end
