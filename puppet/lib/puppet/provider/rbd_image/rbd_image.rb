# frozen_string_literal: true

require_relative '../../../puppet_x/virtconverge/provider'

# rbd_image through the virtconverge engine. The title `ceph_pool/image` is the engine's address in
# `rbd_images`; Puppet knows the resource by the two namevars. The observation and every document
# name the resource's Ceph cluster (`ceph: {conf, user}`).
class Puppet::Provider::RbdImage::RbdImage < PuppetX::Virtconverge::Provider
  def kind
    'rbd_image'
  end

  def section
    'rbd_images'
  end

  def target_parameters
    [:connection, :ceph_conf, :ceph_user]
  end

  def observe_ceph(hash)
    PuppetX::Virtconverge::Ceph.section(hash)
  end

  def document_ceph(_name, should, _spec)
    PuppetX::Virtconverge::Ceph.section(should)
  end

  # features and snapshots are sets: sorted, as the engine writes them.
  def canonicalize_fields(resource)
    [:features, :snapshots].each do |field|
      value = resource[field]
      resource[field] = value.map(&:to_s).uniq.sort if value.is_a?(Array)
    end
  end

  # The engine's rules (engine/planner.cc, DiffResource): declared snapshots must exist (others
  # may); flatten is whether the image has no parent; a flattened image's clone_from is history.
  def in_sync(attribute, is_hash, should_hash)
    case attribute
    when :snapshots
      (Array(should_hash[:snapshots]).map(&:to_s) - Array(is_hash[:snapshots])).empty?
    when :flatten
      (should_hash[:flatten] == true) == !is_hash.key?(:clone_from)
    when :clone_from
      should_hash[:flatten] == true ? true : nil
    end
  end

  # Where each image of the catalog is, for the domains whose disks use it, and the snapshots it
  # will have, for its clones under --noop.
  def declared(name, resource)
    if resource[:snapshots].is_a?(Array) && resource[:ensure].to_s != 'absent'
      host.declare_snapshots(name, resource[:snapshots].map(&:to_s))
    end
    return unless PuppetX::Virtconverge::Ceph.declared?(resource) || host.declared_image(name).nil?
    host.declare_image(name, observe_ceph(resource), @secrets.fetch(name, []))
  end

  def name_of(title)
    return "#{title[:pool]}/#{title[:image]}" if title.respond_to?(:key?) && title.key?(:image)
    title.to_s
  end

  def name_from_hash(hash)
    return "#{hash[:pool]}/#{hash[:image]}" if hash[:pool] && hash[:image]
    title = hash[:title].to_s
    title.include?('/') ? title : nil
  end

  def to_puppet(name, spec)
    pool, image = name.split('/', 2)
    out = super
    out.delete(:name)
    out[:flatten] = false if spec.key?('clone_from')
    { title: name, pool: pool, image: image }.merge(out)
  end
end
