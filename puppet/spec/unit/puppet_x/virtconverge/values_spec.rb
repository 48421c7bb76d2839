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

  describe '.render' do
    it 'renders values as the engine does' do
      expect(described_class.render([{ 'volume' => 'p/v', 'target' => 'vdb' }])).to eq('[{target: vdb, volume: p/v}]')
      expect(described_class.render(nil)).to eq('(none)')
      expect(described_class.render('256MiB')).to eq('256MiB')
      expect(described_class.render(true)).to eq('true')
    end
  end
end
