# frozen_string_literal: true

# End-to-end: real `puppet apply` runs of real manifests against the real libvirtd
# (qemu:///system; scripts/libvirtd-up.sh starts it). Every object is named vcp-e2e-* and removed
# before and after. Run: VIRTCONVERGE_BIN=build/virtconverge rspec tests/puppet/real_libvirt_spec.rb
require 'json'
require_relative 'puppet_run'

URI = 'qemu:///system'
PREFIX = 'vcp-e2e-'

def virsh(*args)
  out, status = Open3.capture2e('virsh', '-q', '-c', URI, *args)
  [status.success?, out.strip]
end

def virsh!(*args)
  ok, out = virsh(*args)
  raise "virsh #{args.join(' ')}: #{out}" unless ok
  out
end

def names(*list_args)
  virsh!(*list_args).lines.map(&:strip).reject(&:empty?)
end

# Removes every vcp-e2e- object, whatever state a failed test left it in.
def cleanup(dir)
  names('list', '--all', '--name').select { |d| d.start_with?(PREFIX) }.each do |d|
    virsh('destroy', d)
    virsh('undefine', d)
  end
  names('net-list', '--all', '--name').select { |n| n.start_with?(PREFIX) }.each do |n|
    virsh('net-destroy', n)
    virsh('net-undefine', n)
  end
  names('pool-list', '--all', '--name').select { |p| p.start_with?(PREFIX) }.each do |p|
    virsh('pool-start', p)
    virsh('vol-list', p)[1].lines.map { |l| l.split.first }.compact.each { |v| virsh('vol-delete', v, '--pool', p) }
    virsh('pool-destroy', p)
    virsh('pool-undefine', p)
  end
  FileUtils.rm_rf(File.join(dir, 'images'))
end

def qemu_pid(domain)
  File.read("/run/libvirt/qemu/#{domain}.pid").to_i
end

def vcpus(domain, which)
  virsh!('vcpucount', domain, "--#{which}", '--active').to_i
end

