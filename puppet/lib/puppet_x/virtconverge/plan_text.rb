# frozen_string_literal: true

module PuppetX
  module Virtconverge
    # The engine's text plan (serve's `text`, the same text as `virtconverge plan`), cut into the
    # parts a Puppet message quotes. Nothing here renders a plan or reads its words: the engine
    # writes every line; this only finds, by layout (engine/plan_text.cc), the lines of one change:
    #
    #   ~ domain.web1 (update, live)            header: a symbol, the address, " ("
    #       vcpus 1 → 2  (live: hot-plug)       one row per entry of the change's `attributes`, in order
    #       → hot-plug vCPUs of domain.web1     one line per entry of its `steps`
    #
    # A change is { header:, rows: [...], steps: [...] }; a change the text does not show is nil.
    class PlanText
      HEADER = %r{\A(?:\+|-|~|-/\+) (\S+) \(}.freeze
      STEP = '    → '

      def initialize(text)
        @changes = {}
        current = nil
        text.to_s.each_line do |line|
          line = line.chomp
          if (m = HEADER.match(line))
            current = @changes[m[1]] = { header: line, rows: [], steps: [] }
          elsif current && line.start_with?(STEP)
            current[:steps] << line.delete_prefix(STEP)
          elsif current && line.start_with?('    ')
            current[:rows] << line.strip
          else
            current = nil
          end
        end
      end

      # The lines of the change of `address`, or nil.
      def change(address)
        @changes[address]
      end

      # The engine's row for attribute number `index` of the change of `address`, or nil.
      def row(address, index)
        change = @changes[address]
        change && index && change[:rows][index]
      end

      def empty?
        @changes.empty?
      end
    end
  end
end
