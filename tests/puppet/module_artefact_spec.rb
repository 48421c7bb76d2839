# frozen_string_literal: true

# The Puppet module's release tarball, as a user gets it: built by scripts/build-puppet-module.sh,
# installed with `puppet module install --ignore-dependencies --target-dir DIR FILE` into a fresh
# module path, and checked there: metadata (name, the project's version, Apache-2.0), every lib/
# and examples/ file of the source tree, checksums.json against the files (also as
# `puppet module changes` reads it), a REFERENCE.md that documents all six types and is what the
# generator writes from the source tree today. The module path is left installed for ctest's
# puppet_real_libvirt, which runs real_libvirt_spec.rb from it (VC_PUPPET_MODULEPATH).
# Run: VC_PUPPET_MODULE_DIR=build/puppet-module rspec tests/puppet/module_artefact_spec.rb
require 'digest/md5'
require 'fileutils'
require 'json'
require 'open3'
require 'tmpdir'

ROOT = File.expand_path('../..', __dir__)
SOURCE_MODULE = File.join(ROOT, 'puppet')
BUILD = File.join(ROOT, 'scripts', 'build-puppet-module.sh')
GENERATE_REFERENCE = File.join(ROOT, 'scripts', 'generate-puppet-reference.rb')
TYPES = %w[rbd_image virt_domain virt_host virt_network virt_pool virt_volume].freeze

