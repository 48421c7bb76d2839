# SPDX-License-Identifier: Apache-2.0
"""
Execution module for virtconverge: converge a libvirt host to a declared desired-state document.

Every function runs the ``virtconverge`` engine binary with an argument list (never a shell) and the
document as JSON on its standard input, and returns the engine's parsed JSON: ``plan`` and
``apply`` send one request to ``virtconverge serve`` (which answers with the plan, the report and
the plan's text for people), as does ``observe``; ``validate`` runs the CLI with ``--format json``.
Failures are read from the engine's JSON, by its stable ``code`` (docs/plan-format.md), never from
its words. The engine reads what libvirt holds on every call; there is no state file.

Configuration (minion config, grains or pillar, read with ``config.get``):

``virtconverge.binary``
    Path of the engine binary. Default: ``virtconverge`` found on ``PATH``.
``virtconverge.connection``
    Default libvirt URI when neither the call nor the document names one (passed to the engine as
    ``LIBVIRT_DEFAULT_URI``, so a document's own ``connection:`` still wins). Default:
    ``qemu:///system``. Not used for a fleet (a document with ``hosts:``), whose hosts: section
    names every connection.
``virtconverge.timeout``
    Seconds one engine call may take before it is killed. Default: 3600.
``virtconverge.ceph_conf``, ``virtconverge.ceph_user``
    The Ceph conf (monitors and keyring) and cephx user (without ``client.``; default ``admin``) for
    RBD images and disks: added as the ``ceph:`` section to a document dict that uses RBD and has
    none, and used by ``observe`` to include the RBD images. The cephx key stays in the keyring the
    conf names: it is never passed, returned or logged.

A *document* argument is a dict (a desired-state document, e.g. from pillar), or a path or list of
paths to YAML/JSON documents on the minion (``salt://`` URLs are fetched with ``cp.cache_file``).

A *fleet* is a document with a top-level ``hosts:`` section (each hypervisor's libvirt URI; every
domain names its ``host:``, and changing it migrates the domain). ``plan``, ``apply`` and ``observe``
pass it to the engine as it is, which connects to every host itself. Its connections are the
``hosts:`` section's alone: a ``connection`` argument with a fleet is an error (code
``invalid_value``; nothing is contacted), and the ``virtconverge.connection`` default of the minion
config is not used for it. Run a fleet from one minion that reaches every hypervisor (typically
the master's own; see salt/README.md, "Fleets").

CLI examples:

.. code-block:: bash

    salt '*' virtconverge.validate /srv/virt/site.yaml
    salt '*' virtconverge.plan /srv/virt/site.yaml
    salt '*' virtconverge.apply /srv/virt/site.yaml allow_restart=True
    salt '*' virtconverge.apply /srv/virt/site.yaml allow_overcommit=True
    salt '*' virtconverge.observe connection=qemu:///system
    salt '*' virtconverge.observe ceph_conf=/etc/ceph/ceph.conf ceph_user=libvirt
    salt-call virtconverge.plan /srv/virt/fleet.yaml          # a fleet: every host at once
    salt-call virtconverge.observe document=/srv/virt/fleet.yaml
"""

import copy
import json
import logging
import os
import subprocess

import salt.utils.path
import yaml
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


def _fleet_hosts(document, files=None):
    """The host names of a fleet (a document with a top-level ``hosts:`` section), or None for a
    document of one host. A dict is looked at directly. Document files (``files``, local paths) are
    read here only for this question, the engine reading them for everything else: one that does
    not load as YAML is left to the engine, which says what is wrong with it."""
    if isinstance(document, dict):
        if "hosts" not in document:
            return None
        hosts = document["hosts"]
        return sorted(str(h) for h in hosts) if isinstance(hosts, dict) else []
    found = None
    for path in files or []:
        try:
            with open(path, encoding="utf-8") as f:
                for doc in yaml.safe_load_all(f):
                    if isinstance(doc, dict) and "hosts" in doc:
                        found = sorted(set(found or []) | set(_fleet_hosts(doc)))
        except (OSError, ValueError, yaml.YAMLError):
            continue
    return found


