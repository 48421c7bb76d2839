# frozen_string_literal: true

require 'spec_helper'
require 'puppet_x/virtconverge/values'

RSpec.describe PuppetX::Virtconverge::Values do
  describe '.canonical_size' do
    {
      '1024MiB' => '1GiB', '1536MiB' => '1536MiB', '2GiB' => '2GiB', 268_435_456 => '256MiB',
      '4096' => '4KiB', '1000' => '1000B', '1048576KiB' => '1GiB', '1024GiB' => '1TiB', '3B' => '3B'
    }.each do |given, canonical|
      it "prints #{given.inspect} as #{canonical}, like the engine" do
        expect(described_class.canonical_size(given)).to eq(canonical)
      end
    end

    it 'is idempotent' do
      expect(described_class.canonical_size(described_class.canonical_size('2048MiB'))).to eq('2GiB')
    end

    it 'leaves what is not a size for the validation to reject' do
      expect(described_class.canonical_size('12 GB')).to eq('12 GB')
      expect(described_class.canonical_size('0')).to eq('0')
      expect(described_class.canonical_size(nil)).to be_nil
    end
  end

  describe '.matches?' do
    it 'compares only the declared sub-fields of list elements' do
      observed = [{ 'volume' => 'p/a', 'target' => 'vda', 'bus' => 'virtio', 'discard' => 'unmap' }]
      expect(described_class.matches?(observed, [{ 'volume' => 'p/a', 'target' => 'vda' }])).to be true
      expect(described_class.matches?(observed, [{ 'volume' => 'p/a', 'target' => 'vda', 'bus' => 'sata' }])).to be false
    end

    it 'sees an interface without a declared MAC as matching the one libvirt chose' do
      observed = [{ 'network' => 'n', 'mac' => '52:54:00:01:02:03', 'model' => 'virtio' }]
      expect(described_class.matches?(observed, [{ 'network' => 'n' }])).to be true
    end

    it 'sees an extra or a missing element as a difference' do
      observed = [{ 'network' => 'n', 'mac' => '52:54:00:01:02:03' }, { 'network' => 'm', 'mac' => '52:54:00:01:02:04' }]
      expect(described_class.matches?(observed, [{ 'network' => 'n' }])).to be false
      expect(described_class.matches?([], [{ 'network' => 'n' }])).to be false
    end

    it 'compares scalars exactly' do
      expect(described_class.matches?(2, 2)).to be true
      expect(described_class.matches?('1GiB', '1024MiB')).to be false # canonicalize runs first
      expect(described_class.matches?(nil, { 'mode' => 'host-model' })).to be false
    end
  end

  describe '.show' do
    it 'shows strings bare and anything else as JSON' do
      expect(described_class.show('256MiB')).to eq('256MiB')
      expect(described_class.show(4)).to eq('4')
      expect(described_class.show(nil)).to eq('null')
      expect(described_class.show('mode' => 'host-model')).to eq('{"mode":"host-model"}')
    end
  end

  describe 'Sensitive values' do
    let(:secret) { Puppet::Pops::Types::PSensitiveType::Sensitive.new('/srv/site/ceph.conf') }

    it 'unwraps them for the engine only' do
      expect(described_class.stringify(ceph_conf: secret, list: [secret])).to eq('ceph_conf' => '/srv/site/ceph.conf', 'list' => ['/srv/site/ceph.conf'])
      expect(described_class.unwrap(secret)).to eq('/srv/site/ceph.conf')
      expect(described_class.unwrap('plain')).to eq('plain')
    end

    it 'finds the text of every one in a resource hash' do
      hash = { name: 'x', ceph_conf: secret, disks: [{ 'rbd' => Puppet::Pops::Types::PSensitiveType::Sensitive.new('rbd/a') }] }
      expect(described_class.secrets(hash)).to contain_exactly('/srv/site/ceph.conf', 'rbd/a')
      expect(described_class.secrets(name: 'x', size: 5)).to eq([])
    end

    it 'redacts them, longest first, and keeps the engine prefix' do
      expect(described_class.redact('virtconverge: reading /srv/site/ceph.conf as virtconverge', ['virtconverge', '/srv/site/ceph.conf']))
        .to eq('virtconverge: reading [redacted] as [redacted]')
      expect(described_class.redact('nothing secret', [])).to eq('nothing secret')
    end
  end
end
