# frozen_string_literal: true

# The module's examples/*.pp compile and plan: each runs through `puppet apply --noop` against
# libvirt's test driver (nothing outside the engine process is touched).
require_relative 'puppet_run'

RSpec.describe 'the module examples' do
  before(:all) do
    @dir = Dir.mktmpdir('vcp-examples-')
    engine = ENV.fetch('VIRTCONVERGE_BIN', File.expand_path('../../build/virtconverge', __dir__))
    @puppet = PuppetRun.new(engine: engine, dir: @dir)
  end

  after(:all) { FileUtils.rm_rf(@dir) }

  # Examples with rbd_image read the Ceph cluster of scripts/ceph-up.sh ($CEPH_CONF; --noop creates
  # nothing there); they are skipped when it is not running.
  ceph_conf = File.join(ENV.fetch('VC_CEPH_DIR', '/tmp/vc-ceph'), 'ceph.conf')

  Dir[File.join(PuppetRun::MODULE, 'examples', '*.pp')].sort.each do |example|
    it "plans #{File.basename(example)}" do
      env = { 'LIBVIRT_DEFAULT_URI' => 'test:///default' }
      if File.read(example).include?('rbd_image')
        _, status = Open3.capture2e('timeout', '30', 'ceph', '-c', ceph_conf, '--connect-timeout', '5', 'health')
        skip "no Ceph cluster at #{ceph_conf} (scripts/ceph-up.sh)" unless status.success?
        env['CEPH_CONF'] = ceph_conf
      end
      run = @puppet.apply(File.read(example), '--noop', env: env)
      expect(run.status).to eq(0), run.to_s
      # teardown.pp removes what the test host does not hold: nothing to do.
      expect(run.output.include?(': would change: ')).to eq(!example.end_with?('teardown.pp')), run.to_s
      expect(run.output).not_to match(%r{^Error:})
      expect(run.engine_starts).to eq(1)
    end
  end
end
