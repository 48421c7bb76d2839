# frozen_string_literal: true

require_relative 'host'
require_relative 'values'

module PuppetX
  module Virtconverge
    # Automatic ordering that the Resource API's `autorequire: { type: '$attribute' }` cannot
    # express: the names sit inside list elements (a domain's disks and interfaces) or inside a
    # value (a clone's `clone_from`), and the direction depends on what the catalog does.
    #
    # A resource that uses another (a domain its disk's virt_volume or rbd_image and its
    # interfaces' virt_network; an RBD clone its parent image) is
    # - applied after it when the catalog keeps the other (`ensure => present`): it is created
    #   first (autorequire);
    # - applied before it when the catalog removes the other (`ensure => absent`): the user lets go
    #   of it first, so a teardown deletes domains before their images and clones before their
    #   parents without `require` in the manifest (autobefore).
    # An absent domain or image that does not repeat its disks or `clone_from` is related by what
    # the host holds (the run's observation, which `get` uses anyway).
    module Relationships
      module_function

      def add_domain_autorequires(type)
        add(type, :virt_volume) { |r| Relationships.domain_references(r, 'disks', 'volume') }
        add(type, :rbd_image) { |r| Relationships.domain_references(r, 'disks', 'rbd') }
        add(type, :virt_network) { |r| Relationships.domain_references(r, 'interfaces', 'network') }
      end

      # A domain requires the catalog's virt_host of its connection: the host's KSM settings are
      # converged first, and its limits checked by the domain's plans (a failed virt_host skips them).
      def add_host_autorequire(type)
        type.autorequire(:virt_host) { Relationships.hosts_of(self) }
      end

      # The titles of the catalog's virt_host resources on the connection of `resource`.
      def hosts_of(resource)
        catalog = resource.catalog
        return [] if catalog.nil?
        mine = Host.resolve(Values.unwrap(resource[:connection]))
        catalog.resources.select do |other|
          other.type.to_s == 'virt_host' && Host.resolve(Values.unwrap(other[:connection])) == mine
        end.map(&:title)
      end

      def add_rbd_image_autorequires(type)
        add(type, :rbd_image) { |r| Relationships.parent_references(r) }
      end

      # autorequire and autobefore of `other_type`, the names given by the block.
      def add(type, other_type, &names)
        type.autorequire(other_type) { Relationships.related(self, other_type, :require, &names) }
        type.autobefore(other_type) { Relationships.related(self, other_type, :before, &names) }
      end

      # The resources of `type` in the catalog, named by the block, that `resource` requires
      # (direction :require: they stay) or precedes (:before: they go).
      def related(resource, type, direction)
        catalog = resource.catalog
        return [] if catalog.nil? || catalog.resources.none? { |r| r.type.to_s == type.to_s && !r.equal?(resource) }
        yield(resource).select do |name|
          other = catalog.resource(type.to_s, name)
          next false if other.nil? || other.equal?(resource)
          absent = other[:ensure].to_s == 'absent'
          direction == :before ? absent : !absent
        end
      end

      # The volumes, RBD images or networks a domain names in `list` (disks, interfaces) under
      # `key`; for an absent domain that declares none, the ones the host's domain has.
      def domain_references(resource, list, key)
        declared = resource[list.to_sym]
        return referenced(declared, key) unless declared.nil?
        return [] unless resource[:ensure].to_s == 'absent'
        referenced(observed(resource, list), key)
      end

      # The image an RBD clone was cloned from (`pool/image` of its clone_from), declared, or for an
      # absent image that does not say, as the host has it.
      def parent_references(resource)
        source = Values.unwrap(resource[:clone_from])
        source = observed(resource, 'clone_from') if source.nil? && resource[:ensure].to_s == 'absent'
        source.is_a?(String) ? [source.split('@', 2).first] : []
      end

      # The distinct values of `key` in a list of hashes (nil and malformed elements ignored).
      def referenced(list, key)
        return [] unless list.is_a?(Array)
        list.map { |e| e.is_a?(Hash) ? (e[key] || e[key.to_sym]) : nil }.compact.uniq
      end

      # A field of the resource as the host holds it, or nil (not there, or the engine cannot be
      # asked now: `get` reports that).
      def observed(resource, field)
        provider = resource.class.respond_to?(:my_provider) ? resource.class.my_provider : nil
        return nil unless provider.respond_to?(:observed_field)
        provider.observed_field(resource, field)
      rescue StandardError => e
        resource.debug("virtconverge: no observation for the relationships: #{e.message}")
        nil
      end
    end
  end
end
