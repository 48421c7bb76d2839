# frozen_string_literal: true

require_relative 'session'

module PuppetX
  module Virtconverge
    # What one Puppet run knows about the hosts it manages: one engine session, and one `observe`
    # per libvirt connection (and Ceph cluster, for rbd_image), made on first use and shared by
    # every type. Apply results are written back into the observation, so it stays what the host
    # holds as far as this run has changed it.
    class Host
      SECTIONS = %w[pools networks volumes rbd_images domains].freeze

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

      def initialize(session)
        @session = session
        @observed = {}
        @images = {}
        @declared = {}
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
