# frozen_string_literal: true

module PuppetX
  module Virtconverge
    # Automatic ordering that the Resource API's `autorequire: { type: '$attribute' }` cannot
    # express, because the names sit inside list elements: a domain requires the virt_volume of each
    # disk and the virt_network of each interface (when the catalog declares them), so it is created
    # after them. (As everywhere in Puppet, the order is the same when they are all `absent`: give
    # such a catalog explicit `before` relationships.)
    module Relationships
      module_function

      def add_domain_autorequires(type)
        type.autorequire(:virt_volume) { PuppetX::Virtconverge::Relationships.referenced(self[:disks], 'volume') }
        type.autorequire(:virt_network) { PuppetX::Virtconverge::Relationships.referenced(self[:interfaces], 'network') }
      end

      # The distinct values of `key` in a list of hashes (nil and malformed elements ignored).
      def referenced(list, key)
        return [] unless list.is_a?(Array)
        list.map { |e| e.is_a?(Hash) ? (e[key] || e[key.to_sym]) : nil }.compact.uniq
      end
    end
  end
end