def _refuse_connection_for_fleet(hosts, connection):
    """A fleet names each host's connection in its hosts: section; a connection argument beside
    it names one host, which is a contradiction: an error before anything is contacted."""
    if hosts is not None and connection:
        named = f" ({', '.join(hosts)})" if hosts else ""
        raise _error(
            f"connection={connection} names one host, but the document is a fleet: its hosts: "
            f"section{named} names each host's connection. Leave connection out for a fleet "
            "(the minion's virtconverge.connection is not used for one either)",
            {"code": "invalid_value", "transient": False})


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


def _summaries(diagnostics):
    """The error diagnostics' texts (summary, and detail after a colon)."""
    return [d.get("summary", "") + (": " + d["detail"] if d.get("detail") else "")
            for d in diagnostics or [] if d.get("severity") == "error"]


def _stderr_text(stderr):
    """The engine's own words on stderr, for a failure that gave no JSON (it died, or a usage
    error): its ``error:`` lines, else all of it."""
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return "\n".join(errors or lines) or "the engine failed without a message"


def _run(args, stdin=None, connection=None, expect_json=True, default_uri=True):
    """Runs the engine; returns (exit code, parsed stdout or text, stderr). ``default_uri=False``
    (a fleet) leaves ``virtconverge.connection`` out of the engine's environment."""
    binary, reason = _find_binary()
    if binary is None:
        raise CommandExecutionError(reason)
    argv = [binary] + list(args)
    if connection:
        argv += ["--connection", str(connection)]
    env = dict(os.environ, NO_COLOR="1")
    configured_uri = _config("virtconverge.connection") if default_uri else None
    if configured_uri and not connection:
        env["LIBVIRT_DEFAULT_URI"] = str(configured_uri)
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
            output = json.loads(output.splitlines()[0] if args[:1] == ["serve"] else output)
        except ValueError as exc:
            raise CommandExecutionError(
                f"the engine printed something that is not JSON ({exc}): {proc.stdout[:200]!r}\n"
                + _stderr_text(proc.stderr)) from exc
    elif expect_json:
        output = None
    return proc.returncode, output, proc.stderr


def _error(message, info):
    """A CommandExecutionError whose message is only the engine's (Salt would append ``info`` to
    it, and a plan is long); the parsed output stays available as ``exc.info``: ``code`` (the
    engine's stable code: connection_failed, needs_allow_destroy, ...), ``transient`` (a later
    run may succeed without a change), and the plan, report and text when there are some."""
    exc = CommandExecutionError(message)
    exc.info = info
    return exc


def _document_error(diagnostics):
    """The error of a document the engine finds invalid: its diagnostics."""
    errors = [d for d in diagnostics if d.get("severity") == "error"]
    return _error("\n".join(_summaries(diagnostics)) or "the document is invalid",
                  {"code": errors[0].get("code") if errors else "invalid_document",
                   "transient": False, "diagnostics": diagnostics})


def _serve(command, document, options, connection=None, fleet=False):
    """One request to a ``virtconverge serve`` that exits when it has answered (docs/serve.md):
    the document as JSON on its stdin, never on the command line. Returns the request's result;
    raises with the engine's code when it cannot be served, and with the diagnostics when the
    document is invalid."""
    options = {k: v for k, v in options.items() if v is not None}
    if connection:
        options["connection"] = str(connection)
    request = {"id": 1, "command": command, "options": options}
    if document is not None:
        request["document"] = document
    try:
        line = json.dumps(request)
    except (TypeError, ValueError) as exc:
        raise CommandExecutionError(f"the document cannot be written as JSON: {exc}") from exc
    rc, out, err = _run(["serve"], stdin=line + "\n", default_uri=not fleet)
    if not isinstance(out, dict):
        raise _error(_stderr_text(err), {"code": None, "transient": False, "exit_code": rc})
    if out.get("ok") is False:
        raise _error(out.get("error") or "the engine refused the request",
                     {"code": out.get("code"), "transient": bool(out.get("transient"))})
    result = out.get("result")
    if not isinstance(result, dict):
        raise _error("the engine answered without a result", {"code": "internal", "transient": False})
    if result.get("valid") is False:
        raise _document_error(result.get("diagnostics") or [])
    return result


