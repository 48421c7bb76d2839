# Changes QEMU cannot make live (max_vcpus, max_memory, cpu, virt_type, lowering vcpus) are written
# to the persistent config and reported as pending restart; allow_restart => true restarts the
# guest (ACPI shutdown, forced off after shutdown_timeout seconds) to apply them now.
virt_domain { 'web1':
  max_vcpus => 8,
  cpu       => { 'mode' => 'host-model' },
}

virt_domain { 'web2':
  max_vcpus        => 8,
  allow_restart    => true,
  shutdown_timeout => 120,
}
