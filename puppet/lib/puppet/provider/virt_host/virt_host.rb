# frozen_string_literal: true

require_relative '../../../puppet_x/virtconverge/provider'

# virt_host through the virtconverge engine: a one-host fleet document (`hosts:` with this host's
# entry) planned and applied in the run's serve session, like the other types. What it observes
# (ksm) comes from the engine's observation of the connection (Host#host_settings). Its limits are
# recorded for the plans of the domains on the same connection (Host#declare_host, VirtDomain#fleet_host).
class Puppet::Provider::VirtHost::VirtHost < PuppetX::Virtconverge::Provider
  def kind
    'host'
  end

  def section
    'hosts'
  end

  def get(_context, names = nil)
    if names.nil? || names.empty?
      declared = host.declared_hosts # URI -> name
      uris = (targets_in_use.map { |t| PuppetX::Virtconverge::Host.resolve(t.connection) } + declared.keys).uniq
      return uris.map do |uri|
        name = declared[uri] || PuppetX::Virtconverge::Host.default_name(uri)
        (@listed ||= {})[name] = true unless declared.key?(uri)
        to_puppet(name, settings(uri))
      end
    end
    names.map do |title|
      name = name_of(title)
      to_puppet(name, settings(target_for(name).connection))
    end
  end

  def to_puppet(name, spec)
    out = { name: name }
    properties.each { |p| out[p] = spec[p.to_s] if spec.key?(p.to_s) }
    out
  end

  # The catalog's virt_host of a connection, with the limits it declares: the hosts: entry the
  # domains' plans on that connection carry. Each name is recorded once, when first seen: the
  # Resource API canonicalizes every catalog resource when it turns the catalog into resources,
  # before any is evaluated, so later calls (get's results, the target state) change nothing. A
  # name get listed by itself (`puppet resource virt_host`: no catalog) declares nothing.
  def declared(name, resource)
    return if host.declared_hosts.value?(name) || (@listed || {}).key?(name)
    entry = { 'connection' => PuppetX::Virtconverge::Host.resolve(PuppetX::Virtconverge::Values.unwrap(resource[:connection])) }
    PuppetX::Virtconverge::Host::LIMITS.each do |field|
      value = resource[field.to_sym]
      entry[field] = PuppetX::Virtconverge::Values.stringify(value) unless value.nil?
    end
    host.declare_host(name, entry)
  rescue ArgumentError => e
    raise Puppet::ResourceError, e.message
  end

  # A hosts: entry names its connection: the resolved URI when the manifest leaves it out.
  def extend_entry(spec, _should)
    spec['connection'] = PuppetX::Virtconverge::Host.resolve(spec['connection'])
  end

  # A host is not created or deleted; the engine's options for its plan are its own defaults.
  def request_options(_should)
    {}
  end

  def address(name, _target = nil)
    "host.#{name}"
  end

  def host_addresses(_target)
    []
  end

  # The document is the hosts: entry itself; the connection is in it, not an option.
  def options_for(_target, **options)
    host.options_for(nil, **options)
  end

  def record(target, _name, spec)
    host.record_host(target.connection, spec)
  end

  private

  def settings(connection)
    host.host_settings(connection)
  rescue PuppetX::Virtconverge::EngineError => e
    raise e.with_message(redact(@secrets.keys, e.message))
  end
end