def _cli_failure(out, err, rc):
    """The error of a CLI run that made no plan: its ``--format json`` error object
    (``{"plan": null, "apply": null, "error": {code, transient, message}}`` or ``diagnostics``)."""
    if isinstance(out, dict) and out.get("diagnostics") is not None and out.get("plan") is None:
        return _document_error(out["diagnostics"])
    error = out.get("error") if isinstance(out, dict) else None
    if isinstance(error, dict):
        return _error(error.get("message") or _stderr_text(err),
                      {"code": error.get("code"), "transient": bool(error.get("transient")),
                       "exit_code": rc})
    return _error(_stderr_text(err), {"code": None, "transient": False, "exit_code": rc})


def _flags(allow_destroy=False, allow_restart=False, prune=False, allow_overcommit=False):
    flags = []
    if allow_destroy:
        flags.append("--allow-destroy")
    if allow_restart:
        flags.append("--allow-restart")
    if prune:
        flags.append("--prune")
    if allow_overcommit:
        flags.append("--allow-overcommit")
    return flags


def _resolve(document, connection, allow_destroy, allow_restart, prune, ceph_conf, ceph_user,
             shutdown_timeout=None, allow_overcommit=False):
    """Returns (document dict, connection, fleet) for serve. A dict gets its ceph: section (_ceph).
    Paths are read by the engine itself (``plan FILE... --format json``: the files merged, YAML
    1.2, with their file:line:column in errors): its plan records the canonical merged document and
    the connection it used (none for a fleet), and serve plans that document again. ``fleet``: the
    document has hosts: (then ``connection`` must be None: _refuse_connection_for_fleet)."""
    if isinstance(document, dict):
        _refuse_connection_for_fleet(_fleet_hosts(document), connection)
        document, _ = _ceph(document, ceph_conf, ceph_user)
        _document_args(document)  # refuses what is not JSON
        return document, connection, _fleet_hosts(document) is not None
    document, ceph_args = _ceph(document, ceph_conf, ceph_user)
    files, stdin = _document_args(document)
    if connection:  # the files are read here only to refuse a connection beside a fleet
        _refuse_connection_for_fleet(_fleet_hosts(None, files), connection)
    args = (["plan"] + files + ["--format", "json"]
            + _flags(allow_destroy, allow_restart, prune, allow_overcommit) + ceph_args)
    if shutdown_timeout is not None:
        args += ["--shutdown-timeout", str(int(shutdown_timeout))]
    rc, out, err = _run(args, stdin=stdin, connection=connection)
    if not (isinstance(out, dict) and out.get("format_version") is not None):
        raise _cli_failure(out, err, rc)
    resolved = dict(out["document"])
    if out.get("ceph") and "ceph" not in resolved:
        resolved["ceph"] = out["ceph"]
    fleet = _fleet_hosts(resolved) is not None
    return resolved, None if fleet else (out.get("connection") or connection), fleet


def validate(document):
    """
    Parse and check a document; connects to nothing, changes nothing.

    Returns ``{"valid": bool, "resources": n, "errors": [...], "diagnostics": [...],
    "summary": str}``: ``diagnostics`` as the engine gives them (``severity``, ``code``,
    ``address``, ``summary``, ``detail``), ``errors`` their texts; each names the file
    (``<stdin>`` for a dict), the position, the resource and the field.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.validate /srv/virt/site.yaml
    """
    files, stdin = _document_args(document)
    rc, out, err = _run(["validate"] + files + ["--format", "json"], stdin=stdin)
    if not isinstance(out, dict) or "valid" not in out:
        raise _error(_stderr_text(err), {"code": None, "transient": False, "exit_code": rc})
    diagnostics = out.get("diagnostics") or []
    errors = _summaries(diagnostics)
    summary = (f"valid: {out.get('resources', 0)} resource(s)" if out["valid"]
               else f"{len(errors)} error(s)")
    return {"valid": bool(out["valid"]), "resources": out.get("resources", 0), "errors": errors,
            "diagnostics": diagnostics, "summary": summary}


