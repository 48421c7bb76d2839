# frozen_string_literal: true

require_relative 'values'

module PuppetX
  module Virtconverge
    # How a resource names its Ceph cluster: the `ceph_conf` and `ceph_user` parameters of
    # rbd_image (and of virt_domain, for RBD disks) become the engine's `ceph: {conf, user}`: the
    # options of an `observe` request and the `ceph:` section of a plan or apply document. The
    # cephx key never passes through Puppet: the engine reads it from the keyring the conf names.
    module Ceph
      DEFAULT_CONF = '/etc/ceph/ceph.conf'
      DEFAULT_USER = 'admin'

      module_function

      # The conf a resource that names none uses: $CEPH_CONF (as for the ceph and rbd tools), else
      # /etc/ceph/ceph.conf.
      def default_conf(env = ENV)
        conf = env['CEPH_CONF']
        conf.nil? || conf.empty? ? DEFAULT_CONF : conf
      end

      # { 'conf' => ..., 'user' => ... } of a resource hash (Sensitive values unwrapped; defaults
      # filled in, so that equal clusters give equal sections and share one engine connection).
      def section(hash)
        conf = Values.unwrap(hash[:ceph_conf])
        user = Values.unwrap(hash[:ceph_user])
        { 'conf' => conf.nil? ? default_conf : conf, 'user' => user.nil? ? DEFAULT_USER : user }
      end

      # Whether a resource hash names its cluster itself.
      def declared?(hash)
        !hash[:ceph_conf].nil? || !hash[:ceph_user].nil?
      end

      # ceph_conf and ceph_user may be Sensitive. Puppet redacts only properties by itself and warns
      # that a Sensitive parameter "cannot be automatically redacted"; the provider redacts these
      # two from everything it logs or raises, so the type marks them sensitive without the warning.
      def accept_sensitive(type, names = [:ceph_conf, :ceph_user])
        type.send(:define_method, :set_sensitive_parameters) do |sensitive|
          own = sensitive & names
          own.each { |name| parameter(name)&.sensitive = true }
          super(sensitive - own)
        end
        type.send(:protected, :set_sensitive_parameters)
      end
    end
  end
end
