"""The host settings on the real libvirtd (qemu:///system), in-process with the real execution
module and engine: ``virtconverge.host_present`` sets KSM's pages_to_scan and sleep_millisecs, read
back from /sys/kernel/mm/ksm and through ``virtconverge.observe``; a document whose domain takes
the host past its ``cpu_allocation_ratio`` is refused by ``virtconverge.converged`` (result False,
the engine's over_committed named in the comment, nothing defined) unless ``allow_overcommit``.
Every state runs in test mode first, which must change nothing. The machine's KSM settings are
read first and written back at the end, whatever happened. Objects are named vcs-h-* and removed."""

import os

import pytest

from conftest import URI, Minion, cleanup, names, require_real_libvirtd, snapshot

PREFIX = "vcs-h-"
HOST = PREFIX + "hv"
KSM = "/sys/kernel/mm/ksm"
SETTINGS = ("run", "pages_to_scan", "sleep_millisecs", "merge_across_nodes")


def ksm(setting):
    with open(os.path.join(KSM, setting)) as f:
        return int(f.read().strip())


def ksm_all():
    return {s: ksm(s) for s in SETTINGS}


def write_ksm(setting, value):
    with open(os.path.join(KSM, setting), "w") as f:
        f.write(f"{value}\n")


@pytest.fixture(scope="module")
def original_ksm():
    """The machine's KSM settings before the tests, written back after them."""
    require_real_libvirtd()
    cleanup(PREFIX)
    original = ksm_all()
    try:
        yield original
    finally:
        cleanup(PREFIX)
        if ksm("merge_across_nodes") != original["merge_across_nodes"]:
            write_ksm("run", 2)  # merge_across_nodes changes only while nothing is merged
            write_ksm("merge_across_nodes", original["merge_across_nodes"])
        for setting in ("pages_to_scan", "sleep_millisecs", "run"):
            write_ksm(setting, original[setting])
        assert ksm_all() == original


@pytest.fixture
def minion(original_ksm):
    yield Minion(extra_opts={"virtconverge.connection": URI})
    cleanup(PREFIX)


def test_host_present_sets_ksm_pages_to_scan_and_sleep_millisecs(minion, original_ksm):
    pages = 160 if original_ksm["pages_to_scan"] == 150 else 150
    sleep = 40 if original_ksm["sleep_millisecs"] == 30 else 30
    kwargs = dict(name=HOST, connection=URI, cpu_allocation_ratio=4.0,
                  ksm={"pages_to_scan": pages, "sleep_millisecs": sleep})

    predicted = minion.state("host_present", True, **kwargs)
    assert ksm_all() == original_ksm, "test=True changed KSM"
    assert predicted["result"] is None, predicted
    change = predicted["changes"][f"host.{HOST}"]
    assert change["action"] == "update" and change["disruption"] == "live"
    assert change["attributes"]["ksm.pages_to_scan"]["old"] == original_ksm["pages_to_scan"]
    assert change["attributes"]["ksm.pages_to_scan"]["new"] == pages
    assert change["attributes"]["ksm.sleep_millisecs"]["new"] == sleep
    assert change["steps"] == [f"set KSM on {HOST}: pages_to_scan = {pages}, sleep_millisecs = {sleep}"]

    applied = minion.state("host_present", False, **kwargs)
    assert applied["result"] is True, applied["comment"]
    assert applied["changes"][f"host.{HOST}"]["attributes"] == change["attributes"]
    assert applied["changes"][f"host.{HOST}"]["steps"] == change["steps"]
    assert ksm("pages_to_scan") == pages and ksm("sleep_millisecs") == sleep
    assert ksm("run") == original_ksm["run"], "enabled was not declared: the run switch is untouched"

    observed = minion.mod.observe(document={"version": 1, "hosts": {HOST: {"connection": URI}}})
    assert observed["hosts"][HOST]["ksm"]["pages_to_scan"] == pages
    assert observed["hosts"][HOST]["ksm"]["sleep_millisecs"] == sleep

    for test in (True, False):
        again = minion.state("host_present", test, **kwargs)
        assert again["result"] is True and again["changes"] == {}, again
    assert ksm("pages_to_scan") == pages and ksm("sleep_millisecs") == sleep


def test_converged_refuses_a_domain_past_the_cpu_allocation_ratio_and_defines_nothing(minion):
    cpus = os.cpu_count()
    big = PREFIX + "big"
    document = {"version": 1,
                "hosts": {HOST: {"connection": URI, "cpu_allocation_ratio": 0.5}},
                "domains": {big: {"vcpus": cpus, "memory": "64MiB", "state": "stopped"}}}
    before = snapshot(PREFIX)
    for test in (True, False):
        ret = minion.state("converged", test, name="site", document=document)
        assert ret["result"] is False and ret["changes"] == {}, ret
        assert f"it takes host {HOST} past its cpu_allocation_ratio" in ret["comment"], ret["comment"]
        assert "set allow_overcommit: True to permit it" in ret["comment"]
        assert "over its cpu_allocation_ratio of 0.50" in ret["comment"]
        assert big not in names("list", "--all", "--name")
    assert "[over_committed]" in ret["comment"]  # live mode: the engine's code
    assert snapshot(PREFIX) == before, "a refused state changed the host"

    predicted = minion.state("converged", True, name="site", document=document, allow_overcommit=True)
    assert predicted["result"] is None and big not in names("list", "--all", "--name")
    applied = minion.state("converged", False, name="site", document=document, allow_overcommit=True)
    assert applied["result"] is True, applied["comment"]
    assert applied["changes"][f"domain.{big}@{HOST}"]["action"] == "create"
    assert big in names("list", "--all", "--name")