def plan(document, connection=None, allow_destroy=False, allow_restart=False, prune=False,
         ceph_conf=None, ceph_user=None, shutdown_timeout=None, text=False, allow_overcommit=False):
    """
    Compute what ``apply`` would change, without changing anything.

    Returns the engine's JSON plan (docs/plan-format.md, format_version 2): ``changes`` with
    per-attribute ``before``, ``after`` and ``disruption`` (``none``/``live``/``restart``/
    ``destructive``) and the exact ``steps`` apply would run, ``applyable``, ``diagnostics`` (each
    with its stable ``code``), ``pending`` and ``summary``. With ``text=True``: ``{"plan": PLAN,
    "text": TEXT}``, TEXT being the plan for people as the engine renders it (as
    ``virtconverge plan`` prints it). A plan that cannot be applied (``applyable: false``, e.g. a
    destructive change without ``allow_destroy``) is returned too: its diagnostics say why.
    Raises ``CommandExecutionError`` when there is no plan (invalid document, unreachable libvirt
    or Ceph cluster); its ``info`` has the engine's ``code`` and ``transient``.

    ``ceph_conf``, ``ceph_user``: the Ceph cluster for RBD images and disks, over the document's
    ``ceph:`` section (see ``virtconverge.ceph_conf`` in the module documentation).

    A fleet (a document with ``hosts:``) is planned on every host at once: the plan's
    ``connection`` is empty, ``hosts`` names each host's, each change has its ``host`` (a domain
    that moves: ``action: migrate``, with ``from_host``) and ``summary.migrate`` counts the moves.
    ``connection`` must not be given with one.

    Capacity: a document with ``hosts:`` (a one-entry section for one host, too) has each host's
    limits (``cpu_allocation_ratio``, ``ram_allocation_ratio``, ``reserved_memory``) checked; the
    plan's ``capacity`` has the figures per host, and a plan that takes a host past a limit is not
    applyable (diagnostic code ``over_committed``, on ``host.<name>``) unless
    ``allow_overcommit=True``.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.plan /srv/virt/site.yaml allow_destroy=True
    """
    resolved, connection, fleet = _resolve(document, connection, allow_destroy, allow_restart,
                                           prune, ceph_conf, ceph_user, shutdown_timeout,
                                           allow_overcommit)
    result = _serve("plan", resolved, {
        "allow_destroy": bool(allow_destroy), "allow_restart": bool(allow_restart),
        "prune": bool(prune), "shutdown_timeout": shutdown_timeout, "text": True,
        "allow_overcommit": True if allow_overcommit else None}, connection, fleet)
    if text:
        return {"plan": result["plan"], "text": result.get("text", "")}
    return result["plan"]


def _converged(report):
    return bool(report.get("ok") and not report.get("verification_error")
                and all(o.get("ok") and o.get("converged", True) for o in report.get("outcomes", [])))


def apply(document, connection=None, allow_destroy=False, allow_restart=False, prune=False,
          parallelism=None, shutdown_timeout=None, ceph_conf=None, ceph_user=None,
          allow_overcommit=False):
    """
    Change the host to match the document: plan, run the plan's steps in dependency order,
    observe again.

    Returns ``{"plan": PLAN, "apply": REPORT, "text": TEXT}`` (docs/serve.md): ``apply`` is
    ``None`` when there was nothing to do; TEXT is the plan as the engine renders it for people.
    Raises ``CommandExecutionError`` with the engine's message when the plan was refused (nothing
    was changed) or a resource failed to converge; the exception's ``info`` then holds ``plan``,
    ``apply`` and ``text``, and ``code`` / ``transient`` (of the first failure), so callers can
    report what did change.

    ``ceph_conf``, ``ceph_user``: as for ``plan``. A fleet is applied on every host of its
    ``hosts:`` section (``connection`` must not be given); a domain whose ``host:`` changed is
    migrated (live when it runs), and its outcome's ``action`` is ``migrate``.

    A plan that takes a host of the document's ``hosts:`` past its cpu_allocation_ratio or
    ram_allocation_ratio is refused (nothing is changed; ``info["code"]`` is ``over_committed``)
    unless ``allow_overcommit=True``.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.apply /srv/virt/site.yaml allow_restart=True
    """
    resolved, connection, fleet = _resolve(document, connection, allow_destroy, allow_restart,
                                           prune, ceph_conf, ceph_user, shutdown_timeout,
                                           allow_overcommit)
    result = _serve("apply", resolved, {
        "allow_destroy": bool(allow_destroy), "allow_restart": bool(allow_restart),
        "prune": bool(prune), "parallelism": None if parallelism is None else int(parallelism),
        "shutdown_timeout": None if shutdown_timeout is None else int(shutdown_timeout),
        "text": True, "allow_overcommit": True if allow_overcommit else None}, connection, fleet)
    plan_, report = result.get("plan") or {}, result.get("apply")
    errors = [d for d in plan_.get("diagnostics", []) if d.get("severity") == "error"]
    if report is None and not errors:
        return result
    if report is not None and _converged(report):
        return result
    info = dict(result)
    if report is None:
        info.update(code=errors[0].get("code"), transient=bool(errors[0].get("transient")))
        message = "\n".join(_summaries(errors))
    else:
        failed = [o for o in report.get("outcomes", [])
                  if not o.get("ok") or not o.get("converged", True)]
        first = failed[0] if failed else {}
        info.update(code=first.get("code") or report.get("verification_code"),
                    transient=bool(first.get("transient")))
        message = "\n".join([f"{o.get('address')}: {o.get('error') or 'did not converge'}"
                             for o in failed]
                            + ([report["verification_error"]] if report.get("verification_error")
                               else []))
    raise _error(message or "the engine did not converge the host", info)


