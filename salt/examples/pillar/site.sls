# A desired-state document (docs/document.md) as pillar data. Quote MAC addresses: YAML 1.1 reads
# an all-digit 52:54:00:12:34:56 as a base-60 integer.
virtconverge:
  version: 1
  networks:
    vcs-ex-backend:
      mode: isolated
      autostart: false
  domains:
    vcs-ex-db1:
      vcpus: 1
      max_vcpus: 2
      memory: 64MiB
      state: stopped
      interfaces:
        - network: vcs-ex-backend
          mac: "52:54:00:e5:00:01"
