# frozen_string_literal: true

# End-to-end: virt_host with real `puppet apply` runs against the real libvirtd (qemu:///system):
# KSM's pages_to_scan and sleep_millisecs set through the manifest and read back from
# /sys/kernel/mm/ksm (--noop first, which must change nothing), a second run with nothing to do,
# `puppet resource virt_host`, and the host's cpu_allocation_ratio refusing a virt_domain of the
# same catalog (the engine's over_committed; the domain is not defined), allow_overcommit letting it
# through. The machine's KSM settings are read first and written back afterwards, whatever
# happened. Objects are named vcpup-* and removed.
require 'json'
require_relative 'puppet_run'

URI = 'qemu:///system'
PREFIX = 'vcpup-'
KSM = '/sys/kernel/mm/ksm'
KSM_SETTINGS = %w[run pages_to_scan sleep_millisecs merge_across_nodes].freeze

def virsh(*args)
  out, status = Open3.capture2e('virsh', '-q', '-c', URI, *args)
  [status.success?, out.strip]
end

def domain_names
  ok, out = virsh('list', '--all', '--name')
  raise "virsh list: #{out}" unless ok
  out.lines.map(&:strip).reject(&:empty?)
end

def cleanup
  domain_names.select { |d| d.start_with?(PREFIX) }.each do |d|
    virsh('destroy', d)
    virsh('undefine', d)
  end
end

def ksm(setting)
  File.read(File.join(KSM, setting)).strip.to_i
end

