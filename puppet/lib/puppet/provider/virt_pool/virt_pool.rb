# frozen_string_literal: true

require_relative '../../../puppet_x/virtconverge/provider'

# virt_pool through the virtconverge engine (the shared logic is in PuppetX::Virtconverge::Provider).
class Puppet::Provider::VirtPool::VirtPool < PuppetX::Virtconverge::Provider
  def kind
    'pool'
  end

  def section
    'pools'
  end

  def properties
    [:type, :path, :volume_group, :autostart]
  end

  def required_fields(spec)
    case spec['type']
    when 'dir' then ['path']
    when 'logical' then ['volume_group']
    else ['type', 'path', 'volume_group']
    end
  end
end
