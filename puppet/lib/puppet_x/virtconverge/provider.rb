# frozen_string_literal: true

require 'puppet'
require_relative 'host'
require_relative 'values'

module PuppetX
  module Virtconverge
    # What the four virt_* providers share: the Resource API's get / canonicalize / insync? / set,
    # mapped onto the engine's observe / plan / apply. A subclass says which document section it
    # manages and which of its attributes are document fields.
    #
    # - get: one `observe` per connection per run (Host), answered from memory for every resource.
    # - insync?: the engine decides. When the observed value already matches the declared one by
    #   the engine's own projection rule (Values.matches?) and no change of it is pending in the
    #   domain's persistent config, the attribute is in sync without asking; otherwise the engine
    #   plans the resource once and its verdict, disruption class and reason make the change
    #   message (`vcpus changed 1 to 2 (live: hot-plug)`), also under --noop.
    # - set: one `apply` request per (connection, engine options) group of the changes Puppet hands
    #   over (resource_api 1.8 hands over one resource per call). The engine's per-resource errors
    #   fail the resource with the engine's message; changes pending restart become warnings.
    class Provider
      def initialize(host: nil)
        @host = host
        @connections = {}  # resource name -> the connection its manifest declares
        @plans = {}        # resource name -> the engine's plan of it, for this run
        @announced = {}    # [name, field] -> true once a pending/noop line was logged
      end

      # --- what a subclass defines -------------------------------------------------------------
      # kind ('domain'), section ('domains'), properties (document fields that are Puppet
      # properties), passthrough (parameters sent to the engine but never compared), size_fields,
      # required_fields(spec): fields the engine needs in every entry, taken from the observed
      # resource when the manifest leaves them out.

      def passthrough
        []
      end

      def size_fields
        []
      end

      def required_fields(_spec)
        []
      end

      # --- Resource API ------------------------------------------------------------------------

      def get(context, names = nil)
        if names.nil? || names.empty?
          seen = {}
          return connections_in_use.flat_map do |connection|
            host.all(connection, section).filter_map do |name, spec|
              next if seen[name]
              seen[name] = true
              to_puppet(name, spec)
            end
          end
        end
        names.filter_map do |title|
          name = name_of(title)
          connection = @connections[name]
          spec = host.find(connection, section, name)
          announce_pending(context, connection, name) if spec
          spec && to_puppet(name, spec)
        end
      end

      def canonicalize(_context, resources)
        resources.each do |resource|
          name = name_from_hash(resource)
          @connections[name] = resource[:connection] if name && resource.key?(:connection)
          size_fields.each do |field|
            resource[field] = Values.canonical_size(resource[field]) if resource.key?(field)
          end
        end
      end

      def insync?(context, title, attribute, is_hash, should_hash)
        name = name_of(title)
        if attribute == :ensure
          return true if is_hash[:ensure].to_s == should_hash[:ensure].to_s
          return [false, ensure_message(context, name, is_hash, should_hash)]
        end
        field = attribute.to_s
        desired = Values.stringify(should_hash[attribute])
        connection = should_hash[:connection]
        if !host.pending(connection, name).key?(field) && is_hash.key?(attribute) &&
           Values.matches?(Values.stringify(is_hash[attribute]), desired)
          return true
        end
        plan = plan_of(name, is_hash, should_hash)
        change = plan[:change]
        change_attr = change && change['attributes'].find { |a| a['path'] == field }
        if change_attr.nil?
          return true if plan[:errors].empty?
          message = "#{field} changed #{Values.render(Values.stringify(is_hash[attribute]))} to #{Values.render(desired)}"
        else
          message = "#{field} changed #{Values.render(change_attr['before'])} to " \
                    "#{Values.render(change_attr['after'])} (#{how(change_attr)})"
        end
        announce_noop(context, name, field, message, plan[:errors])
        [false, message]
      end

      def set(context, changes)
        failures = []
        groups = changes.group_by do |_title, change|
          should = change[:should] || {}
          [should[:connection], request_options(should)]
        end
        groups.each do |(connection, options), group|
          document = { 'version' => 1, section => {} }
          names = []
          group.each do |title, change|
            name = name_of(title)
            @plans.delete(name)
            begin
              document[section][name] = entry(name, change[:is] || {}, change[:should])
              names << name
            rescue Puppet::ResourceError => e
              failures << "#{address(name)}: #{e.message}"
            end
          end
          next if names.empty?
          begin
            result = host.session.request('apply', document: document, options: host.options_for(connection, **options))
            failures.concat(report_apply(context, connection, document[section], result))
          rescue EngineError => e
            failures << e.message
          end
        end
        raise Puppet::ResourceError, failures.join('; ') unless failures.empty?
      end

      # --- helpers a subclass may override ------------------------------------------------------

      def name_of(title)
        title.to_s
      end

      def name_from_hash(hash)
        (hash[:name] || hash[:title])&.to_s
      end

      def to_puppet(name, spec)
        out = { name: name, ensure: 'present' }
        properties.each { |p| out[p] = spec[p.to_s] if spec.key?(p.to_s) }
        out
      end

      # Additions to a present entry (the domain's restart policy).
      def extend_entry(_spec, _should); end

      # The engine options a resource asks for; resources are applied in groups of equal options.
      def request_options(should)
        { allow_destroy: should[:allow_destroy] == true }
      end

      def address(name)
        "#{kind}.#{name}"
      end

      # The document entry for one resource: the declared fields, canonical, plus the required
      # fields the manifest leaves out, taken from the host (so `puppet resource virt_domain x
      # autostart=true` changes autostart and nothing else).
      def entry(name, is, should)
        return { 'ensure' => 'absent' } if should[:ensure].to_s == 'absent'
        spec = {}
        (properties + passthrough).each do |attr|
          spec[attr.to_s] = Values.stringify(should[attr]) unless should[attr].nil?
        end
        extend_entry(spec, should)
        return spec unless is[:ensure].to_s == 'present'
        required_fields(spec).each do |field|
          next if spec.key?(field) || is[field.to_sym].nil?
          if host.pending(should[:connection], name).key?(field)
            raise Puppet::ResourceError, "#{field} is not declared and a change of it is pending restart " \
                                         '(running and next-boot values differ): declare it'
          end
          spec[field] = Values.stringify(is[field.to_sym])
        end
        spec
      end

      private

      def host
        @host || Host.current
      end

      def connections_in_use
        ([nil] + @connections.values).uniq
      end

      # The engine's plan of one resource, made once per run (and again after it was applied).
      def plan_of(name, is_hash, should_hash)
        @plans[name] ||= begin
          connection = should_hash[:connection]
          document = { 'version' => 1, section => { name => entry(name, is_hash, should_hash) } }
          options = host.options_for(connection, **request_options(should_hash))
          result = host.session.request('plan', document: document, options: options)
          interpret_plan(result, name)
        rescue EngineError => e
          raise Puppet::ResourceError, e.message
        end
      end

      # { change: the plan's change of `name` or nil, errors: [messages], pending: [entries] }.
      def interpret_plan(result, name)
        if result.key?('valid')
          return { change: nil, errors: result.fetch('diagnostics', []).map { |d| describe(d) }, pending: [] }
        end
        plan = result.fetch('plan')
        {
          change: plan.fetch('changes', []).find { |c| c['address'] == address(name) },
          errors: errors_of(plan, [address(name)]).map { |d| describe(d) },
          pending: plan.fetch('pending', []).select { |p| p['address'] == address(name) },
        }
      end

      def errors_of(plan, addresses)
        plan.fetch('diagnostics', []).select do |d|
          d['severity'] == 'error' && (d['address'].to_s.empty? || addresses.include?(d['address']))
        end
      end

      # An engine diagnostic as a sentence, with the Puppet spelling of the flag it asks for.
      def describe(diagnostic)
        text = diagnostic['summary'].to_s.sub(%r{\A<request \d+>(:\d+:\d+)?: }, '')
        detail = diagnostic['detail'].to_s
        text += " (#{detail})" unless detail.empty?
        text += '; set allow_destroy => true on this resource to permit it' if text.include?('--allow-destroy')
        text
      end

      def how(change_attr)
        words = Values.disruption_words(change_attr['disruption'])
        reason = change_attr['reason'].to_s
        reason.empty? ? words : "#{words}: #{reason}"
      end

      def ensure_message(context, name, is_hash, should_hash)
        plan = plan_of(name, is_hash, should_hash)
        change = plan[:change]
        creating = should_hash[:ensure].to_s == 'present'
        head = creating ? "defined 'ensure' as 'present'" : "undefined 'ensure' from 'present'"
        message = if change
                    reasons = change['attributes'].map { |a| a['reason'].to_s }.reject(&:empty?).uniq
                    words = Values.disruption_words(change['disruption'])
                    "#{head} (#{change['action']}, #{words}#{reasons.empty? ? '' : ": #{reasons.join('; ')}"})"
                  else
                    head
                  end
        announce_noop(context, name, 'ensure', message, plan[:errors])
        message
      end

      # Under --noop Puppet prints only "current_value X, should be Y (noop)"; the engine's plan
      # line, with its disruption class, is logged beside it, and what the engine would refuse as a
      # warning.
      def announce_noop(context, name, field, message, errors)
        return unless Puppet[:noop]
        return if @announced[[name, field]]
        @announced[[name, field]] = true
        context.notice(name, "would change: #{message}")
        return if @announced[[name, :errors]]
        @announced[[name, :errors]] = true
        errors.each { |e| context.warning(name, "would fail: #{e}") }
      end

      # Changes already in a domain's persistent config that wait for its next boot.
      def announce_pending(context, connection, name)
        host.pending(connection, name).each do |field, note|
          next if @announced[[name, "pending #{field}"]]
          @announced[[name, "pending #{field}"]] = true
          context.warning(name, note)
        end
      end

      # Logs the engine's steps and pending restarts; returns failure messages.
      def report_apply(context, connection, entries, result)
        names_by_address = entries.keys.to_h { |n| [address(n), n] }
        if result.key?('valid')
          return result.fetch('diagnostics', []).map { |d| describe(d) }
        end
        plan = result.fetch('plan')
        apply = result['apply']
        failures = errors_of(plan, names_by_address.keys).map { |d| describe(d) }
        if apply.nil?
          # Nothing was changed: refused (the errors above), or already converged.
          entries.each { |name, spec| record(connection, name, spec) } if failures.empty?
          return failures
        end
        apply.fetch('outcomes', []).each do |outcome|
          name = names_by_address[outcome['address']]
          next unless name
          outcome.fetch('steps', []).each { |step| context.notice(name, step) }
          if outcome['ok'] == false
            failures << "#{outcome['address']}: #{outcome['error']}"
          elsif outcome['converged'] == false
            failures << "#{outcome['address']}: did not converge (#{Values.render(outcome['remaining'])})"
          else
            record(connection, name, entries[name])
          end
        end
        (apply.fetch('pending', []) + plan.fetch('pending', [])).uniq.each do |p|
          name = names_by_address[p['address']]
          next unless name
          context.warning(name, "#{p['path']} pending restart (running #{Values.render(p['live'])}, next boot " \
                                "#{Values.render(p['config'])}): written to the persistent config; it takes effect " \
                                'when the domain restarts (allow_restart => true restarts it)')
        end
        failures << "virtconverge: #{apply['verification_error']}" if apply['verification_error']
        failures
      end

      def record(connection, name, spec)
        host.record(connection, section, name, spec['ensure'] == 'absent' ? nil : spec)
      end
    end
  end
end
