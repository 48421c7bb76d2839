# frozen_string_literal: true

require_relative '../../../puppet_x/virtconverge/provider'
require_relative '../../../puppet_x/virtconverge/ceph'

# virt_pool through the virtconverge engine (the shared logic is in PuppetX::Virtconverge::Provider).
class Puppet::Provider::VirtPool::VirtPool < PuppetX::Virtconverge::Provider
  def kind
    'pool'
  end

  def section
    'pools'
  end

  # An rbd pool's plan and apply documents name its Ceph cluster (`ceph:`): ceph_conf and
  # ceph_user, else $CEPH_CONF or /etc/ceph/ceph.conf and client.admin.
  def document_ceph(_name, should, spec)
    spec['type'] == 'rbd' ? PuppetX::Virtconverge::Ceph.section(should) : nil
  end
end
