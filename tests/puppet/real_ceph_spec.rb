# frozen_string_literal: true

# End-to-end: real `puppet apply` runs of real manifests with rbd_image resources against the real
# Ceph cluster (scripts/ceph-up.sh: pool `rbd`, the least-privilege client.virtconverge) and the
# real libvirtd (qemu:///system), including a KVM domain whose disk is an RBD clone (QEMU reaches
# it through the libvirt secret virtconverge keeps). Every image is rbd/vcp-rbd-*, every domain
# vcp-rbd-*; they are removed before and after.
# Run: VIRTCONVERGE_BIN=build/virtconverge rspec tests/puppet/real_ceph_spec.rb
require 'json'
require_relative 'puppet_run'

CEPH_DIR = ENV.fetch('VC_CEPH_DIR', '/tmp/vc-ceph')
ADMIN_CONF = File.join(CEPH_DIR, 'ceph.conf')            # the tests' own checks and cleanup
CLIENT_CONF = File.join(CEPH_DIR, 'ceph.virtconverge.conf') # what the manifests use
CLIENT_USER = 'virtconverge'
LIBVIRT = 'qemu:///system'
PREFIX = 'vcp-rbd-'

def sh(*argv)
  out, status = Open3.capture2e(*argv)
  [status.success?, out.strip]
end

# stdout only: a Ceph client run beside another one complains about its admin socket on stderr.
def rbd(*args)
  out, err, status = Open3.capture3('timeout', '60', 'rbd', '-c', ADMIN_CONF, *args)
  raise "rbd #{args.join(' ')}: #{err}" unless status.success?
  out
end

def rbd_json(*args)
  JSON.parse(rbd(*args, '--format', 'json'))
end

def images
  rbd_json('ls', 'rbd').select { |i| i.start_with?(PREFIX) }
end

def virsh(*args)
  sh('virsh', '-q', '-c', LIBVIRT, *args)
end

# Whether rbd/IMAGE is a clone (has a parent).
def clone?(image)
  rbd_json('info', "rbd/#{image}").key?('parent')
rescue RuntimeError, JSON::ParserError
  false
end

# Every vcp-rbd- domain, then every rbd/vcp-rbd-* image: clones before their parents (and a few
# rounds, for clones of clones), snapshots unprotected and purged, then the image.
def cleanup
  virsh('list', '--all', '--name')[1].lines.map(&:strip).select { |d| d.start_with?(PREFIX) }.each do |d|
    virsh('destroy', d)
    virsh('undefine', d)
  end
  3.times do
    images.sort_by { |image| clone?(image) ? 0 : 1 }.each do |image|
      snaps = begin
        rbd_json('snap', 'ls', "rbd/#{image}")
      rescue RuntimeError
        []
      end
      snaps.each { |s| sh('rbd', '-c', ADMIN_CONF, 'snap', 'unprotect', "rbd/#{image}@#{s['name']}") }
      sh('rbd', '-c', ADMIN_CONF, 'snap', 'purge', "rbd/#{image}")
      sh('rbd', '-c', ADMIN_CONF, 'rm', '--no-progress', "rbd/#{image}")
    end
  end
end

# The cephx keys of the keyrings the cluster's confs name.
def keys
  Dir[File.join(CEPH_DIR, 'ceph.client.*.keyring')].flat_map { |f| File.read(f).scan(%r{key\s*=\s*(\S+)}).flatten }
end

