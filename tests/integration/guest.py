"""A tiny real Linux guest for integration tests: build its images, write its domain XML, and read
what the guest itself reports on its serial console.

The guest (tests/guest/init) prints, about once a second:

  GUEST-STATUS present=0-3 online=0-1 memtotal_kb=216800 blk=vda:131072:discard_max=2147483136
               net=eth0@52:54:00:c1:00:01 uptime=12.34 boot=5f0c...

Tests must name what they create with the prefix vcg- and remove it when done (other tests share
the libvirtd).
"""

import collections
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_SCRIPT = os.path.join(REPO, "tests", "guest", "build-guest.sh")
INIT = os.path.join(REPO, "tests", "guest", "init")
IMAGE_DIR = os.environ.get("VCG_GUEST_DIR", "/var/cache/virtconverge-test/guest")
LOG_DIR = os.environ.get("VCG_LOG_DIR", "/tmp/vcg-serial")
CMDLINE = "console=ttyS0 memhp_default_state=online_movable quiet"
EMULATOR = "/usr/bin/qemu-system-x86_64"

BlockDev = collections.namedtuple("BlockDev", "sectors discard_max")


# ---------------------------------------------------------------- images

def ensure_guest_images(outdir=IMAGE_DIR, timeout=900):
    """Returns (kernel, initrd) paths, building them with build-guest.sh when missing or stale."""
    kernel = os.path.join(outdir, "vmlinuz")
    initrd = os.path.join(outdir, "initrd.img")

    def fresh():
        try:
            newest_input = max(os.path.getmtime(INIT), os.path.getmtime(BUILD_SCRIPT))
            return min(os.path.getmtime(kernel), os.path.getmtime(initrd)) > newest_input
        except OSError:
            return False

    if not fresh():
        p = subprocess.run(["bash", BUILD_SCRIPT, outdir], capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0 or not fresh():
            raise AssertionError(f"build-guest.sh failed (rc={p.returncode}):\n{p.stdout}\n{p.stderr}")
    return kernel, initrd


def serial_log_path(name, log_dir=LOG_DIR):
    """A fresh serial log path for domain `name` in a 755 directory (virtlogd/QEMU must reach it)."""
    os.makedirs(log_dir, exist_ok=True)
    os.chmod(log_dir, 0o755)
    path = os.path.join(log_dir, f"{name}-serial.log")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return path


def remove_serial_log(path):
    for p in (path, path + ".0"):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------- domain XML

def _sub(parent, tag, text=None, **attrs):
    e = ET.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrs.items()})
    if text is not None:
        e.text = str(text)
    return e


