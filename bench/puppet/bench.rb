#!/usr/bin/ruby
# frozen_string_literal: true

# The Puppet benchmark (docs/benchmarks-puppet.md): `puppet apply` of N virt_domain resources,
# timed against an empty manifest, counting engine processes.
#
#   ruby bench/puppet/bench.rb [--driver real|test] [--n N] [--runs R] [--uri URI] [--engine PATH]
#                              [--out FILE]
#
# Runs, in order: the empty manifest R times; the create run (N domains) once; the no-op run
# (nothing to change) R times; the delete run (ensure => absent) once, and a no-op of that.
# --driver real (default): stopped KVM domains vcp-bench-1..N on the real libvirtd (--uri, default
#   qemu:///system), created and deleted by Puppet; every vcp-bench-* domain is removed at the end,
#   also on failure.
# --driver test: libvirt's test driver, whose state lives in the engine process: the create run
#   creates vcp-bench-1..N on test:///default; the no-op and delete runs use the host
#   bench/gen.sh makes (test:///DIR/node.xml: N running domains with disks and NICs), declared in
#   full from its document.
# Reports the median wall time of each `puppet apply` and the median "Applied catalog in" time
# Puppet prints. Fails (exit 1) unless every run used exactly one engine process (none for the
# empty manifest), the create and delete runs exited 2 and every no-op run exited 0
# (--detailed-exitcodes). The 0.3 s target (no-op catalog time over the empty manifest) is
# reported, not enforced: timings on a shared machine are too noisy to gate on.
require 'json'
require 'optparse'
require 'yaml'
require_relative '../../tests/puppet/puppet_run'

options = { driver: 'real', n: 200, runs: 5, uri: 'qemu:///system',
            engine: File.expand_path('../../build/virtconverge', __dir__) }
OptionParser.new do |o|
  o.on('--driver DRIVER', %w[real test]) { |v| options[:driver] = v }
  o.on('--n N', Integer) { |v| options[:n] = v }
  o.on('--runs R', Integer) { |v| options[:runs] = v }
  o.on('--uri URI') { |v| options[:uri] = v }
  o.on('--engine PATH') { |v| options[:engine] = v }
  o.on('--out FILE') { |v| options[:out] = v }
end.parse!

n = options[:n]
test_driver = options[:driver] == 'test'
uri = test_driver ? 'test:///default' : options[:uri]
names = (1..n).map { |i| "vcp-bench-#{i}" }

def manifest(names, body)
  names.map { |name| "virt_domain { '#{name}': #{body} }\n" }.join
end

# A Puppet literal of a document value.
def literal(value)
  case value
  when Hash then "{ #{value.map { |k, v| "#{literal(k.to_s)} => #{literal(v)}" }.join(', ')} }"
  when Array then "[#{value.map { |v| literal(v) }.join(', ')}]"
  when String then "'#{value}'"
  else value.to_s
  end
end

present = manifest(names, "vcpus => 1, memory => '128MiB', state => 'stopped'")
absent = manifest(names, 'ensure => absent')
env = { 'LIBVIRT_DEFAULT_URI' => uri }
noop_present = present
noop_env = env
gen_dir = nil
if test_driver
  gen_dir = Dir.mktmpdir('vcp-bench-gen-')
  _, status = Open3.capture2e(File.expand_path('../gen.sh', __dir__), 'test', n.to_s, gen_dir)
  raise 'bench/gen.sh failed' unless status.success?
  domains = YAML.safe_load(File.read(File.join(gen_dir, 'doc.yaml')))['domains']
  noop_present = domains.map { |name, spec| "virt_domain { '#{name}': #{spec.map { |k, v| "#{k} => #{literal(v)}" }.join(', ')} }\n" }.join
  noop_env = { 'LIBVIRT_DEFAULT_URI' => "test://#{gen_dir}/node.xml" }
  absent_of_node = manifest(domains.keys, 'ensure => absent')
end

def cleanup(uri, names)
  wanted = names.to_h { |nm| [nm, true] }
  out, = Open3.capture2('virsh', '-q', '-c', uri, 'list', '--all', '--name')
  out.lines.map(&:strip).select { |d| wanted[d] }.each do |d|
    Open3.capture2e('virsh', '-c', uri, 'destroy', d)
    Open3.capture2e('virsh', '-c', uri, 'undefine', d)
  end
end

def median(values)
  sorted = values.compact.sort
  return nil if sorted.empty?
  mid = sorted.size / 2
  sorted.size.odd? ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0
end

failures = []
rows = []
Dir.mktmpdir('vcp-bench-') do |dir|
  puppet = PuppetRun.new(engine: options[:engine], dir: dir)
  measure = lambda do |label, text, runs, expect_status, run_env|
    results = Array.new(runs) { puppet.apply(text, env: run_env) }
    results.each do |r|
      failures << "#{label}: exit #{r.status}, expected #{expect_status}\n#{r.output}" unless r.status == expect_status
      failures << "#{label}: #{r.engine_starts} engine processes, expected 1 (0 for the empty manifest)" unless r.engine_starts == (text.empty? ? 0 : 1)
    end
    row = { label: label, runs: runs, wall: median(results.map(&:seconds)), catalog: median(results.map(&:catalog_seconds)),
            engine_processes: results.map(&:engine_starts).max }
    rows << row
    warn format('%-32s %2d run(s)  wall %6.2f s  catalog %6.2f s  engine processes %d', label, runs, row[:wall], row[:catalog] || 0, row[:engine_processes])
    row
  end
  begin
    cleanup(uri, names) unless test_driver
    measure.call('empty manifest', '', options[:runs], 0, env)
    measure.call("create #{n} domains", present, 1, 2, env)
    measure.call("no-op, #{n} domains", noop_present, options[:runs], 0, noop_env)
    measure.call("delete #{n} domains", test_driver ? absent_of_node : absent, 1, 2, noop_env)
    measure.call("no-op, #{n} absent", absent, options[:runs], 0, env)
  ensure
    cleanup(uri, names) unless test_driver
    FileUtils.rm_rf(gen_dir) if gen_dir
  end
end

empty = rows.find { |r| r[:label] == 'empty manifest' }
noop = rows.find { |r| r[:label].start_with?('no-op,') && !r[:label].end_with?('absent') }
extra = noop && empty ? noop[:catalog] - empty[:catalog] : nil
summary = { driver: options[:driver], n: n, uri: uri, runs: options[:runs], rows: rows, noop_extra_catalog_seconds: extra,
            noop_extra_wall_seconds: noop && empty ? noop[:wall] - empty[:wall] : nil,
            target_met: extra && extra <= 0.3, failures: failures }
File.write(options[:out], JSON.pretty_generate(summary)) if options[:out]
puts "| run (#{test_driver ? 'test driver' : uri}) | puppet apply wall (median) | Applied catalog in (median) | engine processes |"
puts '|---|---|---|---|'
rows.each { |r| puts format('| %s | %.2f s | %.2f s | %d |', r[:label], r[:wall], r[:catalog] || 0, r[:engine_processes]) }
puts format("\nno-op over empty: +%.2f s catalog time, +%.2f s wall (target: +0.3 s catalog time) %s",
            extra || 0, summary[:noop_extra_wall_seconds] || 0, summary[:target_met] ? 'met' : 'NOT met')
unless failures.empty?
  warn "FAILED:\n#{failures.join("\n")}"
  exit 1
end
