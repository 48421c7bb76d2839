"""The Salt extension as an operator gets it: the wheel that scripts/build-salt-ext.sh built
($VC_SALT_WHEEL_DIR) and the fresh venv that tests/salt/make-venv.sh installed it into, with Salt
from PyPI (the interpreter running these tests).

- The wheel holds exactly the package under salt/src, byte for byte, and its metadata carry the
  project's version (CMakeLists.txt), the licence, the dependency on Salt and the ``salt.loader``
  entry point; two builds give the same bytes; what the venv has installed is that wheel.
- Salt's loader finds the modules through the entry point alone: ``salt-call --local`` with a file
  root that holds nothing lists the execution and state functions and runs both kinds (the engine
  on libvirt's test driver, ``test:///default``), Salt's versions report names the extension, and
  nothing was synced into the minion's cache. In process, the loader resolves ``virtconverge.plan``
  to the installed file. Breaking the entry point (or the package layout it relies on) fails these.
"""

import glob
import importlib.metadata
import inspect
import json
import os
import re
import subprocess
import sysconfig
import zipfile

import pytest

from conftest import BINARY, PACKAGE, REPO, SALT_BIN, SALT_DIR

WHEEL_DIR = os.environ.get("VC_SALT_WHEEL_DIR", os.path.join(REPO, "build", "salt-ext"))
SOURCES = os.path.join(SALT_DIR, "src")
SITE = sysconfig.get_paths()["purelib"]


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(virtconverge\s+VERSION\s+([0-9.]+)", f.read()).group(1)


@pytest.fixture(scope="module")
def wheel():
    found = glob.glob(os.path.join(WHEEL_DIR, "saltext_virtconverge-*.whl"))
    assert len(found) == 1, f"want one wheel of scripts/build-salt-ext.sh in {WHEEL_DIR}, found {found}"
    with zipfile.ZipFile(found[0]) as z:
        yield os.path.basename(found[0]), {n: z.read(n) for n in z.namelist() if not n.endswith("/")}


def source_files():
    """{path inside the wheel: bytes} of the package's sources (salt/src, caches left out)."""
    files = {}
    for root, dirs, names in os.walk(SOURCES):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, SOURCES)] = f.read()
    return files


def test_the_wheel_holds_the_package_sources_and_nothing_else(wheel):
    name, files = wheel
    version = project_version()
    assert name == f"saltext_virtconverge-{version}-py3-none-any.whl"
    dist_info = f"saltext_virtconverge-{version}.dist-info/"
    package = {n: data for n, data in files.items() if not n.startswith(dist_info)}
    sources = source_files()
    assert sorted(package) == sorted(sources)
    assert sorted(package) == [
        "saltext/virtconverge/__init__.py",
        "saltext/virtconverge/modules/__init__.py",
        "saltext/virtconverge/modules/virtconverge_mod.py",
        "saltext/virtconverge/states/__init__.py",
        "saltext/virtconverge/states/virtconverge_mod.py",
    ]
    stale = [n for n in package if package[n] != sources[n]]
    assert not stale, f"the wheel is not built from the current sources: {stale}"
    assert sorted(n[len(dist_info):] for n in files if n.startswith(dist_info)) == [
        "METADATA", "RECORD", "WHEEL", "entry_points.txt", "licenses/LICENSE", "top_level.txt"]
    with open(os.path.join(REPO, "LICENSE"), "rb") as f:
        assert files[dist_info + "licenses/LICENSE"] == f.read()


def test_the_wheel_metadata_carry_version_licence_salt_and_the_loader_entry_point(wheel):
    _, files = wheel
    dist_info = f"saltext_virtconverge-{project_version()}.dist-info/"
    metadata = files[dist_info + "METADATA"].decode()
    fields = {}
    for line in metadata.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    assert fields["Name"] == ["saltext.virtconverge"]
    assert fields["Version"] == [project_version()]
    assert fields["License-Expression"] == ["Apache-2.0"]
    assert fields["Requires-Python"] == [">=3.10"]
    assert "salt>=3006" in fields["Requires-Dist"], fields["Requires-Dist"]
    entry_points = files[dist_info + "entry_points.txt"].decode().split()
    assert entry_points == ["[salt.loader]", "saltext.virtconverge", "=", "saltext.virtconverge"]


