# frozen_string_literal: true

require 'puppet/resource_api'
require_relative '../../puppet_x/virtconverge/field_attributes'

Puppet::ResourceApi.register_type(
  name: 'rbd_image',
  docs: <<-DOC,
    @summary A Ceph RBD image, converged by the virtconverge engine (through librbd).

    The title is `ceph_pool/image`. The cluster is named by `ceph_conf` (its monitors and the
    keyring) and `ceph_user`; the engine reads the cephx key from the keyring itself, so no
    attribute holds it and it never appears in Puppet's output or reports. Growing `size` is live
    (a running guest that uses the image is told its new size); shrinking, replacing (another
    `clone_from`) and deleting are destructive and fail the resource unless `allow_destroy => true`.
    The document's fields are attributes as schemas/desired-state.schema.json declares them
    (generated into lib/puppet_x/virtconverge/fields.rb); creating an image needs size, unless it
    is a clone (clone_from: it starts at its parent's size and is grown to size). features and
    snapshots are compared as sets (written in sorted order); after flatten => true, clone_from is
    history and no longer compared.

    @example
      rbd_image { 'rbd/golden':
        size      => '10GiB',
        features  => ['layering', 'exclusive-lock', 'object-map', 'fast-diff'],
        snapshots => ['base'],
        ceph_conf => '/etc/ceph/ceph.conf',
        ceph_user => 'libvirt',
      }
      rbd_image { 'rbd/web1-root':
        clone_from => 'rbd/golden@base',   # protected first; the clone requires Rbd_image['rbd/golden']
        size       => '20GiB',             # grown after cloning
        ceph_conf  => '/etc/ceph/ceph.conf',
        ceph_user  => 'libvirt',
      }
  DOC
  features: ['canonicalize', 'simple_get_filter', 'custom_insync'],
  title_patterns: [
    { pattern: %r{\A(?<pool>[^/]+)/(?<image>[^/]+)\z}, desc: '`ceph_pool/image`' },
    { pattern: %r{\A(?<image>[^/]+)\z}, desc: 'the image name alone, with `pool` set' },
  ],
  attributes: {
    ensure: {
      type: 'Enum[present, absent]',
      desc: 'Whether the image should exist. Deleting one (with its snapshots) is destructive: it needs allow_destroy; ' \
            'an image that clones depend on is not deleted.',
      default: 'present',
    },
    pool: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: 'The Ceph pool (initialised for RBD).',
      behaviour: :namevar,
    },
    image: {
      type: 'Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]',
      desc: 'The image name within the pool.',
      behaviour: :namevar,
    },
    # The document's fields, with the schema's types and descriptions (generated: fields.rb).
    **PuppetX::Virtconverge::FieldAttributes.attributes('rbd_image'),
    allow_destroy: {
      type: 'Boolean',
      desc: 'Permit destructive changes: shrinking, replacing or deleting the image.',
      default: false,
      behaviour: :parameter,
    },
    ceph_conf: {
      type: 'Optional[Variant[Pattern[/\A(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+\z/], Sensitive[Pattern[/\A(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+\z/]]]]',
      desc: 'The Ceph conf: its monitors and the keyring holding the key of ceph_user. Default: $CEPH_CONF, else ' \
            '/etc/ceph/ceph.conf. May be Sensitive.',
      behaviour: :parameter,
    },
    ceph_user: {
      type: 'Optional[Variant[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/], Sensitive[Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}\z/]]]]',
      desc: "The cephx client without 'client.' (default admin); `mon 'profile rbd'`, `osd 'profile rbd pool=POOL'` " \
            'caps are enough. May be Sensitive.',
      behaviour: :parameter,
    },
    connection: {
      type: 'Optional[String[1]]',
      desc: 'The libvirt URI (for the domains that use the image). Default: $LIBVIRT_DEFAULT_URI, then qemu:///system.',
      behaviour: :parameter,
    },
  },
)

require_relative '../../puppet_x/virtconverge/ceph'
require_relative '../../puppet_x/virtconverge/relationships'
PuppetX::Virtconverge::Relationships.add_rbd_image_autorequires(Puppet::Type.type(:rbd_image))
PuppetX::Virtconverge::Ceph.accept_sensitive(Puppet::Type.type(:rbd_image))
