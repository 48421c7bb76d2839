# frozen_string_literal: true

require 'json'

module PuppetX
  module Virtconverge
    # Value helpers that must agree exactly with the engine (engine/size.cc, engine/diff.cc):
    # canonical sizes and the projection of an observed value onto the declared one.
    module Values
      SIZE_UNITS = [['TiB', 40], ['GiB', 30], ['MiB', 20], ['KiB', 10], ['B', 0]].freeze
      SIZE_PATTERN = %r{\A([0-9]+)(B|KiB|MiB|GiB|TiB)?\z}.freeze
      ENGINE_PREFIX = 'virtconverge: '

      module_function

      # '1024MiB' -> '1GiB', 268435456 -> '256MiB', '1000' -> '1000B': the largest unit that
      # divides the value exactly, as the engine prints it. Anything else (nil, a malformed or zero
      # size) is returned unchanged, for the type's validation and the engine to reject.
      def canonical_size(value)
        bytes = size_bytes(value)
        return value if bytes.nil? || bytes.zero?
        SIZE_UNITS.each do |suffix, shift|
          return "#{bytes >> shift}#{suffix}" if (bytes & ((1 << shift) - 1)).zero?
        end
      end

      # Bytes of a size (Integer or String), or nil when it is not one.
      def size_bytes(value)
        return value if value.is_a?(Integer) && value >= 0
        return nil unless value.is_a?(String) && (m = SIZE_PATTERN.match(value))
        unit = SIZE_UNITS.find { |suffix, _| suffix == (m[2] || 'B') }
        m[1].to_i << unit[1]
      end

      # The engine's Project(): the part of an observed value the declaration speaks about. Objects
      # keep only the declared keys; arrays are projected element by element (elements beyond the
      # declared ones onto the union of the declared sub-fields), so a change is reported exactly
      # when the engine reports one.
      def project(observed, desired)
        if desired.is_a?(Hash) && observed.is_a?(Hash)
          desired.each_with_object({}) do |(key, value), out|
            out[key] = observed.key?(key) ? project(observed[key], value) : nil
          end
        elsif desired.is_a?(Array) && observed.is_a?(Array)
          shape = desired.select { |e| e.is_a?(Hash) }.reduce({}) { |acc, e| acc.merge(e) }
          observed.each_with_index.map do |element, i|
            element_shape = i < desired.size ? desired[i] : shape
            element_shape.respond_to?(:empty?) && element_shape.empty? ? element : project(element, element_shape)
          end
        else
          observed
        end
      end

      # Whether the observed value already matches the declared one, by the engine's rule.
      def matches?(observed, desired)
        project(observed, desired) == desired
      end

      # A value in a log line of the provider's own (a pending restart): strings bare, anything
      # else as JSON. Plans are never rendered here: their text is the engine's (PlanText).
      def show(value)
        value.is_a?(String) ? value : JSON.generate(value)
      end

      # Deep copy with string keys (Puppet hands over Hashes with String keys already; Symbols
      # appear in hand-written specs). Sensitive values are unwrapped: the result is what the
      # engine receives on its stdin, never something to log.
      def stringify(value)
        case value
        when Hash then value.each_with_object({}) { |(k, v), out| out[k.to_s] = stringify(v) }
        when Array then value.map { |v| stringify(v) }
        when Symbol then value.to_s
        else sensitive?(value) ? stringify(value.unwrap) : value
        end
      end

      # Whether a value is Puppet's Sensitive wrapper (Puppet::Pops::Types::PSensitiveType::Sensitive).
      def sensitive?(value)
        value.respond_to?(:unwrap) && value.class.name.to_s.end_with?('::Sensitive')
      end

      # The value inside a Sensitive wrapper, or the value itself.
      def unwrap(value)
        sensitive?(value) ? value.unwrap : value
      end

      # The text of every Sensitive value in a resource hash (any depth), to be redacted from
      # whatever the provider logs or raises.
      def secrets(value, inside = false)
        case value
        when Hash then value.values.flat_map { |v| secrets(v, inside) }
        when Array then value.flat_map { |v| secrets(v, inside) }
        else
          if sensitive?(value)
            secrets(value.unwrap, true)
          elsif inside && !value.nil? && !value.to_s.empty?
            [value.to_s]
          else
            []
          end
        end
      end

      # `text` with every secret replaced by [redacted] (longest first, so a secret that contains
      # another is not half-redacted). The "virtconverge: " that starts an engine error is kept.
      def redact(text, secrets)
        return text if secrets.nil? || secrets.empty?
        text = text.to_s
        prefix = text.start_with?(ENGINE_PREFIX) ? ENGINE_PREFIX : ''
        rest = secrets.uniq.sort_by { |s| -s.size }.reduce(text[prefix.size..]) do |out, secret|
          out.gsub(secret, '[redacted]')
        end
        prefix + rest
      end
    end
  end
end
