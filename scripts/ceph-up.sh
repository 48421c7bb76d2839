#!/usr/bin/env bash
# Starts a real single-node Ceph cluster for tests: one mon, one mgr, one OSD (memstore), cephx on,
# bound to 127.0.0.1 on non-default ports, pool `rbd` initialised, and a least-privilege client
# `client.virtconverge`. Everything lives in $VC_CEPH_DIR (default /tmp/vc-ceph); the daemons'
# PIDs are recorded there so scripts/ceph-down.sh stops exactly them.
# Prints the path of the client conf: $VC_CEPH_DIR/ceph.conf (admin keyring beside it).
set -euo pipefail

DIR=${VC_CEPH_DIR:-/tmp/vc-ceph}
V1=${VC_CEPH_PORT_V1:-16789}
V2=${VC_CEPH_PORT_V2:-13300}
PORT_MIN=${VC_CEPH_PORT_MIN:-16800}   # the OSD and mgr bind in [PORT_MIN, PORT_MIN+99]
CONF=$DIR/ceph.conf
CEPH=(ceph -c "$CONF" --connect-timeout 5 --rados-mon-op-timeout 15)

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if running "$DIR/run/mon.a.pid" && "${CEPH[@]}" -s >/dev/null 2>&1; then
  echo "ceph already running in $DIR"; exit 0
fi
rm -rf "$DIR"
mkdir -p "$DIR"/{run,log,crash,mon-a,osd-0,mgr-x}
chmod 755 "$DIR"
t0=$(date +%s.%N)
fsid=$(cat /proc/sys/kernel/random/uuid)

cat > "$CONF" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$V2,v1:127.0.0.1:$V1]
public addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = $PORT_MIN
ms bind port max = $((PORT_MIN + 99))
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon allow pool delete = true
mon data avail warn = 1
paxos propose interval = 0.1
osd mon report interval = 1
run dir = $DIR/run
crash dir = $DIR/crash
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log

[mon]
mon data = $DIR/mon-\$id
[mgr]
mgr data = $DIR/mgr-\$id
[osd]
osd data = $DIR/osd-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd memory target = 939524096
[client]
keyring = $DIR/ceph.client.admin.keyring
log file = $DIR/log/client.log
CONF

ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$DIR/ceph.client.admin.keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/ceph.client.admin.keyring" >/dev/null
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$V2,v1:127.0.0.1:$V1]" "$DIR/monmap" >/dev/null
ceph-mon --mkfs -i a -c "$CONF" --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" 2>>"$DIR/log/mkfs.log"

start() {  # name, then the daemon command; waits for the pid file the daemon writes
  local name=$1; shift
  setsid "$@" -c "$CONF" -f </dev/null >>"$DIR/log/$name.out" 2>&1 &
  for _ in $(seq 1 100); do [ -s "$DIR/run/$name.pid" ] && return 0; sleep 0.1; done
  echo "ceph: $name wrote no pid file" >&2; tail -20 "$DIR/log/$name.out" >&2; return 1
}
start mon.a ceph-mon -i a
"${CEPH[@]}" mon stat >/dev/null

# The mgr: some rbd operations (rbd du on pacific, pool init) talk to it.
"${CEPH[@]}" auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
  > "$DIR/mgr-x/keyring"
start mgr.x ceph-mgr -i x

osd_uuid=$(cat /proc/sys/kernel/random/uuid)
id=$("${CEPH[@]}" osd new "$osd_uuid")
"${CEPH[@]}" auth get-or-create "osd.$id" mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
  > "$DIR/osd-$id/keyring"
ceph-osd -i "$id" -c "$CONF" --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/mkfs.log" 2>&1
start "osd.$id" ceph-osd -i "$id"
for _ in $(seq 1 200); do
  "${CEPH[@]}" osd dump 2>/dev/null | grep -q "^osd.$id up" && break
  sleep 0.1
done
"${CEPH[@]}" osd pool create rbd 8 8 >/dev/null 2>&1
rbd -c "$CONF" pool init rbd
"${CEPH[@]}" auth get-or-create client.virtconverge mon 'profile rbd' osd 'profile rbd pool=rbd' \
  mgr 'profile rbd pool=rbd' > "$DIR/ceph.client.virtconverge.keyring"
# A conf for the least-privilege client, with its own keyring.
sed "s#^keyring = .*#keyring = $DIR/ceph.client.virtconverge.keyring#" "$CONF" > "$DIR/ceph.virtconverge.conf"
chmod 644 "$DIR"/*.conf
echo "ceph ready in $(echo "$(date +%s.%N) - $t0" | bc) s: conf $CONF (mon pid $(cat "$DIR/run/mon.a.pid"), mgr pid $(cat "$DIR/run/mgr.x.pid"), osd pid $(cat "$DIR/run/osd.$id.pid"))"
