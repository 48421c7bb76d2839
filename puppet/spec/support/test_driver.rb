# frozen_string_literal: true

# Specs that drive the real engine (`virtconverge serve`) on libvirt's test driver: one session is
# one fresh test host, so every example starts from the driver's default objects.
module TestDriver
  URI = 'test:///default'

  def self.included(group)
    group.let(:engine) { PuppetX::Virtconverge::Session.new(binary: engine_binary) }
    group.let(:test_host) { PuppetX::Virtconverge::Host.new(engine) }
    group.let(:log) { [] }
    group.let(:context) do
      ctx = instance_double(Puppet::ResourceApi::BaseContext)
      [:notice, :warning, :debug, :info, :err].each do |level|
        allow(ctx).to receive(level) { |*args| log << [level, *args] }
      end
      ctx
    end
    # Anything that names no connection must reach the test driver, never a real libvirtd.
    group.around(:each) do |example|
      saved = ENV['LIBVIRT_DEFAULT_URI']
      ENV['LIBVIRT_DEFAULT_URI'] = URI
      example.run
    ensure
      engine.close
      ENV['LIBVIRT_DEFAULT_URI'] = saved
    end
  end

  # A fresh observation of the same test host, as the next Puppet run would see it.
  def next_run_host
    PuppetX::Virtconverge::Host.new(engine)
  end

  def provider_for(type, host = test_host)
    require "puppet/type/#{type}"
    require "puppet/provider/#{type}/#{type}"
    Puppet::Type.type(type.to_sym) # registers the provider module
    klass = Puppet::Provider.const_get(type.split('_').map(&:capitalize).join).const_get(type.split('_').map(&:capitalize).join)
    klass.new(host: host)
  end

  # What Puppet does for one resource: canonicalize the manifest values, get, ask insync? of every
  # declared property (ensure first), and call set when something is out of sync. Returns the
  # change messages.
  def converge(provider, title, should)
    namevars = title.is_a?(Hash) ? title : { name: title }
    should = provider.canonicalize(context, [namevars.merge(ensure: 'present', connection: URI).merge(should)]).first
    is = provider.get(context, [title]).first || { ensure: :absent }
    attributes = should[:ensure] == is[:ensure].to_s ? (should.keys & provider.properties) : [:ensure]
    messages = attributes.filter_map do |attribute|
      in_sync, message = provider.insync?(context, title, attribute, is, should)
      message unless in_sync
    end
    provider.set(context, title => { is: is, should: should }) unless messages.empty?
    messages
  end
end

RSpec.configure { |c| c.include TestDriver, :test_driver }
