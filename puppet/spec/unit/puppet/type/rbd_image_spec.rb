# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/rbd_image'
require 'puppet/type/virt_domain'
require 'puppet/provider/rbd_image/rbd_image'

RSpec.describe 'the rbd_image type' do
  let(:type) { Puppet::Type.type(:rbd_image) }

  def image(title, params = {})
    type.new(Puppet::Resource.new('rbd_image', title, parameters: params))
  end

  it 'takes pool and image from a pool/image title, with present, no allow_destroy and canonical values' do
    resource = image('rbd/golden', size: '10240MiB', features: ['object-map', 'layering', 'fast-diff', 'exclusive-lock'],
                                   snapshots: ['v2', 'base'])
    expect([resource[:pool], resource[:image]]).to eq(['rbd', 'golden'])
    expect(resource[:ensure]).to eq(:present)
    expect(resource[:allow_destroy]).to be false
    expect(resource[:size]).to eq('10GiB')
    expect(resource[:features]).to eq(['exclusive-lock', 'fast-diff', 'layering', 'object-map'])
    expect(resource[:snapshots]).to eq(['base', 'v2'])
  end

  it 'takes the pool from its own attribute when the title is the image alone' do
    resource = image('golden', pool: 'vms', size: '1GiB')
    expect([resource[:pool], resource[:image]]).to eq(['vms', 'golden'])
  end

  it 'accepts a clone, flatten and the cluster, also as Sensitive' do
    resource = image('rbd/web1', clone_from: 'rbd/golden@base', flatten: true, ceph_user: 'libvirt',
                                 ceph_conf: Puppet::Pops::Types::PSensitiveType::Sensitive.new('/etc/ceph/ceph.conf'))
    expect(resource[:clone_from]).to eq('rbd/golden@base')
    expect(resource[:flatten].to_s).to eq('true')
    expect(resource[:ceph_user]).to eq('libvirt')
    expect(resource[:ceph_conf]).to be_a(Puppet::Pops::Types::PSensitiveType::Sensitive)
  end

  [
    [{ features: ['layering', 'turbo'] }, %r{features}],
    [{ snapshots: ['../x'] }, %r{snapshots}],
    [{ clone_from: 'rbd/golden' }, %r{clone_from}],
    [{ clone_from: 'golden@base' }, %r{clone_from}],
    [{ size: '10 GB' }, %r{size}],
    [{ ceph_conf: 'ceph.conf' }, %r{ceph_conf}],
    [{ ceph_user: 'client admin' }, %r{ceph_user}],
    [{ flatten: 'yes' }, %r{flatten}],
  ].each do |params, message|
    it "rejects #{params.inspect}" do
      expect { image('rbd/x', params) }.to raise_error(Puppet::Error, message)
    end
  end

  it 'keeps the cluster, the connection and allow_destroy out of the compared properties' do
    properties = type.properties.map(&:name)
    expect(properties).to include(:size, :features, :snapshots, :clone_from, :flatten)
    expect(properties).not_to include(:ceph_conf, :ceph_user, :connection, :allow_destroy)
  end

  describe 'ordering' do
    let(:catalog) { Puppet::Resource::Catalog.new }

    def add(resource)
      catalog.add_resource(resource)
      resource
    end

    def edges(resource)
      (resource.autorequire.map { |e| "#{e.source.ref} -> #{e.target.ref}" } +
       resource.autobefore.map { |e| "#{e.source.ref} -> #{e.target.ref}" })
    end

    it 'creates a clone after its parent image' do
      add(image('rbd/golden', size: '1GiB', snapshots: ['base']))
      clone = add(image('rbd/web1', clone_from: 'rbd/golden@base'))
      expect(edges(clone)).to eq(['Rbd_image[rbd/golden] -> Rbd_image[rbd/web1]'])
    end

    it 'deletes a clone before its parent, also when the clone does not repeat clone_from (the host says it)' do
      add(image('rbd/golden', ensure: 'absent', allow_destroy: true))
      declared = add(image('rbd/web1', ensure: 'absent', clone_from: 'rbd/golden@base'))
      expect(edges(declared)).to eq(['Rbd_image[rbd/web1] -> Rbd_image[rbd/golden]'])
      observed = add(image('rbd/web2', ensure: 'absent'))
      expect(type.my_provider).to receive(:observed_field).with(observed, 'clone_from').at_least(:once).and_return('rbd/golden@base')
      expect(edges(observed)).to eq(['Rbd_image[rbd/web2] -> Rbd_image[rbd/golden]'])
    end

    it 'flattens a clone before its parent is deleted' do
      add(image('rbd/golden', ensure: 'absent', allow_destroy: true))
      clone = add(image('rbd/web1', clone_from: 'rbd/golden@base', flatten: true))
      expect(edges(clone)).to eq(['Rbd_image[rbd/web1] -> Rbd_image[rbd/golden]'])
    end

    it 'relates nothing outside the catalog, and does not ask the host when the catalog has no other image' do
      lone = add(image('rbd/web1', ensure: 'absent'))
      expect(type.my_provider).not_to receive(:observed_field)
      expect(edges(lone)).to eq([])
    end

    it "makes a domain require its RBD disks' images, and go before the images the catalog deletes" do
      domain_type = Puppet::Type.type(:virt_domain)
      add(image('rbd/web1-root', size: '1GiB'))
      add(image('rbd/web1-data', ensure: 'absent', allow_destroy: true))
      domain = add(domain_type.new(name: 'web1', vcpus: 1, memory: '256MiB',
                                   disks: [{ 'rbd' => 'rbd/web1-root', 'target' => 'vda' },
                                           { 'rbd' => 'rbd/web1-data', 'target' => 'vdb' }]))
      expect(edges(domain)).to contain_exactly('Rbd_image[rbd/web1-root] -> Virt_domain[web1]',
                                               'Virt_domain[web1] -> Rbd_image[rbd/web1-data]')
    end

    it 'deletes an absent domain that does not repeat its disks before the images it has on the host' do
      domain_type = Puppet::Type.type(:virt_domain)
      add(image('rbd/web1-root', ensure: 'absent', allow_destroy: true))
      domain = add(domain_type.new(name: 'web1', ensure: 'absent'))
      expect(domain_type.my_provider).to receive(:observed_field).with(domain, 'disks').at_least(:once)
                                                                 .and_return([{ 'rbd' => 'rbd/web1-root', 'target' => 'vda' }])
      expect(edges(domain)).to eq(['Virt_domain[web1] -> Rbd_image[rbd/web1-root]'])
    end
  end
end

describe 'rbd_image', type: :type do
  let(:title) { 'rbd/golden' }

  it { is_expected.to be_valid_type.with_properties([:size, :features, :snapshots, :clone_from, :flatten]) }
  it { is_expected.to be_valid_type.with_parameters([:allow_destroy, :ceph_conf, :ceph_user, :connection]) }
end
