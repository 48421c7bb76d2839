#!/usr/bin/env bash
# Installs Puppet and the Puppet Resource API from Debian's own packages, for the Puppet module
# (puppet/) and its tests and benchmark: puppet 7, ruby-puppet-resource-api (the module's one
# runtime dependency: Debian's puppet-agent does not pull it in), and rspec, rspec-puppet and
# puppetlabs_spec_helper for the unit tests. Idempotent: a machine that has them all touches
# neither apt nor the network. Run as root; scripts/install-deps.sh calls it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  ruby puppet ruby-puppet-resource-api
  ruby-rspec ruby-rspec-puppet ruby-puppetlabs-spec-helper
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps-puppet: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
