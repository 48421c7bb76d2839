"""A two-host fleet on one machine, with live migration over the real Ceph cluster: the fixture of
the fleet integration tests (no tests in this module).

What it gives you
-----------------
* Two private libvirtds (scripts/host-up.sh: own mount namespace, state, host UUID and loopback
  address; see ../shared/notes/migration.md): vcf-a on 127.0.0.52 and vcf-b on 127.0.0.53, with
  their state in VC_HOSTS_DIR=/tmp/vc-fleet-hosts (VC_FLEET_HOSTS_DIR overrides). Each is reached
  through its unix socket (Host.uri) or over TCP without auth (Host.tcp_uri, for --p2p).
  The shared daemon (qemu:///system) is never used or touched by anything here.
* On both hosts, the libvirt ceph secret of the Ceph user the tests use (client.virtconverge of
  scripts/ceph-up.sh), defined exactly as the engine defines it: UUID
  OwnershipUuid("secret", "client.virtconverge") = SECRET_UUID, usage "client.virtconverge
  virtconverge", private. The key goes in through virSecretSetValue (python3-libvirt) when that is
  installed, else through `virsh secret-set-value --file` on a 0600 file in a 0700 directory that
  is removed at once: it is never on a command line.
* RBD images named vcf-* (create_rbd_image / remove_rbd_image, `rbd -c CEPH_CONF`).
* guest_xml(): the tiny Linux test guest (tests/guest, booted under TCG) with an RBD image as its
  virtio disk vda and its serial console in a file under /tmp/vcf-serial (both hosts see /tmp),
  opened in append mode, so the destination QEMU of a migration continues the same log.
* GuestConsole: follows that log; besides GUEST-READY/GUEST-STATUS (guest.Console) it reads the
  GUEST-TICK lines of the guest's ticker, a process started at boot that prints its own PID and a
  counter every second (and, with the disk check on, writes a record to /dev/vda, reads it back
  from the device and says disk=ok). GuestView/assert_continuity compare two moments: same boot id,
  uptime went on, the same ticker process (PID) with a larger counter, disk still ok.

Use
---
    import fleet
    with fleet.Fleet() as f:                        # Ceph started if not running (stopped again then)
        image = f.create_rbd_image()                # rbd/vcf-img-<pid>-1, 64 MiB; removed on exit
        log = f.serial_log("vcf-g1")                # /tmp/vcf-serial/vcf-g1-serial.log; removed on exit
        f.a.define(fleet.guest_xml("vcf-g1", image, log))
        f.a.virsh("start", "vcf-g1")
        con = fleet.GuestConsole(log)
        con.wait_ready(); before = con.wait_view()  # ~5 s to GUEST-READY under TCG
        wall, job = fleet.virsh_migrate(f.a, f.b, "vcf-g1")   # or the engine, with f.a.uri/f.b.uri
        after = con.wait_view(fresh=True, after=before)
        fleet.assert_continuity(before, after)      # same boot, uptime on, same ticker PID, disk=ok
        assert f.a.domains() == [] and f.b.domstate("vcf-g1") == "running"
        f.stop_host("vcf-b", crash=True)            # "host down": libvirtd and its QEMUs killed
        f.fence_rbd_image(image)                    # else a restart elsewhere waits ~30 s for the disk
        f.start_host("vcf-b")                       # back on the same state: vcf-g1 defined, shut off
    # on exit: vcf- domains destroyed and undefined on both hosts, images removed, both hosts
    # stopped with scripts/host-down.sh (their directories removed), Ceph stopped if we started
    # it and no other client is connected to it by then.

Fleet(keep_hosts=True) leaves everything in place on exit (for debugging); Fleet(ceph=False)
needs no Ceph (no secret then). Names: everything a test creates starts with PREFIX "vcf-".
python3 tests/integration/fleet_smoke.py shows it all working (~20 s; ~30 s when the QEMU
capabilities have to be probed first).

Reference
---------
Fleet(hosts=HOSTS, hosts_dir=HOSTS_DIR, ceph=True, keep_hosts=False, log=print): .start()/.close()
  (or with), .a/.b/.hosts/.host(name)/.uris, .create_rbd_image(size_mib=64, name=None),
  .serial_log(domain), .stop_host(name, crash=False), .start_host(name),
  .fence_rbd_image(image, keep=()), .remove_test_domains(), .timings, .started_ceph
Host: .name .address .uri .tcp_uri .migrate_uri .dir .pid; .up() .remove() .stop(crash=False)
  .freeze() .thaw() .answers(timeout=10) .qemu_pids() .virsh(*args, check=True, timeout=60)
  .domains(all=True) .domstate(name) .persistent(name) .define(xml) .remove_domain(name)
  .remove_test_domains() .secrets() .define_ceph_secret(key_b64, uuid=SECRET_UUID, user=CEPH_USER)
Ceph/RBD: ceph_running() ceph_up() ceph_down() ceph_monitor() ceph_key(user)
  create_rbd_image(name=None, size_mib=64) remove_rbd_image(name, timeout=60) list_rbd_images()
  read_rbd_image(name, length) disk_records(name) rbd_watchers(name) fence_rbd_image(name, keep=())
  unfence(addresses)
Guest: guest_xml(name, rbd_image, serial_log, *, memory_mib=256, vcpus=1, pool, secret_uuid,
  ceph_user, monitor, disk_check=True, cpu_model="qemu64", kernel, initrd, extra_devices=())
  serial_log_path(name) remove_serial_log(path) parse_tick(line) parse_boot(line)
  parse_uptime(line) GuestConsole(path, from_end=False) [.wait_ready() .wait_status() .wait_line()
  .wait_tick(pred) .wait_view(timeout, fresh, after) .view() .latest_tick() .boot_id() .ticks
  .tick_gaps()] GuestView assert_continuity(before, after, disk=True)
Migration: virsh_migrate(src, dst, name, *extra, p2p=False) -> (wall s, completed job dict with
  downtime_ms/total_ms) completed_job(host, name) summary(values) -> (median, min, max)

Pitfalls (each one hit while building this)
-------------------------------------------
* The serial file must not be relabelled (seclabel relabel='no', see guest_xml): both hosts see
  the same file and its trusted.libvirt.security.* xattrs, and the destination's relabelling
  fails the migration ("Setting different DAC user or group on ... which is already in use").
  libvirt then opens the file itself and passes QEMU a descriptor (append=on is honoured).
* /dev/kvm root-only (no udev) makes every libvirtd start re-probe QEMU (15-35 s per host under
  load): start() makes it root:kvm 0660 as scripts/libvirtd-up.sh does. Probed capabilities are
  kept in CAPS_CACHE for the next fleet (a cold probe is ~8 s).
* After a crash, the dead QEMU's RBD watch lingers ~30 s and with it the image's exclusive lock:
  a guest started elsewhere boots, but its first disk write waits until then; fence_rbd_image()
  (ceph osd blocklist, as an HA manager fences) makes it immediate.
* scripts/libvirtd-up.sh refuses to start the shared daemon while any other libvirtd runs
  (pgrep -x libvirtd), so start the shared daemon before a fleet, not during one.
* /run/libvirt exists only once the shared daemon ran since boot; host-up.sh mounts over it, so
  Host.up() creates it (empty) when missing.
"""

