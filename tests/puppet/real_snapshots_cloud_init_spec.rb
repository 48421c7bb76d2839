# frozen_string_literal: true

# End-to-end: a virt_domain's `cloud_init` and `snapshots` with real `puppet apply` runs against
# the real libvirtd (qemu:///system; scripts/libvirtd-up.sh starts it). A running no-OS guest on a
# qcow2 volume gets a NoCloud seed (a password in its user-data) and a snapshot; a second
# snapshot is taken live (same QEMU process); dropping the first is refused without
# allow_destroy and merged with it; a changed user-data shows under --noop. Every check reads
# the host (virsh, the pool directory, qemu-img, `virtconverge observe`), and the password is
# looked for in Puppet's output and in every file Puppet wrote (reports, state) after every run.
# The objects are vcpup-sn-*, under /tmp/vcpup-sn/spec, removed by name before and after.
# Run: VIRTCONVERGE_BIN=build/virtconverge rspec tests/puppet/real_snapshots_cloud_init_spec.rb
require 'json'
require 'rexml/document'
require_relative 'puppet_run'

URI = 'qemu:///system'
WORK = '/tmp/vcpup-sn'
DIR = File.join(WORK, 'spec')
IMAGES = File.join(DIR, 'images')
POOL = 'vcpup-sn-pool'
VOLUME = 'vcpup-sn-root'
DOMAIN = 'vcpup-sn-web1'
SEED = "#{DOMAIN}-cidata.iso"
PASSWORD = 'S3cret-not-shown'
NEW_PASSWORD = 'Fresh-pw-not-shown-2'

def virsh(*args)
  out, status = Open3.capture2e('virsh', '-q', '-c', URI, *args)
  [status.success?, out.strip]
end

def virsh!(*args)
  ok, out = virsh(*args)
  raise "virsh #{args.join(' ')}: #{out}" unless ok
  out
end

# Removes what this spec creates, by name, whatever state a failed run left it in: the domain,
# the volumes the engine made in the pool (the disk, the seed, the snapshot overlays), the pool
# and its directory.
def cleanup
  if virsh('dominfo', DOMAIN)[0]
    virsh('destroy', DOMAIN)
    virsh!('undefine', DOMAIN)
  end
  if virsh('pool-info', POOL)[0]
    virsh('pool-start', POOL)
    virsh('pool-refresh', POOL)
    [VOLUME, SEED, "#{VOLUME}@before-upgrade", "#{VOLUME}@after-upgrade"].each { |v| virsh('vol-delete', v, '--pool', POOL) }
    virsh('pool-destroy', POOL)
    virsh!('pool-undefine', POOL)
  end
  FileUtils.rm_rf(DIR)
end

def qemu_pid(domain)
  File.read("/run/libvirt/qemu/#{domain}.pid").to_i
end

def overlay(snapshot)
  File.join(IMAGES, "#{VOLUME}@#{snapshot}")
end

# The domain's live XML.
def domain_xml
  REXML::Document.new(virsh!('dumpxml', DOMAIN))
end

# The file behind the running guest's vda.
def vda_source
  disk = REXML::XPath.first(domain_xml, "//devices/disk[@device='disk'][target/@dev='vda']")
  disk && REXML::XPath.first(disk, 'source')&.attributes&.[]('file')
end

# [pool, volume] of each CD-ROM's source.
def cdrom_sources
  REXML::XPath.match(domain_xml, "//devices/disk[@device='cdrom']/source").map { |s| [s.attributes['pool'], s.attributes['volume']] }
end

# The backing file of a qcow2 image in use (-U: the running QEMU holds its lock).
def backing_file(path)
  out, status = Open3.capture2e('qemu-img', 'info', '-U', '--output', 'json', path)
  raise "qemu-img info #{path}: #{out}" unless status.success?
  JSON.parse(out)['backing-filename']
end

