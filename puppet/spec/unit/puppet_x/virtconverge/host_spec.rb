# frozen_string_literal: true

require 'spec_helper'
require 'tmpdir'
require 'puppet_x/virtconverge/host'

RSpec.describe PuppetX::Virtconverge::Host do
  subject(:host) { described_class.new(session) }

  let(:session) { instance_double(PuppetX::Virtconverge::Session) }
  let(:document) { { 'version' => 1, 'domains' => { 'web1' => { 'vcpus' => 1 } } } }

  it 'observes each connection once per run, for every type' do
    expect(session).to receive(:request).with('observe', options: {}).once
                                        .and_return('document' => document, 'pending' => [])
    expect(session).to receive(:request).with('observe', options: { 'connection' => 'test:///default' }).once
                                        .and_return('document' => { 'version' => 1 }, 'pending' => [])
    3.times do
      expect(host.find(nil, 'domains', 'web1')).to eq('vcpus' => 1)
      expect(host.all(nil, 'pools')).to eq({})
      expect(host.find('test:///default', 'domains', 'web1')).to be_nil
    end
  end

  it "reads the changes pending restart per domain and field from observe's pending_changes, not its notes" do
    notes = ['web1: max_vcpus pending restart (running 4, next boot 6)', 'web9: vcpus pending restart (running 1, next boot 2)']
    changes = [{ 'address' => 'domain.web1', 'path' => 'max_vcpus', 'live' => 4, 'config' => 6 },
               { 'address' => 'domain.web1', 'path' => 'cpu', 'live' => nil, 'config' => { 'mode' => 'host-model' } }]
    allow(session).to receive(:request).and_return('document' => document, 'pending' => notes, 'pending_changes' => changes)
    expect(host.pending(nil, 'web1')).to eq('max_vcpus' => { 'live' => 4, 'config' => 6 },
                                            'cpu' => { 'live' => nil, 'config' => { 'mode' => 'host-model' } })
    expect(host.pending(nil, 'web9')).to eq({})
  end

  it 'records what an apply changed' do
    allow(session).to receive(:request).and_return('document' => document, 'pending' => [])
    host.record(nil, 'domains', 'web1', 'vcpus' => 5) # nothing observed yet: nothing to correct
    expect(host.find(nil, 'domains', 'web1')).to eq('vcpus' => 1)
    host.record(nil, 'domains', 'web1', 'vcpus' => 2)
    host.record(nil, 'domains', 'web2', 'vcpus' => 1)
    expect(host.all(nil, 'domains')).to eq('web1' => { 'vcpus' => 2 }, 'web2' => { 'vcpus' => 1 })
    host.record(nil, 'domains', 'web1', nil)
    expect(host.find(nil, 'domains', 'web1')).to be_nil
  end

  it 'observes a Ceph cluster with the connection, once, and keeps it apart from the plain observation' do
    ceph = { 'conf' => '/etc/ceph/ceph.conf', 'user' => 'admin' }
    with_images = { 'version' => 1, 'ceph' => ceph, 'rbd_images' => { 'rbd/a' => { 'size' => '1GiB' } } }
    expect(session).to receive(:request).with('observe', options: { 'ceph' => ceph }).once
                                        .and_return('document' => with_images, 'pending' => [])
    expect(session).to receive(:request).with('observe', options: {}).once
                                        .and_return('document' => document, 'pending' => [])
    2.times do
      expect(host.find(nil, 'rbd_images', 'rbd/a', ceph: ceph)).to eq('size' => '1GiB')
      expect(host.all(nil, 'rbd_images')).to eq({})
    end
    host.record(nil, 'rbd_images', 'rbd/a', { 'size' => '2GiB' }, ceph)
    expect(host.find(nil, 'rbd_images', 'rbd/a', ceph: ceph)).to eq('size' => '2GiB')
  end

  it "keeps the running value of the fields a domain's persistent config changed" do
    changes = [{ 'address' => 'domain.web1', 'path' => 'disks', 'live' => [{ 'rbd' => 'rbd/a', 'target' => 'vdb' }], 'config' => [] }]
    allow(session).to receive(:request).and_return('document' => document, 'pending' => [], 'pending_changes' => changes)
    expect(host.live(nil, 'web1', 'disks')).to eq([{ 'rbd' => 'rbd/a', 'target' => 'vdb' }])
    expect(host.live(nil, 'web1', 'vcpus')).to be_nil
    expect(host.live(nil, 'web2', 'disks')).to be_nil
  end

  describe 'hosts (virt_host)' do
    it 'resolves a connection as the engine does: the URI given, else $LIBVIRT_DEFAULT_URI, else qemu:///system' do
      expect(described_class.resolve('test:///default', {})).to eq('test:///default')
      expect(described_class.resolve(nil, 'LIBVIRT_DEFAULT_URI' => 'qemu+ssh://hv-b/system')).to eq('qemu+ssh://hv-b/system')
      expect(described_class.resolve(nil, {})).to eq('qemu:///system')
      expect(described_class.resolve('', 'LIBVIRT_DEFAULT_URI' => '')).to eq('qemu:///system')
    end

    it "names an undeclared host after its URI's host part, or this machine for a local URI" do
      expect(described_class.default_name('qemu+ssh://root@hv-b.example.net/system')).to eq('hv-b')
      expect(described_class.default_name('qemu+tcp://10.0.0.7:16509/system')).to eq('10')
      expect(described_class.default_name('qemu:///system')).to eq(Socket.gethostname.split('.').first)
    end

    it 'keeps one virt_host per resolved connection' do
      host.declare_host('hv-a', 'connection' => 'qemu:///system', 'cpu_allocation_ratio' => 2)
      expect(host.declared_host(nil)).to eq(name: 'hv-a', entry: { 'connection' => 'qemu:///system', 'cpu_allocation_ratio' => 2 })
      expect(host.declared_host('test:///default')).to be_nil
      expect(host.declared_hosts).to eq('qemu:///system' => 'hv-a')
      expect { host.declare_host('hv-b', 'connection' => 'qemu:///system') }.to raise_error(ArgumentError, %r{both manage qemu:///system})
    end

    it "observes a host's settings once per connection through serve's observe (host.ksm_settings)" do
      expect(session).to receive(:request).with('observe', options: { 'connection' => 'qemu:///system' }).once
        .and_return('document' => document, 'pending' => [],
                    'host' => { 'cpus' => 2, 'ksm_settings' => { 'enabled' => false, 'pages_to_scan' => 100 } })
      2.times { expect(host.host_settings(nil)).to eq('ksm' => { 'enabled' => false, 'pages_to_scan' => 100 }) }
      host.record_host('qemu:///system', 'connection' => 'qemu:///system', 'ksm' => { 'pages_to_scan' => 150 })
      expect(host.host_settings(nil)).to eq('ksm' => { 'enabled' => false, 'pages_to_scan' => 150 })
    end

    it 'reports no ksm for a driver without it' do
      allow(session).to receive(:request).and_return('document' => document, 'pending' => [], 'host' => nil)
      expect(host.host_settings('test:///default')).to eq({})
    end

    it "raises the engine's error" do
      allow(session).to receive(:request)
        .and_raise(PuppetX::Virtconverge::EngineError, 'virtconverge: cannot connect to qemu+ssh://hv-b/system')
      expect { host.host_settings('qemu+ssh://hv-b/system') }
        .to raise_error(PuppetX::Virtconverge::EngineError, /cannot connect to qemu\+ssh:\/\/hv-b\/system/)
    end
  end
end
