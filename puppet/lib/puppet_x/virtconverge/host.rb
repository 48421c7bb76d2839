# frozen_string_literal: true

require 'json'
require 'socket'
require_relative 'session'

module PuppetX
  module Virtconverge
    # What one Puppet run knows about the hosts it manages: one engine session, and one `observe`
    # per libvirt connection (and Ceph cluster, for rbd_image), made on first use and shared by
    # every type. Apply results are written back into the observation, so it stays what the host
    # holds as far as this run has changed it.
    class Host
      SECTIONS = %w[pools networks volumes rbd_images domains].freeze
      # The engine's own default when a resource names no connection (after $LIBVIRT_DEFAULT_URI).
      DEFAULT_URI = 'qemu:///system'
      # A virt_host's fields that are the host's capacity limits: the hosts: entry the plans of the
      # other types on its connection carry (its ksm is the virt_host's own change).
      LIMITS = %w[cpu_allocation_ratio ram_allocation_ratio reserved_memory].freeze

      class << self
        def current
          @current ||= new(Session.current)
        end

        # Forgets the run's observations and closes its engine session (tests).
        def reset
          Session.reset
          @current = nil
        end
      end

      attr_reader :session

      # The URI a resource's connection means (nil: the engine's default, $LIBVIRT_DEFAULT_URI,
      # then qemu:///system), so that equal hosts compare equal however a manifest spells them.
      def self.resolve(connection, env = ENV)
        return connection.to_s unless connection.nil? || connection.to_s.empty?
        default = env['LIBVIRT_DEFAULT_URI']
        default.nil? || default.empty? ? DEFAULT_URI : default
      end

      # A name for the host a URI reaches when nothing declares one (`puppet resource virt_host`):
      # the URI's host part up to its first dot, or this machine's short host name for a local URI.
      def self.default_name(connection)
        remote = connection.to_s[%r{\A[^:]+://(?:[^@/]*@)?([^/:?]+)}, 1]
        name = (remote.nil? || %w[localhost 127.0.0.1 ::1].include?(remote) ? Socket.gethostname : remote).split('.').first.to_s
        name = name.gsub(%r{[^A-Za-z0-9_.+-]}, '-').sub(%r{\A[^A-Za-z0-9]+}, '')[0, 64]
        name.empty? ? 'localhost' : name
      end

      def initialize(session)
        @session = session
        @observed = {}
        @images = {}
        @declared = {}
        @hosts = {}         # resolved URI -> { name:, entry: } of the catalog's virt_host
        @host_settings = {} # resolved URI -> the observed hosts: entry ({ 'ksm' => {...} })
      end

      # A virt_host of the catalog: `entry` (a hosts: entry: connection and the limits it declares)
      # is what the plans of the other types on that connection carry. One virt_host per connection:
      # a second name for the same URI raises ArgumentError.
      def declare_host(name, entry)
        uri = Host.resolve(entry['connection'])
        known = @hosts[uri]
        if known && known[:name] != name
          raise ArgumentError, "virt_host[#{name}] and virt_host[#{known[:name]}] both manage #{uri}: " \
                               'declare one virt_host per libvirt connection'
        end
        @hosts[uri] = { name: name, entry: entry.merge('connection' => uri) }
      end

      # { name:, entry: } of the virt_host the catalog declares for `connection`, or nil.
      def declared_host(connection)
        @hosts[Host.resolve(connection)]
      end

      # The names of the catalog's virt_hosts by URI (for `puppet resource virt_host`).
      def declared_hosts
        @hosts.transform_values { |h| h[:name] }
      end

      # What the engine observes of the host `connection` reaches: its hosts: entry without the
      # connection ({ 'ksm' => { 'enabled' =>, 'pages_to_scan' =>, ... } }, ksm left out where the
      # driver has none), from the run's serve session: observe's `host.ksm_settings`
      # (docs/serve.md), once per connection per run.
      def host_settings(connection)
        uri = Host.resolve(connection)
        @host_settings[uri] ||= begin
          result = @session.request('observe', options: options_for(uri))
          host = result['host']
          ksm = host.is_a?(Hash) ? host['ksm_settings'] : nil
          ksm.is_a?(Hash) ? { 'ksm' => ksm } : {}
        end
      end

      # Records what an apply did to a host's settings (merged over the observed ones).
      def record_host(connection, spec)
        uri = Host.resolve(connection)
        return unless @host_settings.key?(uri)
        ksm = spec['ksm']
        return unless ksm.is_a?(Hash)
        @host_settings[uri] = @host_settings[uri].merge('ksm' => (@host_settings[uri]['ksm'] || {}).merge(ksm))
      end

      # The observation of `connection` (nil: the engine's default URI), with the RBD images of
      # the Ceph cluster `ceph` ({ 'conf' => ..., 'user' => ... }) when given:
      # { 'document' => DOC, 'pending' => { domain => { field => { 'live' => X, 'config' => Y } } } }:
      # observe's `pending_changes`, the fields whose running value differs from the persistent
      # config (a change waiting for the next boot).
      def observation(connection, ceph: nil)
        @observed[[connection.to_s, ceph]] ||= begin
          options = options_for(connection)
          options['ceph'] = ceph unless ceph.nil?
          result = @session.request('observe', options: options)
          document = result.fetch('document')
          SECTIONS.each { |s| document[s] ||= {} }
          { 'document' => document, 'pending' => by_domain(result.fetch('pending_changes', [])) }
        end
      end

      # The observed spec of `name` in `section`, or nil when the host does not hold it.
      def find(connection, section, name, ceph: nil)
        observation(connection, ceph: ceph)['document'][section][name]
      end

      # Every observed resource of `section`: { name => spec }.
      def all(connection, section, ceph: nil)
        observation(connection, ceph: ceph)['document'][section]
      end

      # The changes of a domain waiting for its next boot: { field => { 'live' => X, 'config' => Y } }.
      def pending(connection, name, ceph: nil)
        observation(connection, ceph: ceph)['pending'].fetch(name, {})
      end

      # The running value of a domain's field when it differs from the persistent config, else nil.
      def live(connection, name, field, ceph: nil)
        pending(connection, name, ceph: ceph).fetch(field, {})['live']
      end

      # Records what an apply did: `spec` merged over the observed one, or removed when nil.
      def record(connection, section, name, spec, ceph = nil)
        return unless @observed.key?([connection.to_s, ceph])
        resources = @observed[[connection.to_s, ceph]]['document'][section]
        if spec.nil?
          resources.delete(name)
        else
          resources[name] = (resources[name] || {}).merge(spec)
        end
      end

      # The resources this run declares (kind as in the engine's addresses: 'volume', ...), present
      # or absent, as their providers canonicalize them.
      def declare(kind, name, state)
        (@declared[[kind, name]] ||= {})[state.to_s == 'absent' ? 'absent' : 'present'] = true
      end

      def declared?(kind, name, state = 'present')
        @declared.fetch([kind, name], {}).key?(state)
      end

      # The snapshots this run declares on an RBD image (they exist once it is applied).
      def declare_snapshots(name, snapshots)
        (@snapshots ||= {})[name] = ((@snapshots || {}).fetch(name, []) + snapshots).uniq
      end

      def declared_snapshot?(name, snapshot)
        (@snapshots || {}).fetch(name, []).include?(snapshot)
      end

      # The catalog's rbd_image resources, as their provider canonicalizes them: the Ceph cluster
      # each names ({ ceph: SECTION, secrets: [...] }), so that a domain with an RBD disk can reach
      # the same cluster without repeating it.
      def declare_image(name, ceph, secrets)
        @images[name] = { ceph: ceph, secrets: secrets }
      end

      def declared_image(name)
        @images[name]
      end

      # Request options naming the connection (the engine's default when nil).
      def options_for(connection, **extra)
        options = connection.nil? ? {} : { 'connection' => connection }
        extra.each { |k, v| options[k.to_s] = v }
        options
      end

      private

      # observe's pending_changes: [{ 'address' => 'domain.NAME', 'path' => FIELD, 'live' => X, 'config' => Y }].
      def by_domain(changes)
        changes.each_with_object({}) do |change, out|
          next unless change.is_a?(Hash) && change['address'].to_s.start_with?('domain.')
          (out[change['address'].delete_prefix('domain.')] ||= {})[change['path'].to_s] =
            { 'live' => change['live'], 'config' => change['config'] }
        end
      end
    end
  end
end
