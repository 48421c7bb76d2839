# Removes the site of site.pp. Deleting a volume destroys its data: the engine refuses it unless
# the resource says allow_destroy => true. Puppet does not reverse the order for absent resources,
# so the relationships say it: domains first, then their volumes and network, then the pool.
virt_domain { ['web1', 'web2']:
  ensure => absent,
}

virt_volume { ['vc-images/web1-root', 'vc-images/web2-root']:
  ensure        => absent,
  allow_destroy => true,
  require       => Virt_domain['web1', 'web2'],
}

virt_network { 'vc-backend':
  ensure  => absent,
  require => Virt_domain['web1', 'web2'],
}

virt_pool { 'vc-images':
  ensure  => absent,
  require => Virt_volume['vc-images/web1-root', 'vc-images/web2-root'],
}
