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
      steps: [hot-plug vCPUs of domain.web1 to 2]          # live mode: what the engine did
      pending: {max_memory: {running: 1GiB, next_boot: 2GiB}}   # restart changes not yet live

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

from salt.exceptions import CommandExecutionError

__virtualname__ = "virtconverge"

_WORDS = {"live": "live", "restart": "needs restart", "destructive": "destructive"}
_SYMBOLS = {"create": "+", "delete": "-", "replace": "-/+"}


def __virtual__():
    if "virtconverge.apply" in __salt__:  # pylint: disable=undefined-variable
        return __virtualname__
    return (False, "the virtconverge execution module is not available (is the virtconverge "
                   "binary installed, or virtconverge.binary set?)")


# --- rendering ----------------------------------------------------------------------------------

def _value(value):
    """A value as the engine's text plan prints it."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _plan_text(plan, waiting=False):
    """The plan as text, in the engine's own layout (engine/plan_text.cc), without colour. waiting:
    references to what is not on the host yet are shown as what the change waits for."""
    lines = [f"Plan for {plan.get('connection', '')} (fingerprint {plan.get('fingerprint', '')})"]
    changes = plan.get("changes", [])
    if not changes:
        lines.append("No changes: the host matches the documents.")
    for change in changes:
        action = change["action"]
        lines.append(f"{_SYMBOLS.get(action, '~')} {change['address']} "
                     f"({action}, {_WORDS.get(change['disruption'], 'no disruption')})")
        for attr in change.get("attributes", []):
            if action == "create":
                row = f"{attr['path']} = {_value(attr.get('after'))}"
            elif action == "delete":
                row = "delete"
            else:
                row = f"{attr['path']} {_value(attr.get('before'))} → {_value(attr.get('after'))}"
            if action == "create" and attr.get("disruption") == "none":
                lines.append(f"    {row}")
            else:
                reason = attr.get("reason") or ""
                how = _WORDS.get(attr.get("disruption"), "no disruption")
                lines.append(f"    {row}  ({how}{': ' + reason if reason else ''})")
    for item in plan.get("pending", []):
        lines.append(f"Pending restart: {item['address']} {item['path']}: running "
                     f"{_value(item.get('live'))}, next boot {_value(item.get('config'))}")
    for diag in plan.get("diagnostics", []):
        label = "Error" if diag.get("severity") == "error" else "Warning"
        if waiting and _MISSING in (diag.get("summary") or ""):
            label = "Waits for"
        lines.append(f"{label}: {diag.get('summary', '')}"
                     + (f" ({diag['detail']})" if diag.get("detail") else ""))
    s = plan.get("summary", {})
    live = sum(1 for c in changes if c["action"] == "update" and c["disruption"] == "live")
    restart = sum(1 for c in changes if c["action"] == "update" and c["disruption"] == "restart")
    lines.append(f"Plan: {s.get('create', 0)} to create, {s.get('update', 0)} to update ({live} live, "
                 f"{restart} need restart), {s.get('replace', 0)} to replace, "
                 f"{s.get('delete', 0)} to destroy.")
    return "\n".join(lines)


def _attribute(attr):
    entry = {"old": attr.get("before"), "new": attr.get("after"), "disruption": attr.get("disruption")}
    if attr.get("reason"):
        entry["reason"] = attr["reason"]
    return entry


def _changes(plan, report=None):
    """Salt's ``changes``: per resource, per attribute old/new and the disruption class. With an
    apply report, only resources the engine changed (ok), with the steps it took."""
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
        if outcome is not None:
            entry["steps"] = list(outcome.get("steps", []))
        if address in pending:
            entry["pending"] = pending[address]
        result[address] = entry
    return result


def _apply_text(report):
    lines = ["Applying:"]
    for outcome in report.get("outcomes", []):
        for step in outcome.get("steps", []):
            lines.append(f"  {outcome['address']}: {step}")
        if not outcome.get("ok"):
            lines.append(f"  {outcome['address']}: FAILED: {outcome.get('error')}")
        elif not outcome.get("converged", True):
            lines.append(f"  {outcome['address']}: not converged: "
                         + "; ".join(str(r) for r in outcome.get("remaining", [])))
    for item in report.get("pending", []):
        lines.append(f"  {item['address']}: {item['path']} pending restart (running "
                     f"{_value(item.get('live'))}, next boot {_value(item.get('config'))})")
    if report.get("verification_error"):
        lines.append(f"Verification failed: {report['verification_error']}")
    return "\n".join(lines)


def _nothing_to_do(plan):
    lines = [f"The host ({plan.get('connection', '')}) matches the document; nothing to do."]
    for item in plan.get("pending", []):
        lines.append(f"Pending restart: {item['address']} {item['path']}: running "
                     f"{_value(item.get('live'))}, next boot {_value(item.get('config'))}")
    return "\n".join(lines)


def _message(exc):
    return getattr(exc, "error", None) or str(exc)


_MISSING = "is neither declared nor present on the host"


def _only_missing_references(plan):
    """True when every error of the plan is a reference to a pool, volume or network that is not on
    the host yet (and no change needs an allow flag)."""
    errors = [d for d in plan.get("diagnostics", []) if d.get("severity") == "error"]
    return bool(errors) and all(_MISSING in (d.get("summary") or "") for d in errors)


def _refusal(plan):
    errors = [d for d in plan.get("diagnostics", []) if d.get("severity") == "error"]
    hints = []
    if any("--allow-destroy" in (d.get("summary") or "") for d in errors):
        hints.append("set allow_destroy: True to permit it")
    if any("--allow-restart" in (d.get("summary") or "") for d in errors):
        hints.append("set allow_restart: True to permit it")
    if any("the ceph: section" in (d.get("summary") or "") for d in errors):
        hints.append("set ceph_conf (and ceph_user) on the state, or virtconverge.ceph_conf in the "
                     "minion config")
    return hints


# --- the one state function --------------------------------------------------------------------

def _converge(name, document, connection=None, allow_restart=False, allow_destroy=False, prune=False,
              parallelism=None, shutdown_timeout=None, ceph_conf=None, ceph_user=None):
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    flags = {"connection": connection, "allow_destroy": bool(allow_destroy),
             "allow_restart": bool(allow_restart), "prune": bool(prune),
             "ceph_conf": ceph_conf, "ceph_user": ceph_user}

    if __opts__["test"]:  # pylint: disable=undefined-variable
        try:
            plan = __salt__["virtconverge.plan"](document, **flags)  # pylint: disable=undefined-variable
        except CommandExecutionError as exc:
            ret["comment"] = f"virtconverge cannot plan: {_message(exc)}"
            return ret
        text = _plan_text(plan)
        if not plan.get("changes"):
            ret["result"] = plan.get("applyable", True)
            ret["comment"] = _nothing_to_do(plan) if ret["result"] else text
        elif not plan.get("applyable", True) and _only_missing_references(plan):
            # An earlier state of this run may create what is missing (a pool before its volumes);
            # only the real run can tell. Predict the change and say what it depends on.
            ret["result"] = None
            ret["changes"] = _changes(plan)
            ret["comment"] = (f"virtconverge would change {len(plan['changes'])} resource(s), once "
                              f"what they refer to exists (an earlier state may create it).\n"
                              f"{_plan_text(plan, waiting=True)}")
        elif not plan.get("applyable", True):
            ret["comment"] = ("The plan would be refused; nothing would be changed ("
                              + "; ".join(_refusal(plan) or ["see the errors"]) + ").\n" + text)
        else:
            ret["result"] = None
            ret["changes"] = _changes(plan)
            ret["comment"] = f"virtconverge would change {len(plan['changes'])} resource(s).\n{text}"
        return ret

    try:
        out = __salt__["virtconverge.apply"](  # pylint: disable=undefined-variable
            document, parallelism=parallelism, shutdown_timeout=shutdown_timeout, **flags)
    except CommandExecutionError as exc:
        info = getattr(exc, "info", None) or {}
        plan, report = info.get("plan"), info.get("apply")
        if plan and report:
            ret["changes"] = _changes(plan, report)
            ret["comment"] = (f"virtconverge did not converge: {_message(exc)}\n{_plan_text(plan)}\n"
                              f"{_apply_text(report)}")
        elif plan:
            hints = _refusal(plan)
            ret["comment"] = ("virtconverge refused the plan; nothing was changed"
                              + (" (" + "; ".join(hints) + ")" if hints else "")
                              + f".\n{_plan_text(plan)}")
        else:
            ret["comment"] = f"virtconverge failed: {_message(exc)}"
        return ret

    plan, report = out["plan"], out.get("apply")
    text = _plan_text(plan)
    if not plan.get("changes") or report is None:
        ret["result"] = True
        ret["comment"] = _nothing_to_do(plan)
        return ret
    ret["changes"] = _changes(plan, report)
    converged = (report.get("ok") and not report.get("verification_error")
                 and all(o.get("ok") and o.get("converged", True) for o in report.get("outcomes", [])))
    ret["result"] = bool(converged)
    head = (f"virtconverge changed {len(ret['changes'])} resource(s)" if converged
            else "virtconverge applied the plan but the host did not converge")
    if report.get("pending"):
        head += f"; {len(report['pending'])} change(s) pending restart (allow_restart: True restarts now)"
    ret["comment"] = f"{head}.\n{text}\n{_apply_text(report)}"
    return ret


def _document(section, key, fields):
    return {"version": 1, section: {key: {k: v for k, v in fields.items() if v is not None}}}


# --- public states -----------------------------------------------------------------------------

def converged(name, document, connection=None, allow_restart=False, allow_destroy=False, prune=False,
              parallelism=None, shutdown_timeout=None, ceph_conf=None, ceph_user=None):
    """
    Converge the host to a whole desired-state document in one engine call.

    name
        An identifier for this state.
    document
        The desired-state document: a dict (typically from pillar), or a path / list of paths /
        ``salt://`` URLs of YAML or JSON documents.
    connection
        libvirt URI; default the document's ``connection``, then ``virtconverge.connection`` from the
        minion config, then ``qemu:///system``.
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

    .. code-block:: yaml

        hypervisor:
          virtconverge.converged:
            - document: {{ pillar['virtconverge'] | json }}
    """
    if not isinstance(document, (dict, str, list, tuple)):
        return {"name": name, "result": False, "changes": {},
                "comment": "document must be a dict or a path (or list of paths)"}
    return _converge(name, document, connection, allow_restart, allow_destroy, prune, parallelism,
                     shutdown_timeout, ceph_conf, ceph_user)


def domain_present(name, vcpus, memory, max_vcpus=None, max_memory=None, disks=None, interfaces=None,
                   domain_state=None, autostart=None, virt_type=None, cpu=None, memory_hotplug_unit=None,
                   restart=None, connection=None, allow_restart=False, allow_destroy=False,
                   shutdown_timeout=None, ceph_conf=None, ceph_user=None):
    """
    Ensure a domain (VM) exists with these attributes. Fields as in docs/document.md; a field left
    out is not managed. ``domain_state`` is the document's ``state`` (``running`` | ``stopped``;
    Salt reserves the argument name ``state``). Running guests are changed live where QEMU can
    (vCPU hot-plug, memory balloon and DIMM hot-add, disk and NIC attach/detach).

    A disk is ``{volume: <pool>/<volume>, target: vda}`` or, on Ceph, ``{rbd: <ceph pool>/<image>,
    target: vdb}``; RBD disks use ``ceph_conf`` / ``ceph_user`` (else ``virtconverge.ceph_conf`` /
    ``virtconverge.ceph_user``), and QEMU reaches the image with the key in a private libvirt secret.

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
    """
    fields = {"vcpus": vcpus, "max_vcpus": max_vcpus, "memory": memory, "max_memory": max_memory,
              "disks": disks, "interfaces": interfaces, "state": domain_state, "autostart": autostart,
              "virt_type": virt_type, "cpu": cpu, "memory_hotplug_unit": memory_hotplug_unit,
              "restart": restart}
    return _converge(name, _document("domains", name, fields), connection,
                     allow_restart, allow_destroy, shutdown_timeout=shutdown_timeout,
                     ceph_conf=ceph_conf, ceph_user=ceph_user)


def domain_absent(name, connection=None, allow_restart=False, allow_destroy=False, shutdown_timeout=None):
    """
    Ensure a domain does not exist: a running guest is shut down (ACPI, forced after
    ``shutdown_timeout``), then undefined. Its volumes are kept.
    """
    return _converge(name, _document("domains", name, {"ensure": "absent"}), connection,
                     allow_restart, allow_destroy, shutdown_timeout=shutdown_timeout)


def _volume_address(name, pool):
    return f"{pool}/{name}" if pool else name


def volume_present(name, capacity=None, format=None, backing_volume=None, pool=None,  # pylint: disable=redefined-builtin
                   connection=None, allow_destroy=False):
    """
    Ensure a storage volume exists. ``name`` is ``<pool>/<volume>``, or the volume's name with
    ``pool`` given. Growing ``capacity`` is live (a running guest sees the new size at once);
    shrinking it or changing ``format`` is destructive and needs ``allow_destroy: True``.

    .. code-block:: yaml

        images/web1-root:
          virtconverge.volume_present:
            - capacity: 20GiB
            - format: qcow2
    """
    address = _volume_address(name, pool)
    fields = {"capacity": capacity, "format": format, "backing_volume": backing_volume}
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


def pool_present(name, type, path=None, volume_group=None, autostart=None,  # pylint: disable=redefined-builtin
                 connection=None, allow_destroy=False, ceph_pool=None, ceph_conf=None, ceph_user=None):
    """
    Ensure a storage pool exists and is active: ``type`` is ``dir`` (with ``path``), ``logical``
    (with ``volume_group``) or ``rbd`` (with ``ceph_pool``, using ``ceph_conf`` / ``ceph_user``, else
    ``virtconverge.ceph_conf`` / ``virtconverge.ceph_user``).

    .. code-block:: yaml

        images:
          virtconverge.pool_present:
            - type: dir
            - path: /var/lib/virtconverge/images
    """
    fields = {"type": type, "path": path, "volume_group": volume_group, "ceph_pool": ceph_pool,
              "autostart": autostart}
    return _converge(name, _document("pools", name, fields), connection, False,
                     allow_destroy, ceph_conf=ceph_conf, ceph_user=ceph_user)


def pool_absent(name, connection=None, allow_destroy=False):
    """Ensure a storage pool is not defined (its directory and volumes are left as the engine says)."""
    return _converge(name, _document("pools", name, {"ensure": "absent"}), connection,
                     False, allow_destroy)


def network_present(name, mode, bridge=None, autostart=None, connection=None, allow_destroy=False):
    """
    Ensure a virtual network exists and is active. This version creates ``mode: isolated`` networks
    (a bridge with no forwarding, no address, no DHCP).

    .. code-block:: yaml

        backend:
          virtconverge.network_present:
            - mode: isolated
    """
    fields = {"mode": mode, "bridge": bridge, "autostart": autostart}
    return _converge(name, _document("networks", name, fields), connection, False,
                     allow_destroy)


def network_absent(name, connection=None, allow_destroy=False):
    """Ensure a virtual network is stopped and undefined."""
    return _converge(name, _document("networks", name, {"ensure": "absent"}), connection,
                     False, allow_destroy)


def rbd_image_present(name, size=None, features=None, snapshots=None, clone_from=None, flatten=None,
                      pool=None, ceph_conf=None, ceph_user=None, connection=None, allow_destroy=False):
    """
    Ensure a Ceph RBD image exists with these attributes (docs/ceph.md). ``name`` is
    ``<ceph pool>/<image>``, or the image's name with ``pool``. A field left out is not managed.

    size
        Virtual size (``10GiB``), required unless ``clone_from``. Growing is live (a running guest
        using the image sees the new size at once); shrinking is destructive and needs
        ``allow_destroy: True``.
    features
        The enabled features (``layering``, ``exclusive-lock``, ``object-map``, ``fast-diff``, ...),
        changed live in dependency order.
    snapshots
        Snapshots that must exist; missing ones are created, others are left alone.
    clone_from
        ``<pool>/<image>@<snapshot>``: create the image as a copy-on-write clone (the snapshot is
        protected first). Changing it replaces the image (destructive).
    flatten
        ``True``: copy the parent's data in and drop the link to it (live).
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
    address = _volume_address(name, pool)
    fields = {"size": size, "features": features, "snapshots": snapshots, "clone_from": clone_from,
              "flatten": flatten}
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
