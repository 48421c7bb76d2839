# frozen_string_literal: true

require_relative '../../../puppet_x/virtconverge/provider'
require_relative '../../../puppet_x/virtconverge/relationships'

# virt_domain through the virtconverge engine (the shared logic is in PuppetX::Virtconverge::Provider).
class Puppet::Provider::VirtDomain::VirtDomain < PuppetX::Virtconverge::Provider
  def kind
    'domain'
  end

  def section
    'domains'
  end

  # shutdown_timeout: seconds a guest gets to shut down (ACPI) before it is forced off;
  # allow_overcommit: the engine's allow_overcommit (a plan past the host's limits is applied).
  def request_options(should)
    options = super
    options[:shutdown_timeout] = should[:shutdown_timeout] unless should[:shutdown_timeout].nil?
    options[:allow_overcommit] = true if should[:allow_overcommit] == true
    options
  end

  # When the catalog declares a virt_host for the domain's connection, its plans and applies carry
  # that host's hosts: entry (connection and capacity limits), so the engine checks the limits and
  # refuses an over-commit (over_committed) unless allow_overcommit.
  def fleet_host(target)
    host.declared_host(target.connection)
  end

  # allow_restart => true is the domain's `restart: allowed`.
  def extend_entry(spec, should)
    spec['restart'] = 'allowed' if should[:allow_restart] == true
  end

  # A document with RBD disks needs the `ceph:` section: the domain's own ceph_conf / ceph_user,
  # else the cluster of the disk's rbd_image in the catalog, else the defaults ($CEPH_CONF or
  # /etc/ceph/ceph.conf, client.admin).
  def document_ceph(name, should, spec)
    images = PuppetX::Virtconverge::Relationships.referenced(spec['disks'], 'rbd')
    return nil if images.empty?
    return PuppetX::Virtconverge::Ceph.section(should) if PuppetX::Virtconverge::Ceph.declared?(should)
    images.each do |image|
      declared = host.declared_image(image)
      next if declared.nil?
      add_secrets(name, declared[:secrets])
      return declared[:ceph]
    end
    PuppetX::Virtconverge::Ceph.section({})
  end
end
