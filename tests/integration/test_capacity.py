"""Host capacity and KSM on the real libvirtd (issue 12).

- The plan's capacity figures are what `virsh nodeinfo` and the domains themselves report, every
  domain on the host counted (one made by hand, not in the documents, named).
- A document that takes the host over its cpu_allocation_ratio is refused by plan and apply with
  nothing changed; --allow-overcommit lets it through.
- KSM turned on and off through the document, verified in /sys/kernel/mm/ksm, the machine's own
  settings restored afterwards.
- Two identical TCG guests with KSM on: `observe` reports merged pages within a bounded wait.
- memory_sharing: false is <nosharepages/> in the domain XML, and turning it back on a running
  guest is a restart.
"""

import json
import os
import re
import time
import unittest
import xml.etree.ElementTree as ET

import guest
from vctest import URI, WORK, RealLibvirtTest, check_plan_schema, run, snapshot, virsh

KSM = "/sys/kernel/mm/ksm"
KSM_FIELDS = ("run", "pages_to_scan", "sleep_millisecs")


def read_ksm():
    values = {}
    for name in KSM_FIELDS:
        with open(os.path.join(KSM, name)) as f:
            values[name] = int(f.read().strip())
    return values


def write_ksm(values):
    for name in ("pages_to_scan", "sleep_millisecs", "run"):
        if name in values:
            with open(os.path.join(KSM, name), "w") as f:
                f.write(str(values[name]))


def nodeinfo():
    info = {}
    for line in virsh("nodeinfo").splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return int(info["CPU(s)"]), int(info["Memory size"].split()[0]) * 1024


def domain_figures(name):
    """(vcpus, current memory, ceiling) of a domain as libvirt reports it: the running guest's
    live values when it runs, its definition's when it does not."""
    running = virsh("domstate", name).strip() == "running"
    vcpus = int(virsh("vcpucount", name, "--current", "--live" if running else "--config"))
    info = {}
    for line in virsh("dominfo", name).splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    memory = int(info["Used memory"].split()[0]) * 1024
    xml = ET.fromstring(virsh("dumpxml", name) if running else virsh("dumpxml", name, "--inactive"))
    max_node = xml.find("maxMemory")
    ceiling = int(max_node.text) * 1024 if max_node is not None else int(info["Max memory"].split()[0]) * 1024
    return vcpus, memory, max(ceiling, memory)


def one_host(extra="", domains="", ksm=""):
    return f"""version: 1
hosts:
  hv-local:
    connection: "{URI}"
{extra}{ksm}
domains:
{domains or "  {}"}
"""