RSpec.describe 'virt_domain cloud_init and snapshots with puppet apply against the real libvirtd', order: :defined do
  before(:all) do
    @engine = ENV.fetch('VIRTCONVERGE_BIN', File.expand_path('../../build/virtconverge', __dir__))
    ok, out = virsh('version')
    raise "the real libvirtd is not reachable (scripts/libvirtd-up.sh starts it): #{out}" unless ok
    cleanup
    FileUtils.mkdir_p(WORK)
    File.chmod(0o755, WORK) # QEMU (libvirt-qemu) reaches the pool directory through it
    @puppet = PuppetRun.new(engine: @engine, dir: DIR)
  end

  after(:all) do
    cleanup
    begin
      Dir.rmdir(WORK)
    rescue SystemCallError
      nil # not empty: someone else's files, left alone
    end
  end

  # The domain as `virtconverge observe --format json` reports it.
  def observed_domain
    out, err, status = Open3.capture3(@engine, 'observe', '--connection', URI, '--format', 'json')
    raise "virtconverge observe: #{err}" unless status.success?
    JSON.parse(out).fetch('domains').fetch(DOMAIN)
  end

  # Renders a Puppet attribute list; values are written as Puppet literals.
  def attributes(hash)
    literal = lambda do |v|
      case v
      when Hash then "{ #{v.map { |k, x| "#{literal.call(k.to_s)} => #{literal.call(x)}" }.join(', ')} }"
      when Array then "[#{v.map { |x| literal.call(x) }.join(', ')}]"
      when String then "'#{v}'"
      else v.to_s
      end
    end
    hash.map { |k, v| "#{k} => #{literal.call(v)}," }.join("\n  ")
  end

  def site(snapshots:, password: PASSWORD, hostname: 'sn1', domain: {})
    cloud_init = {
      pool: POOL,
      user_data: { hostname: hostname, users: [{ name: 'ops', passwd: password }] },
      meta_data: { instance_id: 'i-1', local_hostname: 'sn1' },
    }
    domain = { vcpus: 1, memory: '128MiB', disks: [{ volume: "#{POOL}/#{VOLUME}", target: 'vda' }], state: 'running',
               shutdown_timeout: 1, cloud_init: cloud_init, snapshots: snapshots }.merge(domain)
    <<~PP
      virt_pool { '#{POOL}': type => 'dir', path => '#{IMAGES}' }
      virt_volume { '#{POOL}/#{VOLUME}': format => 'qcow2', capacity => '64MiB' }
      virt_domain { '#{DOMAIN}':
        #{attributes(domain)}
      }
    PP
  end

  # Neither password in Puppet's output nor in any file Puppet wrote (last_run_report.yaml, the
  # stored reports, state.yaml, transactionstore.yaml, last_run_summary.yaml, ...).
  def expect_no_password(run)
    [PASSWORD, NEW_PASSWORD].each do |secret|
      expect(run.output).not_to include(secret)
      leaked = Dir.glob(File.join(DIR, 'puppet', '**', '*')).select { |f| File.file?(f) && File.binread(f).include?(secret) }
      expect(leaked).to eq([]), "#{secret} written by Puppet to #{leaked.join(', ')}"
    end
  end

  it 'creates the pool, the volume and the running domain with its cloud-init seed and first snapshot' do
    run = @puppet.apply(site(snapshots: ['before-upgrade']))
    expect(run.status).to eq(2), run.to_s
    expect(run.engine_starts).to eq(1), run.to_s
    expect(run.output).to include("Virt_domain[#{DOMAIN}]/ensure: defined 'ensure' as 'present': + domain.#{DOMAIN} (create,")
    expect(run.output).to include("virt_domain[#{DOMAIN}]: write the cloud-init seed of domain.#{DOMAIN} to volume #{POOL}/#{SEED} (sha256:")
    expect(run.output).to include("virt_domain[#{DOMAIN}]: start domain.#{DOMAIN}")
    expect(run.output).to include("virt_domain[#{DOMAIN}]: snapshot before-upgrade of domain.#{DOMAIN}")
    expect(run.output).not_to match(%r{^(Error|Warning):})
    expect_no_password(run)

    expect(virsh!('domstate', DOMAIN)).to eq('running')
    # The seed: a CD-ROM on the seed volume, which holds the user-data with the password (so
    # that its absence from Puppet's output above means something).
    expect(cdrom_sources).to eq([[POOL, SEED]])
    expect(File.binread(File.join(IMAGES, SEED))).to include(PASSWORD, 'hostname: sn1', 'instance-id: "i-1"')
    # The snapshot: an external overlay the guest now writes to, backed by the volume.
    expect(File.file?(overlay('before-upgrade'))).to be(true), Dir.children(IMAGES).inspect
    expect(vda_source).to eq(overlay('before-upgrade'))
    expect(backing_file(overlay('before-upgrade'))).to eq(File.join(IMAGES, VOLUME))
    observed = observed_domain
    expect(observed['snapshots']).to eq(['before-upgrade'])
    expect(observed['cloud_init']).to include('pool' => POOL, 'meta_data' => { 'instance_id' => 'i-1', 'local_hostname' => 'sn1' })
  end

  it 'finds nothing to change on the second run' do
    run = @puppet.apply(site(snapshots: ['before-upgrade']))
    expect(run.status).to eq(0), run.to_s
    expect(run.output).not_to include('Notice: /Stage')
    expect(run.output).not_to match(%r{^(Error|Warning):})
    expect(run.engine_starts).to eq(1)
    expect_no_password(run)
  end

  it 'takes a second snapshot live: same QEMU process, a new overlay' do
    pid = qemu_pid(DOMAIN)
    run = @puppet.apply(site(snapshots: ['before-upgrade', 'after-upgrade']))
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include("Virt_domain[#{DOMAIN}]/snapshots: snapshots [before-upgrade] → [after-upgrade, before-upgrade]  (live: ")
    expect(run.output).to include("virt_domain[#{DOMAIN}]: snapshot after-upgrade of domain.#{DOMAIN}")
    expect(run.output).not_to include('cloud_init')
    expect(run.output).not_to match(%r{^(Error|Warning):})
    expect_no_password(run)
    expect(qemu_pid(DOMAIN)).to eq(pid)
    expect(File.file?(overlay('after-upgrade'))).to be(true), Dir.children(IMAGES).inspect
    expect(File.file?(overlay('before-upgrade'))).to be(true)
    expect(vda_source).to eq(overlay('after-upgrade'))
    expect(backing_file(overlay('after-upgrade'))).to eq(overlay('before-upgrade'))
    expect(observed_domain['snapshots'].sort).to eq(['after-upgrade', 'before-upgrade'])

    again = @puppet.apply(site(snapshots: ['before-upgrade', 'after-upgrade']))
    expect(again.status).to eq(0), again.to_s
  end

  it 'refuses to delete a snapshot without allow_destroy and changes nothing' do
    pid = qemu_pid(DOMAIN)
    run = @puppet.apply(site(snapshots: ['after-upgrade']))
    expect([4, 6]).to include(run.status), run.to_s # 4: failures (2: Puppet counts the property it tried)
    expect(run.output).to match(%r{^Error: /Stage\[main\]/Main/Virt_domain\[#{DOMAIN}\]: Could not evaluate: (.*; )?domain\.#{DOMAIN}: destructive change refused without --allow-destroy \(snapshots: snapshot\(s\) before-upgrade deleted: .*\); set allow_destroy => true on this resource to permit it$})
    expect(run.output).not_to include("delete snapshot before-upgrade of domain.#{DOMAIN}")
    expect(run.output).not_to include('cloud_init') # unchanged: not reported as differing because the plan is refused
    expect_no_password(run)
    expect(qemu_pid(DOMAIN)).to eq(pid)
    expect(File.file?(overlay('before-upgrade'))).to be(true), Dir.children(IMAGES).inspect
    expect(File.file?(overlay('after-upgrade'))).to be(true)
    expect(vda_source).to eq(overlay('after-upgrade'))
    expect(backing_file(overlay('after-upgrade'))).to eq(overlay('before-upgrade'))
    expect(observed_domain['snapshots'].sort).to eq(['after-upgrade', 'before-upgrade'])
  end

  it 'deletes it with allow_destroy => true: merged into the disk, the running guest kept' do
    pid = qemu_pid(DOMAIN)
    run = @puppet.apply(site(snapshots: ['after-upgrade'], domain: { allow_destroy: true }))
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include("Virt_domain[#{DOMAIN}]/snapshots: snapshots [before-upgrade, after-upgrade] → [after-upgrade]  (destructive: ")
    expect(run.output).to include("virt_domain[#{DOMAIN}]: delete snapshot before-upgrade of domain.#{DOMAIN} (merged into the disks)")
    expect(run.output).not_to match(%r{^(Error|Warning):})
    expect_no_password(run)
    expect(qemu_pid(DOMAIN)).to eq(pid)
    expect(File.exist?(overlay('before-upgrade'))).to be(false), Dir.children(IMAGES).inspect
    expect(File.file?(overlay('after-upgrade'))).to be(true)
    expect(vda_source).to eq(overlay('after-upgrade'))
    expect(backing_file(overlay('after-upgrade'))).to eq(File.join(IMAGES, VOLUME))
    expect(observed_domain['snapshots']).to eq(['after-upgrade'])

    again = @puppet.apply(site(snapshots: ['after-upgrade']))
    expect(again.status).to eq(0), again.to_s
    expect_no_password(again)
  end

  it 'shows a changed user_data under --noop as a change that needs a restart, redacted, and changes nothing' do
    pid = qemu_pid(DOMAIN)
    seed = File.binread(File.join(IMAGES, SEED))
    run = @puppet.apply(site(snapshots: ['after-upgrade'], password: NEW_PASSWORD, hostname: 'sn2'), '--noop')
    expect(run.status).to eq(0), run.to_s # --noop --detailed-exitcodes: 0 with changes pending
    expect(run.output).to include("virt_domain[#{DOMAIN}]: would change: cloud_init.user_data <text, 5 lines> → <text, 5 lines>  " \
                                  '(needs restart: cloud-init reads its seed at boot)')
    expect(run.output).to include("Virt_domain[#{DOMAIN}]/cloud_init: current_value [redacted], should be [redacted] (noop)")
    expect(run.output).to match(%r{^Notice: virt_domain\[#{DOMAIN}\]: would run: write the cloud-init seed of domain\.#{DOMAIN} to volume #{POOL}/#{SEED} \(sha256:[0-9a-f]{64}\); write persistent config of domain\.#{DOMAIN}$})
    # Without allow_restart the change waits for the next boot: no shut down, no start.
    expect(run.output).not_to include("shut down domain.#{DOMAIN}")
    expect(run.output).not_to match(%r{^(Error|Warning):})
    expect_no_password(run)
    expect(qemu_pid(DOMAIN)).to eq(pid)
    expect(File.binread(File.join(IMAGES, SEED))).to eq(seed)
    expect(observed_domain['cloud_init']['user_data']).to include('hostname: sn1')
  end

  it 'writes the changed user_data to the seed without restarting the guest, redacted' do
    pid = qemu_pid(DOMAIN)
    manifest = site(snapshots: ['after-upgrade'], password: NEW_PASSWORD, hostname: 'sn2')
    run = @puppet.apply(manifest)
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include("virt_domain[#{DOMAIN}]: cloud_init.user_data <text, 5 lines> → <text, 5 lines>  " \
                                  '(needs restart: cloud-init reads its seed at boot)')
    expect(run.output).to include("Virt_domain[#{DOMAIN}]/cloud_init: changed [redacted] to [redacted]")
    expect(run.output).to include("virt_domain[#{DOMAIN}]: write the cloud-init seed of domain.#{DOMAIN} to volume #{POOL}/#{SEED}")
    expect(run.output).not_to include("shut down domain.#{DOMAIN}")
    expect(run.output).not_to match(%r{^Error:})
    expect_no_password(run)
    expect(qemu_pid(DOMAIN)).to eq(pid)
    seed = File.binread(File.join(IMAGES, SEED))
    expect(seed).to include(NEW_PASSWORD, 'hostname: sn2')
    expect(seed).not_to include(PASSWORD)
    expect(observed_domain['cloud_init']['user_data']).to include('hostname: sn2')
    expect(observed_domain['snapshots']).to eq(['after-upgrade'])

    again = @puppet.apply(manifest)
    expect(again.status).to eq(0), again.to_s
    expect(again.output).not_to include('Notice: /Stage')
    expect_no_password(again)
  end
end