import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import guest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(ROOT, "scripts")
HOSTS_DIR = os.environ.get("VC_FLEET_HOSTS_DIR", "/tmp/vc-fleet-hosts")
HOSTS = (("vcf-a", "127.0.0.52"), ("vcf-b", "127.0.0.53"))
TCP_PORT = 16519                       # host-up.sh's libvirtd TCP port (on the host's address)
PREFIX = "vcf-"
CEPH_DIR = os.environ.get("VC_CEPH_DIR", "/tmp/vc-ceph")
CEPH_CONF = os.path.join(CEPH_DIR, "ceph.conf")
CEPH_USER = "virtconverge"             # client.virtconverge, made by scripts/ceph-up.sh
RBD_POOL = "rbd"
SERIAL_DIR = os.environ.get("VCF_SERIAL_DIR", "/tmp/vcf-serial")
# The guest's kernel command line: guest.CMDLINE plus the ticker's disk check on vda.
CMDLINE = guest.CMDLINE + " vc_tick_disk=vda"


# ---------------------------------------------------------------- the engine's secret UUID

def ownership_uuid(kind, name):
    """providers/libvirt/storage_xml.cc OwnershipUuid(kind, name), the same 128 bits."""
    mask = (1 << 64) - 1

    def fnv(h):
        for part in (b"virtconverge", kind.encode(), name.encode()):
            for c in part:
                h = ((h ^ c) * 0x100000001b3) & mask
            h = ((h ^ 0xff) * 0x100000001b3) & mask
        return h

    hi = fnv(0xcbf29ce484222325)
    lo = fnv(0x84222325cbf29ce4)
    hi = (hi & ~0xF000 & mask) | 0x8000
    lo = (lo & ~(0xC0 << 56) & mask) | (0x80 << 56)
    return (f"{hi >> 32:08x}-{(hi >> 16) & 0xFFFF:04x}-{hi & 0xFFFF:04x}-{lo >> 48:04x}-"
            f"{lo & 0xFFFFFFFFFFFF:012x}")


SECRET_UUID = ownership_uuid("secret", f"client.{CEPH_USER}")   # a5d3d3d8-77fe-874b-a5df-122dafcf634a


def ceph_secret_xml(uuid=SECRET_UUID, user=CEPH_USER):
    """providers/libvirt/storage_xml.cc CephSecretXml: what the engine itself would define."""
    return (f"<secret ephemeral='no' private='yes'><uuid>{uuid}</uuid>"
            f"<description>virtconverge: cephx key of client.{user}</description>"
            f"<usage type='ceph'><name>client.{user} virtconverge</name></usage></secret>")


# ---------------------------------------------------------------- Ceph

def ceph_running(conf=CEPH_CONF):
    if not os.path.exists(conf):
        return False
    p = subprocess.run(["ceph", "-c", conf, "--connect-timeout", "3", "health"], capture_output=True,
                       text=True, timeout=30)
    return p.returncode == 0


def ceph_up():
    """Starts the test cluster (scripts/ceph-up.sh) unless it runs; True when this call started it."""
    if ceph_running():
        return False
    p = subprocess.run(["bash", os.path.join(SCRIPTS, "ceph-up.sh")], capture_output=True, text=True,
                       timeout=180, env=dict(os.environ, VC_CEPH_DIR=CEPH_DIR))
    if p.returncode != 0 or not ceph_running():
        raise AssertionError(f"scripts/ceph-up.sh failed:\n{p.stdout}{p.stderr}")
    return True


def ceph_down():
    """Stops the test cluster (scripts/ceph-down.sh); only call it when ceph_up() returned True."""
    subprocess.run(["bash", os.path.join(SCRIPTS, "ceph-down.sh")], capture_output=True, text=True,
                   timeout=120, env=dict(os.environ, VC_CEPH_DIR=CEPH_DIR))


