#!/usr/bin/env bash
# A throwaway single-node Ceph with the RADOS Gateway on 127.0.0.1, for the S3 store tests.
#
#   ceph-rgw.sh start DIR MON_PORT RGW_PORT [WATCH_PID]   prints KEY=VALUE lines (endpoint, keys)
#   ceph-rgw.sh stop DIR                                  kills the daemons, removes DIR
#
# One monitor, one memstore OSD, auth none, pools of size 1: nothing touches a disk beyond DIR.
# With WATCH_PID, a watchdog tears the cluster down when that process exits (a killed test run
# leaves no daemons behind). Needs Debian's radosgw, ceph-mon and ceph-osd (Ceph 16+).
set -euo pipefail

cmd=${1:?usage: ceph-rgw.sh start|stop DIR ...}
dir=${2:?missing DIR}

stop_cluster() {
  local d=$1 pid
  for name in rgw osd mon; do
    if [[ -f "$d/run/$name.pid" ]]; then
      pid=$(cat "$d/run/$name.pid")
      kill "$pid" 2>/dev/null || true
    fi
  done
  sleep 0.5
  for name in rgw osd mon; do
    if [[ -f "$d/run/$name.pid" ]]; then
      pid=$(cat "$d/run/$name.pid")
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  [[ -n ${KEEP_CEPH_DIR:-} ]] || rm -rf "$d"
}

if [[ $cmd == stop ]]; then
  stop_cluster "$dir"
  exit 0
fi
[[ $cmd == start ]] || { echo "unknown command: $cmd" >&2; exit 2; }

mon_port=${3:?missing MON_PORT}
rgw_port=${4:?missing RGW_PORT}
watch_pid=${5:-}

for bin in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
  command -v "$bin" >/dev/null || { echo "ceph-rgw.sh: $bin not installed (apt-get install radosgw ceph-mon ceph-osd)" >&2; exit 3; }
done

mkdir -p "$dir"/{run,log,mon/a,osd/0,rgw}
# On failure, say which step failed and show the daemons' last log lines.
trap 'rc=$?; echo "ceph-rgw.sh: failed at line $LINENO: $BASH_COMMAND (exit $rc)" >&2; tail -n 5 "$dir"/log/*.log >&2 2>/dev/null; exit $rc' ERR
fsid=$(cat /proc/sys/kernel/random/uuid)
conf=$dir/ceph.conf
export CEPH_CONF=$conf

cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
keyring = $dir/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
[mon]
# One monitor: no need to batch proposals for a second (default), which slows every command.
paxos propose interval = 0.05
paxos min wait = 0.01
mon data = $dir/mon/a
mon cluster log file = $dir/log/cluster.log
[osd]
osd data = $dir/osd/0
osd objectstore = memstore
memstore device bytes = 1073741824
# Without this the OSD can race the monitor on first start ("wrong fsid"); it is placed below.
osd crush update on start = false
osd class update on start = false
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
rgw enable usage log = false
rgw thread pool size = 64
EOF

# An empty keyring keeps the tools from looking in /etc/ceph; auth is off.
: >"$dir/keyring"

monmaptool --create --clobber --addv a "[v1:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
ceph-mon -i a --pid-file "$dir/run/mon.pid"

ceph_cli() { timeout 30 ceph --connect-timeout 20 "$@"; }
# A fresh monitor answers EPERM until it has formed its quorum of one: retry until it serves.
retry() {
  local i
  for i in $(seq 1 60); do
    if "$@"; then return 0; fi
    sleep 0.5
  done
  "$@"
}

retry ceph_cli mon stat >/dev/null 2>&1
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$(retry ceph_cli osd new "$osd_uuid")
ceph-osd -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
retry ceph_cli osd crush add-bucket node0 host >/dev/null 2>&1
retry ceph_cli osd crush move node0 root=default >/dev/null 2>&1
retry ceph_cli osd crush add "osd.$osd_id" 1.0 host=node0 >/dev/null 2>&1
ceph-osd -i "$osd_id" --pid-file "$dir/run/osd.pid"

# Wait until the OSD is up before RGW creates its pools.
for _ in $(seq 1 60); do
  if ceph_cli osd stat 2>/dev/null | grep -q "1 up"; then break; fi
  sleep 0.5
done
ceph_cli osd stat | grep -q "1 up" || { echo "ceph-rgw.sh: OSD did not come up" >&2; exit 4; }

radosgw -n client.rgw --pid-file "$dir/run/rgw.pid"

access_key=TESTACCESSKEY$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
secret_key=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
radosgw-admin user create --uid=tester --display-name=tester \
  --access-key="$access_key" --secret-key="$secret_key" >/dev/null

for _ in $(seq 1 120); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$rgw_port") 2>/dev/null; then break; fi
  sleep 0.25
done
(exec 3<>"/dev/tcp/127.0.0.1/$rgw_port") 2>/dev/null || { echo "ceph-rgw.sh: RGW did not listen" >&2; exit 5; }

if [[ -n $watch_pid ]]; then
  script=$(readlink -f "$0")
  nohup bash -c "while kill -0 $watch_pid 2>/dev/null && [[ -d '$dir' ]]; do sleep 1; done; '$script' stop '$dir'" \
    >/dev/null 2>&1 &
fi

echo "S3_ENDPOINT=http://127.0.0.1:$rgw_port"
echo "S3_ACCESS_KEY_ID=$access_key"
echo "S3_SECRET_ACCESS_KEY=$secret_key"