class CapacityTest(RealLibvirtTest):
    def plan_json(self, path, *extra):
        rc, out, err = run(["plan", path, "--format", "json", *extra])
        plan = json.loads(out)
        check_plan_schema(plan)
        return rc, plan, err

    def test_capacity_figures_are_what_nodeinfo_and_the_domains_report(self):
        # One domain running that these documents do not declare; one declared and stopped.
        self.apply_ok(self.write("made.yaml", """version: 1
domains:
  vct-cap-stray: {vcpus: 2, memory: 96MiB, state: running}
  vct-cap-off: {vcpus: 1, memory: 64MiB, max_memory: 256MiB, state: stopped}
"""))
        path = self.write("cap.yaml", one_host(
            domains="  vct-cap-off: {vcpus: 1, memory: 64MiB, max_memory: 256MiB, state: stopped}\n"
                    "  vct-cap-new: {vcpus: 3, memory: 128MiB, state: stopped}\n"))
        rc, plan, err = self.plan_json(path)
        self.assertEqual(rc, 0, err)
        c = plan["capacity"]["hv-local"]
        cpus, memory = nodeinfo()
        self.assertEqual(c["cpus"], cpus)
        self.assertEqual(c["memory"], memory)
        self.assertEqual(c["reserved_memory"], 512 << 20)  # the documented default
        on_host = [d for d in virsh("list", "--all", "--name").splitlines() if d.strip()]
        self.assertIn("vct-cap-stray", on_host)
        figures = {d: domain_figures(d) for d in on_host}
        before = c["before"]
        self.assertEqual(before["domains"], len(on_host))
        self.assertEqual(before["vcpus"], sum(f[0] for f in figures.values()))
        self.assertEqual(before["memory"], sum(f[1] for f in figures.values()))
        self.assertEqual(before["max_memory"], sum(f[2] for f in figures.values()))
        after = c["after"]
        self.assertEqual(after["domains"], len(on_host) + 1)
        self.assertEqual(after["vcpus"], before["vcpus"] + 3)
        self.assertEqual(after["memory"], before["memory"] + (128 << 20))
        self.assertIn("vct-cap-stray", after["undeclared"])
        self.assertNotIn("vct-cap-off", after["undeclared"])
        self.assertAlmostEqual(after["vcpu_ratio"], after["vcpus"] / cpus, places=3)
        self.assertAlmostEqual(after["ram_ratio"], ((512 << 20) + after["memory"]) / memory, places=3)
        # The text plan shows the same figures.
        rc, text, err = run(["plan", path])
        self.assertEqual(rc, 0, err)
        self.assertIn(f"hv-local: {cpus} CPUs", text)
        self.assertIn(f"vCPUs       {before['vcpus']} → {after['vcpus']}", text)
        self.assertIn("vct-cap-stray", text.split("Capacity")[1])

    def test_a_plan_over_the_vcpu_ratio_is_refused_and_nothing_changes(self):
        cpus, _ = nodeinfo()
        # Every vCPU the host already commits plus this domain's: over a ratio of 1.
        _, plan, _ = self.plan_json(self.write("probe.yaml", one_host()))
        committed = plan["capacity"].get("hv-local", {}).get("before", {}).get("vcpus", 0)
        vcpus = cpus - committed + 1 if cpus - committed + 1 > 0 else 1
        path = self.write("over.yaml", one_host(
            extra="    cpu_allocation_ratio: 1.0\n",
            domains=f"  vct-cap-big: {{vcpus: {vcpus}, max_vcpus: {vcpus}, memory: 64MiB, state: stopped}}\n"))
        before = snapshot()
        rc, plan, err = self.plan_json(path)
        self.assertEqual(rc, 1, err)
        self.assertFalse(plan["applyable"])
        over = [d for d in plan["diagnostics"] if d["code"] == "over_committed"]
        self.assertEqual(len(over), 1, plan["diagnostics"])
        self.assertEqual(over[0]["severity"], "error")
        self.assertEqual(over[0]["address"], "host.hv-local")
        self.assertIn("over its cpu_allocation_ratio of 1.00", over[0]["summary"])
        self.assertIn(f"on {cpus} CPUs", over[0]["detail"])
        rc, out, err = run(["apply", path])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("cpu_allocation_ratio", out + err)
        self.assertEqual(snapshot(), before, "a refused plan must change nothing")
        self.assertNotIn("vct-cap-big", virsh("list", "--all", "--name"))
        # A saved plan made with --allow-overcommit needs it again at apply: it is this run's
        # permission, like --allow-destroy.
        saved = os.path.join(WORK, "over.plan.json")
        rc, out, err = run(["plan", path, "--allow-overcommit", "--out", saved])
        self.assertEqual(rc, 0, out + err)
        rc, out, err = run(["apply", "--plan", saved])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("apply it with --allow-overcommit too", out + err)
        self.assertEqual(snapshot(), before, "a refused plan must change nothing")
        # Allowed for this run: applied, the plan saying so.
        rc, out, err = run(["apply", "--plan", saved, "--allow-overcommit"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("vct-cap-big", virsh("list", "--all", "--name"))
        virsh("undefine", "vct-cap-big")
        rc, out, err = run(["apply", path, "--allow-overcommit"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("allowed by --allow-overcommit", out + err)
        self.assertIn("vct-cap-big", virsh("list", "--all", "--name"))

    def test_memory_sharing_off_is_nosharepages_and_turning_it_on_is_a_restart(self):
        domain = "  vct-cap-ns: {{vcpus: 1, memory: 64MiB, memory_sharing: {}}}\n"
        path = self.write("ns.yaml", "version: 1\ndomains:\n" + domain.format("false"))
        self.apply_ok(path)
        xml = ET.fromstring(virsh("dumpxml", "vct-cap-ns"))
        self.assertIsNotNone(xml.find("memoryBacking/nosharepages"), virsh("dumpxml", "vct-cap-ns"))
        self.assert_no_changes(path)
        on = self.write("ns-on.yaml", "version: 1\ndomains:\n" + domain.format("true"))
        rc, out, err = run(["plan", on, "--connection", URI])
        self.assertEqual(rc, 0, err)
        self.assertIn("memory_sharing false → true", out)
        self.assertIn("needs restart", out)


@unittest.skipUnless(os.access(os.path.join(KSM, "run"), os.W_OK), "KSM's sysfs is not writable")
class KsmTest(RealLibvirtTest):
    def setUp(self):
        super().setUp()
        self.original = read_ksm()

    def tearDown(self):
        write_ksm(self.original)
        self.assertEqual(read_ksm(), self.original)
        for name in ("vct-ksm1", "vct-ksm2"):
            guest.remove_serial_log(guest.serial_log_path(name))
        super().tearDown()

    def test_ksm_is_turned_on_and_off_through_the_document(self):
        write_ksm({"run": 0})
        on = self.write("ksm-on.yaml", one_host(
            ksm="    ksm: {enabled: true, pages_to_scan: 1234, sleep_millisecs: 37}\n"))
        rc, out, err = run(["plan", on])
        self.assertEqual(rc, 0, err)
        self.assertIn("~ host.hv-local (update, live)", out)
        self.assertIn("ksm.enabled false → true", out)
        self.assertIn("ksm.pages_to_scan", out)
        rc, out, err = run(["apply", on])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(read_ksm(), {"run": 1, "pages_to_scan": 1234, "sleep_millisecs": 37})
        rc, out, err = run(["plan", on, "--detailed-exitcode"])
        self.assertEqual(rc, 0, out + err)
        off = self.write("ksm-off.yaml", one_host(ksm="    ksm: {enabled: false}\n"))
        rc, out, err = run(["apply", off])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(read_ksm()["run"], 0)
        self.assertEqual(read_ksm()["pages_to_scan"], 1234, "only declared settings change")
        # serve's observe gives the host's figures and KSM settings as data (what Puppet reads).
        rc, out, err = run(["serve"], stdin=json.dumps(
            {"id": 1, "command": "observe", "options": {"connection": URI}}) + "\n")
        self.assertEqual(rc, 0, err)
        host = json.loads(out.splitlines()[0])["result"]["host"]
        self.assertEqual(host["cpus"], nodeinfo()[0])
        self.assertEqual(host["memory"], nodeinfo()[1])
        self.assertEqual(host["ksm_settings"], {"enabled": False, "pages_to_scan": 1234,
                                                "sleep_millisecs": 37,
                                                "merge_across_nodes": host["ksm_settings"]["merge_across_nodes"]})
        # observe writes back what it reads: the same settings, planning clean.
        rc, observed, err = run(["observe", off])
        self.assertEqual(rc, 0, err)
        self.assertIn("enabled: false", observed)
        self.assertIn("pages_to_scan: 1234", observed)

    def test_two_identical_guests_with_ksm_on_show_merged_pages_in_observe(self):
        path = self.write("ksm.yaml", one_host(
            ksm="    ksm: {enabled: true, pages_to_scan: 5000, sleep_millisecs: 10}\n"))
        rc, out, err = run(["apply", path])
        self.assertEqual(rc, 0, out + err)
        kernel, initrd = guest.ensure_guest_images()
        for name in ("vct-ksm1", "vct-ksm2"):
            xml = guest.guest_domain_xml(name, vcpus=1, max_vcpus=1, memory_mib=128, max_memory_mib=256,
                                         serial_log=guest.serial_log_path(name), kernel=kernel,
                                         initrd=initrd)
            virsh("define", self.write(name + ".xml", xml))
            virsh("start", name)
        deadline = time.time() + 180
        saved = 0
        note = ""
        while time.time() < deadline:
            rc, out, err = run(["observe", path, "--format", "json"])
            self.assertEqual(rc, 0, err)
            note = next((l for l in err.splitlines() if l.startswith("note: host hv-local:")), "")
            m = re.search(r"KSM saves \S+ \((\d+) guest pages merged into (\d+) shared pages", note)
            self.assertIsNotNone(m, err)
            saved = int(m.group(1))
            if saved > 0:
                break
            time.sleep(3)
        self.assertGreater(saved, 0, f"no merged pages within 180 s: {note}")
        with open(os.path.join(KSM, "pages_sharing")) as f:
            self.assertGreater(int(f.read()), 0)
        # The document observe prints still plans clean with the host entry.
        doc = json.loads(out)
        self.assertEqual(doc["hosts"]["hv-local"]["ksm"]["enabled"], True)


if __name__ == "__main__":
    unittest.main()