RSpec.describe 'virt_host with puppet apply against the real libvirtd', order: :defined do
  before(:all) do
    engine = ENV.fetch('VIRTCONVERGE_BIN', File.expand_path('../../build/virtconverge', __dir__))
    @dir = Dir.mktmpdir('vcpup-')
    @puppet = PuppetRun.new(engine: engine, dir: @dir)
    ok, out = virsh('version')
    raise "the real libvirtd is not reachable (scripts/libvirtd-up.sh starts it): #{out}" unless ok
    # The machine's own KSM settings, restored in after(:all).
    @original = KSM_SETTINGS.to_h { |s| [s, ksm(s)] }
    @pages = @original['pages_to_scan'] == 150 ? 160 : 150
    @sleep = @original['sleep_millisecs'] == 30 ? 40 : 30
    @cpus = File.read('/proc/cpuinfo').scan(%r{^processor\s*:}).size
    cleanup
  end

  after(:all) do
    cleanup
    # Back to what the machine had: merge_across_nodes only changes while nothing is merged, so
    # it goes first, with run = 2 (unmerge) when it differs; run last.
    if @original
      if ksm('merge_across_nodes') != @original['merge_across_nodes']
        File.write(File.join(KSM, 'run'), "2\n")
        File.write(File.join(KSM, 'merge_across_nodes'), "#{@original['merge_across_nodes']}\n")
      end
      %w[pages_to_scan sleep_millisecs run].each { |s| File.write(File.join(KSM, s), "#{@original[s]}\n") }
      expect(KSM_SETTINGS.to_h { |s| [s, ksm(s)] }).to eq(@original)
    end
    FileUtils.rm_rf(@dir) if @dir
  end

  def host_manifest(extra = '', **limits)
    attributes = limits.map { |k, v| "#{k} => #{v.inspect}," }.join(' ')
    <<~PP
      virt_host { 'vcpup-hv':
        connection => '#{URI}',
        ksm        => { 'pages_to_scan' => #{@pages}, 'sleep_millisecs' => #{@sleep} },
        #{attributes}
      }
      #{extra}
    PP
  end

  it 'predicts the KSM change under --noop and changes nothing' do
    run = @puppet.apply(host_manifest, '--noop')
    expect(run.status).to eq(0), run.to_s
    expect(run.output).to include("virt_host[vcpup-hv]: would change: ksm.pages_to_scan #{@original['pages_to_scan']} → #{@pages}  (live:")
    expect(run.output).to include("would run: set KSM on vcpup-hv: pages_to_scan = #{@pages}, sleep_millisecs = #{@sleep}")
    expect(ksm('pages_to_scan')).to eq(@original['pages_to_scan'])
    expect(ksm('sleep_millisecs')).to eq(@original['sleep_millisecs'])
  end

  it 'sets pages_to_scan and sleep_millisecs, as /sys/kernel/mm/ksm then reads' do
    run = @puppet.apply(host_manifest)
    expect(run.status).to eq(2), run.to_s
    expect(run.output).to include("Virt_host[vcpup-hv]/ksm: ksm.pages_to_scan #{@original['pages_to_scan']} → #{@pages}")
    expect(run.output).to include("virt_host[vcpup-hv]: set KSM on vcpup-hv: pages_to_scan = #{@pages}, sleep_millisecs = #{@sleep}")
    expect(run.output).not_to match(%r{^(Error|Warning):})
    expect(run.engine_starts).to be <= 2 # the serve session, and one observe of the host's settings
    expect(ksm('pages_to_scan')).to eq(@pages)
    expect(ksm('sleep_millisecs')).to eq(@sleep)
    expect(ksm('run')).to eq(@original['run']) # not declared: not touched
  end

  it 'finds nothing to change on the second run' do
    run = @puppet.apply(host_manifest)
    expect(run.status).to eq(0), run.to_s
    expect(run.output).not_to include('Notice: /Stage')
  end

  it 'reports the observed KSM settings with puppet resource' do
    run = @puppet.resource('virt_host', 'vcpup-hv')
    expect(run.status).to eq(0), run.to_s
    expect(run.output).to include("virt_host { 'vcpup-hv':")
    expect(run.output).to include("'pages_to_scan' => #{@pages}")
    expect(run.output).to include("'sleep_millisecs' => #{@sleep}")
    expect(run.output).to include("'enabled' => #{@original['run'] == 1}")
  end

  context 'with a cpu_allocation_ratio the catalog would cross' do
    # This host's CPUs at half a vCPU each: a domain with as many vCPUs as the host has CPUs is over.
    let(:domain) { "virt_domain { 'vcpup-big': vcpus => #{@cpus}, memory => '64MiB', state => 'stopped' }" }

    it 'warns under --noop that the domain would be refused' do
      run = @puppet.apply(host_manifest(domain, cpu_allocation_ratio: 0.5), '--noop')
      expect(run.output).to match(%r{Warning: virt_domain\[vcpup-big\]: would fail: host vcpup-hv: .*over its cpu_allocation_ratio of 0\.50})
      expect(domain_names).not_to include('vcpup-big')
    end

    it "fails that domain with the engine's refusal and defines nothing" do
      run = @puppet.apply(host_manifest(domain, cpu_allocation_ratio: 0.5))
      expect(run.status & 4).to eq(4), run.to_s # failures (Puppet counts the refused ensure as a change too: 6)
      expect(run.output).to match(%r{Error: /Stage\[main\]/Main/Virt_domain\[vcpup-big\]: Could not evaluate: host vcpup-hv: the plan takes vCPUs per host CPU from [0-9.]+ to [0-9.]+, over its cpu_allocation_ratio of 0\.50})
      expect(run.output).to include('set allow_overcommit => true on this resource to permit it')
      expect(domain_names).not_to include('vcpup-big')
    end

    it 'defines it with allow_overcommit => true' do
      allowed = domain.sub('}', ", allow_overcommit => true }")
      run = @puppet.apply(host_manifest(allowed, cpu_allocation_ratio: 0.5))
      expect(run.status).to eq(2), run.to_s
      expect(run.output).to include("Virt_domain[vcpup-big]/ensure: defined 'ensure' as 'present': + domain.vcpup-big@vcpup-hv (create,")
      expect(domain_names).to include('vcpup-big')
    end
  end
end
