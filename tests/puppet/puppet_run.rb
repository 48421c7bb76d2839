# frozen_string_literal: true

# Runs the real `puppet apply` / `puppet resource` with the virtconverge module, in a scratch
# Puppet directory tree, with the engine behind a wrapper that counts its processes. Shared by the
# end-to-end tests and the benchmark. Everything is run from argv arrays.
require 'fileutils'
require 'open3'
require 'tmpdir'

class PuppetRun
  PUPPET = '/usr/bin/puppet'
  MODULE = File.expand_path('../../puppet', __dir__)

  attr_reader :dir, :modulepath

  # engine: the virtconverge binary; dir: a scratch directory (made world-readable: a dir pool
  # under it must be reachable by libvirtd's QEMU user).
  # The module Puppet loads is the source tree's puppet/, linked into a module path in dir, unless
  # $VC_PUPPET_MODULEPATH names a module path that holds an installed virtconverge module: the
  # release tarball's test (tests/puppet/module_artefact_spec.rb) installs one with
  # `puppet module install` and runs the end-to-end specs from there.
  def initialize(engine:, dir:)
    @engine = engine
    @dir = dir
    FileUtils.mkdir_p(dir)
    File.chmod(0o755, dir)
    @modulepath = ENV.fetch('VC_PUPPET_MODULEPATH', '')
    if @modulepath.empty?
      @modulepath = File.join(dir, 'modules')
      FileUtils.mkdir_p(@modulepath)
      link = File.join(@modulepath, 'virtconverge')
      File.symlink(MODULE, link) unless File.symlink?(link)
    elsif !File.file?(File.join(@modulepath, 'virtconverge', 'metadata.json'))
      # Loudly here, rather than as Puppet's "Unknown resource type" in every example.
      raise "VC_PUPPET_MODULEPATH=#{@modulepath} holds no virtconverge module (virtconverge/metadata.json)"
    end
    @wrapper = File.join(dir, 'virtconverge-counted')
    File.write(@wrapper, "#!/bin/sh\necho $$ >> \"$VCP_ENGINE_LOG\"\nexec \"$VCP_REAL_ENGINE\" \"$@\"\n")
    File.chmod(0o755, @wrapper)
    @count_file = File.join(dir, 'engine-starts')
  end

  def settings
    %w[confdir vardir codedir logdir rundir publicdir].map { |s| "--#{s}=#{File.join(@dir, 'puppet', s)}" } +
      ["--modulepath=#{@modulepath}", '--color=false']
  end

  # Result of one puppet command: exit status, output (Puppet's and facter's container noise
  # removed), engine processes started, seconds taken, and Puppet's "Applied catalog in" time.
  Result = Struct.new(:status, :output, :engine_starts, :seconds, :catalog_seconds) do
    def to_s
      "exit #{status}, #{engine_starts} engine process(es), #{seconds.round(2)} s:\n#{output}"
    end
  end

  def apply(manifest, *flags, env: {})
    file = File.join(@dir, "manifest-#{Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)}.pp")
    File.write(file, manifest)
    run([PUPPET, 'apply', *settings, '--detailed-exitcodes', *flags, file], env)
  end

  def resource(*args, env: {})
    run([PUPPET, 'resource', *settings, *args], env)
  end

  # `puppet module list`: which modules Puppet finds on the module path, and where.
  def module_list
    run([PUPPET, 'module', 'list', *settings], {})
  end

  private

  def run(argv, env)
    File.write(@count_file, '')
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    full_env = { 'VIRTCONVERGE_BIN' => @wrapper, 'VCP_REAL_ENGINE' => @engine, 'VCP_ENGINE_LOG' => @count_file }.merge(env)
    out, status = Open3.capture2e(full_env, *argv)
    seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    # Facter cannot read /proc/1/environ in some containers and says so on every run; only that
    # line is dropped.
    output = out.lines.reject { |l| l.start_with?('Error: Facter: ') && l.include?('/proc/1/environ') }.join
    catalog = output[%r{Applied catalog in ([0-9.]+) seconds}, 1]&.to_f
    Result.new(status.exitstatus, output, File.readlines(@count_file).size, seconds, catalog)
  end
end
