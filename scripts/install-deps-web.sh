#!/usr/bin/env bash
# Installs what the review page's browser test (tests/integration/test_server_page.py) needs:
# Debian's headless Chromium and its WebDriver (chromium, chromium-driver), and Selenium (from
# PyPI) in a dedicated venv made with Debian's python3, so a fresh Debian 12 (and CI) gets the
# same interpreter as a developer. Selenium talks to Debian's chromedriver over the W3C WebDriver
# protocol; nothing is downloaded at run time (Selenium Manager is not used: the driver's path is
# given).
# Idempotent; run as root. The venv: $VC_WEB_VENV, default /opt/virtconverge-web-venv.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
venv=${VC_WEB_VENV:-/opt/virtconverge-web-venv}

packages=(chromium chromium-driver fonts-dejavu-core python3 python3-venv python3-jsonschema)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps-web: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "install-deps-web: creating $venv"
  # --system-site-packages: the test also uses Debian's python3-jsonschema and python3-yaml.
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# The version the test was made with (override to try another).
requirements=("selenium==${VC_SELENIUM_VERSION:-4.51.0}")
# Quick check first, so a machine that has everything does not touch the network.
if "$venv/bin/python" - "${requirements[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for req in sys.argv[1:]:
    name, _, pinned = req.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if pinned and have != pinned:
        sys.exit(1)
PY
then
  exit 0
fi
echo "install-deps-web: installing ${requirements[*]} into $venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "${requirements[@]}"
"$venv/bin/python" -c 'import selenium; print("selenium", selenium.__version__)'
chromium --version
chromedriver --version
