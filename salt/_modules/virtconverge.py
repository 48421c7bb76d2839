# SPDX-License-Identifier: Apache-2.0
"""
Execution module for virtconverge: converge a libvirt host to a declared desired-state document.

Every function runs the ``virtconverge`` engine binary with an argument list (never a shell) and the
document as JSON on its standard input, and returns the engine's parsed JSON. The engine reads what
libvirt holds on every call; there is no state file.

Configuration (minion config, grains or pillar, read with ``config.get``):

``virtconverge.binary``
    Path of the engine binary. Default: ``virtconverge`` found on ``PATH``.
``virtconverge.connection``
    Default libvirt URI when neither the call nor the document names one (passed to the engine as
    ``LIBVIRT_DEFAULT_URI``, so a document's own ``connection:`` still wins). Default:
    ``qemu:///system``.
``virtconverge.timeout``
    Seconds one engine call may take before it is killed. Default: 3600.
``virtconverge.ceph_conf``, ``virtconverge.ceph_user``
    The Ceph conf (monitors and keyring) and cephx user (without ``client.``; default ``admin``) for
    RBD images and disks: added as the ``ceph:`` section to a document dict that uses RBD and has
    none, and used by ``observe`` to include the RBD images. The cephx key stays in the keyring the
    conf names: it is never passed, returned or logged.

A *document* argument is a dict (a desired-state document, e.g. from pillar), or a path or list of
paths to YAML/JSON documents on the minion (``salt://`` URLs are fetched with ``cp.cache_file``).

CLI examples:

.. code-block:: bash

    salt '*' virtconverge.validate /srv/virt/site.yaml
    salt '*' virtconverge.plan /srv/virt/site.yaml
    salt '*' virtconverge.apply /srv/virt/site.yaml allow_restart=True
    salt '*' virtconverge.observe connection=qemu:///system
    salt '*' virtconverge.observe ceph_conf=/etc/ceph/ceph.conf ceph_user=libvirt
"""

import copy
import json
import logging
import os
import subprocess

import salt.utils.path
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "virtconverge"

_DEFAULT_TIMEOUT = 3600


def _find_binary(loading=False):
    """The engine binary and None, or None and why not. While loading (``__virtual__``) only the
    minion config is read; afterwards everything ``config.get`` reads (grains, pillar, master)."""
    if loading:
        configured = (__opts__ or {}).get("virtconverge.binary")  # pylint: disable=undefined-variable
    else:
        configured = _config("virtconverge.binary")
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured, None
        return None, f"virtconverge.binary is set to {configured}, which is not an executable file"
    found = salt.utils.path.which("virtconverge")
    if found:
        return found, None
    return None, ("the virtconverge binary was not found on PATH; install it or set "
                  "virtconverge.binary in the minion config")


def __virtual__():
    binary, reason = _find_binary(loading=True)
    if binary is None:
        return (False, f"virtconverge execution module cannot be loaded: {reason}")
    return __virtualname__


def _config(key, default=None):
    try:
        value = __salt__["config.get"](key)  # pylint: disable=undefined-variable
    except (NameError, KeyError, TypeError):
        value = (__opts__ or {}).get(key)  # pylint: disable=undefined-variable
    return default if value in (None, "") else value


def _document_args(document):
    """Returns (argv file arguments, stdin text) for a document dict or path(s)."""
    if document is None:
        raise CommandExecutionError("no document given: pass a desired-state dict or a path")
    if isinstance(document, dict):
        try:
            return ["-"], json.dumps(document)
        except (TypeError, ValueError) as exc:
            raise CommandExecutionError(f"the document cannot be written as JSON: {exc}") from exc
    paths = [document] if isinstance(document, str) else document
    if not isinstance(paths, (list, tuple)) or not paths or not all(isinstance(p, str) for p in paths):
        raise CommandExecutionError(
            "document must be a dict, a path, or a list of paths, not " + type(document).__name__)
    files = []
    for path in paths:
        if path.startswith("salt://"):
            cached = __salt__["cp.cache_file"](path)  # pylint: disable=undefined-variable
            if not cached:
                raise CommandExecutionError(f"{path}: not found on the master")
            path = cached
        if not os.path.isfile(path):
            raise CommandExecutionError(f"{path}: no such document file")
        files.append(path)
    return files, None


def _uses_rbd(document):
    """True when a document dict declares RBD images, an RBD disk or an rbd pool."""
    if document.get("rbd_images"):
        return True
    for pool in (document.get("pools") or {}).values():
        if isinstance(pool, dict) and pool.get("type") == "rbd":
            return True
    for domain in (document.get("domains") or {}).values():
        for disk in (domain.get("disks") or []) if isinstance(domain, dict) else []:
            if isinstance(disk, dict) and "rbd" in disk:
                return True
    return False


