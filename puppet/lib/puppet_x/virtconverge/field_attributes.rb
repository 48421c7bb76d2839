# frozen_string_literal: true

require_relative 'fields'

module PuppetX
  module Virtconverge
    # The document fields of a kind as Puppet attributes, from the generated field table (Fields,
    # lib/puppet_x/virtconverge/fields.rb, written from schemas/desired-state.schema.json by
    # scripts/generate-frontend-fields.py). A type merges attributes(kind) with the attributes
    # only Puppet has (ensure, the namevars, allow_restart, connection, ceph_conf, ...); its
    # provider sends properties + passthrough and canonicalizes size_fields. A field the schema
    # gains becomes an attribute of the type, and a field of the documents the provider sends,
    # without an edit here.
    module FieldAttributes
      # Schema fields a type spells otherwise, so they are neither an attribute nor sent as they
      # are: { kind => { field => how Puppet says it } }.
      SPELLED_OTHERWISE = {
        'domain' => {
          restart: 'the Boolean parameter allow_restart: true sends restart: allowed (the provider\'s extend_entry)',
        },
        'host' => {
          maintenance: 'not a virt_host attribute: draining moves the domains to another host, which a fleet ' \
                       'document of several hosts does (virtconverge apply, Salt converged), not one resource per connection',
        },
      }.freeze

      # Fields whose value may hold secrets (a cloud-init user-data's passwords and keys):
      # { kind => [field] }. The engine redacts them in everything it prints, but Puppet's own
      # "current_value X, should be Y (noop)" line, the previous and desired values of a change
      # event in the report, and an agent's transactionstore.yaml would carry the manifest's value
      # as written. Such a property is marked sensitive in every resource (mark_secret_properties),
      # so Puppet writes [redacted] there; the change message is the engine's redacted line, which
      # the provider logs beside it.
      SECRET = {
        'domain' => [:cloud_init],
      }.freeze

      module_function

      # The fields of a kind whose values Puppet must not show (SECRET).
      def secret_fields(kind)
        SECRET.fetch(kind, [])
      end

      # Marks the secret fields of a kind sensitive in every resource of `type` that sets them
      # (Puppet redacts a sensitive property's values in its messages, events and state). Prepended,
      # so a type's own set_sensitive_parameters (Ceph.accept_sensitive) still runs.
      def mark_secret_properties(type, kind)
        names = secret_fields(kind)
        return if names.empty?
        type.prepend(Module.new do
          define_method(:set_sensitive_parameters) do |sensitive|
            names.each { |name| parameter(name)&.sensitive = true }
            super(sensitive - names)
          end
          protected :set_sensitive_parameters
        end)
      end

      # The generated rows of a kind ({ name:, type:, desc:, size:, policy: }), in schema order,
      # without the fields it spells otherwise.
      def fields(kind)
        skip = SPELLED_OTHERWISE.fetch(kind, {})
        Fields::TABLE.fetch(kind).reject { |row| skip.key?(row[:name]) }
      end

      # The Resource API attributes of a kind's fields: properties, and parameters for the policy
      # fields (sent to the engine, never compared).
      def attributes(kind)
        fields(kind).to_h do |row|
          options = { type: row[:type], desc: row[:desc] }
          options[:behaviour] = :parameter if row[:policy]
          [row[:name], options]
        end
      end

      # Document fields that are Puppet properties (observed and compared).
      def properties(kind)
        fields(kind).reject { |row| row[:policy] }.map { |row| row[:name] }
      end

      # Document fields that are Puppet parameters: sent to the engine, never compared.
      def passthrough(kind)
        fields(kind).select { |row| row[:policy] }.map { |row| row[:name] }
      end

      # Fields holding a size (bytes, or a string such as 2GiB), canonicalized as the engine prints them.
      def size_fields(kind)
        fields(kind).select { |row| row[:size] }.map { |row| row[:name] }
      end
    end
  end
end
