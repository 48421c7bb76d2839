# SPDX-License-Identifier: Apache-2.0
"""
States for virtconverge: declare pools, volumes, networks and domains of a libvirt host, Ceph RBD
images, or a whole desired-state document, and converge the host to them with the virtconverge
engine.

The state functions are thin: each builds a desired-state document (docs/document.md) and makes
one engine call through the ``virtconverge`` execution module:

- ``test=True``: ``virtconverge.plan``. ``result`` is ``None`` when something would change, and
  ``changes`` holds the predicted changes; nothing is changed.
- otherwise: ``virtconverge.apply``, which plans, returns early when nothing differs, applies, and
  observes the host again to verify every changed attribute (its report is the re-check).

``changes`` is keyed by resource address (``domain.web1``, ``volume.images/web1-root``,
``rbd_image.rbd/web1-root``)::

    domain.web1:
      action: update               # create | update | replace | delete
      disruption: live             # the worst of its attributes: none | live | restart | destructive
      attributes:
        vcpus: {old: 1, new: 2, disruption: live, reason: hot-plug}
      steps: [hot-plug vCPUs of domain.web1 to 2]          # what the engine did (test mode: would do)
      pending: {max_memory: {running: 1GiB, next_boot: 2GiB}}   # restart changes not yet live

A fleet (a document with ``hosts:``, each domain on its ``host:``) is converged by ``converged``
on every host at once, from one minion that reaches every hypervisor (the master's own: see
salt/README.md, "Fleets"). Its addresses carry the host (``domain.web1@hv-a``), each change has
its ``host``, and a domain whose ``host:`` changed is migrated (live when it runs)::

    domain.web1@hv-b:
      action: migrate
      disruption: live
      host: hv-b
      from_host: hv-a
      migration: "host: hv-a -> hv-b (live migration, memory only (no disks))"
      attributes:
        host: {old: hv-a, new: hv-b, disruption: live, reason: "live migration, memory only (no disks)"}
      steps: [migrate domain.web1@hv-a live to hv-b (memory only)]

The hosts: section names every connection: ``connection`` (or a per-call default) with a fleet
fails the state before anything is contacted, and the minion's ``virtconverge.connection`` is not
used for a fleet.

The ``<kind>_present`` states take the kind's fields as keyword arguments, whatever they are: the
fields are those schemas/desired-state.schema.json declares, and the engine, which reads the same
schema, checks them (no list of them is kept here, so a field the schema gains is an argument at
once; one it lacks fails the state with the engine's ``unknown_field`` error naming it). Only the
arguments that are not fields are spelled out (``connection``, ``allow_destroy``, ``pool``, ...),
and ``domain_state``, the domain's ``state``.

A field left out is not managed, and nothing is filled in from what the host has: the document
holds exactly the fields the state was given (a partial declaration, docs/document.md). A state of
a resource that exists may give just the fields it manages (``autostart: True``, just ``vcpus``);
what creating needs (a domain's ``vcpus`` and ``memory``, a volume's ``capacity``, an RBD image's
``size``, a pool's ``type`` and place) is asked by the engine only when the plan would create the
resource: then the plan is refused by its ``missing_field`` error (``domains.web9: creating needs
memory``), the state fails in both modes, and nothing is changed.

A destructive change (deleting or shrinking a volume, replacing a resource) is refused unless
``allow_destroy: True``; the state then fails and changes nothing. A change that needs a restart is
written to the domain's persistent config and reported as pending, unless ``allow_restart: True``,
which restarts the guest gracefully.

.. code-block:: yaml

    web1:
      virtconverge.domain_present:
        - vcpus: 2
        - max_vcpus: 4
        - memory: 1GiB
        - disks:
          - volume: images/web1-root
            target: vda

    hypervisor:
      virtconverge.converged:
        - document: {{ pillar['virtconverge'] | json }}
        - allow_restart: False

RBD images and RBD disks need a Ceph cluster: ``ceph_conf`` (the conf naming the monitors and the
keyring) and ``ceph_user`` (the cephx user, default ``admin``) on the state, else
``virtconverge.ceph_conf`` / ``virtconverge.ceph_user`` from the minion config. The key stays in the
keyring; it never appears in a return, a comment or a log.

.. code-block:: yaml

    rbd/web1-root:
      virtconverge.rbd_image_present:
        - clone_from: rbd/golden@base
        - size: 20GiB
"""