def _ceph(document, ceph_conf=None, ceph_user=None):
    """The Ceph cluster for a document: returns (document, extra argv).

    A dict gets its ``ceph:`` section here (a copy; the caller's dict, often pillar, is not
    touched): ``ceph_conf``/``ceph_user`` override the document's own fields; a document that uses
    RBD and has no section gets one from them or, failing that, from ``virtconverge.ceph_conf`` /
    ``virtconverge.ceph_user``. A document without RBD gets none (the engine would contact the
    cluster for nothing). For document files the arguments become ``--ceph-conf``/``--ceph-user``,
    which rank over the files' ``ceph:`` sections. Only the conf path and the user name are passed:
    the key is read by the engine from the keyring the conf names."""
    if not isinstance(document, dict):
        args = []
        if ceph_conf:
            args += ["--ceph-conf", str(ceph_conf)]
        if ceph_user:
            args += ["--ceph-user", str(ceph_user)]
        return document, args
    section = document.get("ceph")
    if isinstance(section, dict):
        section = dict(section)
        if ceph_conf:
            section["conf"] = str(ceph_conf)
        if ceph_user:
            section["user"] = str(ceph_user)
    elif section is None and _uses_rbd(document):
        conf = ceph_conf or _config("virtconverge.ceph_conf")
        user = ceph_user or _config("virtconverge.ceph_user")
        if not conf:
            return document, []  # the engine says that RBD needs the ceph: section
        section = {"conf": str(conf)}
        if user:
            section["user"] = str(user)
    else:
        return document, []
    document = copy.copy(document)
    document["ceph"] = section
    return document, []


def _error_text(stderr, output=None):
    """The engine's message: its ``error:`` lines, else all of stderr, plus plan diagnostics."""
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    message = "\n".join(errors or lines)
    plan = (output or {}).get("plan") if isinstance(output, dict) else None
    if isinstance(output, dict) and "format_version" in output:
        plan = output
    if plan:
        details = [d.get("summary", "") + (": " + d["detail"] if d.get("detail") else "")
                   for d in plan.get("diagnostics", []) if d.get("severity") == "error"]
        outcomes = ((output or {}).get("apply") or {}).get("outcomes") or []
        details += [f"{o.get('address')}: {o.get('error')}" for o in outcomes if not o.get("ok")]
        if details:
            message = "\n".join(details + ([message] if message else []))
    return message or "the engine failed without a message"


def _run(args, stdin=None, connection=None, expect_json=True):
    """Runs the engine; returns (exit code, parsed stdout or text, stderr)."""
    binary, reason = _find_binary()
    if binary is None:
        raise CommandExecutionError(reason)
    argv = [binary] + list(args)
    if connection:
        argv += ["--connection", str(connection)]
    env = dict(os.environ, NO_COLOR="1")
    default_uri = _config("virtconverge.connection")
    if default_uri and not connection:
        env["LIBVIRT_DEFAULT_URI"] = str(default_uri)
    timeout = int(_config("virtconverge.timeout", _DEFAULT_TIMEOUT))
    log.debug("virtconverge: running %s", argv)
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env,
                              timeout=timeout, check=False, shell=False)
    except subprocess.TimeoutExpired as exc:
        raise CommandExecutionError(f"{' '.join(argv[:2])} did not finish within {timeout} s") from exc
    except OSError as exc:
        raise CommandExecutionError(f"cannot run {binary}: {exc}") from exc
    output = proc.stdout
    if expect_json and output.strip():
        try:
            output = json.loads(output)
        except ValueError as exc:
            raise CommandExecutionError(
                f"the engine printed something that is not JSON ({exc}): {proc.stdout[:200]!r}\n"
                + _error_text(proc.stderr)) from exc
    elif expect_json:
        output = None
    return proc.returncode, output, proc.stderr


def _error(message, info):
    """A CommandExecutionError whose message is only the engine's (Salt would append ``info`` to
    it, and a plan is long); the parsed output stays available as ``exc.info``."""
    exc = CommandExecutionError(message)
    exc.info = info
    return exc


def _flags(allow_destroy=False, allow_restart=False, prune=False):
    flags = []
    if allow_destroy:
        flags.append("--allow-destroy")
    if allow_restart:
        flags.append("--allow-restart")
    if prune:
        flags.append("--prune")
    return flags


