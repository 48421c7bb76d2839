# frozen_string_literal: true

require_relative '../../../puppet_x/virtconverge/provider'

# virt_volume through the virtconverge engine. The title `pool/volume` is the engine's volume
# address; Puppet knows the resource by the two namevars.
class Puppet::Provider::VirtVolume::VirtVolume < PuppetX::Virtconverge::Provider
  def kind
    'volume'
  end

  def section
    'volumes'
  end

  def name_of(title)
    return "#{title[:pool]}/#{title[:volume]}" if title.respond_to?(:key?) && title.key?(:volume)
    title.to_s
  end

  def name_from_hash(hash)
    return "#{hash[:pool]}/#{hash[:volume]}" if hash[:pool] && hash[:volume]
    title = hash[:title].to_s
    title.include?('/') ? title : nil
  end

  def to_puppet(name, spec)
    pool, volume = name.split('/', 2)
    out = super
    out.delete(:name)
    { title: name, pool: pool, volume: volume }.merge(out)
  end
end