def observe(connection=None, ceph_conf=None, ceph_user=None, document=None):
    """
    What the host holds, as a desired-state document (planning it shows no changes).

    With a Ceph conf (``ceph_conf``, else ``virtconverge.ceph_conf``) the document also holds the
    cluster's RBD images (``rbd_images``) and the ``ceph:`` section (conf and user, never the key),
    so it plans as it is. ``ceph_user`` (else ``virtconverge.ceph_user``, else ``admin``) is the
    cephx user. ``ceph_conf=False`` leaves Ceph out even when it is configured.

    ``document``: a fleet (a dict, path(s) or ``salt://`` URL of a document with ``hosts:``):
    every host of its hosts: section is observed at once (``virtconverge observe FLEET``), and the
    result is a fleet document placing each resource on its host(s) (``host:`` of each domain).
    Only the hosts: section (and ``ceph:``) of the document is read; a ``connection`` with it is an
    error. ``ceph_conf`` / ``ceph_user`` rank over the document's ``ceph:`` section; a document
    dict without one gets ``virtconverge.ceph_conf`` / ``virtconverge.ceph_user`` (not with
    ``ceph_conf=False``).

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.observe connection=qemu:///system
        salt '*' virtconverge.observe ceph_conf=/etc/ceph/ceph.conf ceph_user=libvirt
        salt-call virtconverge.observe document=salt://virt/fleet.yaml
    """
    if document is not None:
        return _observe_fleet(document, connection, ceph_conf, ceph_user)
    options = {}
    conf = None if ceph_conf is False else (ceph_conf or _config("virtconverge.ceph_conf"))
    if conf:
        options["ceph"] = {"conf": str(conf)}
        user = ceph_user or _config("virtconverge.ceph_user")
        if user:
            options["ceph"]["user"] = str(user)
    return _serve("observe", None, options, connection)["document"]


def _observe_fleet(document, connection, ceph_conf, ceph_user):
    """observe with a document: the CLI's ``observe FILE... --format json`` (serve's observe takes
    no document), the document dict on its stdin."""
    files, stdin = _document_args(document)
    if connection:
        _refuse_connection_for_fleet(
            _fleet_hosts(document, None if isinstance(document, dict) else files), connection)
    args = ["observe"] + files + ["--format", "json"]
    if ceph_conf is not False:
        conf, user = ceph_conf, ceph_user
        if not conf and isinstance(document, dict) and document.get("ceph") is None:
            conf = _config("virtconverge.ceph_conf")
            user = user or (_config("virtconverge.ceph_user") if conf else None)
        if conf:
            args += ["--ceph-conf", str(conf)]
        if user:
            args += ["--ceph-user", str(user)]
    rc, out, err = _run(args, stdin=stdin, connection=connection, default_uri=False)
    if rc == 0 and isinstance(out, dict) and "version" in out:
        return out
    raise _cli_failure(out, err, rc)


def version():
    """
    The engine's version string.

    CLI example:

    .. code-block:: bash

        salt '*' virtconverge.version
    """
    rc, out, err = _run(["--version"], expect_json=False)
    if rc != 0:
        raise CommandExecutionError(_stderr_text(err))
    return out.strip()
