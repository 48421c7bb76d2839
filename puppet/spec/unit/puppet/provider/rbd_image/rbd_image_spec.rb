# frozen_string_literal: true

require 'spec_helper'
require 'puppet/type/rbd_image'
require 'puppet/provider/rbd_image/rbd_image'
require 'puppet/type/virt_domain'
require 'puppet/provider/virt_domain/virt_domain'

# The provider against a stand-in session: the exact requests it sends (the engine's `ceph:`
# section and observe options) and how it reads the answers. The real engine on a real Ceph
# cluster is tests/puppet/real_ceph_spec.rb.
RSpec.describe Puppet::Provider::RbdImage::RbdImage do
  subject(:provider) { described_class.new(host: host) }

  let(:session) { instance_double(PuppetX::Virtconverge::Session) }
  let(:host) { PuppetX::Virtconverge::Host.new(session) }
  let(:context) { instance_double(Puppet::ResourceApi::BaseContext, notice: nil, warning: nil, debug: nil) }
  let(:ceph) { { 'conf' => '/etc/ceph/site.conf', 'user' => 'libvirt' } }
  let(:golden) do
    { 'size' => '10GiB', 'features' => ['exclusive-lock', 'fast-diff', 'layering', 'object-map'], 'snapshots' => ['base', 'nightly'] }
  end
  let(:web1) { golden.merge('size' => '20GiB', 'snapshots' => [], 'clone_from' => 'rbd/golden@base') }
  let(:observed) do
    { 'document' => { 'version' => 1, 'ceph' => ceph, 'rbd_images' => { 'rbd/golden' => golden, 'rbd/web1' => web1 },
                      'pools' => {}, 'volumes' => {}, 'networks' => {}, 'domains' => {} },
      'pending' => [] }
  end
  let(:golden_title) { { pool: 'rbd', image: 'golden' } }
  let(:web1_title) { { pool: 'rbd', image: 'web1' } }
  let(:declared) { { ceph_conf: '/etc/ceph/site.conf', ceph_user: 'libvirt', allow_destroy: false } }

  def sensitive(value)
    Puppet::Pops::Types::PSensitiveType::Sensitive.new(value)
  end

  def plan_result(changes, diagnostics: [], text: nil)
    canned_result(changes, diagnostics: diagnostics, text: text)
  end

  def change(name, path, before, after, disruption, reason)
    { 'address' => "rbd_image.#{name}", 'action' => 'update', 'disruption' => disruption,
      'attributes' => [{ 'path' => path, 'before' => before, 'after' => after, 'disruption' => disruption, 'reason' => reason }] }
  end

  # The engine's text of one update, with its one row.
  def text(name, disruption_words, row)
    canned_text("~ rbd_image.#{name} (update, #{disruption_words})", rows: [row])
  end

  # What the type does with a manifest's attributes, then the current state.
  def should_for(title, attributes)
    provider.canonicalize(context, [title.merge(ensure: 'present').merge(declared).merge(attributes)]).first
  end

  def is_for(title)
    provider.get(context, [title]).first || title.merge(ensure: :absent)
  end

  before(:each) do
    Puppet[:noop] = false
    allow(session).to receive(:request).with('observe', options: anything).and_return(observed)
  end

  describe '#get' do
    it "observes the resource's cluster once, through the observe options, and lists its images" do
      expect(session).to receive(:request).with('observe', options: { 'ceph' => ceph }).once.and_return(observed)
      should_for(golden_title, {})
      2.times do
        expect(provider.get(context, [golden_title])).to eq([{ title: 'rbd/golden', pool: 'rbd', image: 'golden', ensure: 'present',
                                                               size: '10GiB', features: golden['features'],
                                                               snapshots: ['base', 'nightly'] }])
      end
      expect(provider.get(context, [web1_title]).first).to include(clone_from: 'rbd/golden@base', flatten: false)
      expect(provider.get(context, [{ pool: 'rbd', image: 'missing' }])).to eq([])
    end

    it 'defaults the cluster to $CEPH_CONF (else /etc/ceph/ceph.conf) and client.admin, and names the connection' do
      saved = ENV['CEPH_CONF']
      ENV['CEPH_CONF'] = '/srv/ceph/other.conf'
      expect(session).to receive(:request).with('observe', options: { 'connection' => 'qemu:///system',
                                                                      'ceph' => { 'conf' => '/srv/ceph/other.conf', 'user' => 'admin' } })
                                          .once.and_return(observed)
      provider.canonicalize(context, [golden_title.merge(connection: 'qemu:///system')])
      expect(provider.get(context, [golden_title]).size).to eq(1)
      ENV['CEPH_CONF'] = nil
      expect(PuppetX::Virtconverge::Ceph.section({})).to eq('conf' => '/etc/ceph/ceph.conf', 'user' => 'admin')
    ensure
      ENV['CEPH_CONF'] = saved
    end

    it 'lists every image of the cluster for `puppet resource rbd_image`' do
      should_for(golden_title, {})
      expect(provider.get(context).map { |r| r[:title] }).to contain_exactly('rbd/golden', 'rbd/web1')
    end

    it 'gives canonical values: canonicalize leaves what get returns unchanged' do
      should_for(golden_title, {})
      current = provider.get(context, [web1_title]).first
      expect(provider.canonicalize(context, [Marshal.load(Marshal.dump(current))]).first).to eq(current)
    end
  end

  describe '#canonicalize' do
    it 'sorts features and snapshots and prints sizes as the engine does' do
      should = should_for(golden_title, size: 10_737_418_240, features: ['object-map', 'layering', 'exclusive-lock', 'fast-diff'],
                                        snapshots: ['nightly', 'base'])
      expect(should).to include(size: '10GiB', features: golden['features'], snapshots: ['base', 'nightly'])
    end
  end

  describe '#insync?' do
    it 'decides by the engine\'s rules without asking it: declared snapshots must exist, others may' do
      expect(session).not_to receive(:request).with('plan', any_args)
      should = should_for(golden_title, size: '10240MiB', features: ['object-map', 'fast-diff', 'layering', 'exclusive-lock'],
                                        snapshots: ['base'])
      is = is_for(golden_title)
      [:ensure, :size, :features, :snapshots].each do |attribute|
        expect(provider.insync?(context, golden_title, attribute, is, should)).to be true
      end
    end

    it 'knows flatten as "has no parent", and that a flattened clone no longer compares clone_from' do
      expect(session).not_to receive(:request).with('plan', any_args)
      flat = is_for(golden_title)
      expect(provider.insync?(context, golden_title, :flatten, flat, should_for(golden_title, flatten: true))).to be true
      should = should_for(golden_title, clone_from: 'rbd/other@base', flatten: true)
      expect(provider.insync?(context, golden_title, :clone_from, flat, should)).to be true
    end

    it "plans a difference once, with the cluster as the document's ceph section and only the declared fields" do
      expect(session).to receive(:request)
        .with('plan', document: { 'version' => 1, 'ceph' => ceph,
                                  'rbd_images' => { 'rbd/golden' => { 'snapshots' => ['base', 'v2'] } } },
                      options: { 'allow_destroy' => false, 'text' => true })
        .once.and_return(plan_result([change('rbd/golden', 'snapshots', ['base'], ['base', 'v2'], 'none', 'snapshots created')],
                                     text: text('rbd/golden', 'no disruption', 'snapshots [base] → [base, v2]  (no disruption: snapshots created)')))
      should = should_for(golden_title, snapshots: ['v2', 'base'])
      2.times do
        expect(provider.insync?(context, golden_title, :snapshots, is_for(golden_title), should))
          .to eq([false, 'snapshots [base] → [base, v2]  (no disruption: snapshots created)'])
      end
    end

    it "asks the engine about flatten and reports its class" do
      expect(session).to receive(:request)
        .with('plan', document: { 'version' => 1, 'ceph' => ceph, 'rbd_images' => { 'rbd/web1' => { 'flatten' => true } } },
                      options: { 'allow_destroy' => false, 'text' => true })
        .and_return(plan_result([change('rbd/web1', 'flatten', false, true, 'live', "copies the parent's data into the clone; the parent link goes")],
                                text: text('rbd/web1', 'live', "flatten false → true  (live: copies the parent's data into the clone; the parent link goes)")))
      expect(provider.insync?(context, web1_title, :flatten, is_for(web1_title), should_for(web1_title, flatten: true)))
        .to eq([false, "flatten false → true  (live: copies the parent's data into the clone; the parent link goes)"])
    end

    it 'warns under --noop what the engine would refuse' do
      Puppet[:noop] = true
      diagnostics = [{ 'severity' => 'error', 'code' => 'needs_allow_destroy', 'address' => 'rbd_image.rbd/golden',
                       'summary' => 'rbd_image.rbd/golden: destructive change refused without --allow-destroy',
                       'detail' => 'size: shrink: data beyond the new end is lost' }]
      allow(session).to receive(:request).with('plan', any_args)
                                         .and_return(plan_result([change('rbd/golden', 'size', '10GiB', '1GiB', 'destructive', 'shrink: data beyond the new end is lost')],
                                                                 diagnostics: diagnostics,
                                                                 text: text('rbd/golden', 'destructive', 'size 10GiB → 1GiB  (destructive: shrink: data beyond the new end is lost)')))
      expect(context).to receive(:notice).with('rbd/golden', 'would change: size 10GiB → 1GiB  (destructive: shrink: data beyond the new end is lost)')
      expect(context).to receive(:warning).with('rbd/golden', a_string_including('would fail: rbd_image.rbd/golden: destructive change refused without --allow-destroy (size: shrink: data beyond the new end is lost); set allow_destroy => true'))
      provider.insync?(context, golden_title, :size, is_for(golden_title), should_for(golden_title, size: '1GiB'))
    end
  end

  describe 'under --noop, a parent the catalog declares but the host does not have yet' do
    let(:web2_title) { { pool: 'rbd', image: 'web2' } }
    let(:missing) do
      [{ 'severity' => 'error', 'code' => 'missing_reference', 'address' => 'rbd_image.rbd/web2', 'related' => 'rbd_image.rbd/golden2',
         'summary' => '<request 3>: rbd_images.rbd/web2.clone_from: rbd_image rbd/golden2 is neither declared nor present on the host' }]
    end
    let(:create) do
      { 'address' => 'rbd_image.rbd/web2', 'action' => 'create', 'disruption' => 'none', 'attributes' => [],
        'steps' => [{ 'op' => 'create', 'address' => 'rbd_image.rbd/web2', 'args' => { 'clone_from' => 'rbd/golden2@base' },
                      'description' => 'create rbd_image.rbd/web2' }] }
    end

    before(:each) do
      Puppet[:noop] = true
      allow(session).to receive(:request).with('plan', any_args)
                                         .and_return(plan_result([create], diagnostics: missing, text: canned_text('+ rbd_image.rbd/web2 (create, no disruption)')))
    end

    it 'is no reason to warn: Puppet creates it first' do
      should_for({ pool: 'rbd', image: 'golden2' }, size: '1GiB')
      expect(context).not_to receive(:warning)
      expect(provider.insync?(context, web2_title, :ensure, web2_title.merge(ensure: :absent), should_for(web2_title, clone_from: 'rbd/golden2@base')))
        .to eq([false, "defined 'ensure' as 'present': + rbd_image.rbd/web2 (create, no disruption)"])
    end

    it 'is no reason to warn either that a domain the catalog deletes still uses an image' do
      in_use = [{ 'severity' => 'error', 'code' => 'in_use', 'address' => 'rbd_image.rbd/web1', 'related' => 'domain.web1',
                  'summary' => 'rbd_image.rbd/web1: cannot delete: domain web1 uses it (remove the disk or the domain first)' }]
      delete = { 'address' => 'rbd_image.rbd/web1', 'action' => 'delete', 'disruption' => 'destructive', 'attributes' => [] }
      allow(session).to receive(:request).with('plan', any_args).and_return(plan_result([delete], diagnostics: in_use))
      domains = Puppet::Provider::VirtDomain::VirtDomain.new(host: host)
      domains.canonicalize(context, [{ name: 'web2', ensure: 'absent' }])
      expect(context).to receive(:warning).with('rbd/web1', a_string_including('cannot delete: domain web1 uses it')).once
      should = should_for(web1_title, ensure: 'absent', allow_destroy: true)
      provider.insync?(context, web1_title, :ensure, is_for(web1_title), should)
      domains.canonicalize(context, [{ name: 'web1', ensure: 'absent' }])
      next_provider = described_class.new(host: host)
      next_provider.canonicalize(context, [web1_title.merge(declared).merge(ensure: 'absent', allow_destroy: true)])
      next_provider.insync?(context, web1_title, :ensure, is_for(web1_title), should)
    end

    it 'is no reason to warn that a clone the catalog deletes still depends on its parent' do
      clone_left = [{ 'severity' => 'error', 'code' => 'in_use', 'address' => 'rbd_image.rbd/golden', 'related' => 'rbd_image.rbd/web1',
                      'summary' => 'rbd_image.rbd/golden: cannot delete: the clone rbd/web1 depends on it (flatten or delete the clone first)' }]
      delete = { 'address' => 'rbd_image.rbd/golden', 'action' => 'delete', 'disruption' => 'destructive', 'attributes' => [] }
      allow(session).to receive(:request).with('plan', any_args).and_return(plan_result([delete], diagnostics: clone_left))
      should_for(web1_title, ensure: 'absent', allow_destroy: true)
      expect(context).not_to receive(:warning)
      provider.insync?(context, golden_title, :ensure, is_for(golden_title), should_for(golden_title, ensure: 'absent', allow_destroy: true))
    end

    it 'is no reason to warn that the snapshot a clone is made from is not there yet when the catalog declares it' do
      unseen = [{ 'severity' => 'error', 'code' => 'missing_reference', 'address' => 'rbd_image.rbd/web2', 'related' => 'rbd_image.rbd/golden@v2',
                  'summary' => "<request 4>: rbd_images.rbd/web2.clone_from: snapshot v2 is neither declared in rbd/golden's snapshots nor present" }]
      allow(session).to receive(:request).with('plan', any_args).and_return(plan_result([create], diagnostics: unseen))
      should = should_for(web2_title, clone_from: 'rbd/golden@v2')
      expect(context).to receive(:warning).with('rbd/web2', a_string_including('snapshot v2 is neither declared')).once
      provider.insync?(context, web2_title, :ensure, web2_title.merge(ensure: :absent), should)
      should_for(golden_title, snapshots: ['base', 'v2'])
      next_provider = described_class.new(host: host)
      next_provider.canonicalize(context, [web2_title.merge(declared).merge(ensure: 'present', clone_from: 'rbd/golden@v2')])
      next_provider.insync?(context, web2_title, :ensure, web2_title.merge(ensure: :absent), should)
    end

    it 'is a warning when the catalog does not declare it' do
      expect(context).to receive(:warning).with('rbd/web2', 'would fail: rbd_images.rbd/web2.clone_from: rbd_image rbd/golden2 is neither declared nor present on the host')
      provider.insync?(context, web2_title, :ensure, web2_title.merge(ensure: :absent), should_for(web2_title, clone_from: 'rbd/golden2@base'))
    end
  end

  describe '#set' do
    def applied(name, steps)
      plan_result([]).merge('apply' => canned_report([{ 'address' => "rbd_image.#{name}", 'steps' => steps }]))
    end

    it 'creates a clone with one apply that names the cluster' do
      expect(session).to receive(:request)
        .with('apply', document: { 'version' => 1, 'ceph' => ceph,
                                   'rbd_images' => { 'rbd/web2' => { 'clone_from' => 'rbd/golden@base', 'size' => '20GiB' } } },
                       options: { 'allow_destroy' => false })
        .and_return(applied('rbd/web2', ['create rbd_image.rbd/web2']))
      expect(context).to receive(:notice).with('rbd/web2', 'create rbd_image.rbd/web2')
      title = { pool: 'rbd', image: 'web2' }
      provider.set(context, title => { is: title.merge(ensure: :absent), should: should_for(title, clone_from: 'rbd/golden@base', size: '20GiB') })
    end

    it 'deletes with allow_destroy, per resource' do
      expect(session).to receive(:request)
        .with('apply', document: { 'version' => 1, 'ceph' => ceph, 'rbd_images' => { 'rbd/web1' => { 'ensure' => 'absent' } } },
                       options: { 'allow_destroy' => true })
        .and_return(applied('rbd/web1', ['delete rbd_image.rbd/web1']))
      provider.set(context, web1_title => { is: is_for(web1_title), should: should_for(web1_title, ensure: 'absent', allow_destroy: true) })
    end

    it 'fails the resource with the engine message (a parent with clones is not deleted)' do
      failed = applied('rbd/golden', [])
      failed['apply']['outcomes'][0].merge!('ok' => false, 'code' => 'in_use', 'action' => 'delete',
                                            'error' => 'cannot delete rbd/golden: clones depend on it (rbd/web1); flatten or delete them first')
      allow(session).to receive(:request).with('apply', any_args).and_return(failed)
      expect { provider.set(context, golden_title => { is: is_for(golden_title), should: should_for(golden_title, ensure: 'absent', allow_destroy: true) }) }
        .to raise_error(Puppet::ResourceError, 'rbd_image.rbd/golden: cannot delete rbd/golden: clones depend on it (rbd/web1); flatten or delete them first')
    end
  end

  describe 'Sensitive' do
    let(:declared) { { ceph_conf: sensitive('/srv/secret-site/ceph.conf'), ceph_user: sensitive('hidden-user') } }
    let(:ceph) { { 'conf' => '/srv/secret-site/ceph.conf', 'user' => 'hidden-user' } }

    it 'unwraps the values only for the engine and redacts them from errors' do
      expect(session).to receive(:request).with('observe', options: { 'ceph' => ceph })
                                          .and_raise(PuppetX::Virtconverge::EngineError,
                                                     'virtconverge: cannot connect to the Ceph cluster of /srv/secret-site/ceph.conf as client.hidden-user: keyring or key not found')
      should_for(golden_title, {})
      expect { provider.get(context, [golden_title]) }
        .to raise_error(PuppetX::Virtconverge::EngineError, 'virtconverge: cannot connect to the Ceph cluster of [redacted] as client.[redacted]: keyring or key not found')
    end

    it 'redacts them from change messages, notices and apply failures' do
      Puppet[:noop] = true
      allow(session).to receive(:request).with('plan', hash_including(document: hash_including('ceph' => ceph)))
                                         .and_return(plan_result([change('rbd/golden', 'size', '10GiB', '20GiB', 'live', 'grow (hidden-user)')],
                                                                 text: text('rbd/golden', 'live', 'size 10GiB → 20GiB  (live: grow (hidden-user))')))
      expect(context).to receive(:notice).with('rbd/golden', 'would change: size 10GiB → 20GiB  (live: grow ([redacted]))')
      expect(provider.insync?(context, golden_title, :size, is_for(golden_title), should_for(golden_title, size: '20GiB')))
        .to eq([false, 'size 10GiB → 20GiB  (live: grow ([redacted]))'])
      allow(session).to receive(:request).with('apply', any_args)
                                         .and_raise(PuppetX::Virtconverge::EngineError, 'virtconverge: reading /srv/secret-site/ceph.conf: No such file or directory')
      expect { provider.set(context, golden_title => { is: is_for(golden_title), should: should_for(golden_title, size: '20GiB') }) }
        .to raise_error(Puppet::ResourceError, 'virtconverge: reading [redacted]: No such file or directory')
    end
  end