RSpec.describe 'puppet apply against the real libvirtd', order: :defined do
  before(:all) do
    engine = ENV.fetch('VIRTCONVERGE_BIN', File.expand_path('../../build/virtconverge', __dir__))
    @dir = Dir.mktmpdir('vcp-e2e-')
    @puppet = PuppetRun.new(engine: engine, dir: @dir)
    ok, out = virsh('version')
    raise "the real libvirtd is not reachable (scripts/libvirtd-up.sh starts it): #{out}" unless ok
    cleanup(@dir)
  end

  after(:all) do
    cleanup(@dir)
    FileUtils.rm_rf(@dir)
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
    hash.map { |k, v| "#{k} => #{literal.call(v)}," }.join(' ')
  end

  def site(web1: {}, db1: {}, volume: {}, extra: '')
    web1 = { vcpus: 1, max_vcpus: 2, memory: '128MiB', max_memory: '512MiB',
             disks: [{ volume: 'vcp-e2e-pool/vcp-e2e-root', target: 'vda' }], interfaces: [{ network: 'vcp-e2e-net' }],
             state: 'running', shutdown_timeout: 1 }.merge(web1)
    db1 = { vcpus: 1, memory: 134_217_728, state: 'stopped' }.merge(db1)
    volume = { format: 'qcow2', capacity: '1024MiB' }.merge(volume)
    <<~PP
      virt_pool { 'vcp-e2e-pool': type => 'dir', path => '#{@dir}/images' }
      virt_volume { 'vcp-e2e-pool/vcp-e2e-root': #{attributes(volume)} }
      virt_network { 'vcp-e2e-net': mode => 'isolated' }
      virt_domain { 'vcp-e2e-web1': #{attributes(web1)} }
      virt_domain { 'vcp-e2e-db1': #{attributes(db1)} }
      #{extra}
    PP
  end

  it 'runs the module from the module path under test ($VC_PUPPET_MODULEPATH, else the source tree)' do
    run = @puppet.module_list
    expect(run.status).to eq(0), run.to_s
    expect(run.output).to include(@puppet.modulepath)
    expect(run.output).to match(%r{virtconverge-virtconverge \(v\d+\.\d+\.\d+\)})
  end

  it 'creates everything in one run, with one engine process' do
    run = @puppet.apply(site)
    expect(run.status).to eq(2), run.to_s
    expect(run.engine_starts).to eq(1), run.to_s
    expect(run.output).to include("Virt_domain[vcp-e2e-web1]/ensure: defined 'ensure' as 'present': + domain.vcp-e2e-web1 (create,")
    expect(run.output).to include('virt_domain[vcp-e2e-web1]: start domain.vcp-e2e-web1')
    expect(run.output).not_to match(%r{^(Error|Warning):})
    expect(names('list', '--name')).to include('vcp-e2e-web1')
    expect(names('list', '--all', '--name')).to include('vcp-e2e-db1')
    expect(names('net-list', '--all', '--name')).to include('vcp-e2e-net')
    expect(virsh!('vol-info', 'vcp-e2e-root', '--pool', 'vcp-e2e-pool')).to match(%r{Capacity:\s+1\.00 GiB})
  end

  it 'finds nothing to change on the second run (exit 0 with --detailed-exitcodes), sizes written either way' do
    run = @puppet.apply(site(db1: { memory: '128MiB' }))
    expect(run.status).to eq(0), run.to_s
    expect(run.output).not_to include('Notice: /Stage')
    expect(run.engine_starts).to eq(1)
  end

  it 'lists what is there with puppet resource' do
    run = @puppet.resource('virt_domain')
    expect(run.status).to eq(0), run.to_s
    expect(run.output).to match(%r{virt_domain \{ 'vcp-e2e-web1': *\n  ensure\s+=> 'present',.*vcpus\s+=> 1,}m)
    volume = @puppet.resource('virt_volume', 'vcp-e2e-pool/vcp-e2e-root')
    expect(volume.output).to match(%r{virt_volume \{ 'vcp-e2e-pool/vcp-e2e-root': *\n  pool => 'vcp-e2e-pool',\n  volume => 'vcp-e2e-root',\n  ensure => 'present',\n  format => 'qcow2',\n  capacity => '1GiB',})
    expect(run.engine_starts).to eq(1)
  end

  it "--noop shows the engine's plan with its disruption class and changes nothing" do
    pid = qemu_pid('vcp-e2e-web1')
    run = @puppet.apply(site(web1: { vcpus: 2 }), '--noop')
    expect(run.output).to include('virt_domain[vcp-e2e-web1]: would change: vcpus 1 → 2  (live: hot-plug)')
    expect(run.output).to include('Virt_domain[vcp-e2e-web1]/vcpus: current_value 1, should be 2 (noop)')
    expect(run.output).to include('virt_domain[vcp-e2e-web1]: would run: write persistent config of domain.vcp-e2e-web1; ' \
                                  'hot-plug vCPUs of domain.vcp-e2e-web1 to 2')
    expect(run.output).not_to include('virt_domain[vcp-e2e-web1]: hot-plug vCPUs of')
    expect(vcpus('vcp-e2e-web1', 'live')).to eq(1)
    expect(vcpus('vcp-e2e-web1', 'config')).to eq(1)
    expect(qemu_pid('vcp-e2e-web1')).to eq(pid)
  end

  it 'raises vCPUs of the running domain live: same QEMU process' do
    pid = qemu_pid('vcp-e2e-web1')
    run = @puppet.apply(site(web1: { vcpus: 2 }))
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include('Virt_domain[vcp-e2e-web1]/vcpus: vcpus 1 → 2  (live: hot-plug)')
    expect(run.output).to include('virt_domain[vcp-e2e-web1]: hot-plug vCPUs of domain.vcp-e2e-web1 to 2')
    expect(vcpus('vcp-e2e-web1', 'live')).to eq(2)
    expect(vcpus('vcp-e2e-web1', 'config')).to eq(2)
    expect(qemu_pid('vcp-e2e-web1')).to eq(pid)
    again = @puppet.apply(site(web1: { vcpus: 2 }))
    expect(again.status).to eq(0), again.to_s
  end

  it 'writes a restart-only change to the config and reports it pending, without restarting' do
    pid = qemu_pid('vcp-e2e-web1')
    run = @puppet.apply(site(web1: { vcpus: 2, max_vcpus: 4 }))
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include('max_vcpus 2 → 4  (needs restart: vCPU slots are fixed at boot')
    expect(run.output).to match(%r{Warning: virt_domain\[vcp-e2e-web1\]: max_vcpus pending restart \(running 2, next boot 4\)})
    expect(qemu_pid('vcp-e2e-web1')).to eq(pid)
    expect(virsh!('vcpucount', 'vcp-e2e-web1', '--maximum', '--config').to_i).to eq(4)
    again = @puppet.apply(site(web1: { vcpus: 2, max_vcpus: 4 }))
    expect(again.status).to eq(0), again.to_s
    expect(again.output).to include('Warning: virt_domain[vcp-e2e-web1]: max_vcpus pending restart (running 2, next boot 4)')
  end

  it 'restarts the domain for it with allow_restart' do
    pid = qemu_pid('vcp-e2e-web1')
    run = @puppet.apply(site(web1: { vcpus: 2, max_vcpus: 4, allow_restart: true }))
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include('pending in the persistent config; the domain is restarted')
    expect(run.output).to include('virt_domain[vcp-e2e-web1]: start domain.vcp-e2e-web1')
    expect(qemu_pid('vcp-e2e-web1')).not_to eq(pid)
    expect(virsh!('vcpucount', 'vcp-e2e-web1', '--maximum', '--live').to_i).to eq(4)
    again = @puppet.apply(site(web1: { vcpus: 2, max_vcpus: 4 }))
    expect(again.status).to eq(0), again.to_s
    expect(again.output).not_to include('pending restart')
  end

  it 'fails only the resources the engine refuses; the others still apply' do
    bad = "virt_domain { 'vcp-e2e-bad': vcpus => 1, memory => '128MiB', state => 'stopped',\n" \
          "  disks => [{ volume => 'vcp-e2e-pool/vcp-e2e-missing', target => 'vda' }] }\n" \
          "virt_domain { 'vcp-e2e-after': vcpus => 1, memory => '128MiB', state => 'stopped', require => Virt_domain['vcp-e2e-bad'] }\n"
    run = @puppet.apply(site(web1: { vcpus: 2, max_vcpus: 4 }, volume: { capacity: '512MiB' }, db1: { autostart: true }, extra: bad))
    expect(run.status).to eq(6), run.to_s # 4: failures, 2: changes
    # The engine also refuses to shrink under the running web1 ("cannot shrink while domain ... runs").
    expect(run.output).to match(%r{Error: /Stage\[main\]/Main/Virt_volume\[vcp-e2e-pool/vcp-e2e-root\]: Could not evaluate: (.*; )?volume.vcp-e2e-pool/vcp-e2e-root: destructive change refused without --allow-destroy .*set allow_destroy => true on this resource to permit it})
    expect(run.output).to match(%r{Error: /Stage\[main\]/Main/Virt_domain\[vcp-e2e-bad\]: Could not evaluate: .*volume vcp-e2e-pool/vcp-e2e-missing is neither declared nor present on the host})
    expect(run.output).to include('Virt_domain[vcp-e2e-after]: Skipping because of failed dependencies')
    expect(run.output).to include('Virt_domain[vcp-e2e-db1]/autostart: autostart false → true')
    expect(run.engine_starts).to eq(1)
    expect(virsh!('dominfo', 'vcp-e2e-db1')).to match(%r{Autostart:\s+enable})
    expect(names('list', '--all', '--name')).not_to include('vcp-e2e-bad', 'vcp-e2e-after')
    expect(virsh!('vol-info', 'vcp-e2e-root', '--pool', 'vcp-e2e-pool')).to match(%r{Capacity:\s+1\.00 GiB})
  end

  it 'removes everything with ensure => absent, then has nothing to do' do
    absent = <<~PP
      virt_domain { ['vcp-e2e-web1', 'vcp-e2e-db1']: ensure => absent, shutdown_timeout => 1 }
      virt_volume { 'vcp-e2e-pool/vcp-e2e-root': ensure => absent, allow_destroy => true, require => Virt_domain['vcp-e2e-web1'] }
      virt_network { 'vcp-e2e-net': ensure => absent, require => Virt_domain['vcp-e2e-web1'] }
      virt_pool { 'vcp-e2e-pool': ensure => absent, require => Virt_volume['vcp-e2e-pool/vcp-e2e-root'] }
    PP
    run = @puppet.apply(absent)
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include("Virt_domain[vcp-e2e-web1]/ensure: undefined 'ensure' from 'present': - domain.vcp-e2e-web1 (delete, needs restart")
    expect(run.output).to include("Virt_volume[vcp-e2e-pool/vcp-e2e-root]/ensure: undefined 'ensure' from 'present': - volume.vcp-e2e-pool/vcp-e2e-root (delete, destructive")
    expect(names('list', '--all', '--name').grep(%r{\Avcp-e2e-})).to eq([])
    expect(names('pool-list', '--all', '--name').grep(%r{\Avcp-e2e-})).to eq([])
    expect(names('net-list', '--all', '--name').grep(%r{\Avcp-e2e-})).to eq([])
    again = @puppet.apply(absent)
    expect(again.status).to eq(0), again.to_s
    expect(again.engine_starts).to eq(1)
  end
end
