# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_domain'

RSpec.describe 'the virt_domain type' do
  let(:type) { Puppet::Type.type(:virt_domain) }

  it 'is a Resource API type with present/absent, defaulting to present' do
    resource = type.new(name: 'web1', vcpus: 2, memory: '1GiB')
    expect(resource[:ensure]).to eq(:present)
    expect(resource[:allow_restart]).to be false
    expect(resource[:allow_destroy]).to be false
  end

  it 'canonicalizes sizes to the largest exact unit, as the engine prints them' do
    resource = type.new(name: 'web1', vcpus: 1, memory: '1024MiB', max_memory: 2_147_483_648,
                        memory_hotplug_unit: '131072KiB')
    expect(resource[:memory]).to eq('1GiB')
    expect(resource[:max_memory]).to eq('2GiB')
    expect(resource[:memory_hotplug_unit]).to eq('128MiB')
  end

  it 'accepts disks, interfaces and a CPU as the document declares them' do
    resource = type.new(name: 'web1', vcpus: 1, memory: '256MiB',
                        disks: [{ 'volume' => 'images/web1-root', 'target' => 'vda', 'bus' => 'sata' }],
                        interfaces: [{ 'network' => 'backend', 'mac' => '52:54:00:aa:bb:cc', 'model' => 'e1000' }],
                        cpu: { 'mode' => 'custom', 'model' => 'Skylake-Client-v4' }, state: 'stopped',
                        autostart: true, virt_type: 'qemu')
    expect(resource[:disks]).to eq([{ 'volume' => 'images/web1-root', 'target' => 'vda', 'bus' => 'sata' }])
    expect(resource[:state]).to eq('stopped')
  end

  it 'accepts disks on Ceph RBD images, and the cluster they are in' do
    resource = type.new(name: 'web1', vcpus: 1, memory: '256MiB', ceph_conf: '/etc/ceph/ceph.conf', ceph_user: 'libvirt',
                        disks: [{ 'rbd' => 'rbd/web1-root', 'target' => 'vda' },
                                { 'volume' => 'images/web1-data', 'target' => 'vdb', 'discard' => 'ignore' },
                                { 'rbd' => 'rbd/web1-logs', 'target' => 'sda', 'bus' => 'scsi' }])
    expect(resource[:disks].map { |d| d['rbd'] || d['volume'] }).to eq(['rbd/web1-root', 'images/web1-data', 'rbd/web1-logs'])
    expect(resource[:ceph_user]).to eq('libvirt')
  end

  [
    [{ name: 'web1', vcpus: 1, memory: '1GiB', disks: [{ 'rbd' => 'rbd/x', 'volume' => 'p/v', 'target' => 'vda' }] }, %r{disks}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', disks: [{ 'rbd' => 'rbd', 'target' => 'vda' }] }, %r{disks}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', disks: [{ 'target' => 'vda' }] }, %r{disks}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', ceph_conf: 'etc/ceph.conf' }, %r{ceph_conf}],
    [{ name: '../etc', vcpus: 1, memory: '1GiB' }, %r{name}],
    [{ name: 'web1', vcpus: 0, memory: '1GiB' }, %r{vcpus}],
    [{ name: 'web1', vcpus: 1, memory: '12 GB' }, %r{memory}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', state: 'paused' }, %r{state}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', disks: [{ 'volume' => 'nopool', 'target' => 'vda' }] }, %r{disks}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', disks: [{ 'volume' => 'p/v', 'target' => 'hda' }] }, %r{disks}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', interfaces: [{ 'network' => 'n', 'colour' => 'red' }] }, %r{interfaces}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', ensure: 'running' }, %r{ensure}],
    [{ name: 'web1', vcpus: 1, memory: '1GiB', cpu: { 'mode' => 'fast' } }, %r{cpu}],
  ].each do |attributes, message|
    it "rejects #{attributes.reject { |k, _| [:vcpus, :memory].include?(k) }.inspect}" do
      expect { type.new(attributes) }.to raise_error(Puppet::Error, message)
    end
  end

  it "marks cloud_init sensitive, so Puppet's own messages, events and state redact the user-data's secrets" do
    cloud_init = { 'pool' => 'images', 'user_data' => { 'users' => [{ 'name' => 'ops', 'passwd' => 'pw-in-manifest' }] },
                   'meta_data' => { 'instance_id' => 'i-1' } }
    resource = type.new(name: 'web1', vcpus: 1, memory: '256MiB', cloud_init: cloud_init, snapshots: ['base'],
                        ceph_conf: '/etc/ceph/ceph.conf', sensitive_parameters: [:ceph_conf])
    property = resource.parameter(:cloud_init)
    expect(property.sensitive).to be true
    expect(resource[:cloud_init]).to eq(cloud_init) # the provider still sends the value itself
    expect(property.format('current_value %s, should be %s', property.is_to_s(nil), property.should_to_s(cloud_init)))
      .to eq('current_value [redacted], should be [redacted]')
    # The other properties are shown as they are, and a Sensitive ceph_conf stays sensitive.
    expect(resource.parameter(:snapshots).sensitive).to be_falsy
    expect(resource.parameter(:vcpus).sensitive).to be_falsy
    expect(resource.parameter(:ceph_conf).sensitive).to be true
  end

  it 'keeps policy and connection out of the compared properties' do
    properties = type.properties.map(&:name)
    expect(properties).to include(:vcpus, :memory, :disks, :state, :autostart, :cpu)
    expect(properties).not_to include(:allow_restart, :allow_destroy, :connection, :memory_hotplug_unit,
                                      :shutdown_timeout, :ceph_conf, :ceph_user)
  end
end

describe 'virt_domain', type: :type do
  let(:title) { 'web1' }

  it { is_expected.to be_valid_type.with_properties([:vcpus, :max_vcpus, :memory, :max_memory, :disks, :interfaces, :state, :autostart]) }
  it { is_expected.to be_valid_type.with_parameters([:allow_restart, :allow_destroy, :connection]) }
end