def guest_domain_xml(name, *, vcpus, max_vcpus, memory_mib, max_memory_mib, slots=8, serial_log,
                     disks=(), interfaces=(), kernel=None, initrd=None, balloon_period=1,
                     agent=False, cmdline_extra=""):
    """Domain XML (a string) for the test guest under TCG.

    disks: dicts {pool, volume, target, format} -> <disk type='volume'> on virtio, discard='unmap'.
    interfaces: dicts {network, mac} -> <interface type='network'> virtio.
    agent: a channel for the QEMU guest agent (org.qemu.guest_agent.0), which the guest then runs.
    cmdline_extra: words added to the kernel command line (e.g. vc_fs=vda, see tests/guest/init).
    kernel/initrd default to ensure_guest_images().
    """
    if kernel is None or initrd is None:
        kernel, initrd = ensure_guest_images()
    dom = ET.Element("domain", type="qemu")
    _sub(dom, "name", name)
    _sub(dom, "maxMemory", max_memory_mib, slots=slots, unit="MiB")
    _sub(dom, "memory", memory_mib, unit="MiB")
    _sub(dom, "currentMemory", memory_mib, unit="MiB")
    _sub(dom, "vcpu", max_vcpus, placement="static", current=vcpus)
    os_ = _sub(dom, "os")
    _sub(os_, "type", "hvm", arch="x86_64", machine="pc")
    _sub(os_, "kernel", kernel)
    _sub(os_, "initrd", initrd)
    _sub(os_, "cmdline", f"{CMDLINE} {cmdline_extra}".strip())
    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    numa = _sub(_sub(dom, "cpu"), "numa")
    _sub(numa, "cell", id=0, cpus=f"0-{max_vcpus - 1}" if max_vcpus > 1 else "0",
         memory=memory_mib, unit="MiB")
    _sub(dom, "clock", offset="utc")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    _sub(devices, "emulator", EMULATOR)
    _sub(devices, "controller", type="usb", model="none")
    for d in disks:
        disk = _sub(devices, "disk", type="volume", device="disk")
        _sub(disk, "driver", name="qemu", type=d.get("format", "raw"), discard="unmap")
        _sub(disk, "source", pool=d["pool"], volume=d["volume"])
        _sub(disk, "target", dev=d["target"], bus="virtio")
    for i in interfaces:
        iface = _sub(devices, "interface", type="network")
        _sub(iface, "mac", address=i["mac"])
        _sub(iface, "source", network=i["network"])
        _sub(iface, "model", type="virtio")
    if agent:
        channel = _sub(devices, "channel", type="unix")
        _sub(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    serial = _sub(devices, "serial", type="file")
    _sub(serial, "source", path=serial_log)
    _sub(serial, "target", port=0)
    balloon = _sub(devices, "memballoon", model="virtio")
    _sub(balloon, "stats", period=balloon_period)
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")


# ---------------------------------------------------------------- console

def parse_cpulist(text):
    """'0-2,5' -> {0, 1, 2, 5}"""
    cpus = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


_STATUS_RE = re.compile(
    r"GUEST-STATUS present=(?P<present>[0-9,-]*) online=(?P<online>[0-9,-]*) memtotal_kb=(?P<mem>\d+)"
    r" blk=(?P<blk>\S*) net=(?P<net>\S*) uptime=(?P<uptime>[0-9.]+) boot=(?P<boot>[0-9a-f-]+)$")


def parse_status(line):
    """Parses one GUEST-STATUS line into a dict, or returns None if it is not a complete one.

    Keys: present/online (sets of CPU ids), present_count/online_count, memtotal_kb (int),
    blk {name: BlockDev(sectors, discard_max)}, net {ifname: mac}, uptime (float), boot (str), raw.
    """
    m = _STATUS_RE.search(line.strip())
    if not m:
        return None
    blk = {}
    for item in filter(None, m["blk"].split(",")):
        name, sectors, discard = item.split(":", 2)
        blk[name] = BlockDev(int(sectors), int(discard.partition("=")[2]))
    net = {}
    for item in filter(None, m["net"].split(",")):
        ifname, _, mac = item.partition("@")
        net[ifname] = mac
    present, online = parse_cpulist(m["present"]), parse_cpulist(m["online"])
    return {
        "present": present, "online": online,
        "present_count": len(present), "online_count": len(online),
        "memtotal_kb": int(m["mem"]), "blk": blk, "net": net,
        "uptime": float(m["uptime"]), "boot": m["boot"], "raw": m.group(0),
    }


class Console:
    """Follows a guest's serial log file (written by virtlogd/QEMU) and parses what the guest prints.

    Start at the file's current end with Console(path, from_end=True) to ignore an earlier boot.
    """

    def __init__(self, path, from_end=False):
        self.path = path
        self.offset = 0
        self._partial = b""
        self.lines = []          # complete lines read so far (str, without CR/LF)
        self.statuses = []       # parsed GUEST-STATUS dicts, oldest first
        self.ready_line = None
        self.ready_at = None     # time.time() when GUEST-READY was first read
        if from_end:
            try:
                self.offset = os.path.getsize(path)
            except OSError:
                pass

    def poll(self):
        """Reads whatever is new in the log; returns the number of new complete lines."""
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return 0
        if size < self.offset:   # truncated / recreated
            self.offset, self._partial = 0, b""
        if size == self.offset:
            return 0
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        self.offset += len(data)
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        for raw in chunks:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            self.lines.append(line)
            if self.ready_line is None and "GUEST-READY" in line:
                self.ready_line, self.ready_at = line, time.time()
            status = parse_status(line) if "GUEST-STATUS" in line else None
            if status is not None:
                status["read_at"] = time.time()
                self.statuses.append(status)
        return len(chunks)

    def latest(self):
        """The newest parsed status (after reading the log), or None."""
        self.poll()
        return self.statuses[-1] if self.statuses else None

    def tail(self, n=40):
        self.poll()
        return "\n".join(self.lines[-n:] + ([self._partial.decode("utf-8", "replace")] if self._partial else []))

    def _timeout(self, what, timeout):
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; serial log {self.path} ends with:\n"
                             + self.tail())

    def wait_ready(self, timeout=120):
        """Waits for GUEST-READY; returns that line."""
        deadline = time.time() + timeout
        while True:
            self.poll()
            if self.ready_line is not None:
                return self.ready_line
            if time.time() > deadline:
                self._timeout("GUEST-READY", timeout)
            time.sleep(0.2)

    def wait_status(self, predicate=lambda s: True, timeout=60, fresh=False, what="guest status"):
        """Waits until the newest status satisfies predicate; returns it.

        fresh=True only accepts a status line read after this call started.
        """
        start = time.time()
        deadline = start + timeout
        while True:
            s = self.latest()
            if s is not None and (not fresh or s["read_at"] >= start) and predicate(s):
                return s
            if time.time() > deadline:
                self._timeout(f"{what} (latest: {s['raw'] if s else None})", timeout)
            time.sleep(0.2)

    def wait_line(self, pattern, timeout=60):
        """Waits for a console line matching the regex pattern (searched from the start); returns it."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            self.poll()
            for line in self.lines:
                if rx.search(line):
                    return line
            if time.time() > deadline:
                self._timeout(f"a line matching {pattern!r}", timeout)
            time.sleep(0.2)


# ---------------------------------------------------------------- libvirt helpers

URI = "qemu:///system"


def virsh(*args, check=True, timeout=120):
    p = subprocess.run(["virsh", "-q", "-c", URI] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout.strip()


def domstate(name):
    return virsh("domstate", name, check=False)


def wait_domstate(name, state, timeout=60):
    deadline = time.time() + timeout
    while True:
        current = domstate(name)
        if current == state:
            return
        if time.time() > deadline:
            raise AssertionError(f"domain {name} is {current!r}, not {state!r}, after {timeout} s")
        time.sleep(0.2)


def remove_domain(name):
    """Destroys and undefines one vcg- domain (no error if absent)."""
    assert name.startswith("vcg-"), name
    virsh("destroy", name, check=False)
    virsh("undefine", name, check=False)
