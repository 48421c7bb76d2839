# SPDX-License-Identifier: Apache-2.0
"""virtconverge for Salt: the ``virtconverge`` execution module (``modules/virtconverge_mod.py``)
and state module (``states/virtconverge_mod.py``).

Salt finds them through this package's ``salt.loader`` entry point (pyproject.toml), which names
the package itself: the loader then adds its ``modules/`` and ``states/`` directories to the ones it
searches. The files are named ``*_mod.py`` so that neither shadows this package on import; both
declare ``__virtualname__ = "virtconverge"``, the name states and CLI calls use.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("saltext.virtconverge")
except PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"
