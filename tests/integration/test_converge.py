"""End-to-end behaviour of plan, apply and observe on the real libvirtd with the QEMU driver."""

import json
import os
import re
import subprocess
import time
import unittest

from vctest import BINARY, URI, WORK, RealLibvirtTest, names, qemu_pid, run, snapshot, virsh


def site(pool_dir, vcpus=1, memory="128MiB", state="running", extra="", max_memory="512MiB"):
    return f"""version: 1
pools:
  vct-images:
    type: dir
    path: {pool_dir}
networks:
  vct-net:
    mode: isolated
volumes:
  vct-images/web1-root:
    format: qcow2
    capacity: 64MiB
  vct-images/web1-data:
    format: raw
    capacity: 16MiB
domains:
  vct-web1:
    vcpus: {vcpus}
    max_vcpus: 4
    memory: {memory}
    max_memory: {max_memory}
    disks:
      - volume: vct-images/web1-root
        target: vda
      - volume: vct-images/web1-data
        target: vdb
    interfaces:
      - network: vct-net
    state: {state}
    autostart: false
{extra}"""


class ConvergeTest(RealLibvirtTest):
    def site_file(self, **kw):
        return self.write("site.yaml", site(os.path.join(WORK, "images"), **kw))

    def test_apply_creates_everything_and_a_second_plan_is_empty(self):
        path = self.site_file()
        out = self.apply_ok(path)
        self.assertIn("Apply: 5 of 5 resource(s) converged.", out)
        self.assertEqual(virsh("domstate", "vct-web1"), "running")
        self.assertIn("vct-net", names("net-list", "--name"))
        self.assertTrue(os.path.exists(os.path.join(WORK, "images", "web1-root")))
        # The disk is thin qcow2 with discard passed through to the guest's driver.
        xml = virsh("dumpxml", "vct-web1")
        self.assertIn("discard='unmap'", xml)
        self.assertIn("<source pool='vct-images' volume='web1-root'", xml)
        # The isolated network has no address, no forwarding, and starts no dnsmasq.
        net = virsh("net-dumpxml", "vct-net")
        self.assertNotIn("<ip", net)
        self.assertNotIn("<forward", net)
        self.assert_no_changes(path)
        rc, out, _ = run(["apply", path, "--connection", URI, "--detailed-exitcode"])
        self.assertEqual(rc, 0)
        self.assertIn("Nothing to do", out)

    def test_observe_output_plans_to_no_changes(self):
        self.apply_ok(self.site_file())
        rc, observed, err = run(["observe", "--connection", URI])
        self.assertEqual(rc, 0, err)
        self.assertIn("vct-web1:", observed)
        rc, out, err = run(["plan", "-", "--connection", URI, "--detailed-exitcode"], stdin=observed)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("No changes", out)
        rc, observed_json, _ = run(["observe", "--format", "json", "--connection", URI])
        doc = json.loads(observed_json)
        self.assertEqual(doc["domains"]["vct-web1"]["vcpus"], 1)
        self.assertEqual(doc["volumes"]["vct-images/web1-root"]["capacity"], "64MiB")

    def test_hand_defined_domain_with_the_declared_values_shows_no_change(self):
        images = os.path.join(WORK, "images")
        self.apply_ok(self.write("storage.yaml", f"""version: 1
pools:
  vct-hpool: {{type: dir, path: {images}}}
networks:
  vct-hnet: {{mode: isolated}}
volumes:
  vct-hpool/hand-root: {{capacity: 32MiB}}
"""))
        # Written the way a person (or another tool) would: a file disk, explicit PCI addresses,
        # controllers, a UUID, a MAC; none of those is declared, so none may show as a diff.
        xml = self.write("hand.xml", f"""<domain type='kvm'>
  <name>vct-hand</name>
  <uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{images}/hand-root'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='vct-hnet'/>
      <model type='virtio'/>
    </interface>
    <controller type='usb' model='piix3-uhci'/>
    <memballoon model='virtio'/>
  </devices>
</domain>
""")
        virsh("define", xml)
        doc = self.write("hand.yaml", """version: 1
domains:
  vct-hand:
    vcpus: 1
    max_vcpus: 2
    memory: 128MiB
    max_memory: 256MiB
    disks:
      - volume: vct-hpool/hand-root
        target: vda
    interfaces:
      - network: vct-hnet
    state: stopped
""")
        self.assert_no_changes(doc)
        # A declared difference is found, and only that one.
        with open(doc) as f:
            doc2 = self.write("hand2.yaml", f.read().replace("vcpus: 1", "vcpus: 2"))
        rc, out, _ = run(["plan", doc2, "--connection", URI, "--format", "json"])
        plan = json.loads(out)
        self.assertEqual([c["address"] for c in plan["changes"]], ["domain.vct-hand"])
        self.assertEqual([a["path"] for a in plan["changes"][0]["attributes"]], ["vcpus"])
        # Applying it keeps what libvirt and the person wrote: UUID, MAC, PCI address, controller.
        self.apply_ok(doc2)
        after = virsh("dumpxml", "vct-hand", "--inactive")
        self.assertIn("1b4e28ba-2fa1-11d2-883f-0016d3cca427", after)
        self.assertIn("52:54:00:12:34:56", after)
        self.assertIn("slot='0x07'", after)
        self.assertIn("piix3-uhci", after)

    def test_restart_class_change_waits_in_the_config_until_restart_is_allowed(self):
        path = self.site_file()
        self.apply_ok(path)
        pid = qemu_pid("vct-web1")
        path = self.site_file(max_memory="768MiB")
        rc, out, _ = run(["plan", path, "--connection", URI, "--detailed-exitcode"])
        self.assertEqual(rc, 2)
        self.assertIn("max_memory 512MiB → 768MiB  (needs restart: the memory ceiling is fixed at boot", out)
        out = self.apply_ok(path)
        self.assertIn("max_memory pending restart (running 512MiB, next boot 768MiB)", out)
        self.assertEqual(qemu_pid("vct-web1"), pid, "the domain must not be restarted silently")
        self.assertIn("786432</maxMemory>", virsh("dumpxml", "vct-web1", "--inactive"))
        self.assertIn("524288</maxMemory>", virsh("dumpxml", "vct-web1"))
        out = self.assert_no_changes(path)
        self.assertIn("Pending restart", out)
        rc, observed, _ = run(["observe", "--connection", URI])
        self.assertIn("# vct-web1: max_memory pending restart (running 512MiB, next boot 768MiB)", observed)
        # With --allow-restart the pending change takes effect: a new QEMU process.
        out = self.apply_ok(path, "--allow-restart", "--shutdown-timeout", "1")
        self.assertIn("shut down domain.vct-web1", out)
        self.assertNotEqual(qemu_pid("vct-web1"), pid)
        self.assertIn("786432</maxMemory>", virsh("dumpxml", "vct-web1"))
        self.assertNotIn("Pending", self.assert_no_changes(path))

    def test_stopping_and_starting_follow_the_declared_state(self):
        self.apply_ok(self.site_file())
        out = self.apply_ok(self.site_file(state="stopped"), "--shutdown-timeout", "1")
        self.assertIn("shut down domain.vct-web1", out)
        self.assertEqual(virsh("domstate", "vct-web1"), "shut off")
        self.apply_ok(self.site_file(state="running"))
        self.assertEqual(virsh("domstate", "vct-web1"), "running")

    def test_saved_plan_applies_only_while_the_host_is_unchanged(self):
        self.apply_ok(self.site_file(state="stopped"))
        path = self.site_file(state="stopped", memory="256MiB")
        plan_file = os.path.join(WORK, "plan.json")
        rc, _, err = run(["plan", path, "--connection", URI, "--out", plan_file])
        self.assertEqual(rc, 0, err)
        # Someone changes the domain after the plan was made.
        virsh("setmem", "vct-web1", "96M", "--config")
        rc, out, err = run(["apply", "--plan", plan_file])
        self.assertEqual(rc, 1)
        self.assertIn("changed since the plan was made", err)
        self.assertIn("98304", virsh("dominfo", "vct-web1"))  # untouched: still 96 MiB
        # A fresh plan applies.
        rc, _, err = run(["plan", path, "--connection", URI, "--out", plan_file])
        with open(plan_file) as f:  # the plan may also come on standard input
            rc, out, err = run(["apply", "--plan", "-", "--detailed-exitcode"], stdin=f.read())
        self.assertEqual(rc, 2, out + err)
        self.assertIn("262144", virsh("dominfo", "vct-web1"))
        self.assert_no_changes(path)

    def test_absent_removes_and_destructive_needs_allow(self):
        self.apply_ok(self.site_file())
        gone = self.write("gone.yaml", """version: 1
domains:
  vct-web1: {ensure: absent}
volumes:
  vct-images/web1-data: {ensure: absent}
""")
        before = names("vol-list", "vct-images")
        rc, out, err = run(["apply", gone, "--connection", URI, "--shutdown-timeout", "1"])
        self.assertEqual(rc, 1)
        self.assertIn("destructive change refused without --allow-destroy", out + err)
        self.assertEqual(virsh("domstate", "vct-web1"), "running", "a refused apply changes nothing")
        self.assertEqual(names("vol-list", "vct-images"), before)
        out = self.apply_ok(gone, "--allow-destroy", "--shutdown-timeout", "1")
        self.assertNotIn("vct-web1", names("list", "--all", "--name"))
        self.assertFalse(os.path.exists(os.path.join(WORK, "images", "web1-data")))
        self.assertTrue(os.path.exists(os.path.join(WORK, "images", "web1-root")), "other volumes stay")

    def test_volume_grows_and_a_running_guest_sees_the_new_size(self):
        self.apply_ok(self.site_file())
        pid = qemu_pid("vct-web1")
        grown = site(os.path.join(WORK, "images")).replace("capacity: 64MiB", "capacity: 96MiB")
        path = self.write("grown.yaml", grown)
        rc, out, _ = run(["plan", path, "--connection", URI])
        self.assertIn("capacity 64MiB → 96MiB  (live: grow)", out)
        self.apply_ok(path)
        self.assertIn(str(96 * 1024 * 1024), virsh("domblkinfo", "vct-web1", "vda"))
        self.assertEqual(qemu_pid("vct-web1"), pid)
        self.assert_no_changes(path)
        shrunk = self.write("shrunk.yaml", grown.replace("capacity: 96MiB", "capacity: 32MiB"))
        rc, out, err = run(["apply", shrunk, "--connection", URI])
        self.assertEqual(rc, 1)
        self.assertIn("shrink", out)
        self.assertIn(str(96 * 1024 * 1024), virsh("domblkinfo", "vct-web1", "vda"))

    def test_shrinking_an_unused_volume_needs_allow_destroy_and_a_used_one_is_refused(self):
        images = os.path.join(WORK, "images")
        doc = f"version: 1\npools:\n  vct-images: {{type: dir, path: {images}}}\nvolumes:\n  vct-images/spare: {{capacity: %s}}\n"
        self.apply_ok(self.write("spare.yaml", doc % "64MiB"))
        small = self.write("small.yaml", doc % "32MiB")
        rc, out, err = run(["apply", small, "--connection", URI])
        self.assertEqual(rc, 1)
        self.assertIn("capacity 64MiB → 32MiB  (destructive: shrink", out)
        self.apply_ok(small, "--allow-destroy")
        self.assertIn("32.00 MiB", virsh("vol-info", "spare", "--pool", "vct-images"))
        # A volume a running guest uses is never shrunk under it, even when destruction is allowed.
        self.apply_ok(self.site_file())
        shrunk = self.write("shrunk.yaml", site(images).replace("capacity: 64MiB", "capacity: 32MiB"))
        rc, out, err = run(["apply", shrunk, "--connection", URI, "--allow-destroy"])
        self.assertEqual(rc, 1)
        self.assertIn("cannot shrink while domain vct-web1 runs with it as vda", out + err)
        self.assertIn(str(64 * 1024 * 1024), virsh("domblkinfo", "vct-web1", "vda"))

    def test_prune_removes_only_marked_undeclared_resources(self):
        self.apply_ok(self.write("nets.yaml", "version: 1\nnetworks:\n  vct-mine: {mode: isolated}\n"))
        foreign = self.write("foreign.xml", "<network><name>vct-foreign</name><dns enable='no'/></network>")
        virsh("net-define", foreign)
        empty = self.write("empty.yaml", "version: 1\n")
        self.assert_no_changes(empty)  # without --prune nothing undeclared is touched
        # Prune means "the documents describe the whole host". Other work may share this daemon,
        # so the document declares everything that is not this test's, exactly as observed.
        rc, out, err = run(["apply", self.whole_host_but_ours(), "--prune", "--connection", URI])
        self.assertEqual(rc, 0, out + err)
        nets = names("net-list", "--all", "--name")
        self.assertNotIn("vct-mine", nets)
        self.assertIn("vct-foreign", nets, "a network virtconverge did not create is never pruned")

    def test_a_live_change_an_os_less_guest_does_not_follow_is_reported_as_failed(self):
        # The guest runs no OS: it never releases a disk nor inflates a balloon. Apply must say
        # so, not claim success.
        pool_dir = os.path.join(WORK, "images")
        self.apply_ok(self.write("site.yaml", site(pool_dir, memory="256MiB")))
        no_data = site(pool_dir, memory="256MiB").replace(
            "      - volume: vct-images/web1-data\n        target: vdb\n", "")
        rc, out, err = run(["apply", self.write("detach.yaml", no_data), "--connection", URI,
                            "--format", "json"], timeout=120)
        self.assertEqual(rc, 1, out + err)
        outcome = {o["address"]: o for o in json.loads(out)["apply"]["outcomes"]}["domain.vct-web1"]
        self.assertFalse(outcome["ok"], outcome)
        self.assertEqual(outcome["code"], "operation_failed", outcome)
        self.assertFalse(outcome["transient"], outcome)
        self.assertIn("vdb", outcome["error"])
        self.assertIn("vdb", virsh("domblklist", "vct-web1"), "the guest still has the disk")

        rc, out, err = run(["apply", self.write("balloon.yaml", site(pool_dir, memory="192MiB")),
                            "--connection", URI, "--format", "json"], timeout=120)
        self.assertEqual(rc, 1, out + err)
        outcome = {o["address"]: o for o in json.loads(out)["apply"]["outcomes"]}["domain.vct-web1"]
        self.assertFalse(outcome["ok"], outcome)
        self.assertEqual(outcome["code"], "operation_failed", outcome)
        self.assertIn("did not follow the balloon", outcome["error"])
        self.assertIn("memory (in the running guest: 256MiB)", outcome["remaining"])

    def test_parallelism_runs_resources_at_once_and_one_runs_them_in_turn(self):
        # Four OS-less guests ignore the ACPI button, so each shutdown waits its full timeout:
        # the steps' times in the report show whether they ran at the same time.
        def doc(state):
            return self.write(f"par-{state}.yaml", "version: 1\ndomains:\n" + "".join(
                f"  vct-par{i}: {{vcpus: 1, memory: 64MiB, state: {state}}}\n" for i in range(4)))

        def shutdown_times(parallelism):
            self.apply_ok(doc("running"))
            rc, out, err = run(["apply", doc("stopped"), "--connection", URI, "--format", "json",
                                "--shutdown-timeout", "2", "-p", str(parallelism)], timeout=120)
            self.assertEqual(rc, 0, out + err)
            times = []
            for o in json.loads(out)["apply"]["outcomes"]:
                for step, t in zip(o["steps"], o["step_times"]):
                    if step.startswith("shut down"):
                        times.append((t["start"], t["start"] + t["seconds"]))
            self.assertEqual(len(times), 4, out)
            self.assertTrue(all(end - start >= 1.5 for start, end in times), times)
            return sorted(times)

        together = shutdown_times(4)
        self.assertLess(max(s for s, _ in together), min(e for _, e in together),
                        f"with -p 4 the four shutdowns did not overlap: {together}")
        in_turn = shutdown_times(1)
        for (_, end), (start, _) in zip(in_turn, in_turn[1:]):
            self.assertGreaterEqual(start, end - 0.01, f"with -p 1 two shutdowns overlapped: {in_turn}")

    def test_a_resource_changed_between_plan_and_its_turn_is_stopped_with_changed_since_plan(self):
        doc = "version: 1\ndomains:\n  vct-cha: {{vcpus: 1, memory: 64MiB, state: {a}}}\n" \
              "  vct-chb: {{vcpus: {b}, max_vcpus: 2, memory: 64MiB, state: stopped, autostart: false}}\n"
        self.apply_ok(self.write("ch1.yaml", doc.format(a="running", b=1)))
        # vct-cha's shutdown waits its timeout (no OS answers ACPI); meanwhile someone else edits
        # vct-chb, whose turn comes next (-p 1).
        p = subprocess.Popen([BINARY, "apply", self.write("ch2.yaml", doc.format(a="stopped", b=2)),
                              "--connection", URI, "--format", "json", "-p", "1", "--shutdown-timeout", "4"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        virsh("autostart", "vct-chb")
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 1, out + err)
        outcomes = {o["address"]: o for o in json.loads(out)["apply"]["outcomes"]}
        self.assertTrue(outcomes["domain.vct-cha"]["ok"], outcomes)
        b = outcomes["domain.vct-chb"]
        self.assertEqual(b["code"], "changed_since_plan", b)
        self.assertIn("autostart was false, is now true", b["error"])
        self.assertEqual(b["steps"], [], "nothing was done to the resource that changed")
        self.assertIn("<vcpu placement='static' current='1'>2</vcpu>", virsh("dumpxml", "vct-chb", "--inactive"))

    def whole_host_but_ours(self, keep=None):
        """A document declaring everything on the shared daemon that is not this test's (as observed),
        plus `keep` (section → resources): what --prune then treats as the whole host."""
        rc, observed, err = run(["observe", "--format", "json", "--connection", URI])
        self.assertEqual(rc, 0, err)
        doc = {"version": 1}
        for section, resources in json.loads(observed).items():
            if isinstance(resources, dict):
                doc[section] = {k: v for k, v in resources.items() if not k.startswith("vct-")}
        for section, resources in (keep or {}).items():
            doc.setdefault(section, {}).update(resources)
        return self.write("whole-host.json", json.dumps(doc))

    def test_prune_of_every_kind_deletes_only_marked_resources_and_destructive_ones_need_the_allow(self):
        pool_dir = os.path.join(WORK, "prune-pool")
        self.apply_ok(self.write("mine.yaml", f"""version: 1
pools:
  vct-prp: {{type: dir, path: {pool_dir}}}
volumes:
  vct-prp/mine: {{capacity: 16MiB}}
networks:
  vct-prn: {{mode: isolated}}
domains:
  vct-prd: {{vcpus: 1, memory: 64MiB, state: stopped, disks: [{{volume: vct-prp/mine, target: vda}}]}}
"""))
        virsh("vol-create-as", "vct-prp", "foreign", "1M")
        virsh("net-define", self.write("fnet.xml", "<network><name>vct-prn-foreign</name></network>"))
        virsh("define", self.write("fdom.xml", "<domain type='qemu'><name>vct-prd-foreign</name>"
                                   "<memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>"))
        keep_pool = self.whole_host_but_ours({"pools": {"vct-prp": {"type": "dir", "path": pool_dir}}})
        before = snapshot()
        rc, out, err = run(["apply", keep_pool, "--prune", "--connection", URI])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("volume.vct-prp/mine: destructive change refused without --allow-destroy", out + err)
        self.assertEqual(snapshot(), before, "a refused prune changed the host")

        rc, out, err = run(["apply", keep_pool, "--prune", "--allow-destroy", "--connection", URI])
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("vct-prd", names("list", "--all", "--name"))
        self.assertIn("vct-prd-foreign", names("list", "--all", "--name"), "an unmarked domain is never pruned")
        self.assertNotIn("vct-prn", names("net-list", "--all", "--name"))
        self.assertIn("vct-prn-foreign", names("net-list", "--all", "--name"))
        volumes = virsh("vol-list", "vct-prp")
        self.assertNotIn("mine", volumes)
        self.assertIn("foreign", volumes, "a volume without the mark is never pruned")

        # The marked pool goes too, with the unmarked volume still in it: destructive, allowed.
        rc, out, err = run(["apply", self.whole_host_but_ours(), "--prune", "--allow-destroy",
                            "--connection", URI])
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("vct-prp", names("pool-list", "--all", "--name"))

    def test_cpu_model_is_set_at_creation_and_a_change_needs_a_restart(self):
        doc = """version: 1
domains:
  vct-cpu:
    vcpus: 1
    memory: 64MiB
    cpu: {mode: custom, model: %s}
"""
        path = self.write("cpu.yaml", doc % "pentium3")
        self.apply_ok(path)
        self.assertIn("<model fallback='forbid'>pentium3</model>", virsh("dumpxml", "vct-cpu", "--inactive"))
        self.assert_no_changes(path)
        rc, out, _ = run(["plan", self.write("cpu2.yaml", doc % "pentium2"), "--connection", URI])
        self.assertIn("cpu {mode: custom, model: pentium3} → {mode: custom, model: pentium2}  "
                      "(needs restart: the CPU model is fixed at boot)", out)

    def test_independent_domains_apply_in_parallel_and_all_converge(self):
        doms = "".join(f"""  vct-p{i}:
    vcpus: 1
    memory: 64MiB
    state: stopped
""" for i in range(8))
        path = self.write("many.yaml", "version: 1\ndomains:\n" + doms)
        out = self.apply_ok(path, "--parallelism", "4")
        self.assertIn("Apply: 8 of 8 resource(s) converged.", out)
        self.assert_no_changes(path)


class LogicalPoolTest(RealLibvirtTest):
    """An LVM `logical` pool on a volume group made on a loop device for the test."""

    def setUp(self):
        super().setUp()
        self.image = os.path.join(WORK, "lvm.img")
        subprocess.run(["truncate", "-s", "128M", self.image], check=True)
        self.loop = subprocess.run(["losetup", "-f", "--show", self.image], capture_output=True, text=True,
                                   check=True).stdout.strip()
        subprocess.run(["vgcreate", "-q", "vct-vg", self.loop], capture_output=True, check=True)

    def tearDown(self):
        virsh("pool-destroy", "vct-lvm", check=False)
        virsh("pool-undefine", "vct-lvm", check=False)
        subprocess.run(["vgremove", "-q", "-f", "vct-vg"], capture_output=True)
        subprocess.run(["pvremove", "-q", self.loop], capture_output=True)
        subprocess.run(["losetup", "-d", self.loop], capture_output=True)
        super().tearDown()

    def test_logical_pool_maps_the_volume_group(self):
        path = self.write("lvm.yaml", "version: 1\npools:\n  vct-lvm: {type: logical, volume_group: vct-vg}\n")
        self.apply_ok(path)
        self.assertIn("running", virsh("pool-info", "vct-lvm"))
        self.assertIn("<name>vct-vg</name>", virsh("pool-dumpxml", "vct-lvm"))
        self.assert_no_changes(path)
        rc, out, _ = run(["observe", "--format", "json", "--connection", URI])
        self.assertEqual(json.loads(out)["pools"]["vct-lvm"], {"type": "logical", "volume_group": "vct-vg",
                                                               "autostart": True})


class BadInputTest(RealLibvirtTest):
    """Each bad input exits 1, names the file, resource and field, and changes nothing."""

    def assert_rejected(self, files, *expected, args=(), command="apply"):
        before = __import__("vctest").snapshot()
        rc, out, err = run([command, *files, "--connection", URI, *args])
        self.assertEqual(rc, 1, f"expected exit 1:\n{out}\n{err}")
        for text in expected:
            self.assertIn(text, out + err)
        self.assertEqual(__import__("vctest").snapshot(), before, "a rejected apply must change nothing")

    def doc(self, name, text):
        return self.write(name, text)

    def test_malformed_yaml_and_json_give_line_and_column(self):
        f = self.doc("bad.yaml", "version: 1\nnetworks:\n  vct-x: {mode: isolated\n")
        self.assert_rejected([f], "bad.yaml:", "malformed")
        j = self.doc("bad.json", '{"version": 1, "networks": {"vct-x": {"mode": "isolated"}\n')
        self.assert_rejected([j], "bad.json:", "malformed")

    def test_validate_reports_json_for_tools(self):
        f = self.doc("typo.yaml", "version: 1\ndomains:\n  vct-b1: {vcpu: 2, memory: 1GiB}\n")
        rc, out, _ = run(["validate", f, "--format", "json"])
        self.assertEqual(rc, 1)
        result = json.loads(out)
        self.assertFalse(result["valid"])
        self.assertIn("domains.vct-b1.vcpu: unknown field, did you mean 'vcpus'?", result["diagnostics"][0]["summary"])

    def test_schema_violations_name_the_field(self):
        f = self.doc("typo.yaml", "version: 1\nnetworks:\n  vct-ok: {mode: isolated}\ndomains:\n  vct-b1:\n    vcpu: 2\n    memory: 1GiB\n")
        self.assert_rejected([f], "typo.yaml:6:", "domains.vct-b1.vcpu", "did you mean 'vcpus'")

    def test_bad_sizes_and_limits_name_the_field(self):
        base = "version: 1\nnetworks:\n  vct-ok: {{mode: isolated}}\ndomains:\n  vct-b1:\n    vcpus: {v}\n    max_vcpus: {mv}\n    memory: {m}\n    max_memory: {mm}\n"
        cases = [
            (dict(v=1, mv=2, m="12XB", mm="1GiB"), "domains.vct-b1.memory", "unknown unit"),
            (dict(v=1, mv=2, m="0MiB", mm="1GiB"), "domains.vct-b1.memory", "zero"),
            (dict(v=1, mv=2, m="99999999TiB", mm="1GiB"), "domains.vct-b1.memory", "too large"),
            (dict(v=1, mv=2, m="2GiB", mm="1GiB"), "domains.vct-b1.memory", "more than max_memory"),
            (dict(v=4, mv=2, m="1GiB", mm="1GiB"), "domains.vct-b1.vcpus", "more than max_vcpus"),
        ]
        for values, field, why in cases:
            with self.subTest(values=values):
                self.assert_rejected([self.doc("limits.yaml", base.format(**values))], "limits.yaml", field, why)

    def test_disk_on_a_volume_neither_declared_nor_present(self):
        f = self.doc("ref.yaml", """version: 1
networks:
  vct-ok: {mode: isolated}
domains:
  vct-b1:
    vcpus: 1
    memory: 64MiB
    disks: [{volume: vct-nopool/nothing, target: vda}]
""")
        self.assert_rejected([f], "domains.vct-b1.disks[0].volume", "neither declared nor present")

    def test_a_name_declared_in_two_files_names_both(self):
        a = self.doc("a.yaml", "version: 1\nnetworks:\n  vct-dup: {mode: isolated}\n")
        b = self.doc("b.yaml", "version: 1\nnetworks:\n  vct-dup: {mode: isolated}\n")
        self.assert_rejected([a, b], "declared twice", "a.yaml", "b.yaml")

    def test_hostile_names_are_rejected(self):
        for name in ["../etc", "a;rm -rf /", "<x/>", "it's", 'say\\"hi\\"', "n" * 300, ""]:
            with self.subTest(name=name[:20]):
                f = self.doc("hostile.yaml", f'version: 1\nnetworks:\n  "{name}": {{mode: isolated}}\n  vct-ok: {{mode: isolated}}\n')
                self.assert_rejected([f], "hostile.yaml", "networks")

    def test_unreachable_uri_and_dead_daemon_fail_fast(self):
        f = self.doc("ok.yaml", "version: 1\nnetworks:\n  vct-ok: {mode: isolated}\n")
        for uri in ["qemu+tcp://127.0.0.1:1/system", "qemu+unix:///system?socket=/tmp/vct-no-such.sock"]:
            with self.subTest(uri=uri):
                import time
                start = time.time()
                rc, out, err = run(["plan", f, "--connection", uri], timeout=30)
                self.assertEqual(rc, 1)
                self.assertIn("cannot connect to libvirt at " + uri, err)
                self.assertLess(time.time() - start, 10)


if __name__ == "__main__":
    unittest.main()