def test_two_builds_give_the_same_bytes(tmp_path):
    """With the same SOURCE_DATE_EPOCH (the script's default is the last commit's time; fixed here
    so a commit landing between the builds cannot make them differ)."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    built = []
    for out in (tmp_path / "a", tmp_path / "b"):
        p = subprocess.run([os.path.join(REPO, "scripts", "build-salt-ext.sh"), str(out)],
                           capture_output=True, text=True, timeout=300, env=env)
        assert p.returncode == 0, p.stdout + p.stderr
        with open(p.stdout.strip().splitlines()[-1], "rb") as f:
            built.append(f.read())
    assert built[0] == built[1]


def test_the_venv_has_that_wheel_installed(wheel):
    _, files = wheel
    dist = importlib.metadata.distribution(PACKAGE)
    assert dist.version == project_version()
    [entry_point] = [ep for ep in dist.entry_points if ep.group == "salt.loader"]
    assert (entry_point.name, entry_point.value) == ("saltext.virtconverge", "saltext.virtconverge")
    for name, data in files.items():
        if name.startswith("saltext/"):
            with open(os.path.join(SITE, name), "rb") as f:
                assert f.read() == data, f"{name} in {SITE} is not the wheel's"


# --- Salt's loader -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def minion(tmp_path_factory):
    """A salt-call --local config whose file root is an empty directory: the modules can only come
    from the installed package."""
    root = tmp_path_factory.mktemp("vcs-pkg")
    (root / "empty").mkdir()
    (root / "conf").mkdir()
    (root / "conf" / "minion").write_text(f"""id: vcs-pkg
root_dir: {root}/root
file_client: local
file_roots:
  base: [{root}/empty]
pillar_roots:
  base: [{root}/empty]
virtconverge.binary: {BINARY}
virtconverge.connection: test:///default
""")
    return root


def salt_call(minion, *args):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([os.path.join(SALT_BIN, "salt-call"), "--local", "-c", str(minion / "conf"),
                        "--out", "json", "--log-level", "warning"] + list(args),
                       capture_output=True, text=True, timeout=300, env=env)
    try:
        return json.loads(p.stdout)["local"]
    except (ValueError, KeyError):
        raise AssertionError(f"salt-call {args} printed no JSON (exit {p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}") from None


def test_salt_call_finds_the_modules_through_the_entry_point_with_nothing_in_the_file_roots(minion):
    assert salt_call(minion, "sys.list_functions", "virtconverge") == [
        "virtconverge.apply", "virtconverge.observe", "virtconverge.plan", "virtconverge.validate",
        "virtconverge.version"]
    states = salt_call(minion, "sys.list_state_functions", "virtconverge")
    for fun in ("converged", "domain_present", "domain_absent", "rbd_image_present", "host_present"):
        assert f"virtconverge.{fun}" in states, states
    # The engine and the extension come from one project version.
    assert salt_call(minion, "virtconverge.version") == f"virtconverge {project_version()}"

    # A state through the state module and the execution module, both loaded from the package.
    document = {"version": 1, "domains": {"vcs-pkg-web": {"vcpus": 1, "memory": "64MiB",
                                                          "state": "stopped"}}}
    out = salt_call(minion, "state.single", "virtconverge.converged", "name=pkg",
                    "document=" + json.dumps(document), "test=True")
    [ret] = out.values()
    assert ret["result"] is None, ret
    assert ret["changes"]["domain.vcs-pkg-web"]["action"] == "create", ret

    # Nothing was synced into the minion's extension module cache to get there.
    synced = glob.glob(str(minion / "root" / "**" / "extmods" / "**" / "virtconverge*"), recursive=True)
    assert synced == []


def test_salt_names_the_extension_in_its_versions_report(minion):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([os.path.join(SALT_BIN, "salt-call"), "--local", "-c", str(minion / "conf"),
                        "--versions-report"], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    extensions = p.stdout.split("Salt Extensions:", 1)[1].split("\n\n", 1)[0]
    assert re.search(rf"saltext\.virtconverge: {re.escape(project_version())}$", extensions, re.M), \
        p.stdout


def test_the_loader_resolves_the_functions_to_the_installed_files(minion):
    import salt.config  # pylint: disable=import-outside-toplevel
    import salt.loader  # pylint: disable=import-outside-toplevel

    opts = salt.config.minion_config(str(minion / "conf" / "minion"))
    functions = salt.loader.minion_mods(opts)
    plan = functions["virtconverge.plan"]
    path = inspect.getfile(getattr(plan, "func", plan))
    assert path == os.path.join(SITE, "saltext", "virtconverge", "modules", "virtconverge_mod.py")
