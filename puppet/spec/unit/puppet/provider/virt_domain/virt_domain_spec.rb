# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/virt_domain'
require 'puppet/provider/virt_domain/virt_domain'

# The provider against a stand-in session: the exact requests it sends and how it reads answers.
RSpec.describe Puppet::Provider::VirtDomain::VirtDomain do
  subject(:provider) { described_class.new(host: host) }

  let(:session) { instance_double(PuppetX::Virtconverge::Session) }
  let(:host) { PuppetX::Virtconverge::Host.new(session) }
  let(:context) { instance_double(Puppet::ResourceApi::BaseContext, notice: nil, warning: nil, debug: nil) }
  let(:web1) do
    { 'vcpus' => 1, 'max_vcpus' => 4, 'memory' => '256MiB', 'max_memory' => '1GiB', 'state' => 'running',
      'autostart' => false, 'virt_type' => 'kvm',
      'disks' => [{ 'volume' => 'images/web1-root', 'target' => 'vda', 'bus' => 'virtio', 'discard' => 'unmap' }],
      'interfaces' => [{ 'network' => 'backend', 'mac' => '52:54:00:01:02:03', 'model' => 'virtio' }] }
  end
  let(:observed) do
    { 'document' => { 'version' => 1, 'domains' => { 'web1' => web1 }, 'pools' => {}, 'volumes' => {}, 'networks' => {} },
      'pending' => [], 'pending_changes' => [] }
  end
  let(:is_web1) { provider.get(context, ['web1']).first }

  def plan_result(changes, diagnostics: [], pending: [], text: nil)
    canned_result(changes, diagnostics: diagnostics, pending: pending, text: text)
  end

  def vcpus_change(before, after, disruption, reason, steps: [])
    { 'address' => 'domain.web1', 'action' => 'update', 'disruption' => disruption,
      'attributes' => [{ 'path' => 'vcpus', 'before' => before, 'after' => after, 'disruption' => disruption,
                         'reason' => reason }],
      'steps' => steps.map { |d| { 'op' => 'set_vcpus_live', 'address' => 'domain.web1', 'args' => { 'vcpus' => after }, 'description' => d } } }
  end

  def pending_change(path, live, config)
    { 'address' => 'domain.web1', 'path' => path, 'live' => live, 'config' => config }
  end

  before(:each) do
    allow(session).to receive(:request).with('observe', options: anything).and_return(observed)
    Puppet[:noop] = false
  end

  describe '#get' do
    it 'observes once for every resource of the run and returns the document fields' do
      expect(session).to receive(:request).with('observe', options: {}).once.and_return(observed)
      3.times { expect(provider.get(context, ['web1'])).to eq([{ name: 'web1', ensure: 'present' }.merge(web1.transform_keys(&:to_sym))]) }
      expect(provider.get(context, ['web9'])).to eq([])
      expect(provider.get(context).map { |r| r[:name] }).to eq(['web1'])
    end

    it "observes the connection a resource's manifest names" do
      provider.canonicalize(context, [{ name: 'web1', connection: 'test:///default', vcpus: 1 }])
      expect(session).to receive(:request).with('observe', options: { 'connection' => 'test:///default' })
                                          .once.and_return(observed)
      expect(provider.get(context, ['web1']).size).to eq(1)
    end

    it 'warns once about changes pending restart, from the structured pending_changes' do
      observed['pending'] = ['web1: max_vcpus pending restart (running 4, next boot 6)']
      observed['pending_changes'] = [pending_change('max_vcpus', 4, 6), pending_change('cpu', nil, { 'mode' => 'host-model' })]
      expect(context).to receive(:warning).with('web1', 'max_vcpus pending restart (running 4, next boot 6)').once
      expect(context).to receive(:warning).with('web1', 'cpu pending restart (running null, next boot {"mode":"host-model"})').once
      2.times { provider.get(context, ['web1']) }
    end

    it 'passes an engine failure on' do
      allow(session).to receive(:request).with('observe', options: {})
                                         .and_raise(PuppetX::Virtconverge::EngineError.new('virtconverge: cannot connect',
                                                                                           code: 'connection_failed', transient: true))
      expect { provider.get(context, ['web1']) }.to raise_error(PuppetX::Virtconverge::EngineError, %r{cannot connect}) { |e|
        expect([e.code, e.transient?]).to eq(['connection_failed', true])
      }
    end
  end

  describe '#insync?' do
    let(:should) { { name: 'web1', ensure: 'present', vcpus: 1, memory: '256MiB', allow_restart: false, allow_destroy: false } }

    it 'decides without the engine when the declared values match, by the engine\'s rule' do
      expect(session).not_to receive(:request).with('plan', any_args)
      declared = should.merge(disks: [{ 'volume' => 'images/web1-root', 'target' => 'vda' }],
                              interfaces: [{ 'network' => 'backend' }])
      [:ensure, :vcpus, :memory, :disks, :interfaces].each do |attribute|
        expect(provider.insync?(context, 'web1', attribute, is_web1, declared)).to be true
      end
    end

    it "plans a difference once and quotes the engine's line of it" do
      text = canned_text('~ domain.web1 (update, live)', rows: ['vcpus 1 → 2  (live: hot-plug)'], steps: ['hot-plug vCPUs of domain.web1 to 2'])
      expect(session).to receive(:request).with('plan', document: { 'version' => 1, 'domains' => { 'web1' => { 'vcpus' => 2, 'memory' => '256MiB' } } },
                                                        options: { 'allow_destroy' => false, 'text' => true }).once
                                          .and_return(plan_result([vcpus_change(1, 2, 'live', 'hot-plug')], text: text))
      declared = should.merge(vcpus: 2)
      2.times do
        expect(provider.insync?(context, 'web1', :vcpus, is_web1, declared)).to eq([false, 'vcpus 1 → 2  (live: hot-plug)'])
      end
      expect(provider.insync?(context, 'web1', :memory, is_web1, declared)).to be true
    end

    it "logs the engine's plan line and the steps apply would run under --noop" do
      Puppet[:noop] = true
      text = canned_text('~ domain.web1 (update, needs restart)', rows: ['vcpus 4 → 1  (needs restart: lowering vCPUs needs a restart)'],
                                                                  steps: ['write persistent config of domain.web1'])
      allow(session).to receive(:request).with('plan', any_args)
                                         .and_return(plan_result([vcpus_change(4, 1, 'restart', 'lowering vCPUs needs a restart',
                                                                               steps: ['write persistent config of domain.web1'])], text: text))
      expect(context).to receive(:notice).with('web1', 'would change: vcpus 4 → 1  (needs restart: lowering vCPUs needs a restart)').once
      expect(context).to receive(:notice).with('web1', 'would run: write persistent config of domain.web1').once
      2.times { provider.insync?(context, 'web1', :vcpus, is_web1.merge(vcpus: 4), should) }
    end

    it 'says what differs when the text shows no line for it' do
      allow(session).to receive(:request).with('plan', any_args).and_return(plan_result([vcpus_change(1, 2, 'live', 'hot-plug')]))
      expect(provider.insync?(context, 'web1', :vcpus, is_web1, should.merge(vcpus: 2))).to eq([false, 'vcpus differs from the host (live)'])
    end

    it 'asks the engine when a change of the attribute is pending restart' do
      observed['pending_changes'] = [pending_change('vcpus', 2, 1)]
      expect(session).to receive(:request).with('plan', any_args).once.and_return(plan_result([]))
      expect(provider.insync?(context, 'web1', :vcpus, is_web1, should)).to be true
    end

    it "marks a change the engine refuses as out of sync, so that set fails it, and warns under --noop, by the refusal's code" do
      Puppet[:noop] = true
      diagnostics = [{ 'severity' => 'error', 'code' => 'needs_allow_destroy', 'address' => 'domain.web1',
                       'summary' => 'domain.web1: destructive change refused without --allow-destroy', 'detail' => 'vcpus: x' }]
      text = canned_text('~ domain.web1 (update, destructive)', rows: ['vcpus 1 → 2  (destructive: x)'])
      allow(session).to receive(:request).with('plan', any_args)
                                         .and_return(plan_result([vcpus_change(1, 2, 'destructive', 'x')], diagnostics: diagnostics, text: text))
      expect(context).to receive(:warning).with('web1', 'would fail: domain.web1: destructive change refused without --allow-destroy (vcpus: x); ' \
                                                        'set allow_destroy => true on this resource to permit it')
      expect(provider.insync?(context, 'web1', :vcpus, is_web1, should.merge(vcpus: 2))).to eq([false, 'vcpus 1 → 2  (destructive: x)'])
    end

    context 'with cloud_init and snapshots' do
      # The engine observes user_data as the seed's (redacted) text, so a declared mapping never
      # matches it locally: the engine's plan decides.
      let(:cloud_init) { { 'pool' => 'images', 'user_data' => { 'hostname' => 'web1' }, 'meta_data' => { 'instance_id' => 'i-1' } } }
      let(:declared) { should.merge(cloud_init: cloud_init, snapshots: ['after']) }

      before(:each) do
        web1['cloud_init'] = cloud_init.merge('user_data' => "#cloud-config\nhostname: web1\n", 'bus' => 'sata')
        web1['snapshots'] = ['before', 'after']
      end

      def snapshots_change
        { 'address' => 'domain.web1', 'action' => 'update', 'disruption' => 'destructive',
          'attributes' => [{ 'path' => 'snapshots', 'before' => ['before', 'after'], 'after' => ['after'],
                             'disruption' => 'destructive', 'reason' => 'snapshot(s) before deleted' }],
          'steps' => [] }
      end

      it 'finds an attribute the engine does not list in sync, also when the plan is refused for another one' do
        diagnostics = [{ 'severity' => 'error', 'code' => 'needs_allow_destroy', 'address' => 'domain.web1',
                         'summary' => 'domain.web1: destructive change refused without --allow-destroy', 'detail' => 'snapshots: x' }]
        text = canned_text('~ domain.web1 (update, destructive)', rows: ['snapshots [before, after] → [after]  (destructive: x)'])
        expect(session).to receive(:request).with('plan', any_args).once
                                            .and_return(plan_result([snapshots_change], diagnostics: diagnostics, text: text))
        expect(provider.insync?(context, 'web1', :cloud_init, is_web1, declared)).to be true
        expect(provider.insync?(context, 'web1', :snapshots, is_web1, declared))
          .to eq([false, 'snapshots [before, after] → [after]  (destructive: x)'])
      end

      it "logs the engine's line of a cloud_init change, which Puppet shows only as changed [redacted] to [redacted]" do
        change = { 'address' => 'domain.web1', 'action' => 'update', 'disruption' => 'restart',
                   'attributes' => [{ 'path' => 'cloud_init.user_data', 'before' => '<text, 2 lines>', 'after' => '<text, 2 lines>',
                                      'disruption' => 'restart', 'reason' => 'cloud-init reads its seed at boot' }],
                   'steps' => [] }
        line = 'cloud_init.user_data <text, 2 lines> → <text, 2 lines>  (needs restart: cloud-init reads its seed at boot)'
        allow(session).to receive(:request).with('plan', any_args)
                                           .and_return(plan_result([change], text: canned_text('~ domain.web1 (update, needs restart)', rows: [line])))
        expect(context).to receive(:notice).with('web1', line).once
        expect(provider.insync?(context, 'web1', :cloud_init, is_web1, declared)).to eq([false, line])
        # Any other attribute's change message is Puppet's own line only.
        expect(context).not_to receive(:notice).with('web1', %r{snapshots})
        expect(provider.insync?(context, 'web1', :snapshots, is_web1, should.merge(snapshots: ['before', 'after']))).to be true
      end
    end

    it 'marks an attribute out of sync when the engine cannot plan the resource at all' do
      allow(session).to receive(:request).with('plan', any_args)
                                         .and_return('valid' => false, 'diagnostics' => [canned_diagnostic('code' => 'invalid_value', 'summary' => 'bad')])
      expect(provider.insync?(context, 'web1', :vcpus, is_web1, should.merge(vcpus: 2)))
        .to eq([false, 'vcpus differs from the host, and the engine refuses the plan of domain.web1 (see the error)'])
    end

    it "describes a creation by the engine's header line and the rows with a disruption" do
      change = { 'address' => 'domain.web2', 'action' => 'create', 'disruption' => 'live',
                 'attributes' => [{ 'path' => 'memory', 'after' => '1GiB', 'disruption' => 'none' },
                                  { 'path' => 'state', 'before' => nil, 'after' => 'running', 'disruption' => 'live', 'reason' => 'start' }] }
      text = canned_text('+ domain.web2 (create, live)', rows: ['memory = 1GiB', 'state = running  (live: start)'])
      allow(session).to receive(:request).with('plan', any_args).and_return(plan_result([change], text: text))
      absent = { name: 'web2', ensure: :absent }
      expect(provider.insync?(context, 'web2', :ensure, absent, should.merge(name: 'web2', state: 'running')))
        .to eq([false, "defined 'ensure' as 'present': + domain.web2 (create, live); state = running  (live: start)"])
    end
  end

  describe '#set' do
    let(:outcome) { { 'address' => 'domain.web1', 'steps' => ['hot-plug vCPUs of domain.web1 to 2'] } }

    def applied(outcomes, pending: [], plan: plan_result([]))
      plan.merge('apply' => canned_report(outcomes, pending: pending))
    end

    it 'applies only the declared fields: the engine takes a partial declaration of an existing domain' do
      expect(session).to receive(:request)
        .with('apply', document: { 'version' => 1, 'domains' => { 'web1' => { 'vcpus' => 2, 'restart' => 'allowed' } } },
                       options: { 'connection' => 'qemu:///system', 'allow_destroy' => false, 'shutdown_timeout' => 5 })
        .and_return(applied([outcome]))
      expect(context).to receive(:notice).with('web1', 'hot-plug vCPUs of domain.web1 to 2')
      provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'present', vcpus: 2, allow_restart: true,
                                                                connection: 'qemu:///system', shutdown_timeout: 5 } })
    end

    it 'deletes with ensure absent only' do
      expect(session).to receive(:request)
        .with('apply', document: { 'version' => 1, 'domains' => { 'web1' => { 'ensure' => 'absent' } } }, options: { 'allow_destroy' => false })
        .and_return(applied([outcome.merge('steps' => [], 'action' => 'delete')]))
      provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'absent', vcpus: 2 } })
    end

    it "fails the resource with the engine's message" do
      failed = outcome.merge('ok' => false, 'code' => 'operation_failed', 'error' => 'internal error: process exited while connecting to monitor')
      allow(session).to receive(:request).with('apply', any_args).and_return(applied([failed]))
      expect { provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'present', vcpus: 2 } }) }
        .to raise_error(Puppet::ResourceError, 'domain.web1: internal error: process exited while connecting to monitor')
    end

    it 'says when a failure is transient, by its flag' do
      failed = outcome.merge('ok' => false, 'code' => 'connection_lost', 'transient' => true, 'error' => 'the connection to libvirtd broke')
      allow(session).to receive(:request).with('apply', any_args).and_return(applied([failed]))
      expect { provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'present', vcpus: 2 } }) }
        .to raise_error(Puppet::ResourceError, 'domain.web1: the connection to libvirtd broke (transient: a later run may succeed without a change)')
      allow(session).to receive(:request).with('apply', any_args)
                                         .and_raise(PuppetX::Virtconverge::EngineError.new('virtconverge: cannot connect', code: 'connection_failed', transient: true))
      expect { provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'present', vcpus: 2 } }) }
        .to raise_error(Puppet::ResourceError, 'virtconverge: cannot connect (transient: a later run may succeed without a change)')
    end

    it "fails the resource when the engine refuses the plan, naming the Puppet flag the code asks for" do
      diagnostics = [{ 'severity' => 'error', 'code' => 'needs_allow_destroy', 'address' => 'domain.web1',
                       'summary' => 'domain.web1: destructive change refused without --allow-destroy', 'detail' => 'disks: detach' }]
      allow(session).to receive(:request).with('apply', any_args).and_return(plan_result([], diagnostics: diagnostics).merge('apply' => nil))
      expect { provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'present', disks: [] } }) }
        .to raise_error(Puppet::ResourceError, 'domain.web1: destructive change refused without --allow-destroy (disks: detach); set allow_destroy => true on this resource to permit it')
    end

    it 'fails a document the engine finds invalid with its diagnostics' do
      diagnostics = [canned_diagnostic('code' => 'missing_field', 'summary' => '<request 7>:1:20: domains.web1.memory: missing required field')]
      allow(session).to receive(:request).with('apply', any_args).and_return('valid' => false, 'diagnostics' => diagnostics)
      expect { provider.set(context, 'web1' => { is: { name: 'web1', ensure: :absent }, should: { name: 'web1', ensure: 'present', vcpus: 2 } }) }
        .to raise_error(Puppet::ResourceError, 'domains.web1.memory: missing required field')
    end

    it 'reports a change that waits for a restart as a warning, not a failure' do
      pending = [pending_change('max_vcpus', 4, 6)]
      allow(session).to receive(:request).with('apply', any_args)
                                         .and_return(applied([outcome.merge('steps' => ['write persistent config of domain.web1'])], pending: pending))
      expect(context).to receive(:warning).with('web1', %r{\Amax_vcpus pending restart \(running 4, next boot 6\): written to the persistent config})
      provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'present', max_vcpus: 6 } })
    end

    it 'never fills a field the manifest leaves out, even one whose change is pending restart' do
      observed['pending_changes'] = [pending_change('memory', '256MiB', '512MiB')]
      expect(session).to receive(:request)
        .with('apply', document: { 'version' => 1, 'domains' => { 'web1' => { 'vcpus' => 2 } } }, options: { 'allow_destroy' => false })
        .and_return(applied([outcome]))
      allow(context).to receive(:notice)
      provider.set(context, 'web1' => { is: is_web1, should: { name: 'web1', ensure: 'present', vcpus: 2 } })
    end

    it 'sends one apply per group of equal options' do
      expect(session).to receive(:request).with('apply', document: hash_including('domains' => hash_including('a', 'b')), options: { 'allow_destroy' => false })
                                          .once.and_return(plan_result([]).merge('apply' => nil))
      expect(session).to receive(:request).with('apply', document: hash_including('domains' => hash_including('c')), options: { 'allow_destroy' => true })
                                          .once.and_return(plan_result([]).merge('apply' => nil))
      absent = { ensure: :absent }
      provider.set(context, 'a' => { is: absent, should: { name: 'a', ensure: 'present', vcpus: 1, memory: '1GiB' } },
                            'b' => { is: absent, should: { name: 'b', ensure: 'present', vcpus: 1, memory: '1GiB' } },
                            'c' => { is: absent, should: { name: 'c', ensure: 'present', vcpus: 1, memory: '1GiB', allow_destroy: true } })
    end
  end
