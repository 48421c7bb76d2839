# frozen_string_literal: true

require_relative '../../../puppet_x/virtconverge/provider'

# virt_network through the virtconverge engine (the shared logic is in PuppetX::Virtconverge::Provider).
class Puppet::Provider::VirtNetwork::VirtNetwork < PuppetX::Virtconverge::Provider
  def kind
    'network'
  end

  def section
    'networks'
  end

  def required_fields(_spec)
    ['mode']
  end
end
