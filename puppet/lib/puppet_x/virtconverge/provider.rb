# frozen_string_literal: true

require 'puppet'
require_relative 'ceph'
require_relative 'field_attributes'
require_relative 'host'
require_relative 'plan_text'
require_relative 'values'

module PuppetX
  module Virtconverge
    # What the providers share (virt_pool, virt_network, virt_volume, virt_domain, rbd_image,
    # virt_host): the Resource API's get / canonicalize / insync? / set, mapped onto the engine's
    # observe / plan / apply. A subclass says which document section it manages and which of its
    # attributes are document fields; a domain's documents carry the hosts: entry of the catalog's
    # virt_host of its connection (fleet_host), so the engine checks that host's limits.
    #
    # - get: one `observe` per connection (and Ceph cluster) per run (Host), answered from memory
    #   for every resource.
    # - insync?: the engine decides. When the observed value already matches the declared one by
    #   the engine's own projection rule (Values.matches?) and no change of it is pending in the
    #   domain's persistent config, the attribute is in sync without asking; otherwise the engine
    #   plans the resource once, and the change message is the engine's own line of its text plan
    #   (`vcpus 1 → 2  (live: hot-plug)`), also under --noop.
    # - The engine's diagnostics and outcomes are read by their `code` (and `related`), never by
    #   their words; their text is passed on to people as the engine wrote it.
    # - set: one `apply` request per (connection, engine options, ceph) group of the changes Puppet
    #   hands over (resource_api 1.8 hands over one resource per call). The engine's per-resource errors
    #   fail the resource with the engine's message; changes pending restart become warnings.
    # - Sensitive: a value a manifest marks Sensitive is unwrapped only for the engine's stdin;
    #   every line the provider logs, every change message and every error it raises has it
    #   replaced by [redacted].
    class Provider
      # Where a resource is observed: its libvirt connection and, for rbd_image, its Ceph cluster.
      Target = Struct.new(:connection, :ceph)

      # Appended to an error the engine marks transient (connection_failed, connection_lost,
      # ceph_unavailable).
      TRANSIENT = ' (transient: a later run may succeed without a change)'
      # Appended to a refusal for want of a permission, by the diagnostic's code.
      ALLOW_HINTS = {
        'needs_allow_destroy' => '; set allow_destroy => true on this resource to permit it',
        'needs_allow_restart' => '; set allow_restart => true on this resource to permit it',
        'over_committed' => "; raise the limit on the connection's virt_host, or set allow_overcommit => true " \
                            'on this resource to permit it',
      }.freeze

      def initialize(host: nil)
        @host = host
        @targets = {}      # resource name -> the Target its manifest declares
        @secrets = {}      # resource name -> the text of the Sensitive values its manifest holds
        @plans = {}        # resource name -> the engine's plan of it, for this run
        @announced = {}    # [name, field] -> true once a pending/noop line was logged
      end

      # --- what a subclass defines -------------------------------------------------------------
      # kind ('domain'), section ('domains'), required_fields(spec): fields the engine needs in
      # every entry, taken from the observed resource when the manifest leaves them out (only a
      # network's mode and bridge now: the engine takes partial declarations of domains, volumes,
      # RBD images and pools, and asks for what creating needs itself). The
      # document fields come from the generated field table (FieldAttributes), as the type's
      # attributes do.

      # Document fields that are Puppet properties (observed and compared).
      def properties
        FieldAttributes.properties(kind)
      end

      # Document fields that are Puppet parameters: sent to the engine, never compared (policy).
      def passthrough
        FieldAttributes.passthrough(kind)
      end

      def size_fields
        FieldAttributes.size_fields(kind)
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
          return [false, ensure_message(context, name, is_hash, should_hash, target_of(should_hash))]
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
        # The engine's rows of the attribute: its own path, or the paths inside it (ksm.pages_to_scan).
        indices = change ? change['attributes'].each_index.select { |i| within?(change['attributes'][i]['path'], field) } : []
        if indices.empty?
          # The engine compared the resource (its change lists the attributes that differ) and this
          # one is not among them: in sync, even when the plan is refused for another attribute.
          return true if plan[:errors].empty? || change
          message = "#{field} differs from the host, and the engine refuses the plan of #{address(name, target)} (see the error)"
        else
          message = indices.map do |index|
            plan[:text].row(address(name, target), index) ||
              "#{change['attributes'][index]['path']} differs from the host (#{change['attributes'][index]['disruption']})"
          end.join('; ')
        end
        message = redact(name, message)
        announce_noop(context, name, field, message, plan)
        announce_secret_change(context, name, attribute, message)
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
          document = document_for(target, group.to_h { |name, _should, spec, _ceph| [name, spec] }, ceph)
          names = document[section].keys
          begin
            result = host.session.request('apply', document: document, options: options_for(target, **options))
            failures.concat(report_apply(context, target, document[section], result).map { |f| redact(names, f) })
          rescue EngineError => e
            failures << redact(names, e.message + (e.transient? ? TRANSIENT : ''))
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
        raise e.with_message(redact(name, e.message))
      end

      # Additions to a present entry (the domain's restart policy).
      def extend_entry(_spec, _should); end

      # The engine options a resource asks for; resources are applied in groups of equal options.
      def request_options(should)
        { allow_destroy: should[:allow_destroy] == true }
      end

      # The engine's address of a resource: `domain.web1`, or `domain.web1@hv-a` when its documents
      # carry the hosts: entry of the catalog's virt_host (a one-host fleet, whose addresses name it).
      def address(name, target = target_for(name))
        fleet = fleet_host(target)
        fleet ? "#{kind}.#{name}@#{fleet[:name]}" : "#{kind}.#{name}"
      end

      # The virt_host whose hosts: entry the plans of this resource carry ({ name:, entry: }), or
      # nil. Only domains commit a host's vCPUs and memory, so only their plans carry the limits
      # (VirtDomain); the other kinds are planned as one host.
      def fleet_host(_target)
        nil
      end

      # The addresses of the hosts a plan of this resource may name in its diagnostics (the capacity
      # refusal, over_committed, is the host's: `host.hv-a`).
      def host_addresses(target)
        fleet = fleet_host(target)
        fleet ? ["host.#{fleet[:name]}"] : []
      end

      # The plan or apply document of `entries` ({ name => spec } of this section) at `target`:
      # with the catalog's virt_host entry of that connection as its hosts: section, when
      # fleet_host says so, and the `ceph:` section when given.
      def document_for(target, entries, ceph)
        document = { 'version' => 1 }
        document['ceph'] = ceph unless ceph.nil?
        fleet = fleet_host(target)
        document['hosts'] = { fleet[:name] => fleet[:entry] } if fleet
        document[section] = entries
        document
      end

      # The request options at `target`: its connection, unless the document names it in hosts:
      # (the engine refuses both).
      def options_for(target, **options)
        host.options_for(fleet_host(target) ? nil : target.connection, **options)
      end

      # Whether the engine's attribute path `path` is the attribute `field` or inside it.
      def within?(path, field)
        path == field || path.to_s.start_with?("#{field}.")
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
        raise e.with_message(Values.redact(e.message, @secrets.values.flatten))
      end

      # The engine's plan of one resource, made once per run (and again after it was applied).
      def plan_of(name, is_hash, should_hash)
        @plans[name] ||= begin
          target = target_of(should_hash)
          spec = entry(name, is_hash, should_hash)
          document = document_for(target, { name => spec }, document_ceph(name, should_hash, spec))
          options = options_for(target, **request_options(should_hash), text: true)
          result = host.session.request('plan', document: document, options: options)
          interpret_plan(result, name, target)
        rescue EngineError => e
          raise Puppet::ResourceError, redact(name, e.message + (e.transient? ? TRANSIENT : ''))
        end
      end

      # { change: the plan's change of `name` or nil, errors: [its error diagnostics],
      #   text: the engine's text plan (PlanText) }.
      def interpret_plan(result, name, target = target_for(name))
        if result.key?('valid')
          return { change: nil, errors: result.fetch('diagnostics', []), text: PlanText.new(nil) }
        end
        plan = result.fetch('plan')
        {
          change: plan.fetch('changes', []).find { |c| c['address'] == address(name, target) },
          errors: errors_of(plan, [address(name, target)] + host_addresses(target)),
          text: PlanText.new(result['text']),
        }
      end

      def errors_of(plan, addresses)
        plan.fetch('diagnostics', []).select do |d|
          d['severity'] == 'error' && (d['address'].to_s.empty? || addresses.include?(d['address']))
        end
      end

      # An engine diagnostic as a sentence, with the Puppet spelling of the permission it asks for.
      def describe(diagnostic)
        text = diagnostic['summary'].to_s.sub(%r{\A<request \d+>(:\d+:\d+)?: }, '')
        detail = diagnostic['detail'].to_s
        text += " (#{detail})" unless detail.empty?
        text += ALLOW_HINTS.fetch(diagnostic['code'], '')
        text += TRANSIENT if diagnostic['transient'] == true
        text
      end

      def ensure_message(context, name, is_hash, should_hash, target = target_of(should_hash))
        plan = plan_of(name, is_hash, should_hash)
        change = plan[:change]
        head = should_hash[:ensure].to_s == 'present' ? "defined 'ensure' as 'present'" : "undefined 'ensure' from 'present'"
        lines = change ? plan[:text].change(address(name, target)) : nil
        message = if lines
                    # The header, and the rows that say more than a created value.
                    shown = change['attributes'].each_index.reject do |i|
                      change['action'] == 'create' && change['attributes'][i]['disruption'] == 'none'
                    end
                    "#{head}: #{([lines[:header]] + shown.filter_map { |i| lines[:rows][i] }).join('; ')}"
                  elsif change
                    "#{head} (#{change['action']}, #{change['disruption']})"
                  else
                    head
                  end
        message = redact(name, message)
        announce_noop(context, name, 'ensure', message, plan)
        message
      end

      # Under --noop Puppet prints only "current_value X, should be Y (noop)"; the engine's plan
      # line is logged beside it, once the steps apply would run, and what the engine would refuse
      # as a warning.
      def announce_noop(context, name, field, message, plan)
        return unless Puppet[:noop]
        return if @announced[[name, field]]
        @announced[[name, field]] = true
        context.notice(name, redact(name, "would change: #{message}"))
        return if @announced[[name, :plan]]
        @announced[[name, :plan]] = true
        steps = plan[:change] ? plan[:change].fetch('steps', []).map { |step| step['description'] } : []
        context.notice(name, redact(name, "would run: #{steps.join('; ')}")) unless steps.empty?
        plan[:errors].reject { |d| made_earlier_in_the_run?(d, plan[:change]) }.each do |d|
          context.warning(name, redact(name, "would fail: #{describe(d)}"))
        end
      end

      # Whether an engine error only says that a resource (or the snapshot a clone is made from)
      # this one uses does not exist yet (missing_reference), or that a domain or an RBD clone still
      # uses this one that is deleted (in_use), when the catalog creates that resource or snapshot,
      # or deletes that domain or clone: Puppet does that first (Relationships), so the real run
      # will not fail for it. (Each resource is planned on its own, so --noop sees the host as it
      # is.) The other resource is the diagnostic's `related` address.
      def made_earlier_in_the_run?(diagnostic, change)
        kind, other = diagnostic['related'].to_s.split('.', 2)
        return false if other.nil? || other.empty?
        other = other.split('@', 2).first unless kind == 'rbd_image' # domain.web1@hv-a: the host's name
        case diagnostic['code']
        when 'missing_reference'
          if kind == 'rbd_image' && other.include?('@')
            image, snapshot = other.split('@', 2)
            host.declared_snapshot?(image, snapshot)
          else
            host.declared?(kind, other)
          end
        when 'in_use'
          !change.nil? && change['action'] == 'delete' && host.declared?(kind, other, 'absent')
        else
          false
        end
      end

      # Puppet logs the change of a secret field (FieldAttributes::SECRET, a sensitive property) as
      # "changed [redacted] to [redacted]": the engine's line, which shows no secret, is logged
      # beside it. (Under --noop, announce_noop logs it as "would change: ...".)
      def announce_secret_change(context, name, attribute, message)
        return if Puppet[:noop] || !FieldAttributes.secret_fields(kind).include?(attribute.to_sym)
        context.notice(name, message)
      end

      # Changes already in a domain's persistent config that wait for its next boot.
      def announce_pending(context, target, name)
        host.pending(target.connection, name, ceph: target.ceph).each do |field, values|
          next if @announced[[name, "pending #{field}"]]
          @announced[[name, "pending #{field}"]] = true
          context.warning(name, redact(name, "#{field} pending restart (running #{Values.show(values['live'])}, " \
                                             "next boot #{Values.show(values['config'])})"))
        end
      end

      # Logs the engine's steps and pending restarts; returns failure messages.
      def report_apply(context, target, entries, result)
        names_by_address = entries.keys.to_h { |n| [address(n, target), n] }
        return result.fetch('diagnostics', []).map { |d| describe(d) } if result.key?('valid')
        plan = result.fetch('plan')
        apply = result['apply']
        failures = errors_of(plan, names_by_address.keys + host_addresses(target)).map { |d| describe(d) }
        # A host that stays over its limit (the plan does not take it further): the engine's warning.
        plan.fetch('diagnostics', []).each do |d|
          next unless d['severity'] == 'warning' && host_addresses(target).include?(d['address'])
          context.warning(entries.keys.first, redact(entries.keys, describe(d)))
        end
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
            failures << "#{outcome['address']}: #{outcome['error']}#{outcome['transient'] == true ? TRANSIENT : ''}"
          elsif outcome['converged'] == false
            failures << "#{outcome['address']}: did not converge (#{Array(outcome['remaining']).map { |r| Values.show(r) }.join('; ')})"
          else
            record(target, name, entries[name])
          end
        end
        (apply.fetch('pending', []) + plan.fetch('pending', [])).uniq.each do |p|
          name = names_by_address[p['address']]
          next unless name
          context.warning(name, redact(name, "#{p['path']} pending restart (running #{Values.show(p['live'])}, next boot " \
                                             "#{Values.show(p['config'])}): written to the persistent config; it takes " \
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