end

# The same provider driving the real engine on libvirt's test driver.
RSpec.describe Puppet::Provider::VirtDomain::VirtDomain, :test_driver, if: engine_binary do
  subject(:provider) { provider_for('virt_domain') }

  before(:each) do
    Puppet[:noop] = false
    expect(converge(provider_for('virt_pool'), 'vcp-images', type: 'dir', path: '/tmp/vcp-spec/images')).not_to be_empty
    expect(converge(provider_for('virt_volume'), { pool: 'vcp-images', volume: 'vcp-root' }, capacity: '1GiB')).not_to be_empty
    expect(converge(provider_for('virt_network'), 'vcp-net', mode: 'isolated')).not_to be_empty
  end

  let(:web1) do
    { vcpus: 1, max_vcpus: 4, memory: '256MiB', max_memory: '1GiB',
      disks: [{ 'volume' => 'vcp-images/vcp-root', 'target' => 'vda' }], interfaces: [{ 'network' => 'vcp-net' }] }
  end

  it 'creates a domain, then finds nothing to change' do
    expect(converge(provider, 'vcp-web1', web1)).to eq(["defined 'ensure' as 'present': + domain.vcp-web1 (create, no disruption)"])
    expect(log).to include([:notice, 'vcp-web1', 'create domain.vcp-web1'], [:notice, 'vcp-web1', 'start domain.vcp-web1'])
    again = provider_for('virt_domain', next_run_host)
    expect(converge(again, 'vcp-web1', web1.merge(memory: 268_435_456, max_memory: '1024MiB', state: 'running'))).to eq([])
    expect(again.get(context, ['vcp-web1']).first).to include(vcpus: 1, memory: '256MiB', state: 'running')
  end

  it 'hot-plugs vCPUs, live' do
    converge(provider, 'vcp-web1', web1)
    again = provider_for('virt_domain', next_run_host)
    expect(converge(again, 'vcp-web1', web1.merge(vcpus: 2))).to eq(['vcpus 1 → 2  (live: hot-plug)'])
    expect(log).to include([:notice, 'vcp-web1', 'hot-plug vCPUs of domain.vcp-web1 to 2'])
    expect(provider_for('virt_domain', next_run_host).get(context, ['vcp-web1']).first[:vcpus]).to eq(2)
  end

  it 'writes a restart-only change to the config and warns that it is pending' do
    converge(provider, 'vcp-web1', web1)
    again = provider_for('virt_domain', next_run_host)
    messages = converge(again, 'vcp-web1', web1.merge(max_vcpus: 6))
    expect(messages).to eq(['max_vcpus 4 → 6  (needs restart: vCPU slots are fixed at boot; written to the persistent config for the next boot)'])
    expect(log).to include([:warning, 'vcp-web1', %r{\Amax_vcpus pending restart \(running 4, next boot 6\)}])
    third = provider_for('virt_domain', next_run_host)
    expect(converge(third, 'vcp-web1', web1.merge(max_vcpus: 6))).to eq([])
    expect(log).to include([:warning, 'vcp-web1', 'max_vcpus pending restart (running 4, next boot 6)'])
  end

  it 'changes only the declared attribute of an existing domain' do
    converge(provider, 'vcp-web1', web1.merge(autostart: false))
    again = provider_for('virt_domain', next_run_host)
    expect(converge(again, 'vcp-web1', autostart: true)).to match([a_string_starting_with('autostart false → true  (no disruption')])
    expect(provider_for('virt_domain', next_run_host).get(context, ['vcp-web1']).first).to include(autostart: true, memory: '256MiB', vcpus: 1)
  end

  it 'fails only the resource the engine refuses' do
    bad = { vcpus: 1, memory: '128MiB', disks: [{ 'volume' => 'vcp-images/missing', 'target' => 'vda' }] }
    good = { vcpus: 1, memory: '128MiB', state: 'stopped' }
    expect { converge(provider, 'vcp-bad', bad) }
      .to raise_error(Puppet::ResourceError, %r{volume vcp-images/missing is neither declared nor present on the host})
    expect(converge(provider, 'vcp-good', good)).to eq(["defined 'ensure' as 'present': + domain.vcp-good (create, no disruption)"])
    names = provider_for('virt_domain', next_run_host).get(context).map { |r| r[:name] }
    expect(names).to include('vcp-good')
    expect(names).not_to include('vcp-bad')
  end

  it 'deletes a domain' do
    converge(provider, 'vcp-web1', web1.merge(state: 'stopped'))
    again = provider_for('virt_domain', next_run_host)
    expect(converge(again, 'vcp-web1', ensure: 'absent')).to eq(["undefined 'ensure' from 'present': - domain.vcp-web1 (delete, no disruption); delete  (no disruption: undefined; its volumes are kept)"])
    expect(provider_for('virt_domain', next_run_host).get(context, ['vcp-web1'])).to eq([])
  end
end
