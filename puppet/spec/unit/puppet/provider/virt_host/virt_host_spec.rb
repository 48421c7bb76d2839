# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_host'
require 'puppet/provider/virt_host/virt_host'
require 'puppet/type/virt_domain'
require 'puppet/provider/virt_domain/virt_domain'

# virt_host against a stand-in session: the one-host fleet documents it sends, how it reads the
# engine's host change, and the hosts: entry it hands to the domains of its connection.
RSpec.describe Puppet::Provider::VirtHost::VirtHost do
  subject(:provider) { described_class.new(host: host) }

  let(:session) { instance_double(PuppetX::Virtconverge::Session) }
  let(:host) { PuppetX::Virtconverge::Host.new(session) }
  let(:context) { instance_double(Puppet::ResourceApi::BaseContext, notice: nil, warning: nil, debug: nil) }
  let(:observed_ksm) { { 'enabled' => false, 'merge_across_nodes' => true, 'pages_to_scan' => 100, 'sleep_millisecs' => 20 } }
  let(:uri) { 'qemu:///system' }
  let(:should) { { name: 'hv-a', connection: uri, cpu_allocation_ratio: 0.5, ksm: { 'pages_to_scan' => 150 } } }
  let(:entry) { { 'connection' => uri, 'cpu_allocation_ratio' => 0.5, 'ksm' => { 'pages_to_scan' => 150 } } }
  let(:ksm_change) do
    { 'address' => 'host.hv-a', 'kind' => 'host', 'name' => 'hv-a', 'host' => 'hv-a', 'action' => 'update', 'disruption' => 'live',
      'attributes' => [{ 'path' => 'ksm.pages_to_scan', 'before' => 100, 'after' => 150, 'disruption' => 'live',
                         'reason' => "through libvirt's node memory parameters (shm_pages_to_scan)" }],
      'steps' => [{ 'op' => 'set_ksm', 'address' => 'host.hv-a', 'args' => { 'settings' => { 'pages_to_scan' => 150 } },
                    'description' => 'set KSM on hv-a: pages_to_scan = 150' }] }
  end
  let(:text) do
    canned_text('~ host.hv-a (update, live)',
                rows: ["ksm.pages_to_scan 100 → 150  (live: through libvirt's node memory parameters (shm_pages_to_scan))"],
                steps: ['set KSM on hv-a: pages_to_scan = 150'])
  end

  before(:each) do
    allow(session).to receive(:request).with('observe', options: anything)
                                       .and_return('document' => { 'version' => 1 }, 'pending_changes' => [])
    allow(host).to receive(:host_settings).and_return('ksm' => observed_ksm)
    Puppet[:noop] = false
  end

  it "reports the engine's observation of the host's KSM under the resource's name" do
    provider.canonicalize(context, [should.dup])
    expect(host).to receive(:host_settings).with(uri).and_return('ksm' => observed_ksm)
    expect(provider.get(context, ['hv-a'])).to eq([{ name: 'hv-a', ksm: observed_ksm }])
  end

  it 'lists the catalog host under its name, and a connection nobody declared under the host name of its URI' do
    provider.canonicalize(context, [should.dup])
    expect(provider.get(context).map { |r| r[:name] }).to include('hv-a')
    listing = described_class.new(host: PuppetX::Virtconverge::Host.new(session))
    allow(listing.send(:host)).to receive(:host_settings).and_return('ksm' => observed_ksm)
    ENV['LIBVIRT_DEFAULT_URI'] = 'qemu+ssh://root@hv-b.example.net/system'
    expect(listing.get(context)).to eq([{ name: 'hv-b', ksm: observed_ksm }])
  ensure
    ENV.delete('LIBVIRT_DEFAULT_URI')
  end

  it 'compares only the KSM settings declared, by the engine\'s rule, without a plan' do
    expect(session).not_to receive(:request).with('plan', any_args)
    is = { name: 'hv-a', ksm: observed_ksm }
    expect(provider.insync?(context, 'hv-a', :ksm, is, should.merge(ksm: { 'pages_to_scan' => 100 }))).to be true
  end

  it "plans a difference as a one-host fleet document, no connection option, and quotes the engine's rows" do
    provider.canonicalize(context, [should.dup])
    expect(session).to receive(:request).with('plan', document: { 'version' => 1, 'hosts' => { 'hv-a' => entry } },
                                                      options: { 'text' => true }).once
                                        .and_return(canned_result([ksm_change], text: text, connection: ''))
    message = provider.insync?(context, 'hv-a', :ksm, { name: 'hv-a', ksm: observed_ksm }, should)
    expect(message).to eq([false, "ksm.pages_to_scan 100 → 150  (live: through libvirt's node memory parameters (shm_pages_to_scan))"])
  end

  it 'applies the entry with the connection filled in, and records the new settings' do
    should_default = { name: 'hv-a', ksm: { 'pages_to_scan' => 150 } }
    ENV['LIBVIRT_DEFAULT_URI'] = 'test:///default'
    report = canned_report([{ 'address' => 'host.hv-a', 'steps' => ['set KSM on hv-a: pages_to_scan = 150'] }])
    expect(session).to receive(:request).with('apply', document: { 'version' => 1, 'hosts' => { 'hv-a' => {
                                                         'connection' => 'test:///default', 'ksm' => { 'pages_to_scan' => 150 }
                                                       } } }, options: {})
                                        .and_return('plan' => canned_plan([ksm_change], connection: ''), 'apply' => report)
    expect(context).to receive(:notice).with('hv-a', 'set KSM on hv-a: pages_to_scan = 150')
    host.host_settings(nil) # observed before the change
    provider.set(context, 'hv-a' => { is: { name: 'hv-a', ksm: observed_ksm }, should: should_default })
  ensure
    ENV.delete('LIBVIRT_DEFAULT_URI')
  end

  it "fails the resource with the engine's error when the host cannot take the setting" do
    diagnostics = [{ 'code' => 'unsupported', 'address' => 'host.hv-a', 'summary' => "hosts.hv-a.ksm: this host's libvirt driver has no node memory parameters (KSM)" }]
    allow(session).to receive(:request).with('apply', any_args)
                                       .and_return('plan' => canned_plan([], diagnostics: diagnostics, connection: ''), 'apply' => nil)
    expect { provider.set(context, 'hv-a' => { is: { name: 'hv-a' }, should: should }) }
      .to raise_error(Puppet::ResourceError, %r{no node memory parameters})
  end

  it 'records the limits of the first declaration of a name for the domains of its connection, and refuses a second host on it' do
    provider.canonicalize(context, [should.dup])
    provider.canonicalize(context, [{ name: 'hv-a', ksm: observed_ksm }]) # get's result: declares nothing
    expect(host.declared_host(uri)).to eq(name: 'hv-a', entry: { 'connection' => uri, 'cpu_allocation_ratio' => 0.5 })
    expect(host.declared_host(nil)).to eq(host.declared_host(uri)) # the default URI is qemu:///system
    expect { provider.canonicalize(context, [{ name: 'hv-b', connection: uri }]) }
      .to raise_error(Puppet::ResourceError, %r{virt_host\[hv-b\] and virt_host\[hv-a\] both manage qemu:///system})
  end

  describe 'the domains of its connection' do
    let(:domains) { Puppet::Provider::VirtDomain::VirtDomain.new(host: host) }
    let(:domain) { { name: 'web1', ensure: 'present', vcpus: 2, memory: '128MiB', connection: uri } }
    let(:over) do
      [{ 'code' => 'over_committed', 'address' => 'host.hv-a',
         'summary' => 'host hv-a: the plan takes vCPUs per host CPU from 0.00 to 1.00, over its cpu_allocation_ratio of 0.50: nothing is changed',
         'detail' => '2 vCPUs on 2 CPUs; 1 domain(s) counted' }]
    end
    let(:create) do
      { 'address' => 'domain.web1@hv-a', 'kind' => 'domain', 'name' => 'web1', 'host' => 'hv-a', 'action' => 'create', 'disruption' => 'none',
        'attributes' => [{ 'path' => 'vcpus', 'after' => 2, 'disruption' => 'none' }] }
    end

    before(:each) { provider.canonicalize(context, [should.dup]) }

    it "carry the host's limits (not its KSM) as hosts:, address the domain on that host, and fail it by the over_committed code" do
      expect(session).to receive(:request).with('apply', document: {
                                                  'version' => 1,
                                                  'hosts' => { 'hv-a' => { 'connection' => uri, 'cpu_allocation_ratio' => 0.5 } },
                                                  'domains' => { 'web1' => { 'vcpus' => 2, 'memory' => '128MiB' } },
                                                }, options: { 'allow_destroy' => false })
                                          .and_return('plan' => canned_plan([create], diagnostics: over, connection: ''), 'apply' => nil)
      expect { domains.set(context, 'web1' => { is: { ensure: 'absent' }, should: domain }) }
        .to raise_error(Puppet::ResourceError, %r{over its cpu_allocation_ratio of 0\.50.*set allow_overcommit => true on this resource})
    end

    it 'send allow_overcommit when the domain sets it' do
      expect(session).to receive(:request).with('apply', document: anything, options: { 'allow_destroy' => false, 'allow_overcommit' => true })
                                          .and_return('plan' => canned_plan([create], connection: ''),
                                                      'apply' => canned_report([{ 'address' => 'domain.web1@hv-a', 'action' => 'create' }]))
      domains.set(context, 'web1' => { is: { ensure: 'absent' }, should: domain.merge(allow_overcommit: true) })
    end

    it 'quote the plan of the domain on that host, and warn under --noop with the refusal' do
      Puppet[:noop] = true
      text = canned_text('+ domain.web1@hv-a (create, no disruption)', rows: ['vcpus = 2'], steps: ['create domain.web1@hv-a'])
      allow(session).to receive(:request).with('plan', any_args)
                                         .and_return(canned_result([create], diagnostics: over, text: text, connection: ''))
      expect(context).to receive(:warning).with('web1', %r{\Awould fail: host hv-a: the plan takes vCPUs .*allow_overcommit => true})
      expect(domains.insync?(context, 'web1', :ensure, { ensure: 'absent' }, domain))
        .to eq([false, "defined 'ensure' as 'present': + domain.web1@hv-a (create, no disruption)"])
    end

    it 'leave the domains of other connections as they were' do
      expect(session).to receive(:request).with('apply', document: { 'version' => 1, 'domains' => { 'web1' => { 'vcpus' => 2, 'memory' => '128MiB' } } },
                                                         options: { 'connection' => 'test:///default', 'allow_destroy' => false })
                                          .and_return('plan' => canned_plan([]), 'apply' => nil)
      domains.set(context, 'web1' => { is: { ensure: 'absent' }, should: domain.merge(connection: 'test:///default') })
    end
  end
end

# The limits on libvirt's test driver (16 CPUs, one domain `test` of 2 vCPUs): the engine itself
# refuses what a catalog's virt_host rules out.
RSpec.describe 'virt_host limits on the test driver', :test_driver, if: engine_binary do
  it 'refuse a domain past the cpu_allocation_ratio, name the undeclared domain, and allow it with allow_overcommit' do
    hosts = provider_for('virt_host')
    hosts.canonicalize(context, [{ name: 'vcp-hv', connection: TestDriver::URI, cpu_allocation_ratio: 0.2 }])
    domains = provider_for('virt_domain')
    expect { converge(domains, 'vcp-big', vcpus: 2, memory: '64MiB') }
      .to raise_error(Puppet::ResourceError, %r{host vcp-hv: .*over its cpu_allocation_ratio of 0\.20.*not declared in the documents: test.*allow_overcommit => true})
    expect(domains.get(context, ['vcp-big'])).to eq([])
    expect(converge(domains, 'vcp-big', vcpus: 2, memory: '64MiB', allow_overcommit: true))
      .to eq(["defined 'ensure' as 'present': + domain.vcp-big@vcp-hv (create, no disruption)"])
    expect(domains.get(context, ['vcp-big']).first).to include(vcpus: 2)
  end

  it "observe a host without KSM (the test driver has none), and fail a KSM setting with the engine's error" do
    hosts = provider_for('virt_host')
    expect(hosts.get(context, ['vcp-hv'])).to eq([{ name: 'vcp-hv' }])
    expect { converge(hosts, 'vcp-hv', ksm: { 'pages_to_scan' => 150 }) }.to raise_error(Puppet::ResourceError, %r{no node memory parameters})
  end
end
