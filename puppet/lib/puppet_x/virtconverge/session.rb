# frozen_string_literal: true

require 'json'
require 'open3'

module PuppetX
  module Virtconverge
    # An error the engine reported, or the engine could not be reached. The message is the
    # engine's own, prefixed with "virtconverge: "; `code` is the engine's stable code
    # (connection_failed, invalid_value, ...; nil when the engine gave none, e.g. it died) and
    # `transient` whether a later run may succeed without changing anything.
    class EngineError < StandardError
      attr_reader :code

      def initialize(message = nil, code: nil, transient: false)
        super(message)
        @code = code
        @transient = transient == true
      end

      def transient?
        @transient
      end

      # The same error with another message (redacted), keeping the code.
      def with_message(message)
        self.class.new(message, code: code, transient: transient?)
      end
    end

    # One `virtconverge serve` co-process (docs/serve.md): JSON requests one per line on its stdin,
    # one JSON response per line on its stdout, in order. Started on the first request, kept for
    # the whole Puppet run, shared by every virt_* type; it exits when its stdin closes (at the
    # latest when Puppet exits). The engine is always started from an argv array, never a shell
    # string, and every value travels as JSON on stdin, never on the command line.
    #
    # Binary: $VIRTCONVERGE_BIN, else `virtconverge` on $PATH, else /usr/local/bin or /usr/bin.
    # Request timeout: $VIRTCONVERGE_TIMEOUT seconds (default 900: an apply may shut a guest down,
    # 60 s by default, before it restarts it); on a timeout the process group is killed and the
    # next request starts a new engine.
    class Session
      class << self
        # The process-wide session. Puppet runs are one-shot processes (`puppet apply`,
        # `puppet resource`; `puppet agent` forks per run), so process-wide is per run.
        def current
          @current ||= new(debug: ->(message) { Puppet.debug(message) if defined?(Puppet) && Puppet.respond_to?(:debug) })
        end

        # Closes the process-wide session (tests; and at exit).
        def reset
          @current&.close
          @current = nil
        end
      end

      attr_reader :starts, :requests

      # debug: a callable given one line per request (command, size, seconds), or nil.
      def initialize(binary: nil, timeout: nil, env: ENV, debug: nil)
        @binary = binary
        @debug = debug
        @env = env
        @timeout = (timeout || env.fetch('VIRTCONVERGE_TIMEOUT', 900)).to_f
        @mutex = Mutex.new
        @next_id = 0
        @starts = 0    # engine processes started, for tests and the benchmark
        @requests = 0
        @stdin = @stdout = @wait = nil
      end

      # The engine binary: an absolute path, resolved once.
      def binary
        @binary ||= resolve_binary
      end

      # Sends one request and returns its `result` object. Raises EngineError (with the engine's
      # code) when the engine answers `ok: false`, dies, or does not answer within the timeout.
      def request(command, document: nil, options: nil)
        @mutex.synchronize do
          start unless running?
          @next_id += 1
          @requests += 1
          message = { 'id' => @next_id, 'command' => command }
          message['document'] = document unless document.nil?
          message['options'] = options unless options.nil?
          started = monotonic
          send_line(JSON.generate(message))
          response = parse(read_line)
          @debug&.call(format('virtconverge: %<command>s request %<id>d answered in %<seconds>.3f s',
                              command: command, id: @next_id, seconds: monotonic - started))
          unless response['id'] == @next_id
            raise EngineError, "virtconverge: response id #{response['id'].inspect} does not match request #{@next_id}"
          end
          if response['ok'] == false
            raise EngineError.new("virtconverge: #{response['error']}", code: response['code'], transient: response['transient'])
          end
          response.fetch('result') { raise EngineError, 'virtconverge: response without a result' }
        end
      end

      def running?
        !@wait.nil? && @wait.alive?
      end

      # Closes the engine's stdin, so it exits, and reaps it; kills it if it lingers.
      def close
        @mutex.synchronize { stop(grace: 10) }
      end

      private

      def resolve_binary
        explicit = @env['VIRTCONVERGE_BIN']
        if explicit && !explicit.empty?
          return explicit if File.file?(explicit) && File.executable?(explicit)
          raise EngineError, "virtconverge: VIRTCONVERGE_BIN=#{explicit} is not an executable file"
        end
        dirs = @env.fetch('PATH', '').split(File::PATH_SEPARATOR) + ['/usr/local/bin', '/usr/bin']
        dirs.each do |dir|
          candidate = File.join(dir, 'virtconverge')
          return candidate if File.file?(candidate) && File.executable?(candidate)
        end
        raise EngineError, 'virtconverge: the engine binary was not found on PATH, in /usr/local/bin or ' \
                           '/usr/bin; install it or set VIRTCONVERGE_BIN'
      end

      def start
        stop(grace: 0) if @wait
        # Two arguments: Ruby executes the binary directly, no shell is involved.
        @stdin, @stdout, stderr, @wait = Open3.popen3(binary, 'serve', pgroup: true)
        @last_status = nil
        @starts += 1
        @buffer = +''
        @stderr_tail = +''
        @stderr_thread = Thread.new(stderr) do |io|
          begin
            while (chunk = io.readpartial(4096))
              @stderr_tail << chunk
              @stderr_tail = @stderr_tail[-4096..] if @stderr_tail.size > 8192
            end
          rescue IOError, SystemCallError
            nil
          end
        end
        at_exit_hook
      end

      def at_exit_hook
        return if @at_exit_registered
        @at_exit_registered = true
        session = self
        at_exit { session.close }
      end

      def send_line(line)
        @stdin.write(line, "\n")
        @stdin.flush
      rescue Errno::EPIPE, IOError => e
        died("could not send the request (#{e.class})")
      end

      def read_line
        deadline = monotonic + @timeout
        loop do
          if (index = @buffer.index("\n"))
            line = @buffer[0..index]
            @buffer = @buffer[(index + 1)..]
            return line
          end
          remaining = deadline - monotonic
          timed_out if remaining <= 0
          ready = IO.select([@stdout], nil, nil, remaining)
          timed_out if ready.nil?
          begin
            @buffer << @stdout.read_nonblock(65_536)
          rescue IO::WaitReadable
            next
          rescue EOFError, IOError, SystemCallError
            died('exited before answering')
          end
        end
      end

      def parse(line)
        JSON.parse(line)
      rescue JSON::ParserError => e
        raise EngineError, "virtconverge: unreadable response (#{e.message[0, 200]})"
      end

      def timed_out
        stop(grace: 0)
        raise EngineError, "virtconverge: no answer within #{@timeout.round} s; the engine was stopped"
      end

      def died(what)
        stop(grace: 2)
        detail = @stderr_tail.to_s.strip
        status = @last_status ? " (#{@last_status})" : ''
        raise EngineError, "virtconverge: the engine #{what}#{status}#{detail.empty? ? '' : ": #{detail[-1000..] || detail}"}"
      end

      # Stops the co-process: closes stdin and waits `grace` seconds, then kills its process group.
      def stop(grace:)
        return unless @wait
        begin
          @stdin.close unless @stdin.closed?
        rescue IOError
          nil
        end
        unless @wait.join(grace)
          signal('TERM')
          signal('KILL') unless @wait.join(5)
          @wait.join(5)
        end
        @last_status = @wait.value if @wait.join(0)
        @stderr_thread&.join(1)
        [@stdout].each { |io| io.close unless io.closed? }
        @wait = nil
      end

      def signal(name)
        Process.kill(name, -@wait.pid)
      rescue Errno::ESRCH, Errno::EPERM
        nil
      end

      def monotonic
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end
    end
  end
end
