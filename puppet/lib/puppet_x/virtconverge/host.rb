# frozen_string_literal: true

require_relative 'session'

module PuppetX
  module Virtconverge
    # What one Puppet run knows about the hosts it manages: one engine session, and one `observe`
    # per libvirt connection, made on first use and shared by every virt_* type. Apply results
    # are written back into the observation, so it stays what the host holds as far as this run
    # has changed it.
    class Host
      SECTIONS = %w[pools networks volumes domains].freeze

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
      end

      # The observation of `connection` (nil: the engine's default URI):
      # { 'document' => DOC, 'pending' => { domain => { field => note } } }.
      def observation(connection)
        @observed[connection.to_s] ||= begin
          result = @session.request('observe', options: options_for(connection))
          document = result.fetch('document')
          SECTIONS.each { |s| document[s] ||= {} }
          { 'document' => document, 'pending' => parse_pending(result.fetch('pending', [])) }
        end
      end

      # The observed spec of `name` in `section`, or nil when the host does not hold it.
      def find(connection, section, name)
        observation(connection)['document'][section][name]
      end

      # Every observed resource of `section`: { name => spec }.
      def all(connection, section)
        observation(connection)['document'][section]
      end

      # The pending-restart notes of a domain: { field => note }.
      def pending(connection, name)
        observation(connection)['pending'].fetch(name, {})
      end

      # Records what an apply did: `spec` merged over the observed one, or removed when nil.
      def record(connection, section, name, spec)
        return unless @observed.key?(connection.to_s)
        resources = @observed[connection.to_s]['document'][section]
        if spec.nil?
          resources.delete(name)
        else
          resources[name] = (resources[name] || {}).merge(spec)
        end
      end

      # Request options naming the connection (the engine's default when nil).
      def options_for(connection, **extra)
        options = connection.nil? ? {} : { 'connection' => connection }
        extra.each { |k, v| options[k.to_s] = v }
        options
      end

      private

      # observe's notes read "NAME: FIELD pending restart (running X, next boot Y)".
      def parse_pending(notes)
        notes.each_with_object({}) do |note, out|
          m = %r{\A([^:\s]+): (\S+) pending restart}.match(note)
          next unless m
          (out[m[1]] ||= {})[m[2]] = note.sub("#{m[1]}: ", '')
        end
      end
    end
  end
end