def ceph_monitor(conf=CEPH_CONF):
    """(address, port) of the monitor's v1 endpoint, from ceph.conf's "mon host = [v2:..,v1:IP:PORT]"."""
    with open(conf) as f:
        m = re.search(r"v1:([0-9.]+):([0-9]+)", f.read())
    if not m:
        raise AssertionError(f"no v1 monitor address in {conf}")
    return m.group(1), int(m.group(2))


def ceph_key(user=CEPH_USER, ceph_dir=CEPH_DIR):
    """The cephx key (base64 text) of client.USER, from the keyring ceph-up.sh wrote."""
    with open(os.path.join(ceph_dir, f"ceph.client.{user}.keyring")) as f:
        m = re.search(r"key\s*=\s*(\S+)", f.read())
    if not m:
        raise AssertionError(f"no key in the keyring of client.{user}")
    return m.group(1)


def _rbd(*args, timeout=60, conf=CEPH_CONF, **kw):
    return subprocess.run(["rbd", "-c", conf, *args], capture_output=True, timeout=timeout, **kw)


_image_seq = 0


def create_rbd_image(name=None, size_mib=64, pool=RBD_POOL):
    """Creates rbd/NAME (default vcf-img-<pid>-<n>) of size_mib MiB; returns NAME."""
    global _image_seq
    if name is None:
        _image_seq += 1
        name = f"{PREFIX}img-{os.getpid()}-{_image_seq}"
    if not name.startswith(PREFIX):
        raise ValueError(f"RBD image names of the fleet tests start with {PREFIX}: {name}")
    p = _rbd("create", f"{pool}/{name}", "--size", f"{size_mib}M", text=True)
    if p.returncode != 0:
        raise AssertionError(f"rbd create {pool}/{name} failed (is Ceph up?): {p.stderr.strip()}")
    return name


def remove_rbd_image(name, pool=RBD_POOL, timeout=60):
    """Removes rbd/NAME (no error if absent). Retries while a watcher lingers: a QEMU that was
    killed (not stopped) keeps its watch until it times out (~30 s)."""
    if not name.startswith(PREFIX):
        raise ValueError(f"refusing to remove {pool}/{name}: not a {PREFIX} image")
    deadline = time.monotonic() + timeout
    while True:
        p = _rbd("rm", "--no-progress", f"{pool}/{name}", text=True)
        if p.returncode == 0 or "No such file" in p.stderr or "does not exist" in p.stderr:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"rbd rm {pool}/{name} failed: {p.stderr.strip()}")
        time.sleep(1)


def leftover_images(pool=RBD_POOL):
    """rbd/vcf-img-<pid>-<n> images (create_rbd_image's default names) whose process is gone.
    Other vcf- images may be another test's, in use right now: they are left alone."""
    out = []
    for image in list_rbd_images(f"{PREFIX}img-", pool):
        m = re.match(rf"{PREFIX}img-(\d+)-\d+$", image)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            out.append(image)
    return out