import json
import os

import salt.utils.args
from salt.exceptions import CommandExecutionError

__virtualname__ = "virtconverge"


def __virtual__():
    if "virtconverge.apply" in __salt__:  # pylint: disable=undefined-variable
        return __virtualname__
    return (False, "the virtconverge execution module is not available (is the virtconverge "
                   "binary installed, or virtconverge.binary set?)")


# --- reading the engine's answers -------------------------------------------------------------
# The plan's text for people is the engine's (serve's ``text``, as ``virtconverge plan`` prints it);
# nothing here renders a plan. Diagnostics and outcomes are told apart by their ``code`` and
# ``related`` fields, never by their words.

def _show(value):
    """A value in a line of this module's own (a pending restart): strings bare, else JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _attribute(attr):
    entry = {"old": attr.get("before"), "new": attr.get("after"), "disruption": attr.get("disruption")}
    if attr.get("reason"):
        entry["reason"] = attr["reason"]
    return entry


def _migration(change):
    """The line a migrate change is told by: ``host: A -> B (the engine's reason)``, the reason
    being that of its ``host`` attribute (live migration, what is copied; a stopped definition
    moved)."""
    reason = next((a.get("reason") for a in change.get("attributes", []) if a.get("path") == "host"),
                  "")
    if not reason:
        live = any(step.get("op") == "migrate" and (step.get("args") or {}).get("live")
                   for step in change.get("steps", []))
        reason = "live migration" if live else "the definition moves"
    return f"host: {change.get('from_host')} -> {change.get('host')} ({reason})"


def _changes(plan, report=None):
    """Salt's ``changes``: per resource, per attribute old/new and the disruption class, and the
    steps of the plan (test mode: what apply would run). With an apply report, only resources the
    engine changed (ok), with the steps it took. In a fleet, each also has its ``host``; a
    migration its ``from_host`` and a ``migration`` line."""
    outcomes = {o["address"]: o for o in (report or {}).get("outcomes", [])}
    pending = {}
    for item in (report or {}).get("pending", []):
        pending.setdefault(item["address"], {})[item["path"]] = {
            "running": item.get("live"), "next_boot": item.get("config")}
    result = {}
    for change in plan.get("changes", []):
        address = change["address"]
        outcome = outcomes.get(address)
        if report is not None and (outcome is None or not outcome.get("ok")):
            continue
        entry = {
            "action": change["action"],
            "disruption": change["disruption"],
            "attributes": {a["path"]: _attribute(a) for a in change.get("attributes", [])},
        }
        if change.get("host") is not None:
            entry["host"] = change["host"]
        if change["action"] == "migrate":
            entry["from_host"] = change.get("from_host")
            entry["migration"] = _migration(change)
        if outcome is not None:
            entry["steps"] = list(outcome.get("steps", []))
        else:
            entry["steps"] = [step.get("description", "") for step in change.get("steps", [])]
        if address in pending:
            entry["pending"] = pending[address]
        result[address] = entry
    return result


def _apply_text(report):
    """What apply did, resource by resource: the engine's step descriptions and errors."""
    lines = ["Applying:"]
    for outcome in report.get("outcomes", []):
        for step in outcome.get("steps", []):
            lines.append(f"  {outcome['address']}: {step}")
        if not outcome.get("ok"):
            transient = " (transient: a later run may succeed)" if outcome.get("transient") else ""
            lines.append(f"  {outcome['address']}: FAILED [{outcome.get('code')}]: "
                         f"{outcome.get('error')}{transient}")
        elif not outcome.get("converged", True):
            lines.append(f"  {outcome['address']}: not converged: "
                         + "; ".join(str(r) for r in outcome.get("remaining", [])))
    for item in report.get("pending", []):
        lines.append(f"  {item['address']}: {item['path']} pending restart (running "
                     f"{_show(item.get('live'))}, next boot {_show(item.get('config'))})")
    if report.get("verification_error"):
        lines.append(f"Verification failed [{report.get('verification_code')}]: "
                     f"{report['verification_error']}")
    return "\n".join(lines)


def _target(plan):
    """What the plan is of, for a comment: the host's URI, or a fleet's hosts."""
    hosts = plan.get("hosts")
    if isinstance(hosts, dict) and hosts:
        return f"The fleet ({', '.join(sorted(hosts))})"
    return f"The host ({plan.get('connection', '')})"


def _moves(count):
    """" (N migration(s) between hosts)" for a fleet's plan or apply that moves domains."""
    return f" ({count} migration(s) between hosts)" if count else ""


def _skipped(plan):
    """Hosts a fleet plan left out as unreachable, one line each (none unless asked for)."""
    return "".join(f"Host {name} was skipped (unreachable): {host['skipped']}\n"
                   for name, host in sorted((plan.get("hosts") or {}).items())
                   if isinstance(host, dict) and host.get("skipped"))


def _errors(plan):
    return [d for d in plan.get("diagnostics", []) if d.get("severity") == "error"]


def _waits_for(plan):
    """The resources the plan's errors say are missing, when every error is only that (code
    missing_reference naming a resource: an earlier state of the run may create it); else None."""
    errors = _errors(plan)
    if not errors or not all(d.get("code") == "missing_reference" and d.get("related")
                             for d in errors):
        return None
    return sorted({d["related"] for d in errors})


def _needs_ceph(diagnostic):
    # A missing reference that names no resource is the missing ceph: section.
    return diagnostic.get("code") == "missing_reference" and not diagnostic.get("related")


def _refusal(plan):
    """How to permit what the plan refuses, by the codes of its errors."""
    codes = {d.get("code") for d in _errors(plan)}
    hints = []
    if "needs_allow_destroy" in codes:
        hints.append("set allow_destroy: True to permit it")
    if "needs_allow_restart" in codes:
        hints.append("set allow_restart: True to permit it")
    if "over_committed" in codes:
        hosts = sorted({d.get("address", "").split(".", 1)[-1] for d in _errors(plan)
                        if d.get("code") == "over_committed"})
        hints.append(f"it takes host {', '.join(hosts)} past its cpu_allocation_ratio or "
                     "ram_allocation_ratio: raise the limit in hosts:, or set allow_overcommit: True "
                     "to permit it")
    if any(_needs_ceph(d) for d in _errors(plan)):
        hints.append("set ceph_conf (and ceph_user) on the state, or virtconverge.ceph_conf in the "
                     "minion config")
    return hints


def _failure(exc):
    """The engine's message of a failed call, with its code, and whether to retry."""
    info = getattr(exc, "info", None) or {}
    message = getattr(exc, "error", None) or str(exc)
    code = info.get("code")
    head = f"[{code}] " if code else ""
    tail = " (transient: a later run may succeed without a change)" if info.get("transient") else ""
    hints = []
    if any(_needs_ceph(d) for d in info.get("diagnostics") or []):
        hints.append("set ceph_conf (and ceph_user) on the state, or virtconverge.ceph_conf in the "
                     "minion config")
    return head + message + tail + ("" if not hints else " (" + "; ".join(hints) + ")")


# --- the one state function --------------------------------------------------------------------

def _converge(name, document, connection=None, allow_restart=False, allow_destroy=False, prune=False,
              parallelism=None, shutdown_timeout=None, ceph_conf=None, ceph_user=None,
              allow_overcommit=False):
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    flags = {"connection": connection, "allow_destroy": bool(allow_destroy),
             "allow_restart": bool(allow_restart), "prune": bool(prune),
             "ceph_conf": ceph_conf, "ceph_user": ceph_user}
    if allow_overcommit:  # passed only when asked for (an older module would not take it)
        flags["allow_overcommit"] = True

    if __opts__["test"]:  # pylint: disable=undefined-variable
        try:
            out = __salt__["virtconverge.plan"](  # pylint: disable=undefined-variable
                document, shutdown_timeout=shutdown_timeout, text=True, **flags)
        except CommandExecutionError as exc:
            ret["comment"] = f"virtconverge cannot plan: {_failure(exc)}"
            return ret
        plan, text = out["plan"], out.get("text", "")
        waits = _waits_for(plan)
        if not plan.get("changes"):
            ret["result"] = plan.get("applyable", True)
            ret["comment"] = (f"{_target(plan)} matches the document; nothing to do.\n"
                              f"{_skipped(plan)}{text}") if ret["result"] else text
        elif not plan.get("applyable", True) and waits:
            # An earlier state of this run may create what is missing (a pool before its volumes);
            # only the real run can tell. Predict the change and say what it depends on.
            ret["result"] = None
            ret["changes"] = _changes(plan)
            ret["comment"] = (f"virtconverge would change {len(plan['changes'])} resource(s), once "
                              f"{', '.join(waits)} exist(s) (an earlier state may create it).\n{text}")
        elif not plan.get("applyable", True):
            ret["comment"] = ("The plan would be refused; nothing would be changed ("
                              + "; ".join(_refusal(plan) or ["see the errors"]) + ").\n" + text)
        else:
            ret["result"] = None
            ret["changes"] = _changes(plan)
            moves = _moves((plan.get("summary") or {}).get("migrate"))
            ret["comment"] = (f"virtconverge would change {len(plan['changes'])} resource(s)"
                              f"{moves}.\n{_skipped(plan)}{text}")
        return ret

    try:
        out = __salt__["virtconverge.apply"](  # pylint: disable=undefined-variable
            document, parallelism=parallelism, shutdown_timeout=shutdown_timeout, **flags)
    except CommandExecutionError as exc:
        info = getattr(exc, "info", None) or {}
        plan, report, text = info.get("plan"), info.get("apply"), info.get("text", "")
        if plan and report:
            ret["changes"] = _changes(plan, report)
            ret["comment"] = (f"virtconverge did not converge: {_failure(exc)}\n{text}\n"
                              f"{_apply_text(report)}")
        elif plan:
            hints = _refusal(plan)
            ret["comment"] = ("virtconverge refused the plan; nothing was changed"
                              + (" (" + "; ".join(hints) + ")" if hints else "")
                              + f".\n{_failure(exc)}\n{text}")
        else:
            ret["comment"] = f"virtconverge failed: {_failure(exc)}"
        return ret

    plan, report, text = out["plan"], out.get("apply"), out.get("text", "")
    if not plan.get("changes") or report is None:
        ret["result"] = True
        ret["comment"] = (f"{_target(plan)} matches the document; nothing to do.\n"
                          f"{_skipped(plan)}{text}")
        return ret
    ret["changes"] = _changes(plan, report)
    ret["result"] = True
    head = (f"virtconverge changed {len(ret['changes'])} resource(s)"
            + _moves(sum(1 for c in ret["changes"].values() if c["action"] == "migrate")))
    if report.get("pending"):
        head += f"; {len(report['pending'])} change(s) pending restart (allow_restart: True restarts now)"
    ret["comment"] = f"{head}.\n{_skipped(plan)}{text}\n{_apply_text(report)}"
    return ret


def _document(section, key, fields):
    return {"version": 1, section: {key: {k: v for k, v in fields.items() if v is not None}}}


def _fields(fun, kwargs):
    """The document fields a ``<kind>_present`` state was given: its keyword arguments without
    Salt's own (``__pub_*``, ``__env__``, any ``__`` key: salt.utils.args.clean_kwargs). They go
    into the document as they are, and the engine checks them against the schema
    (schemas/desired-state.schema.json): a field it does not know fails the state with the
    engine's ``unknown_field`` diagnostic, which names it. Returns (fields, error comment)."""
    fields = salt.utils.args.clean_kwargs(**kwargs)
    if "ensure" in fields:
        kind = fun[: -len("_present")]
        return None, f"{fun} declares ensure: present; use {kind}_absent to remove the resource"
    return fields, None


def _refused(name, comment):
    return {"name": name, "result": False, "changes": {}, "comment": comment}


# --- public states -----------------------------------------------------------------------------

def converged(name, document, connection=None, allow_restart=False, allow_destroy=False, prune=False,
              parallelism=None, shutdown_timeout=None, ceph_conf=None, ceph_user=None,
              allow_overcommit=False):
    """
    Converge the host to a whole desired-state document in one engine call.

    name
        An identifier for this state.
    document
        The desired-state document: a dict (typically from pillar), or a path / list of paths /
        ``salt://`` URLs of YAML or JSON documents. A fleet (``hosts:``) is converged on every
        host it names; a domain whose ``host:`` changed is migrated.
    connection
        libvirt URI; default the document's ``connection``, then ``virtconverge.connection`` from the
        minion config, then ``qemu:///system``. Not with a fleet: its ``hosts:`` section names each
        host's connection, and a ``connection`` beside it fails the state (the
        ``virtconverge.connection`` default is not used for a fleet).
    allow_restart
        Restart running domains whose change needs it (graceful, ACPI). Default: the change waits in
        the persistent config and is reported as pending.
    allow_destroy
        Permit destructive changes: deleting or shrinking volumes, replacing resources.
    prune
        Delete resources carrying virtconverge's mark that the document no longer declares.
    parallelism, shutdown_timeout
        As the CLI's ``--parallelism`` and ``--shutdown-timeout``.
    ceph_conf, ceph_user
        The Ceph cluster for the document's RBD images, disks and pools; they override the
        document's ``ceph:`` section. A document that uses RBD without a ``ceph:`` section gets
        ``virtconverge.ceph_conf`` / ``virtconverge.ceph_user`` from the minion config.
    allow_overcommit
        Apply a plan that takes a host of the document's ``hosts:`` section past its
        ``cpu_allocation_ratio`` or ``ram_allocation_ratio``. Default: such a plan is refused
        (the engine's ``over_committed``), the state fails and nothing is changed. A document
        without ``hosts:`` has no limits checked; a one-host document may declare a one-entry
        ``hosts:`` section for its limits and KSM settings (its domains then need no ``host:``).

    .. code-block:: yaml

        hypervisor:
          virtconverge.converged:
            - document: {{ pillar['virtconverge'] | json }}

        fleet:                              # on the master's own minion
          virtconverge.converged:
            - document: {{ pillar['virtconverge_fleet'] | json }}
    """
    if not isinstance(document, (dict, str, list, tuple)):
        return {"name": name, "result": False, "changes": {},
                "comment": "document must be a dict or a path (or list of paths)"}
    return _converge(name, document, connection, allow_restart, allow_destroy, prune, parallelism,
                     shutdown_timeout, ceph_conf, ceph_user, allow_overcommit)


def domain_present(name, domain_state=None, connection=None, allow_restart=False, allow_destroy=False,
                   shutdown_timeout=None, ceph_conf=None, ceph_user=None, allow_overcommit=False,
                   **fields):
    """
    Ensure a domain (VM) exists with these fields. Every field a domain has in the schema
    (``vcpus``, ``memory``, ``max_memory``, ``disks``, ``interfaces``, ``cpu``, ...: docs/document.md)
    is an argument of its own and goes into the document as it is; a field left out is not
    managed (a domain that exists may be given just ``vcpus``, or just ``autostart``). The engine
    checks them: creating a domain needs ``vcpus`` and ``memory`` (without them a domain that does
    not exist fails the state with the engine's ``missing_field``), and a field the schema does not
    have fails the state with the engine's ``unknown_field`` error.
    ``domain_state`` is the document's ``state`` (``running`` | ``stopped``; Salt keeps the argument
    name ``state`` for itself). Running guests are changed live where QEMU can (vCPU hot-plug,
    memory balloon and DIMM hot-add, disk and NIC attach/detach).

    A disk is ``{volume: <pool>/<volume>, target: vda}`` or, on Ceph, ``{rbd: <ceph pool>/<image>,
    target: vdb}``; RBD disks use ``ceph_conf`` / ``ceph_user`` (else ``virtconverge.ceph_conf`` /
    ``virtconverge.ceph_user``), and QEMU reaches the image with the key in a private libvirt secret.

    ``cloud_init`` gives the domain a NoCloud seed (docs/cloud-init.md): the engine writes it to the
    volume ``<pool>/<name>-cidata.iso`` and attaches it as a CD-ROM; a change is taken at the next
    boot (``restart``). The values of secret-looking keys (``passwd``, ``password``, ``token``, ...)
    are redacted in the engine's plans, so in ``changes`` and ``comment`` too. ``snapshots`` is the
    set of snapshot names the domain must have (docs/snapshots.md): a missing one is taken live,
    one not listed is deleted (merged into the disks), which is destructive and needs
    ``allow_destroy: True``.

    .. code-block:: yaml

        web1:
          virtconverge.domain_present:
            - vcpus: 2
            - max_vcpus: 4
            - memory: 512MiB
            - max_memory: 2GiB
            - domain_state: running
            - disks:
              - rbd: rbd/web1-root
                target: vda

        web2:
          virtconverge.domain_present:
            - vcpus: 1
            - memory: 1GiB
            - disks: [{volume: images/web2-root, target: vda}]
            - cloud_init:
                pool: images
                user_data:
                  hostname: web2
                  users:
                    - name: ops
                      passwd: {{ pillar['ops_pw'] | json }}
                meta_data: {instance_id: web2-1, local_hostname: web2}
            - snapshots: [before-upgrade]
    """
    fields, error = _fields("domain_present", fields)
    if error:
        return _refused(name, error)
    if domain_state is not None:
        fields["state"] = domain_state
    return _converge(name, _document("domains", name, fields), connection,
                     allow_restart, allow_destroy, shutdown_timeout=shutdown_timeout,
                     ceph_conf=ceph_conf, ceph_user=ceph_user, allow_overcommit=allow_overcommit)


def domain_absent(name, connection=None, allow_restart=False, allow_destroy=False, shutdown_timeout=None):
    """
    Ensure a domain does not exist: a running guest is shut down (ACPI, forced after
    ``shutdown_timeout``), then undefined. Its volumes are kept.
    """
    return _converge(name, _document("domains", name, {"ensure": "absent"}), connection,
                     allow_restart, allow_destroy, shutdown_timeout=shutdown_timeout)


def _volume_address(name, pool):
    return f"{pool}/{name}" if pool else name


def volume_present(name, pool=None, connection=None, allow_destroy=False, **fields):
    """
    Ensure a storage volume exists with these fields (a volume's fields in the schema:
    ``capacity``, ``format``, ``backing_volume``, ...; docs/document.md), each an argument that goes
    into the document as it is. ``name`` is ``<pool>/<volume>``, or the volume's name with ``pool``
    given. Growing ``capacity`` is live (a running guest sees the new size at once); shrinking it
    or changing ``format`` is destructive and needs ``allow_destroy: True``.

    .. code-block:: yaml

        images/web1-root:
          virtconverge.volume_present:
            - capacity: 20GiB
            - format: qcow2
    """
    fields, error = _fields("volume_present", fields)
    if error:
        return _refused(name, error)
    address = _volume_address(name, pool)
    return _converge(name, _document("volumes", address, fields), connection,
                     False, allow_destroy)


def volume_absent(name, pool=None, connection=None, allow_destroy=False):
    """
    Ensure a storage volume does not exist. Deleting a volume loses its data, so an existing volume
    is deleted only with ``allow_destroy: True``; otherwise the state fails and changes nothing.
    """
    address = _volume_address(name, pool)
    return _converge(name, _document("volumes", address, {"ensure": "absent"}), connection,
                     False, allow_destroy)


def pool_present(name, connection=None, allow_destroy=False, ceph_conf=None, ceph_user=None, **fields):
    """
    Ensure a storage pool exists and is active, with these fields (a pool's fields in the schema,
    each an argument that goes into the document as it is): ``type`` is ``dir`` (with ``path``),
    ``logical`` (with ``volume_group``) or ``rbd`` (with ``ceph_pool``, using ``ceph_conf`` /
    ``ceph_user``, else ``virtconverge.ceph_conf`` / ``virtconverge.ceph_user``).

    .. code-block:: yaml

        images:
          virtconverge.pool_present:
            - type: dir
            - path: /var/lib/virtconverge/images
    """
    fields, error = _fields("pool_present", fields)
    if error:
        return _refused(name, error)
    return _converge(name, _document("pools", name, fields), connection, False,
                     allow_destroy, ceph_conf=ceph_conf, ceph_user=ceph_user)


def pool_absent(name, connection=None, allow_destroy=False):
    """Ensure a storage pool is not defined (its directory and volumes are left as the engine says)."""
    return _converge(name, _document("pools", name, {"ensure": "absent"}), connection,
                     False, allow_destroy)


def network_present(name, connection=None, allow_destroy=False, **fields):
    """
    Ensure a virtual network exists and is active, with these fields (a network's fields in the
    schema: ``mode``, ``bridge``, ``autostart``, ...; each an argument that goes into the document as
    it is). This version creates ``mode: isolated`` networks (a bridge with no forwarding, no
    address, no DHCP) and ``mode: bridge`` networks (an existing host bridge, named by ``bridge``).
    Networks of mode ``nat``, ``route`` and ``open`` can be declared when they exist; creating one
    is refused by the engine's plan (code ``unsupported``).

    .. code-block:: yaml

        backend:
          virtconverge.network_present:
            - mode: isolated

        lan:
          virtconverge.network_present:
            - mode: bridge
            - bridge: br0
    """
    fields, error = _fields("network_present", fields)
    if error:
        return _refused(name, error)
    return _converge(name, _document("networks", name, fields), connection, False,
                     allow_destroy)


def network_absent(name, connection=None, allow_destroy=False):
    """Ensure a virtual network is stopped and undefined."""
    return _converge(name, _document("networks", name, {"ensure": "absent"}), connection,
                     False, allow_destroy)


def rbd_image_present(name, pool=None, ceph_conf=None, ceph_user=None, connection=None,
                      allow_destroy=False, **fields):
    """
    Ensure a Ceph RBD image exists with these fields (docs/ceph.md): an RBD image's fields in the
    schema (``size``, ``features``, ``snapshots``, ``clone_from``, ``flatten``, ...), each an argument
    that goes into the document as it is; a field left out is not managed. ``name`` is
    ``<ceph pool>/<image>``, or the image's name with ``pool``. Growing ``size`` is live (a running
    guest using the image sees the new size at once); shrinking it, or replacing the image (another
    ``clone_from``), is destructive and needs ``allow_destroy: True``.

    ceph_conf, ceph_user
        The Ceph conf (monitors and keyring) and cephx user; default ``virtconverge.ceph_conf`` and
        ``virtconverge.ceph_user`` from the minion config (user ``admin`` when neither says).

    .. code-block:: yaml

        rbd/golden:
          virtconverge.rbd_image_present:
            - size: 10GiB
            - features: [layering, exclusive-lock, object-map, fast-diff]
            - snapshots: [base]

        rbd/web1-root:
          virtconverge.rbd_image_present:
            - clone_from: rbd/golden@base
            - size: 20GiB
            - require:
              - virtconverge: rbd/golden
    """
    fields, error = _fields("rbd_image_present", fields)
    if error:
        return _refused(name, error)
    address = _volume_address(name, pool)
    return _converge(name, _document("rbd_images", address, fields), connection, False,
                     allow_destroy, ceph_conf=ceph_conf, ceph_user=ceph_user)


def rbd_image_absent(name, pool=None, ceph_conf=None, ceph_user=None, connection=None,
                     allow_destroy=False):
    """
    Ensure a Ceph RBD image does not exist. Deleting it loses its data and its snapshots, so an
    existing image is deleted only with ``allow_destroy: True``; otherwise the state fails and
    changes nothing. An image that clones depend on is not deleted (remove or flatten the clones
    first: order the states with ``require``).
    """
    address = _volume_address(name, pool)
    return _converge(name, _document("rbd_images", address, {"ensure": "absent"}), connection,
                     False, allow_destroy, ceph_conf=ceph_conf, ceph_user=ceph_user)


def _host_connection(connection):
    """The URI a host's hosts: entry names: the argument, else ``virtconverge.connection`` from the
    minion config, else ``$LIBVIRT_DEFAULT_URI``, else ``qemu:///system`` (the engine's own
    precedence; a hosts: entry must name it)."""
    if connection:
        return str(connection)
    try:
        configured = __salt__["config.get"]("virtconverge.connection")  # pylint: disable=undefined-variable
    except (NameError, KeyError, TypeError):
        configured = None
    return str(configured or os.environ.get("LIBVIRT_DEFAULT_URI") or "qemu:///system")


def host_present(name, connection=None, **fields):
    """
    Ensure a hypervisor's host settings: its ``hosts:`` entry (docs/document.md), converged as a
    one-host document. Every field of a host entry in the schema is an argument that goes into the
    entry as it is; the engine checks them:

    ``ksm``
        Kernel samepage merging, ``{enabled, pages_to_scan, sleep_millisecs, merge_across_nodes}``:
        only the settings given are compared, each change made live (through libvirt's node memory
        parameters; ``enabled`` through /sys/kernel/mm/ksm/run, which only a host on this machine
        allows).
    ``cpu_allocation_ratio``, ``ram_allocation_ratio``, ``reserved_memory``
        The host's capacity limits. They are policy (checked when a plan adds to the host, never a
        change of their own): this state shows the host's capacity warnings, and the limits take
        effect in documents that carry them, e.g. ``virtconverge.converged`` with the same
        ``hosts:`` entry (pillar), where a plan past them is refused (``over_committed``) unless
        ``allow_overcommit: True``.

    ``name`` is the host's name in the engine's addresses (``host.hv-a``); ``connection`` its
    libvirt URI (default ``virtconverge.connection`` from the minion config, then
    ``$LIBVIRT_DEFAULT_URI``, then ``qemu:///system``), written into the entry. Test mode plans
    and changes nothing; ``changes`` is keyed ``host.<name>``, with ``ksm.pages_to_scan``-style
    attributes.

    .. code-block:: yaml

        hv-a:
          virtconverge.host_present:
            - cpu_allocation_ratio: 4.0
            - ram_allocation_ratio: 1.0
            - reserved_memory: 2GiB
            - ksm:
                enabled: true
                pages_to_scan: 100
                sleep_millisecs: 20
    """
    fields = salt.utils.args.clean_kwargs(**fields)  # a host has no ensure: the engine says so
    fields["connection"] = _host_connection(connection)
    # A one-host fleet document: hosts: names the connection, so none is passed beside it.
    return _converge(name, _document("hosts", name, fields))
