hypervisor:
  images_path: /var/lib/virtconverge/vcs-ex-images
  web1_vcpus: 1
  web1_data_capacity: 32MiB
