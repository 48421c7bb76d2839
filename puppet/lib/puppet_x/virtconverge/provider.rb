# frozen_string_literal: true

require 'puppet'
require_relative 'ceph'
require_relative 'host'
require_relative 'values'

module PuppetX
  module Virtconverge
    # What the providers share (virt_pool, virt_network, virt_volume, virt_domain, rbd_image): the
    # Resource API's get / canonicalize / insync? / set, mapped onto the engine's observe / plan /
    # apply. A subclass says which document section it manages and which of its attributes are
    # document fields.
    #
    # - get: one `observe` per connection (and Ceph cluster) per run (Host), answered from memory
    #   for every resource.
    # - insync?: the engine decides. When the observed value already matches the declared one by
    #   the engine's own projection rule (Values.matches?) and no change of it is pending in the
    #   domain's persistent config, the attribute is in sync without asking; otherwise the engine
    #   plans the resource once and its verdict, disruption class and reason make the change
    #   message (`vcpus changed 1 to 2 (live: hot-plug)`), also under --noop.
    # - set: one `apply` request per (connection, engine options, ceph) group of the changes Puppet
    #   hands over (resource_api 1.8 hands over one resource per call). The engine's per-resource errors
    #   fail the resource with the engine's message; changes pending restart become warnings.
    # - Sensitive: a value a manifest marks Sensitive is unwrapped only for the engine's stdin;
    #   every line the provider logs, every change message and every error it raises has it
    #   replaced by [redacted].
    class Provider
      # Where a resource is observed: its libvirt connection and, for rbd_image, its Ceph cluster.
      Target = Struct.new(:connection, :ceph)

      def initialize(host: nil)
        @host = host
        @targets = {}      # resource name -> the Target its manifest declares
        @secrets = {}      # resource name -> the text of the Sensitive values its manifest holds
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

      # The Ceph cluster the observation of a resource needs ({ 'conf', 'user' }), or nil: only
      # rbd_image observes one.
      def observe_ceph(_hash)
        nil
      end

      # The `ceph:` section a plan or apply document of a resource needs, or nil.
      def document_ceph(_name, _should, _spec)
        nil
      end

      # Parameters that say where a resource is (recorded from the manifest in canonicalize).
      def target_parameters
        [:connection]
      end

      # A rule of the engine's that decides an attribute without asking it: true or false, or nil
      # for the general one (Values.matches?).
      def in_sync(_attribute, _is_hash, _should_hash)
        nil
      end

      # Further canonical forms (sorted lists, ...) of a resource hash, in place.
      def canonicalize_fields(_resource); end

      # --- Resource API ------------------------------------------------------------------------

      def get(context, names = nil)
        if names.nil? || names.empty?
          seen = {}
          return targets_in_use.flat_map do |target|
            observed_all(target).filter_map do |name, spec|
              next if seen[name]
              seen[name] = true
              to_puppet(name, spec)
            end
          end
        end
        names.filter_map do |title|
          name = name_of(title)
          target = target_for(name)
          spec = observed(name, target)
          announce_pending(context, target, name) if spec
          spec && to_puppet(name, spec)
        end
      end

      def canonicalize(_context, resources)
        resources.each do |resource|
          name = name_from_hash(resource)
          if name
            @targets[name] = target_of(resource) if target_parameters.any? { |p| resource.key?(p) }
            secrets = Values.secrets(resource)
            @secrets[name] = ((@secrets[name] || []) + secrets).uniq unless secrets.empty?
          end
          size_fields.each do |field|
            resource[field] = Values.canonical_size(resource[field]) if resource.key?(field)
          end
          canonicalize_fields(resource)
          next unless name
          host.declare(kind, name, resource[:ensure])
          declared(name, resource)
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
        target = target_of(should_hash)
        unless host.pending(target.connection, name, ceph: target.ceph).key?(field)
          local = in_sync(attribute, is_hash, should_hash)
          return true if local == true
          if local.nil? && is_hash.key?(attribute) && Values.matches?(Values.stringify(is_hash[attribute]), desired)
            return true
          end
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
        message = redact(name, message)
        announce_noop(context, name, field, message, plan[:errors])
        [false, message]
      end

      def set(context, changes)
        failures = []
        prepared = []
        changes.each do |title, change|
          name = name_of(title)
          should = change[:should] || {}
          @plans.delete(name)
          begin
            spec = entry(name, change[:is] || {}, should)
            prepared << [name, should, spec, document_ceph(name, should, spec)]
          rescue Puppet::ResourceError => e
            failures << redact(name, "#{address(name)}: #{e.message}")
          end
        end
        groups = prepared.group_by { |_name, should, _spec, ceph| [target_of(should), request_options(should), ceph] }
        groups.each do |(target, options, ceph), group|
          document = { 'version' => 1 }
          document['ceph'] = ceph unless ceph.nil?
          document[section] = group.to_h { |name, _should, spec, _ceph| [name, spec] }
          names = document[section].keys
          begin
            result = host.session.request('apply', document: document, options: host.options_for(target.connection, **options))
            failures.concat(report_apply(context, target, document[section], result).map { |f| redact(names, f) })
          rescue EngineError => e
            failures << redact(names, e.message)
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

      # A field of a catalog resource (a Puppet::Type instance) as the host holds it, or nil: for
      # the relationships of absent resources (Relationships). A list also holds the elements the
      # running domain still has (a disk detached from the config the guest did not release).
      def observed_field(resource, field)
        name = name_from_hash(resource.to_hash.merge(title: resource.title))
        return nil if name.nil?
        target = target_for(name)
        spec = observed(name, target)
        return nil if spec.nil?
        value = spec[field.to_s]
        live = host.live(target.connection, name, field.to_s, ceph: target.ceph)
        value.is_a?(Array) && live.is_a?(Array) ? (value + live).uniq : value
      end

      # Called for every resource canonicalize sees (the catalog's, and get's results).
      def declared(_name, _resource); end

      # The Target of a resource hash (a manifest's, or should).
      def target_of(hash)
        Target.new(Values.unwrap(hash[:connection]), observe_ceph(hash))
      end

      # `text` with the Sensitive values of the named resources replaced by [redacted].
      def redact(names, text)
        secrets = Array(names).flat_map { |n| @secrets.fetch(n, []) }
        Values.redact(text, secrets)
      end

      # Adds secrets of another resource (a domain's rbd_image's cluster) to `name`.
      def add_secrets(name, secrets)
        return if secrets.nil? || secrets.empty?
        @secrets[name] = ((@secrets[name] || []) + secrets).uniq
      end

      # The observed spec of `name` (nil: not on the host). An engine failure is raised with the
      # resource's Sensitive values redacted.
      def observed(name, target = target_for(name))
        host.find(target.connection, section, name, ceph: target.ceph)
      rescue EngineError => e
        raise e.class, redact(name, e.message)
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
          target = target_of(should)
          if host.pending(target.connection, name, ceph: target.ceph).key?(field)
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

      def target_for(name)
        @targets[name] || target_of({})
      end

      def targets_in_use
        ([target_of({})] + @targets.values).uniq
      end

      def observed_all(target)
        host.all(target.connection, section, ceph: target.ceph)
      rescue EngineError => e
        raise e.class, Values.redact(e.message, @secrets.values.flatten)
      end

      # The engine's plan of one resource, made once per run (and again after it was applied).
      def plan_of(name, is_hash, should_hash)
        @plans[name] ||= begin
          target = target_of(should_hash)
          spec = entry(name, is_hash, should_hash)
          document = { 'version' => 1 }
          ceph = document_ceph(name, should_hash, spec)
          document['ceph'] = ceph unless ceph.nil?
          document[section] = { name => spec }
          options = host.options_for(target.connection, **request_options(should_hash))
          result = host.session.request('plan', document: document, options: options)
          interpret_plan(result, name)
        rescue EngineError => e
          raise Puppet::ResourceError, redact(name, e.message)
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
        message = redact(name, message)
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
        context.notice(name, redact(name, "would change: #{message}"))
        return if @announced[[name, :errors]]
        @announced[[name, :errors]] = true
        errors.reject { |e| made_earlier_in_the_run?(e) }.each { |e| context.warning(name, redact(name, "would fail: #{e}")) }
      end

      # Whether an engine error only says that a resource (or the snapshot a clone is made from) this
      # one uses does not exist yet, or that a domain or an RBD clone still uses this one, when the
      # catalog creates that resource or snapshot or deletes that domain or clone: Puppet does that
      # first (Relationships), so the real run will not fail for it. (Each resource is planned on
      # its own, so --noop sees the host as it is.)
      def made_earlier_in_the_run?(error)
        if (m = %r{: (\w+) (\S+) is neither declared nor present on the host\z}.match(error))
          host.declared?(m[1], m[2])
        elsif (m = %r{: cannot delete: domain (\S+) uses it \(}.match(error))
          host.declared?('domain', m[1], 'absent')
        elsif (m = %r{: cannot delete: the clone (\S+) depends on it \(}.match(error))
          host.declared?('rbd_image', m[1], 'absent')
        elsif (m = %r{: snapshot (\S+) is neither declared in (\S+)'s snapshots nor present\z}.match(error))
          host.declared_snapshot?(m[2], m[1])
        else
          false
        end
      end

      # Changes already in a domain's persistent config that wait for its next boot.
      def announce_pending(context, target, name)
        host.pending(target.connection, name, ceph: target.ceph).each do |field, note|
          next if @announced[[name, "pending #{field}"]]
          @announced[[name, "pending #{field}"]] = true
          context.warning(name, redact(name, note))
        end
      end

      # Logs the engine's steps and pending restarts; returns failure messages.
      def report_apply(context, target, entries, result)
        names_by_address = entries.keys.to_h { |n| [address(n), n] }
        if result.key?('valid')
          return result.fetch('diagnostics', []).map { |d| describe(d) }
        end
        plan = result.fetch('plan')
        apply = result['apply']
        failures = errors_of(plan, names_by_address.keys).map { |d| describe(d) }
        if apply.nil?
          # Nothing was changed: refused (the errors above), or already converged.
          entries.each { |name, spec| record(target, name, spec) } if failures.empty?
          return failures
        end
        apply.fetch('outcomes', []).each do |outcome|
          name = names_by_address[outcome['address']]
          next unless name
          outcome.fetch('steps', []).each { |step| context.notice(name, redact(name, step)) }
          if outcome['ok'] == false
            failures << "#{outcome['address']}: #{outcome['error']}"
          elsif outcome['converged'] == false
            failures << "#{outcome['address']}: did not converge (#{Values.render(outcome['remaining'])})"
          else
            record(target, name, entries[name])
          end
        end
        (apply.fetch('pending', []) + plan.fetch('pending', [])).uniq.each do |p|
          name = names_by_address[p['address']]
          next unless name
          context.warning(name, redact(name, "#{p['path']} pending restart (running #{Values.render(p['live'])}, next boot " \
                                             "#{Values.render(p['config'])}): written to the persistent config; it takes " \
                                             'effect when the domain restarts (allow_restart => true restarts it)'))
        end
        failures << "virtconverge: #{apply['verification_error']}" if apply['verification_error']
        failures
      end

      def record(target, name, spec)
        host.record(target.connection, section, name, spec['ensure'] == 'absent' ? nil : spec, target.ceph)
      end
    end
  end
end