RSpec.describe 'puppet apply of rbd_image against the real Ceph cluster', order: :defined do
  before(:all) do
    engine = ENV.fetch('VIRTCONVERGE_BIN', File.expand_path('../../build/virtconverge', __dir__))
    @dir = Dir.mktmpdir('vcp-rbd-')
    @puppet = PuppetRun.new(engine: engine, dir: @dir)
    @outputs = []
    ok, out = sh('timeout', '30', 'ceph', '-c', ADMIN_CONF, '--connect-timeout', '5', 'health')
    raise "the Ceph cluster is not running (scripts/ceph-up.sh starts it): #{out}" unless ok
    ok, out = virsh('version')
    raise "the real libvirtd is not reachable (scripts/libvirtd-up.sh starts it): #{out}" unless ok
    raise "no keys in the keyrings of #{CEPH_DIR}" if keys.empty?
    cleanup
  end

  after(:all) do
    cleanup
    FileUtils.rm_rf(@dir)
  end

  # Every run's output is kept for the key check at the end.
  def apply(manifest, *flags, env: {})
    run = @puppet.apply(manifest, *flags, env: env)
    @outputs << run.output
    run
  end

  def ceph
    "ceph_conf => '#{CLIENT_CONF}', ceph_user => '#{CLIENT_USER}',"
  end

  # The site, declared in the reverse of the order it must be made in: the domain requires its
  # RBD disk's image, the clone its parent.
  def site(clone_size: '512MiB', data_size: '128MiB', snapshots: "['base']", extra: '')
    <<~PP
      virt_domain { 'vcp-rbd-vm1':
        vcpus            => 1,
        memory           => '128MiB',
        disks            => [{ 'rbd' => 'rbd/vcp-rbd-web1', 'target' => 'vdb' }],
        state            => 'running',
        shutdown_timeout => 1,
      }
      rbd_image { 'rbd/vcp-rbd-web1':
        clone_from => 'rbd/vcp-rbd-golden@base',
        size       => '#{clone_size}',
        #{ceph}
      }
      rbd_image { 'rbd/vcp-rbd-golden':
        size      => '256MiB',
        features  => ['object-map', 'layering', 'fast-diff', 'exclusive-lock'],
        snapshots => #{snapshots},
        #{ceph}
      }
      rbd_image { 'rbd/vcp-rbd-data':
        size => '#{data_size}',
        #{ceph}
      }
      #{extra}
    PP
  end

  def line_of(output, text)
    output.lines.index { |l| l.include?(text) } or raise "no line with #{text.inspect} in:\n#{output}"
  end

  it '--noop of the new site plans it all, warns of nothing and creates nothing' do
    run = apply(site, '--noop')
    expect(run.status).to eq(0), run.to_s
    expect(run.output).to include("rbd_image[rbd/vcp-rbd-web1]: would change: defined 'ensure' as 'present': + rbd_image.rbd/vcp-rbd-web1 (create, no disruption)")
    expect(run.output).to include("virt_domain[vcp-rbd-vm1]: would change: defined 'ensure' as 'present': + domain.vcp-rbd-vm1 (create, ")
    # Planned one by one, the clone's parent and the domain's image are missing: the catalog makes them first.
    expect(run.output).not_to match(%r{^(Error|Warning):}), run.to_s
    expect(images).to eq([])
    expect(virsh('domstate', 'vcp-rbd-vm1')[0]).to be false
  end

  it 'creates a golden image with a snapshot, a clone grown after cloning and a domain on it, in dependency order' do
    run = apply(site)
    expect(run.status).to eq(2), run.to_s
    expect(run.engine_starts).to eq(1), run.to_s
    expect(run.output).not_to match(%r{^(Error|Warning):}), run.to_s
    expect(run.output).to include("Rbd_image[rbd/vcp-rbd-web1]/ensure: defined 'ensure' as 'present': + rbd_image.rbd/vcp-rbd-web1 (create, no disruption)")
    golden = line_of(run.output, 'rbd_image[rbd/vcp-rbd-golden]: create rbd_image.rbd/vcp-rbd-golden')
    clone = line_of(run.output, 'rbd_image[rbd/vcp-rbd-web1]: create rbd_image.rbd/vcp-rbd-web1')
    domain = line_of(run.output, 'virt_domain[vcp-rbd-vm1]: start domain.vcp-rbd-vm1')
    expect([golden, clone, domain]).to eq([golden, clone, domain].sort), run.to_s

    info = rbd_json('info', 'rbd/vcp-rbd-golden')
    expect(info['size']).to eq(256 << 20)
    expect(info['features'].sort).to eq(['exclusive-lock', 'fast-diff', 'layering', 'object-map'])
    expect(rbd_json('snap', 'ls', 'rbd/vcp-rbd-golden').map { |s| s['name'] }).to eq(['base'])
    expect(rbd_json('info', 'rbd/vcp-rbd-golden@base')['protected']).to eq('true')
    clone_info = rbd_json('info', 'rbd/vcp-rbd-web1')
    expect(clone_info['parent']).to include('pool' => 'rbd', 'image' => 'vcp-rbd-golden', 'snapshot' => 'base')
    expect(clone_info['size']).to eq(512 << 20)
    expect(rbd_json('info', 'rbd/vcp-rbd-data')['size']).to eq(128 << 20)

    expect(virsh('domstate', 'vcp-rbd-vm1')).to eq([true, 'running'])
    xml = virsh('dumpxml', 'vcp-rbd-vm1')[1]
    expect(xml).to include("<source protocol='rbd' name='rbd/vcp-rbd-web1'")
    expect(xml).to match(%r{<auth username='#{CLIENT_USER}'>\s*<secret type='ceph' uuid=})
  end

  it 'finds nothing to change on the second run (exit 0 with --detailed-exitcodes)' do
    run = apply(site(clone_size: '536870912'))
    expect(run.status).to eq(0), run.to_s
    expect(run.output).not_to include('Notice: /Stage')
    expect(run.engine_starts).to eq(1)
  end

  it 'lists the images with puppet resource ($CEPH_CONF names the cluster)' do
    run = @puppet.resource('rbd_image', 'rbd/vcp-rbd-web1', env: { 'CEPH_CONF' => ADMIN_CONF })
    @outputs << run.output
    expect(run.status).to eq(0), run.to_s
    expect(run.output).to match(%r{rbd_image \{ 'rbd/vcp-rbd-web1': *\n  pool => 'rbd',\n  image => 'vcp-rbd-web1',\n  ensure => 'present',\n  size => '512MiB',\n  features => \['exclusive-lock', 'fast-diff', 'layering', 'object-map'\],\n  snapshots => \[\],\n  clone_from => 'rbd/vcp-rbd-golden@base',\n  flatten => false,})
  end

  it "--noop shows the engine's plan with its disruption class and changes nothing" do
    pid = File.read('/run/libvirt/qemu/vcp-rbd-vm1.pid').to_i
    run = apply(site(clone_size: '768MiB', snapshots: "['base', 'v2']"), '--noop')
    expect(run.status).to eq(0), run.to_s
    expect(run.output).to include('rbd_image[rbd/vcp-rbd-web1]: would change: size 512MiB → 768MiB  (live: grow')
    expect(run.output).to include("Rbd_image[rbd/vcp-rbd-web1]/size: current_value '512MiB', should be '768MiB' (noop)")
    expect(run.output).to include('rbd_image[rbd/vcp-rbd-golden]: would change: snapshots [base] → [base, v2]  (no disruption: snapshots created)')
    expect(rbd_json('info', 'rbd/vcp-rbd-web1')['size']).to eq(512 << 20)
    expect(rbd_json('snap', 'ls', 'rbd/vcp-rbd-golden').map { |s| s['name'] }).to eq(['base'])
    expect(File.read('/run/libvirt/qemu/vcp-rbd-vm1.pid').to_i).to eq(pid)
  end

  it 'grows the clone under the running domain live (QEMU grows it) and adds a snapshot' do
    pid = File.read('/run/libvirt/qemu/vcp-rbd-vm1.pid').to_i
    run = apply(site(clone_size: '768MiB', snapshots: "['base', 'v2']"))
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include('Rbd_image[rbd/vcp-rbd-web1]/size: size 512MiB → 768MiB  (live: grow')
    expect(run.output).to include('rbd_image[rbd/vcp-rbd-web1]: tell domain.vcp-rbd-vm1 that vdb is now 768MiB')
    expect(run.output).to include('rbd_image[rbd/vcp-rbd-golden]: create snapshots ["v2"] of rbd_image.rbd/vcp-rbd-golden')
    expect(rbd_json('info', 'rbd/vcp-rbd-web1')['size']).to eq(768 << 20)
    expect(rbd_json('snap', 'ls', 'rbd/vcp-rbd-golden').map { |s| s['name'] }.sort).to eq(['base', 'v2'])
    expect(File.read('/run/libvirt/qemu/vcp-rbd-vm1.pid').to_i).to eq(pid)
    again = apply(site(clone_size: '768MiB', snapshots: "['base', 'v2']"))
    expect(again.status).to eq(0), again.to_s
  end

  it 'fails only the shrink without allow_destroy; the other changes apply' do
    run = apply(site(clone_size: '768MiB', data_size: '64MiB', snapshots: "['base', 'v2', 'v3']"))
    expect(run.status).to eq(6), run.to_s # 2: changes, 4: failures
    expect(run.output).to include('Error: /Stage[main]/Main/Rbd_image[rbd/vcp-rbd-data]: Could not evaluate: rbd_image.rbd/vcp-rbd-data: ' \
                                  'destructive change refused without --allow-destroy (size: shrink: data beyond the new end is lost); ' \
                                  'set allow_destroy => true on this resource to permit it')
    expect(run.output).to include('rbd_image[rbd/vcp-rbd-golden]: create snapshots ["v3"] of rbd_image.rbd/vcp-rbd-golden')
    expect(run.output.scan(%r{^Error:}).size).to eq(1), run.to_s
    expect(rbd_json('info', 'rbd/vcp-rbd-data')['size']).to eq(128 << 20)
    expect(rbd_json('snap', 'ls', 'rbd/vcp-rbd-golden').map { |s| s['name'] }.sort).to eq(['base', 'v2', 'v3'])
  end

  it 'shrinks with allow_destroy on that resource' do
    run = apply(site(clone_size: '768MiB', data_size: '64MiB', snapshots: "['base']").sub(
                  "size => '64MiB',", "size => '64MiB',\n  allow_destroy => true,"))
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include('rbd_image[rbd/vcp-rbd-data]: shrink rbd_image.rbd/vcp-rbd-data to 64MiB')
    expect(rbd_json('info', 'rbd/vcp-rbd-data')['size']).to eq(64 << 20)
  end

  it 'keeps a Sensitive ceph_conf redacted, also in the engine errors' do
    missing = File.join(@dir, 'secret-site', 'ceph.conf')
    manifest = <<~PP
      rbd_image { 'rbd/vcp-rbd-data':
        size      => '64MiB',
        ceph_conf => Sensitive('#{CLIENT_CONF}'),
        ceph_user => '#{CLIENT_USER}',
      }
      rbd_image { 'rbd/vcp-rbd-elsewhere':
        size      => '64MiB',
        ceph_conf => Sensitive('#{missing}'),
      }
    PP
    run = apply(manifest)
    expect(run.status).to eq(4), run.to_s
    expect(run.output).to include('Error: /Stage[main]/Main/Rbd_image[rbd/vcp-rbd-elsewhere]: Could not evaluate: virtconverge: reading [redacted]: ')
    expect(run.output).not_to include('secret-site')
    expect(run.output).not_to include(CLIENT_CONF)
    report = Dir[File.join(@dir, 'puppet', '**', 'last_run_report.yaml')].first
    expect(File.read(report)).to include('reading [redacted]')
    expect(File.read(report)).not_to include('secret-site')
    expect(run.output).not_to match(%r{Warning: .*sensitive}i)
    expect(images).not_to include('vcp-rbd-elsewhere')
  end

  it 'removes the domain, then the clone, then its parent with ensure => absent, no require in the manifest' do
    # Declared parents first; the clone and the domain do not repeat clone_from and disks: the
    # order comes from what the host holds.
    teardown = <<~PP
      rbd_image { ['rbd/vcp-rbd-golden', 'rbd/vcp-rbd-web1', 'rbd/vcp-rbd-data']:
        ensure        => absent,
        allow_destroy => true,
        #{ceph}
      }
      virt_domain { 'vcp-rbd-vm1':
        ensure           => absent,
        shutdown_timeout => 1,
      }
    PP
    noop = apply(teardown, '--noop')
    expect(noop.status).to eq(0), noop.to_s
    expect(noop.output).to include('rbd_image[rbd/vcp-rbd-web1]: would change: undefined \'ensure\' from \'present\': - rbd_image.rbd/vcp-rbd-web1 (delete, destructive')
    expect(noop.output).not_to match(%r{^(Error|Warning):}), noop.to_s # the domain that uses the clone goes first
    expect(images).to contain_exactly('vcp-rbd-golden', 'vcp-rbd-web1', 'vcp-rbd-data')
    expect(virsh('domstate', 'vcp-rbd-vm1')).to eq([true, 'running'])
    run = apply(teardown)
    expect(run.status).to eq(2), run.to_s
    expect(run.output).not_to match(%r{^(Error|Warning):}), run.to_s
    expect(run.output).to include("Rbd_image[rbd/vcp-rbd-golden]/ensure: undefined 'ensure' from 'present': - rbd_image.rbd/vcp-rbd-golden (delete, destructive); delete  (destructive: the image, its snapshots and its data are deleted)")
    domain = line_of(run.output, 'virt_domain[vcp-rbd-vm1]: delete domain.vcp-rbd-vm1')
    clone = line_of(run.output, 'rbd_image[rbd/vcp-rbd-web1]: delete rbd_image.rbd/vcp-rbd-web1')
    parent = line_of(run.output, 'rbd_image[rbd/vcp-rbd-golden]: delete rbd_image.rbd/vcp-rbd-golden')
    expect([domain, clone, parent]).to eq([domain, clone, parent].sort), run.to_s
    expect(run.engine_starts).to eq(1)
    expect(images).to eq([])
    expect(virsh('domstate', 'vcp-rbd-vm1')[0]).to be false
    again = apply(teardown)
    expect(again.status).to eq(0), again.to_s
  end

  it 'never shows a cephx key: not in any output, not in the reports or state Puppet wrote' do
    expect(@outputs.size).to be >= 10
    written = Dir[File.join(@dir, 'puppet', '**', '*')].select { |f| File.file?(f) }
    expect(written.map { |f| File.basename(f) }).to include('last_run_report.yaml')
    texts = @outputs + written.map { |f| File.binread(f) }
    keys.each do |key|
      texts.each do |text|
        expect(text).not_to include(key)
        expect(text).not_to include(key[0, 20])
      end
    end
  end
end