end

# A domain with RBD disks: its plan and apply documents carry the cluster.
RSpec.describe Puppet::Provider::VirtDomain::VirtDomain do
  subject(:provider) { described_class.new(host: host) }

  let(:session) { instance_double(PuppetX::Virtconverge::Session) }
  let(:host) { PuppetX::Virtconverge::Host.new(session) }
  let(:context) { instance_double(Puppet::ResourceApi::BaseContext, notice: nil, warning: nil, debug: nil) }
  let(:observed) { { 'document' => { 'version' => 1, 'domains' => {} }, 'pending' => [] } }
  let(:absent) { { name: 'web1', ensure: :absent } }
  let(:should) do
    { name: 'web1', ensure: 'present', vcpus: 1, memory: '256MiB', disks: [{ 'rbd' => 'rbd/web1-root', 'target' => 'vda' }] }
  end

  def expect_apply_with(ceph)
    document = { 'version' => 1, 'domains' => { 'web1' => hash_including('disks' => should[:disks]) } }
    document['ceph'] = ceph unless ceph.nil?
    expect(session).to receive(:request).with('apply', document: document, options: anything)
                                        .and_return(canned_result([]).merge('apply' => nil))
  end

  before(:each) do
    allow(session).to receive(:request).with('observe', options: {}).and_return(observed)
  end

  it "takes the cluster of the disk's rbd_image in the catalog, with its redactions" do
    images = Puppet::Provider::RbdImage::RbdImage.new(host: host)
    images.canonicalize(context, [{ pool: 'rbd', image: 'web1-root', ceph_conf: '/etc/ceph/site.conf', ceph_user: 'libvirt' }])
    expect_apply_with('conf' => '/etc/ceph/site.conf', 'user' => 'libvirt')
    provider.set(context, 'web1' => { is: absent, should: should })
  end

  it 'takes its own ceph_conf and ceph_user first, and the defaults last' do
    expect_apply_with('conf' => '/etc/ceph/mine.conf', 'user' => 'admin')
    provider.set(context, 'web1' => { is: absent, should: should.merge(ceph_conf: '/etc/ceph/mine.conf') })
    saved = ENV['CEPH_CONF']
    ENV['CEPH_CONF'] = nil
    expect_apply_with('conf' => '/etc/ceph/ceph.conf', 'user' => 'admin')
    provider.set(context, 'web1' => { is: absent, should: should })
  ensure
    ENV['CEPH_CONF'] = saved
  end

  it "relates an absent domain by the disks the host has, in its config and still in the running guest" do
    observed['document']['domains']['web1'] = { 'vcpus' => 1, 'disks' => [{ 'volume' => 'p/a', 'target' => 'vda' }] }
    observed['pending_changes'] = [{ 'address' => 'domain.web1', 'path' => 'disks', 'config' => [{ 'volume' => 'p/a', 'target' => 'vda' }],
                                     'live' => [{ 'volume' => 'p/a', 'target' => 'vda' }, { 'rbd' => 'rbd/x', 'target' => 'vdb' }] }]
    resource = Puppet::Type.type(:virt_domain).new(name: 'web1', ensure: 'absent')
    expect(provider.observed_field(resource, 'disks')).to eq([{ 'volume' => 'p/a', 'target' => 'vda' }, { 'rbd' => 'rbd/x', 'target' => 'vdb' }])
    expect(provider.observed_field(Puppet::Type.type(:virt_domain).new(name: 'web9', ensure: 'absent'), 'disks')).to be_nil
  end

  it 'sends no ceph section without RBD disks' do
    expect(session).to receive(:request).with('apply', document: { 'version' => 1, 'domains' => { 'web1' => { 'vcpus' => 1, 'memory' => '256MiB' } } },
                                                       options: anything)
                                        .and_return(canned_result([]).merge('apply' => nil))
    provider.set(context, 'web1' => { is: absent, should: { name: 'web1', ensure: 'present', vcpus: 1, memory: '256MiB', ceph_conf: '/x.conf' } })
  end
end
