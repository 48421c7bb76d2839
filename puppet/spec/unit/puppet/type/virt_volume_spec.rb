# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_volume'

RSpec.describe 'the virt_volume type' do
  let(:type) { Puppet::Type.type(:virt_volume) }

  it 'takes pool and volume from a pool/volume title' do
    resource = Puppet::Resource.new('virt_volume', 'images/web1-root', parameters: { capacity: '20480MiB' })
    instance = type.new(resource)
    expect(instance[:pool]).to eq('images')
    expect(instance[:volume]).to eq('web1-root')
    expect(instance[:capacity]).to eq('20GiB')
  end

  it 'takes the pool from its own attribute when the title is the volume alone' do
    resource = Puppet::Resource.new('virt_volume', 'web1-root', parameters: { pool: 'images', capacity: '1GiB' })
    instance = type.new(resource)
    expect([instance[:pool], instance[:volume]]).to eq(['images', 'web1-root'])
  end

  it 'rejects a bad format or backing volume' do
    volume = ->(params) { type.new(Puppet::Resource.new('virt_volume', 'p/v', parameters: params)) }
    expect { volume.call(format: 'vmdk') }.to raise_error(Puppet::Error, %r{format})
    expect { volume.call(backing_volume: 'nopool') }.to raise_error(Puppet::Error, %r{backing_volume})
  end

  it 'requires its pool and backing volume automatically' do
    catalog = Puppet::Resource::Catalog.new
    pool = Puppet::Type.type(:virt_pool).new(name: 'images', type: 'dir', path: '/srv/images')
    base = type.new(Puppet::Resource.new('virt_volume', 'images/base', parameters: { capacity: '1GiB' }))
    overlay = type.new(Puppet::Resource.new('virt_volume', 'images/web1', parameters: { backing_volume: 'images/base' }))
    [pool, base, overlay].each { |r| catalog.add_resource(r) }
    sources = overlay.autorequire.map { |edge| edge.source.ref }
    expect(sources).to contain_exactly('Virt_pool[images]', 'Virt_volume[images/base]')
  end
end
