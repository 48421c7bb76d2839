# frozen_string_literal: true

require 'spec_helper'
require 'tmpdir'
require 'puppet_x/virtconverge/session'

RSpec.describe PuppetX::Virtconverge::Session do
  # A stand-in engine: a Ruby script that answers each request line by line.
  def fake_engine(dir, body)
    path = File.join(dir, 'fake-virtconverge')
    File.write(path, <<~RUBY)
      #!/usr/bin/ruby --disable-gems
      require 'json'
      File.write(#{File.join(dir, 'argv').inspect}, JSON.generate(ARGV))
      File.open(#{File.join(dir, 'starts').inspect}, 'a') { |f| f.puts(Process.pid) }
      $stdout.sync = true
      #{body}
    RUBY
    File.chmod(0o755, path)
    path
  end

  ECHO = <<~RUBY
    $stdin.each_line do |line|
      req = JSON.parse(line)
      if req['command'] == 'fail'
        puts JSON.generate('id' => req['id'], 'ok' => false, 'error' => 'no such thing')
      else
        puts JSON.generate('id' => req['id'], 'ok' => true, 'result' => { 'echo' => req })
      end
    end
  RUBY

  around(:each) do |example|
    Dir.mktmpdir('vcp-session') do |dir|
      @dir = dir
      example.run
    end
  end

  it 'starts one engine for many requests and passes data only as JSON on stdin' do
    session = described_class.new(binary: fake_engine(@dir, ECHO))
    tricky = { 'version' => 1, 'domains' => { "a; rm -rf / $(id) `id` 'q' \"d\"" => { 'vcpus' => 1 } } }
    3.times do |i|
      result = session.request('plan', document: tricky, options: { 'connection' => 'test:///default' })
      expect(result['echo']).to eq('id' => i + 1, 'command' => 'plan', 'document' => tricky,
                                   'options' => { 'connection' => 'test:///default' })
    end
    expect(JSON.parse(File.read(File.join(@dir, 'argv')))).to eq(['serve'])
    expect(File.readlines(File.join(@dir, 'starts')).size).to eq(1)
    expect(session.starts).to eq(1)
    expect(session.requests).to eq(3)
    session.close
    expect(session.running?).to be false
  end

  it "raises the engine's error for a request it could not serve, and goes on" do
    session = described_class.new(binary: fake_engine(@dir, ECHO))
    expect { session.request('fail') }.to raise_error(PuppetX::Virtconverge::EngineError, 'virtconverge: no such thing')
    expect(session.request('version')['echo']['command']).to eq('version')
    expect(session.starts).to eq(1)
    session.close
  end

  it 'reports an engine that dies, with what it wrote on stderr, and starts a new one next time' do
    body = "line = $stdin.gets\n$stderr.puts 'cannot connect to libvirt'\nexit 3\n"
    session = described_class.new(binary: fake_engine(@dir, body))
    expect { session.request('observe') }.to raise_error(PuppetX::Virtconverge::EngineError,
                                                         %r{exited before answering.*cannot connect to libvirt}m)
    expect { session.request('observe') }.to raise_error(PuppetX::Virtconverge::EngineError)
    expect(session.starts).to eq(2)
  end

  it 'stops an engine that does not answer in time, with its children' do
    body = "system('sleep 300 & echo $! > #{File.join(@dir, 'child')}; wait')\n"
    session = described_class.new(binary: fake_engine(@dir, body), timeout: 1)
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    expect { session.request('apply') }.to raise_error(PuppetX::Virtconverge::EngineError, %r{no answer within 1 s})
    expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started).to be < 10
    child = File.read(File.join(@dir, 'child')).to_i
    sleep 0.2
    # Gone, or a zombie waiting for whoever adopted it to reap it: not running either way.
    state = File.exist?("/proc/#{child}/stat") ? File.read("/proc/#{child}/stat").split(') ').last[0] : 'gone'
    expect(%w[gone Z X]).to include(state)
  end

  it 'rejects an answer to another request' do
    body = "$stdin.each_line { |l| puts JSON.generate('id' => 99, 'ok' => true, 'result' => {}) }\n"
    session = described_class.new(binary: fake_engine(@dir, body))
    expect { session.request('version') }.to raise_error(PuppetX::Virtconverge::EngineError, %r{does not match})
    session.close
  end

  it 'finds the engine through VIRTCONVERGE_BIN, then PATH' do
    engine = fake_engine(@dir, ECHO)
    expect(described_class.new(env: { 'VIRTCONVERGE_BIN' => engine }).binary).to eq(engine)
    File.symlink(engine, File.join(@dir, 'virtconverge'))
    expect(described_class.new(env: { 'PATH' => "/nonexistent:#{@dir}" }).binary).to eq(File.join(@dir, 'virtconverge'))
    expect { described_class.new(env: { 'VIRTCONVERGE_BIN' => File.join(@dir, 'argv') }).binary }
      .to raise_error(PuppetX::Virtconverge::EngineError, %r{not an executable file})
  end

  it 'answers through the real engine', if: engine_binary do
    session = described_class.new(binary: engine_binary)
    expect(session.request('version')['version']).to match(%r{\A\d+\.\d+\.\d+})
    observed = session.request('observe', options: { 'connection' => 'test:///default' })
    expect(observed['document']['domains']).to include('test')
    expect { session.request('bogus') }.to raise_error(PuppetX::Virtconverge::EngineError, %r{unknown command}) { |e|
      expect([e.code, e.transient?]).to eq(['invalid_value', false])
    }
    expect { session.request('plan', document: { 'version' => 1 }, options: { 'colour' => true }) }
      .to raise_error(PuppetX::Virtconverge::EngineError, %r{options.colour}) { |e| expect(e.code).to eq('unknown_field') }
    expect(session.request('version')['version']).to match(%r{\A\d+}) # the session goes on
    session.close
  end
end
