# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_pool'

RSpec.describe 'the virt_pool type' do
  let(:type) { Puppet::Type.type(:virt_pool) }

  it 'accepts a dir pool' do
    resource = type.new(name: 'images', type: 'dir', path: '/var/lib/virtconverge/images', autostart: true)
    expect(resource[:path]).to eq('/var/lib/virtconverge/images')
  end

  it 'rejects a relative or hidden path and an unknown type' do
    expect { type.new(name: 'images', type: 'dir', path: 'images') }.to raise_error(Puppet::Error, %r{path})
    expect { type.new(name: 'images', type: 'dir', path: '/srv/../etc') }.to raise_error(Puppet::Error, %r{path})
    expect { type.new(name: 'images', type: 'zfs') }.to raise_error(Puppet::Error, %r{type})
  end

  it 'accepts an rbd pool over a Ceph pool, with a Sensitive cluster' do
    resource = type.new(name: 'ceph-vms', type: 'rbd', ceph_pool: 'vms', ceph_conf: '/etc/ceph/ceph.conf',
                        ceph_user: Puppet::Pops::Types::PSensitiveType::Sensitive.new('libvirt'))
    expect(resource[:ceph_pool]).to eq('vms')
    expect { type.new(name: 'ceph-vms', type: 'rbd', ceph_pool: '../vms') }.to raise_error(Puppet::Error, %r{ceph_pool})
  end
end

describe 'virt_pool', type: :type do
  let(:title) { 'images' }

  it { is_expected.to be_valid_type.with_properties([:type, :path, :volume_group, :ceph_pool, :autostart]) }
end