def project_version
  File.read(File.join(ROOT, 'CMakeLists.txt'))[/^project\(virtconverge VERSION ([0-9.]+)/, 1] or
    raise 'no project(virtconverge VERSION ...) in CMakeLists.txt'
end

# Puppet with its own settings in scratch, so installing never touches the machine's Puppet.
def puppet(scratch, *args)
  settings = %w[confdir vardir codedir logdir rundir publicdir].map { |s| "--#{s}=#{File.join(scratch, s)}" }
  out, status = Open3.capture2e('/usr/bin/puppet', *args, *settings, '--color=false')
  [status.exitstatus, out]
end

# Installs tarball into a new, empty module path; returns the installed module's directory.
def install(tarball, modulepath, scratch)
  FileUtils.rm_rf(modulepath)
  FileUtils.mkdir_p(modulepath)
  status, out = puppet(scratch, 'module', 'install', '--ignore-dependencies', '--target-dir', modulepath, tarball)
  raise "puppet module install #{tarball}: exit #{status}:\n#{out}" unless status.zero?

  File.join(modulepath, 'virtconverge')
end

def files_under(dir)
  Dir.glob('**/*', File::FNM_DOTMATCH, base: dir).select { |f| File.file?(File.join(dir, f)) }.sort
end

# What is wrong with an installed module, as one line per problem (empty: nothing).
def module_problems(installed, scratch)
  problems = []
  metadata = JSON.parse(File.read(File.join(installed, 'metadata.json')))
  problems << "metadata name #{metadata['name']}" unless metadata['name'] == 'virtconverge-virtconverge'
  problems << "metadata version #{metadata['version']}, project #{project_version}" unless metadata['version'] == project_version
  problems << "metadata license #{metadata['license']}" unless metadata['license'] == 'Apache-2.0'
  problems << 'metadata.json differs from puppet/metadata.json' unless metadata == JSON.parse(File.read(File.join(SOURCE_MODULE, 'metadata.json')))
  { 'LICENSE' => File.join(ROOT, 'LICENSE'), 'README.md' => File.join(SOURCE_MODULE, 'README.md') }.each do |file, source|
    path = File.join(installed, file)
    problems << "#{file} missing or not #{source}" unless File.file?(path) && File.read(path) == File.read(source)
  end

  # Every file of the source tree's lib/ and examples/, unchanged.
  %w[lib examples].each do |dir|
    files_under(File.join(SOURCE_MODULE, dir)).each do |f|
      rel = File.join(dir, f)
      path = File.join(installed, rel)
      if !File.file?(path) then problems << "missing #{rel}"
      elsif File.binread(path) != File.binread(File.join(SOURCE_MODULE, rel)) then problems << "#{rel} differs from the source tree"
      end
    end
  end
  unexpected = files_under(installed).grep(%r{\A(spec/|\.)|/\.})
  problems << "files that must not ship: #{unexpected.join(', ')}" unless unexpected.empty?

  # checksums.json: exactly the other files, each with its MD5.
  sums = JSON.parse(File.read(File.join(installed, 'checksums.json')))
  shipped = files_under(installed) - ['checksums.json']
  problems << "checksums.json lists #{(sums.keys - shipped).join(', ')}, not shipped" unless (sums.keys - shipped).empty?
  problems << "checksums.json lacks #{(shipped - sums.keys).join(', ')}" unless (shipped - sums.keys).empty?
  (sums.keys & shipped).each do |f|
    problems << "checksum of #{f}" unless Digest::MD5.file(File.join(installed, f)).hexdigest == sums[f]
  end
  status, out = puppet(scratch, 'module', 'changes', installed)
  problems << "puppet module changes: exit #{status}: #{out}" unless status.zero? && out.include?('No modified files')

  # REFERENCE.md: a section per type, and what the generator writes from the source tree today.
  reference = File.join(installed, 'REFERENCE.md')
  text = File.file?(reference) ? File.read(reference) : ''
  TYPES.each { |t| problems << "REFERENCE.md has no section for #{t}" unless text.include?("### <a name=\"#{t}\"></a>`#{t}`") }
  out, status = Open3.capture2e('ruby', GENERATE_REFERENCE, '--module', SOURCE_MODULE, '--check', reference)
  problems << "REFERENCE.md is stale:\n#{out}" unless status.success?
  problems
end

RSpec.describe 'the Puppet module tarball', order: :defined do
  before(:all) do
    @out = ENV.fetch('VC_PUPPET_MODULE_DIR', File.join(ROOT, 'build', 'puppet-module'))
    @modulepath = File.join(@out, 'modulepath')
    @tarball = File.join(@out, "virtconverge-virtconverge-#{project_version}.tar.gz")
    @scratch = Dir.mktmpdir('vcp-module-')
  end

  after(:all) { FileUtils.rm_rf(@scratch) }

  it 'is built by scripts/build-puppet-module.sh, named after the project version, the same bytes every time' do
    FileUtils.rm_f(@tarball)
    out, status = Open3.capture2e(BUILD, @tarball)
    expect(status.success?).to be(true), out
    expect(out.lines.last.strip).to eq(@tarball)
    again = File.join(@scratch, 'again.tar.gz')
    out, status = Open3.capture2e(BUILD, again)
    expect(status.success?).to be(true), out
    expect(File.binread(again)).to eq(File.binread(@tarball))
  end

  it 'holds one top directory virtconverge-virtconverge-VERSION, owned by root, without spec/ or symlinks' do
    out, status = Open3.capture2e('tar', '--list', '--verbose', '--numeric-owner', '--gzip', '--file', @tarball)
    expect(status.success?).to be(true), out
    entries = out.lines.map(&:split)
    top = "virtconverge-virtconverge-#{project_version}/"
    expect(entries.map(&:last).reject { |p| p.start_with?(top) }).to eq([])
    expect(entries.map { |e| e[1] }.uniq).to eq(['0/0'])
    expect(entries.map { |e| e[0][0] }.uniq.sort).to eq(%w[- d])
    expect(entries.map(&:last).grep(%r{/spec/})).to eq([])
  end

  it 'installs with puppet module install --ignore-dependencies into a fresh module path, complete and unmodified' do
    installed = install(@tarball, @modulepath, @scratch)
    expect(module_problems(installed, @scratch)).to eq([])
    status, out = puppet(@scratch, 'module', 'list', '--modulepath', @modulepath)
    expect(status).to eq(0), out
    expect(out).to include("virtconverge-virtconverge (v#{project_version})")
  end

  # The checks above, shown to fail: the same tarball without a lib file and with an older
  # REFERENCE.md (a type's section gone), repacked and installed elsewhere.
  it 'finds a missing lib file and a stale REFERENCE.md in a broken tarball' do
    unpacked = File.join(@scratch, 'broken')
    FileUtils.mkdir_p(unpacked)
    system('tar', '--extract', '--gzip', '--file', @tarball, '--directory', unpacked, exception: true)
    top = File.join(unpacked, "virtconverge-virtconverge-#{project_version}")
    FileUtils.rm(File.join(top, 'lib', 'puppet_x', 'virtconverge', 'ceph.rb'))
    reference = File.join(top, 'REFERENCE.md')
    File.write(reference, File.read(reference).sub(%r{### <a name="virt_host">.*?(?=### <a name=)}m, ''))
    broken = File.join(@scratch, File.basename(@tarball))
    system('tar', '--create', '--gzip', '--file', broken, '--directory', unpacked, File.basename(top), exception: true)
    problems = module_problems(install(broken, File.join(@scratch, 'broken-modulepath'), @scratch), @scratch)
    expect(problems).to include('missing lib/puppet_x/virtconverge/ceph.rb', 'REFERENCE.md has no section for virt_host',
                                'checksum of REFERENCE.md')
    expect(problems.grep(%r{\Apuppet module changes: .*lib/puppet_x/virtconverge/ceph\.rb}m)).not_to be_empty
    expect(problems.grep(%r{\AREFERENCE\.md is stale:})).not_to be_empty
  end

  it 'refuses to build when puppet/metadata.json and CMakeLists.txt disagree on the version' do
    copy = File.join(@scratch, 'tree')
    %w[CMakeLists.txt scripts/build-puppet-module.sh puppet/metadata.json].each do |f|
      FileUtils.mkdir_p(File.dirname(File.join(copy, f)))
      FileUtils.cp(File.join(ROOT, f), File.join(copy, f), preserve: true)
    end
    metadata = JSON.parse(File.read(File.join(copy, 'puppet', 'metadata.json')))
    File.write(File.join(copy, 'puppet', 'metadata.json'), JSON.pretty_generate(metadata.merge('version' => '0.0.1')))
    out, status = Open3.capture2e(File.join(copy, 'scripts', 'build-puppet-module.sh'), File.join(copy, 'x.tar.gz'))
    expect(status.success?).to be(false)
    expect(out).to include("puppet/metadata.json has version 0.0.1, the project (CMakeLists.txt) #{project_version}")
    expect(File.exist?(File.join(copy, 'x.tar.gz'))).to be(false)
  end
end