def validate(document):
    """
    Parse and check a document; connects to nothing, changes nothing.

    Returns ``{"valid": bool, "errors": [...], "summary": str}``; each error names the file (``<stdin>``
    for a dict), the position, the resource and the field.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.validate /srv/virt/site.yaml
    """
    files, stdin = _document_args(document)
    rc, out, err = _run(["validate"] + files, stdin=stdin, expect_json=False)
    errors = [line[len("error:"):].strip() for line in err.splitlines() if line.startswith("error:")]
    if rc == 0:
        return {"valid": True, "errors": [], "summary": out.strip()}
    if not errors:
        raise CommandExecutionError(_error_text(err))
    return {"valid": False, "errors": errors, "summary": f"{len(errors)} error(s)"}


def plan(document, connection=None, allow_destroy=False, allow_restart=False, prune=False,
         ceph_conf=None, ceph_user=None):
    """
    Compute what ``apply`` would change, without changing anything.

    Returns the engine's JSON plan (docs/plan-format.md): ``changes`` with per-attribute ``before``,
    ``after`` and ``disruption`` (``none``/``live``/``restart``/``destructive``), ``applyable``,
    ``diagnostics``, ``pending`` and ``summary``. A plan that cannot be applied (``applyable: false``,
    e.g. a destructive change without ``allow_destroy``) is returned too: its diagnostics say why.
    Raises ``CommandExecutionError`` when there is no plan (invalid document, unreachable libvirt
    or Ceph cluster).

    ``ceph_conf``, ``ceph_user``: the Ceph cluster for RBD images and disks, over the document's
    ``ceph:`` section (see ``virtconverge.ceph_conf`` in the module documentation).

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.plan /srv/virt/site.yaml allow_destroy=True
    """
    document, ceph_args = _ceph(document, ceph_conf, ceph_user)
    files, stdin = _document_args(document)
    rc, out, err = _run(["plan"] + files + ["--format", "json"]
                        + _flags(allow_destroy, allow_restart, prune) + ceph_args,
                        stdin=stdin, connection=connection)
    if isinstance(out, dict) and out.get("format_version") is not None:
        return out
    raise _error(_error_text(err), {"exit_code": rc})


def apply(document, connection=None, allow_destroy=False, allow_restart=False, prune=False,
          parallelism=None, shutdown_timeout=None, ceph_conf=None, ceph_user=None):
    """
    Change the host to match the document: plan, apply in dependency order, observe again.

    Returns ``{"plan": PLAN, "apply": REPORT}`` (docs/serve.md); ``apply`` is ``None`` when there was
    nothing to do. Raises ``CommandExecutionError`` with the engine's message when the plan was refused
    (nothing was changed) or a resource failed to converge; the exception's ``info`` then holds the
    parsed output (``plan`` and ``apply``), so callers can report what did change.

    ``ceph_conf``, ``ceph_user``: as for ``plan``.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.apply /srv/virt/site.yaml allow_restart=True
    """
    document, ceph_args = _ceph(document, ceph_conf, ceph_user)
    files, stdin = _document_args(document)
    args = (["apply"] + files + ["--format", "json"] + _flags(allow_destroy, allow_restart, prune)
            + ceph_args)
    if parallelism is not None:
        args += ["--parallelism", str(int(parallelism))]
    if shutdown_timeout is not None:
        args += ["--shutdown-timeout", str(int(shutdown_timeout))]
    rc, out, err = _run(args, stdin=stdin, connection=connection)
    if rc == 0 and isinstance(out, dict) and "plan" in out:
        return out
    info = out if isinstance(out, dict) else {}
    info = dict(info, exit_code=rc)
    raise _error(_error_text(err, out), info)


def observe(connection=None, ceph_conf=None, ceph_user=None):
    """
    What the host holds, as a desired-state document (planning it shows no changes).

    With a Ceph conf (``ceph_conf``, else ``virtconverge.ceph_conf``) the document also holds the
    cluster's RBD images (``rbd_images``) and the ``ceph:`` section (conf and user, never the key),
    so it plans as it is. ``ceph_user`` (else ``virtconverge.ceph_user``, else ``admin``) is the
    cephx user. ``ceph_conf=False`` leaves Ceph out even when it is configured.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.observe connection=qemu:///system
        salt '*' virtconverge.observe ceph_conf=/etc/ceph/ceph.conf ceph_user=libvirt
    """
    args = ["observe", "--format", "json"]
    conf = None if ceph_conf is False else (ceph_conf or _config("virtconverge.ceph_conf"))
    if conf:
        args += ["--ceph-conf", str(conf)]
        user = ceph_user or _config("virtconverge.ceph_user")
        if user:
            args += ["--ceph-user", str(user)]
    rc, out, err = _run(args, connection=connection)
    if rc != 0 or not isinstance(out, dict):
        raise _error(_error_text(err), {"exit_code": rc})
    return out


def version():
    """
    The engine's version string.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.version
    """
    rc, out, err = _run(["--version"], expect_json=False)
    if rc != 0:
        raise CommandExecutionError(_error_text(err))
    return out.strip()