def ceph_clients(ceph_dir=CEPH_DIR):
    """Entity names of the client sessions the monitor holds (its admin socket, so this makes no
    session of its own): an empty list when nobody but the cluster's own daemons is connected."""
    p = subprocess.run(["ceph", "--admin-daemon", os.path.join(ceph_dir, "run", "mon.a.asok"), "sessions"],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        return []
    return [s.get("entity_name", "") for s in json.loads(p.stdout or "[]")
            if s.get("entity_name", "").startswith("client.")]


def list_rbd_images(prefix=PREFIX, pool=RBD_POOL):
    p = _rbd("ls", "--format", "json", pool, text=True)
    if p.returncode != 0:
        raise AssertionError(f"rbd ls {pool} failed: {p.stderr.strip()}")
    return sorted(i for i in json.loads(p.stdout or "[]") if i.startswith(prefix))


def read_rbd_image(name, length=1024, pool=RBD_POOL):
    """The first `length` bytes of rbd/NAME, read from the host side (`rbd export ... -`)."""
    p = _rbd("export", "--no-progress", f"{pool}/{name}", "-", timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"rbd export {pool}/{name} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout[:length]


def rbd_watchers(name, pool=RBD_POOL):
    """Client addresses watching rbd/NAME ('127.0.0.1:0/41164399'): one per QEMU that has it open,
    and for ~30 s (the OSDs' watch timeout) one of a QEMU that was killed."""
    p = _rbd("status", "--format", "json", f"{pool}/{name}", text=True)
    if p.returncode != 0:
        raise AssertionError(f"rbd status {pool}/{name} failed: {p.stderr.strip()}")
    return [w["address"] for w in json.loads(p.stdout).get("watchers", [])]


def fence_rbd_image(name, pool=RBD_POOL, keep=()):
    """Blocklists every client watching rbd/NAME except the addresses in `keep`, as an HA manager
    fences a dead host, and returns them. Without it, a guest started elsewhere right after its
    host crashed waits ~30 s for its first disk write (the dead QEMU still holds the image's
    exclusive lock until its watch times out). Undo with unfence()."""
    fenced = [w for w in rbd_watchers(name, pool) if w not in keep]
    for addr in fenced:
        p = subprocess.run(["ceph", "-c", CEPH_CONF, "osd", "blocklist", "add", addr, "600"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"ceph osd blocklist add {addr} failed: {p.stderr.strip()}")
    return fenced


def unfence(addresses):
    for addr in addresses:
        subprocess.run(["ceph", "-c", CEPH_CONF, "osd", "blocklist", "rm", addr], capture_output=True,
                       timeout=60)


def disk_records(name, pool=RBD_POOL):
    """What the guest's ticker wrote on its disk, read from Ceph: {"tick": {boot, pid, n} or None,
    "pattern": {boot, pid} or None} (sectors 0 and 1 of the image)."""
    data = read_rbd_image(name, 1024, pool)
    out = {"tick": None, "pattern": None}
    m = re.match(rb"VCF-TICK boot=([0-9a-f-]+) pid=(\d+) n=(\d+) ", data[:512])
    if m:
        out["tick"] = {"boot": m[1].decode(), "pid": int(m[2]), "n": int(m[3])}
    m = re.match(rb"VCF-PATTERN boot=([0-9a-f-]+) pid=(\d+) ", data[512:1024])
    if m:
        out["pattern"] = {"boot": m[1].decode(), "pid": int(m[2])}
    return out


# ---------------------------------------------------------------- hosts

class Host:
    """One private libvirtd of the fleet (scripts/host-up.sh NAME ADDR in HOSTS_DIR)."""

    def __init__(self, name, address, hosts_dir=HOSTS_DIR):
        self.name, self.address, self.hosts_dir = name, address, hosts_dir
        self.dir = os.path.join(hosts_dir, name)
        self.uri = f"qemu+unix:///system?socket={self.dir}/run/libvirt-sock"
        self.tcp_uri = f"qemu+tcp://{address}:{TCP_PORT}/system"
        self.migrate_uri = f"tcp://{address}"   # QEMU's migration stream goes to this address

    def __repr__(self):
        return f"Host({self.name}, {self.address})"

    def _script(self, script, *args, timeout=120):
        p = subprocess.run([os.path.join(SCRIPTS, script), *args], capture_output=True, text=True,
                           timeout=timeout, env=dict(os.environ, VC_HOSTS_DIR=self.hosts_dir))
        if p.returncode != 0:
            raise AssertionError(f"{script} {' '.join(args)} failed:\n{p.stdout}{p.stderr}")
        return p.stdout

    def up(self):
        """Starts the host, or restarts it on its existing state (same domains, secrets, UUID)."""
        # host-up.sh bind-mounts over these; /run/libvirt exists only once the shared libvirtd has
        # run since boot. An empty directory changes nothing for that daemon.
        for d in ("/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt",
                  "/etc/libvirt"):
            if not os.path.isdir(d):
                os.makedirs(d, mode=0o755, exist_ok=True)
        self._script("host-up.sh", self.name, self.address)
        with open(os.path.join(self.dir, "uri")) as f:
            assert f.read().strip() == self.uri
        return self

    def remove(self):
        """scripts/host-down.sh: its domains destroyed, its libvirtd and QEMUs stopped, directory gone."""
        self._script("host-down.sh", self.name)

    @property
    def pid(self):
        """PID of its libvirtd (as host-up.sh recorded it)."""
        with open(os.path.join(self.dir, "pids")) as f:
            return int(f.readline())

    def _daemon_alive(self):
        try:
            pid = self.pid
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f"-f {self.dir}/libvirtd.conf".encode() in f.read().replace(b"\0", b" ")
        except (OSError, ValueError):
            return False

    def answers(self, timeout=10):
        """True when its libvirtd answers `virsh version` within `timeout` seconds."""
        try:
            p = subprocess.run(["virsh", "-c", self.uri, "version"], capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return p.returncode == 0

    def qemu_pids(self):
        """{domain: PID} of the QEMUs this host started that still run (by their pid files)."""
        out = {}
        run = os.path.join(self.dir, "run", "qemu")
        for f in os.listdir(run) if os.path.isdir(run) else []:
            # NAME.pid with a status file NAME.xml (driver.pid is libvirtd's own lock)
            if not f.endswith(".pid") or not os.path.exists(os.path.join(run, f[:-4] + ".xml")):
                continue
            try:
                with open(os.path.join(run, f)) as fh:
                    pid = int(fh.read().strip())
                with open(f"/proc/{pid}/mountinfo") as fh:   # lives in this host's namespace
                    if f" {self.dir}/run /run/libvirt " not in fh.read():
                        continue
            except (OSError, ValueError):
                continue
            out[f[:-4]] = pid
        return out

    def stop(self, crash=False, timeout=20):
        """Takes the host down. crash=False: only its libvirtd stops (SIGTERM; the guests keep
        running, as when the management daemon dies). crash=True: a power loss, SIGKILL to its
        libvirtd and to all its QEMUs. Either way the state stays for up() (a restart)."""
        victims = []
        if self._daemon_alive():
            victims.append(self.pid)
        if crash:
            victims += list(self.qemu_pids().values())
        sig = signal.SIGKILL if crash else signal.SIGTERM
        for pid in victims:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for pid in victims:
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                try:
                    with open(f"/proc/{pid}/stat") as fh:
                        if fh.read().split(") ")[-1].startswith("Z"):
                            break     # a zombie is gone for all purposes
                except OSError:
                    break
                time.sleep(0.05)
            if os.path.exists(f"/proc/{pid}") and not crash:
                os.kill(pid, signal.SIGKILL)

    def freeze(self):
        """SIGSTOP its libvirtd: a hung host (connections open, nothing answers). thaw() resumes."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.pid, signal.SIGCONT)

    # -- libvirt through virsh (always with this host's URI)

    def virsh(self, *args, check=True, timeout=60):
        p = subprocess.run(["virsh", "-q", "-c", self.uri, *args], capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"virsh -c {self.uri} {' '.join(args)} failed: {p.stderr.strip()}")
        return p.stdout.strip()

    def domains(self, all=True):
        """Names of its domains (all defined ones, or only the running ones)."""
        out = self.virsh("list", "--name", *(["--all"] if all else []))
        return sorted(line.strip() for line in out.splitlines() if line.strip())

    def domstate(self, name):
        """'running', 'paused', 'shut off', ... or None when the host has no such domain."""
        p = subprocess.run(["virsh", "-q", "-c", self.uri, "domstate", name], capture_output=True,
                           text=True, timeout=30)
        return p.stdout.strip() if p.returncode == 0 else None

    def persistent(self, name):
        return re.search(r"^Persistent:\s+yes", self.virsh("dominfo", name), re.M) is not None

    def define(self, xml):
        """Defines a domain from its XML (a string)."""
        with tempfile.NamedTemporaryFile("w", suffix=".xml", prefix="vcf-") as f:
            f.write(xml)
            f.flush()
            self.virsh("define", f.name)

    def remove_domain(self, name):
        """Destroys and undefines one vcf- domain (no error if absent)."""
        if not name.startswith(PREFIX):
            raise ValueError(f"refusing to remove {name}: not a {PREFIX} domain")
        self.virsh("destroy", name, check=False)
        self.virsh("undefine", name, check=False)

    def remove_test_domains(self):
        for d in self.domains():
            if d.startswith(PREFIX):
                self.remove_domain(d)

    def secrets(self):
        return sorted(line.split()[0] for line in self.virsh("secret-list").splitlines() if line.strip())

    def define_ceph_secret(self, key_b64, uuid=SECRET_UUID, user=CEPH_USER):
        """Defines the ceph secret of client.USER and sets its value; the key is never on argv."""
        try:
            import libvirt  # python3-libvirt, when installed
        except ImportError:
            libvirt = None
        if libvirt is not None:
            conn = libvirt.open(self.uri)
            try:
                conn.secretDefineXML(ceph_secret_xml(uuid, user)).setValue(base64.b64decode(key_b64))
            finally:
                conn.close()
            return
        tmp = tempfile.mkdtemp(prefix="vcf-secret-")   # 0700
        try:
            xml_path, key_path = os.path.join(tmp, "secret.xml"), os.path.join(tmp, "key")
            with open(xml_path, "w") as f:
                f.write(ceph_secret_xml(uuid, user))
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key_b64)               # base64, as secret-set-value --file expects
            self.virsh("secret-define", xml_path)
            self.virsh("secret-set-value", uuid, "--file", key_path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


CAPS_CACHE = os.environ.get("VCF_CAPS_CACHE", "/var/cache/virtconverge-test/fleet-qemu-caps")


def seed_caps_cache(host):
    """Gives a host that does not exist yet the QEMU capabilities a previous fleet probed (a cold
    probe costs ~8 s, more under load; libvirt probes again by itself if they do not match the
    binaries). host-up.sh copies them only from the shared daemon or another live host."""
    dst = os.path.join(host.dir, "cache", "qemu", "capabilities")
    if os.path.isdir(host.dir) or not os.path.isdir(CAPS_CACHE) or not os.listdir(CAPS_CACHE):
        return
    os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
    shutil.copytree(CAPS_CACHE, dst)


def keep_caps_cache(host):
    """Keeps HOST's probed capabilities in CAPS_CACHE for the next fleet."""
    src = os.path.join(host.dir, "cache", "qemu", "capabilities")
    if not os.path.isdir(src) or not os.listdir(src):
        return
    tmp = CAPS_CACHE + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(CAPS_CACHE), mode=0o755, exist_ok=True)
    shutil.copytree(src, tmp)
    shutil.rmtree(CAPS_CACHE, ignore_errors=True)
    os.rename(tmp, CAPS_CACHE)


def kvm_node_for_libvirt(log=print):
    """What scripts/libvirtd-up.sh does for the shared daemon: without udev /dev/kvm stays
    root-only, and then every libvirtd start throws its QEMU capability cache away ("KVM was
    enabled when probing, but it is not available now") and probes again: 15-35 s per host start
    under load instead of 0.3 s. The guests here run under TCG either way."""
    try:
        st = os.stat("/dev/kvm")
    except OSError:
        return
    import grp
    try:
        kvm = grp.getgrnam("kvm").gr_gid
    except KeyError:
        return
    if st.st_gid != kvm or (st.st_mode & 0o060) != 0o060:
        os.chown("/dev/kvm", -1, kvm)
        os.chmod("/dev/kvm", 0o660)
        log("fleet: /dev/kvm made root:kvm 0660 (as scripts/libvirtd-up.sh does)")


class Fleet:
    """Two hosts (vcf-a, vcf-b) with the ceph secret on both; a context manager.

    Fleet(hosts=HOSTS, hosts_dir=HOSTS_DIR, ceph=True, keep_hosts=False, log=print)
      .start() / .close()    (__enter__ / __exit__)
      .a, .b, .hosts, .host(name), .uris {name: uri}
      .create_rbd_image(size_mib=64) -> name (removed by close())
      .serial_log(domain) -> path (removed by close())
      .stop_host(name, crash=False) / .start_host(name)
      .fence_rbd_image(image) -> blocklisted client addresses (unblocklisted by close())
      .remove_test_domains()  vcf- domains on every host that answers
    """

    def __init__(self, hosts=HOSTS, hosts_dir=HOSTS_DIR, ceph=True, keep_hosts=False, log=print):
        self.hosts = [Host(n, a, hosts_dir) for n, a in hosts]
        self.ceph = ceph
        self.keep_hosts = keep_hosts
        self.log = log or (lambda *a, **k: None)
        self.started_ceph = False
        self.images = []
        self.logs = []
        self.fenced = []
        self.timings = {}

    @property
    def a(self):
        return self.hosts[0]

    @property
    def b(self):
        return self.hosts[1]

    def host(self, name):
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    @property
    def uris(self):
        return {h.name: h.uri for h in self.hosts}

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        t0 = time.monotonic()
        kvm_node_for_libvirt(self.log)
        for h in self.hosts:          # leftovers of an interrupted run
            if os.path.isdir(h.dir):
                h.remove()
        if self.ceph:
            self.started_ceph = ceph_up()
            if self.started_ceph:
                self.log(f"fleet: started Ceph ({CEPH_DIR}); it is stopped again at the end")
            for image in leftover_images():   # of an interrupted run of this fixture
                self.log(f"fleet: removing leftover image rbd/{image}")
                remove_rbd_image(image, timeout=5)
        t = time.monotonic()
        for h in self.hosts:          # in order: the later ones copy the first one's QEMU caps cache
            seed_caps_cache(h)
            h.up()
        self.timings["hosts_up"] = time.monotonic() - t
        keep_caps_cache(self.a)
        if self.ceph:
            key = ceph_key()
            for h in self.hosts:
                h.define_ceph_secret(key)
        self.timings["start"] = time.monotonic() - t0
        self.log("fleet: " + ", ".join(f"{h.name} {h.address}" for h in self.hosts) +
                 f" up in {self.timings['hosts_up']:.1f} s (start {self.timings['start']:.1f} s)")
        return self

    def create_rbd_image(self, size_mib=64, name=None):
        name = create_rbd_image(name, size_mib)
        self.images.append(name)
        return name

    def fence_rbd_image(self, image, keep=()):
        """fence_rbd_image() whose blocklist entries close() removes again."""
        fenced = fence_rbd_image(image, keep=keep)
        self.fenced += fenced
        return fenced

    def serial_log(self, domain):
        """A fresh serial log path for DOMAIN (serial_log_path), removed by close()."""
        path = serial_log_path(domain)
        self.logs.append(path)
        return path

    def stop_host(self, name, crash=False):
        """Host NAME down (see Host.stop); start_host(NAME) brings it back on the same state."""
        self.host(name).stop(crash=crash)

    def start_host(self, name):
        """Starts host NAME again: on its old state after stop_host(), or afresh after
        Host.remove() (then the ceph secret is defined again)."""
        h = self.host(name)
        seed_caps_cache(h)
        h.up()
        if self.ceph and SECRET_UUID not in h.secrets():
            h.define_ceph_secret(ceph_key())

    def remove_test_domains(self):
        for h in self.hosts:
            if h._daemon_alive():
                try:
                    h.thaw()
                except OSError:
                    pass
                if h.answers():
                    h.remove_test_domains()

    def close(self):
        """Removes what the fleet made: vcf- domains, RBD images, serial logs, the hosts (with
        scripts/host-down.sh), and Ceph if start() started it. With keep_hosts=True it removes
        nothing and only says what it left."""
        t0 = time.monotonic()
        if self.keep_hosts:
            self.log(f"fleet: kept hosts {self.uris}, images {self.images}, logs {self.logs}"
                     + (" and the Ceph cluster it started" if self.started_ceph else ""))
            return
        errors = []
        try:
            self.remove_test_domains()
        except Exception as e:  # the hosts go anyway (host-down.sh destroys what runs)
            errors.append(f"removing domains: {e}")
        for h in self.hosts:
            if os.path.isdir(h.dir):
                try:
                    h.remove()
                except Exception as e:
                    errors.append(str(e))
        for d in {h.hosts_dir for h in self.hosts}:
            try:
                os.rmdir(d)           # only when empty
            except OSError:
                pass
        for image in self.images:     # after the QEMUs are gone: they hold the images open
            try:
                remove_rbd_image(image)
            except Exception as e:
                errors.append(str(e))
        self.images = []
        if self.fenced:               # after rbd rm: breaking a dead owner's lock blocklists it again
            unfence(self.fenced)
            self.fenced = []
        for path in self.logs:
            remove_serial_log(path)
        self.logs = []
        try:
            os.rmdir(SERIAL_DIR)      # only when empty
        except OSError:
            pass
        if self.started_ceph:
            # Started here, but someone else may have found it running and used it meanwhile.
            deadline = time.monotonic() + 10
            while ceph_clients() and time.monotonic() < deadline:
                time.sleep(0.5)
            others = ceph_clients()
            if others:
                self.log(f"fleet: leaving Ceph running: {len(others)} other client session(s) "
                         f"({', '.join(sorted(set(others)))}); stop it with scripts/ceph-down.sh")
            else:
                ceph_down()
            self.started_ceph = False
        self.timings["close"] = time.monotonic() - t0
        if errors:
            raise AssertionError("fleet teardown: " + "; ".join(errors))


# ---------------------------------------------------------------- the guest

def serial_log_path(name, log_dir=SERIAL_DIR):
    """A fresh serial log path for domain NAME in a 755 directory under /tmp (both hosts see it)."""
    return guest.serial_log_path(name, log_dir)


def remove_serial_log(path):
    guest.remove_serial_log(path)


def guest_xml(name, rbd_image, serial_log, *, memory_mib=256, vcpus=1, pool=RBD_POOL,
              secret_uuid=SECRET_UUID, ceph_user=CEPH_USER, monitor=None, disk_check=True,
              cpu_model="qemu64", kernel=None, initrd=None, extra_devices=()):
    """Domain XML (a string) for the test guest under TCG, migratable between the fleet's hosts.

    rbd_image: the image (in `pool`) that becomes vda (virtio, raw, cache none, cephx through the
    secret). monitor: (address, port), default ceph_monitor(). serial_log: a file both hosts reach;
    opened with append='on' and not relabelled, so a migration's destination QEMU continues it.
    disk_check: the ticker writes and reads back sectors 0-1 of vda (the image is the guest's own
    scratch disk).
    cpu_model: a named model with fallback forbidden (qemu64 runs under TCG everywhere), or None
    for no <cpu> at all. extra_devices: XML strings put into <devices>.
    """
    if not name.startswith(PREFIX):
        raise ValueError(f"domain names of the fleet tests start with {PREFIX}: {name}")
    if kernel is None or initrd is None:
        kernel, initrd = guest.ensure_guest_images()
    mon_addr, mon_port = monitor or ceph_monitor()
    sub = guest._sub
    dom = ET.Element("domain", type="qemu")
    sub(dom, "name", name)
    sub(dom, "memory", memory_mib, unit="MiB")
    sub(dom, "currentMemory", memory_mib, unit="MiB")
    sub(dom, "vcpu", vcpus, placement="static")
    os_ = sub(dom, "os")
    sub(os_, "type", "hvm", arch="x86_64", machine="pc")
    sub(os_, "kernel", kernel)
    sub(os_, "initrd", initrd)
    sub(os_, "cmdline", CMDLINE if disk_check else guest.CMDLINE)
    features = sub(dom, "features")
    sub(features, "acpi")
    sub(features, "apic")
    if cpu_model:
        cpu = sub(dom, "cpu", mode="custom", match="exact", check="none")
        sub(cpu, "model", cpu_model, fallback="forbid")
    sub(dom, "clock", offset="utc")
    sub(dom, "on_poweroff", "destroy")
    sub(dom, "on_reboot", "restart")
    sub(dom, "on_crash", "destroy")
    devices = sub(dom, "devices")
    sub(devices, "emulator", guest.EMULATOR)
    disk = sub(devices, "disk", type="network", device="disk")
    sub(disk, "driver", name="qemu", type="raw", cache="none")
    auth = sub(disk, "auth", username=ceph_user)
    sub(auth, "secret", type="ceph", uuid=secret_uuid)
    source = sub(disk, "source", protocol="rbd", name=f"{pool}/{rbd_image}")
    sub(source, "host", name=mon_addr, port=mon_port)
    sub(disk, "target", dev="vda", bus="virtio")
    sub(devices, "controller", type="usb", model="none")
    serial = sub(devices, "serial", type="file")
    # append='on': the destination QEMU of a migration opens the same file; without it that
    # truncates what the source wrote. relabel='no': libvirt opens the file itself (as root) and
    # hands QEMU the descriptor; relabelling it fails the migration ("Setting different DAC user
    # or group on ... which is already in use": the hosts share /tmp and so the file's
    # trusted.libvirt.security.* remembered-owner xattrs).
    src = sub(serial, "source", path=serial_log, append="on")
    sub(src, "seclabel", model="dac", relabel="no")
    sub(serial, "target", port=0)
    sub(devices, "memballoon", model="none")
    for extra in extra_devices:
        devices.append(ET.fromstring(extra))
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")


_TICK_RE = re.compile(r"GUEST-TICK pid=(?P<pid>\d+) n=(?P<n>\d+) uptime=(?P<uptime>[0-9.]+)"
                      r"(?: disk=(?P<disk>\S+))?\s*$")
_BOOT_RE = re.compile(r"\bboot=(?P<boot>[0-9a-f]{8}-[0-9a-f-]{27})")


def parse_tick(line):
    """'GUEST-TICK pid=123 n=45 uptime=50.12 disk=ok' -> {pid, n, uptime, disk (None without the
    disk check), raw}; None if the line is not a complete tick."""
    m = _TICK_RE.search(line.strip())
    if not m:
        return None
    return {"pid": int(m["pid"]), "n": int(m["n"]), "uptime": float(m["uptime"]), "disk": m["disk"],
            "raw": m.group(0)}


def parse_boot(line):
    """The boot id of a GUEST-READY or GUEST-STATUS line, or None."""
    m = _BOOT_RE.search(line)
    return m["boot"] if m else None


def parse_uptime(line):
    """The uptime (seconds, float) of a GUEST-STATUS or GUEST-TICK line, or None."""
    m = re.search(r"\buptime=([0-9.]+)", line)
    return float(m.group(1)) if m else None


class GuestView:
    """What the guest said at one moment: boot id and uptime (newest GUEST-STATUS), and the newest
    GUEST-TICK (ticker PID, counter n, its uptime, disk)."""

    def __init__(self, boot, uptime, tick_pid, tick_n, tick_uptime, disk, at):
        self.boot, self.uptime = boot, uptime
        self.tick_pid, self.tick_n, self.tick_uptime, self.disk = tick_pid, tick_n, tick_uptime, disk
        self.at = at   # time.time() when read

    def __repr__(self):
        return (f"GuestView(boot={self.boot}, uptime={self.uptime}, tick pid={self.tick_pid} "
                f"n={self.tick_n} uptime={self.tick_uptime} disk={self.disk})")


class GuestConsole(guest.Console):
    """guest.Console plus the ticker: .ticks (parsed GUEST-TICK dicts, oldest first)."""

    def __init__(self, path, from_end=False):
        self.ticks = []
        super().__init__(path, from_end)

    def poll(self):
        before = len(self.lines)
        n = super().poll()
        for line in self.lines[before:]:
            if "GUEST-TICK" in line:
                t = parse_tick(line)
                if t is not None:
                    t["read_at"] = time.time()
                    self.ticks.append(t)
        return n

    def latest_tick(self):
        self.poll()
        return self.ticks[-1] if self.ticks else None

    def boot_id(self):
        self.poll()
        if self.ready_line:
            return parse_boot(self.ready_line)
        return self.statuses[-1]["boot"] if self.statuses else None

    def view(self):
        """GuestView of what has been read so far (None parts when not seen yet)."""
        self.poll()
        s = self.statuses[-1] if self.statuses else None
        t = self.ticks[-1] if self.ticks else None
        return GuestView(s["boot"] if s else self.boot_id(), s["uptime"] if s else None,
                         t["pid"] if t else None, t["n"] if t else None, t["uptime"] if t else None,
                         t["disk"] if t else None, time.time())

    def wait_view(self, timeout=60, fresh=False, after=None):
        """Waits for a complete view (a status and a tick); fresh=True: both read after this call
        started; after=GuestView: the tick counter beyond after.tick_n and the uptime beyond
        after.uptime (so it shows the guest ran since)."""
        start = time.time()
        deadline = start + timeout
        while True:
            self.poll()
            s = self.statuses[-1] if self.statuses else None
            t = self.ticks[-1] if self.ticks else None
            ok = s is not None and t is not None
            if ok and fresh:
                ok = s["read_at"] >= start and t["read_at"] >= start
            if ok and after is not None:
                ok = t["n"] > (after.tick_n or 0) and s["uptime"] > (after.uptime or 0)
            if ok:
                return self.view()
            if time.time() > deadline:
                self._timeout(f"a guest view (status and tick{' after ' + repr(after) if after else ''})",
                              timeout)
            time.sleep(0.2)

    def wait_tick(self, predicate=lambda t: True, timeout=60, fresh=False, what="a guest tick"):
        start = time.time()
        deadline = start + timeout
        while True:
            t = self.latest_tick()
            if t is not None and (not fresh or t["read_at"] >= start) and predicate(t):
                return t
            if time.time() > deadline:
                self._timeout(f"{what} (latest: {t['raw'] if t else None})", timeout)
            time.sleep(0.2)

    def tick_gaps(self, since=0):
        """Counter values missing or repeated among ticks[since:] ([] when the counter went up by
        one each line: the same process, no restart and no lost line)."""
        bad = []
        ticks = self.ticks[since:]
        for prev, cur in zip(ticks, ticks[1:]):
            if cur["pid"] != prev["pid"] or cur["n"] != prev["n"] + 1:
                bad.append((prev["raw"], cur["raw"]))
        return bad


def assert_continuity(before, after, disk=True):
    """The same guest, still running, between two GuestViews (e.g. across a migration): same boot
    id, uptime went on, same ticker PID with a larger counter, and (disk=True) the disk check ok."""
    problems = []
    if not before.boot or before.boot != after.boot:
        problems.append(f"boot id {before.boot} -> {after.boot} (a reboot or another guest)")
    if before.uptime is None or after.uptime is None or after.uptime <= before.uptime:
        problems.append(f"uptime {before.uptime} -> {after.uptime} did not go on")
    if before.tick_pid is None or before.tick_pid != after.tick_pid:
        problems.append(f"ticker pid {before.tick_pid} -> {after.tick_pid} (not the same process)")
    if before.tick_n is None or after.tick_n is None or after.tick_n <= before.tick_n:
        problems.append(f"tick counter {before.tick_n} -> {after.tick_n} did not advance")
    if disk and after.disk != "ok":
        problems.append(f"disk check says {after.disk!r}")
    if problems:
        raise AssertionError("guest continuity broken: " + "; ".join(problems) +
                             f"\n  before: {before!r}\n  after:  {after!r}")


# ---------------------------------------------------------------- migration (plain virsh)

def _ms(text):
    m = re.match(r"\s*([0-9.]+)\s*ms", text)
    return float(m.group(1)) if m else None


def completed_job(host, name):
    """`virsh domjobinfo --completed` on HOST as a dict; 'downtime_ms' / 'total_ms' parsed when given
    ('Total downtime', 'Time elapsed')."""
    out = host.virsh("domjobinfo", name, "--completed", check=False)
    info = {}
    for line in out.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            info[k.strip()] = v.strip()
    info["downtime_ms"] = _ms(info.get("Total downtime", ""))
    info["total_ms"] = _ms(info.get("Time elapsed", ""))
    return info


def virsh_migrate(src, dst, name, *extra, p2p=False, timeout=300):
    """Plain `virsh -c SRC migrate --live --persistent --undefinesource NAME DST` (client-driven;
    p2p=True: --p2p to dst.tcp_uri). Returns (wall seconds, completed-job dict of the destination)."""
    dest = dst.tcp_uri if p2p else dst.uri
    args = ["migrate", "--live", "--persistent", "--undefinesource", *(["--p2p"] if p2p else []),
            *extra, name, dest]
    t = time.monotonic()
    p = subprocess.run(["virsh", "-q", "-c", src.uri, *args], capture_output=True, text=True,
                       timeout=timeout)
    wall = time.monotonic() - t
    if p.returncode != 0:
        raise AssertionError(f"virsh -c {src.uri} {' '.join(args)} failed after {wall:.1f} s: "
                             f"{p.stderr.strip()}")
    return wall, completed_job(dst, name)


def summary(values):
    """(median, min, max) of a list of numbers (None entries skipped), or (None, None, None)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)
