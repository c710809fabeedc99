#!/usr/bin/env bash
# usage: rgw.sh start|stop|status|dir|use PID|release PID
#
# A throwaway Ceph RADOS Gateway (S3) for the tests and `npm run bench:s3`: one monitor, one OSD
# (bluestore on a sparse file), pools of size 1, radosgw on the beast frontend at 127.0.0.1, and
# one S3 user. Everything (config, data, logs, sockets, pid files) lives under one directory,
# $RGW_DIR (default: one per checkout under $TMPDIR); nothing goes in /var or /etc.
#
#   start   starts the gateway, or reuses the one already running from $RGW_DIR, and keeps it
#           until `stop` (.ci/run, `npm run rgw:start`); prints the S3 settings as one JSON line
#           on stdout {endpoint, accessKeyId, secretAccessKey}, and how long it took on stderr.
#           Concurrent calls wait for each other (flock).
#   use PID      the same, for a run (a jest run, the bench) whose process is PID, without keeping it:
#   release PID  that run is done; the gateway stops when no run that still lives uses it, unless
#                `start` keeps it. Two jest runs in one checkout so never stop it under each other.
#   stop    stops the daemons (SIGTERM; SIGKILL after 2 s: nothing is kept) and removes $RGW_DIR.
#   status  exits 0 if the gateway of $RGW_DIR answers S3 requests.
#   dir     prints $RGW_DIR (its run/ holds the daemons' pid files).
#
# Needs scripts/install-rgw-deps.sh (radosgw ceph-mon ceph-osd ceph-common).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${RGW_DIR:-${TMPDIR:-/tmp}/pullthrough-rgw-$(printf '%s' "$repo" | cksum | cut -d' ' -f1)}
conf=$dir/ceph.conf
settings=$dir/s3.json
users=$dir/users
kept=$dir/kept
ACCESS_KEY=pullthrough-test
SECRET_KEY=pullthrough-test-secret

log() { echo "rgw: $*" >&2; }
die() {
  log "$*"
  [[ -d $dir/log ]] && tail -n 20 "$dir"/log/*.log >&2 2>/dev/null
  exit 1
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# The gateway answers an S3 request (anonymous ListBuckets: 200 on RGW). s3.json is written only
# once the S3 user exists.
answers() {
  local endpoint
  [[ -f $settings ]] || return 1
  endpoint=$(sed -E 's/.*"endpoint":"([^"]+)".*/\1/' "$settings")
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$endpoint/"
}

# The pids of this dir's daemons: a pid file whose process is gone, or is now some other program
# (a pid reused after a reboot), names nothing to stop.
our_pids() {
  local pidfile pid
  for pidfile in "$dir"/run/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $conf" && echo "$pid"
  done
  return 0
}

stop() {
  stop_daemons
  rm -rf "$dir"
  log "stopped ($dir)"
}

# Any run registered in $users whose process still lives.
live_users() {
  local file
  for file in "$users"/*; do
    [[ -f $file ]] && kill -0 "$(basename "$file")" 2>/dev/null && return 0
  done
  return 1
}

stop_daemons() {
  local pids pid
  pids=$(our_pids)
  [[ -n $pids ]] || return 0
  kill $pids 2>/dev/null || true
  for pid in $pids; do
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

ceph_() { timeout 60 ceph -c "$conf" "$@"; }

start() {
  local began mon_port rgw_port fsid osd_uuid
  began=$EPOCHREALTIME
  if answers; then
    log "reusing the gateway of $dir"
    cat "$settings"
    return
  fi
  stop_daemons
  rm -rf "$dir"
  mkdir -p "$dir"/{run,log,mon,osd,rgw}
  mon_port=$(free_port)
  rgw_port=$(free_port)
  fsid=$(uuidgen)
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public network = 127.0.0.0/8
ms bind msgr1 = false
# No cephx anywhere; radosgw insists on secure mode towards the monitor unless told crc.
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
ms mon client mode = crc
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
crash dir = $dir/crash
mon cluster log file = default=$dir/log/\$channel.log cluster=$dir/log/cluster.log
log to stderr = false
err to stderr = false
# One OSD: pools of size 1, placement over OSDs not hosts, few placement groups, no warnings.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# Pool creation waits on paxos proposals: 1 s each by default.
paxos propose interval = 0.1
[mon]
mon data = $dir/mon/\$name
[osd]
osd data = $dir/osd/\$name
osd objectstore = bluestore
bluestore block path = $dir/osd/block
bluestore block create = true
# A sparse file: only what is written takes disk space.
bluestore block size = 32212254720
bluestore fsck on mount = false
osd memory target = 939524096
[client]
keyring = /dev/null
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw thread pool size = 64
EOF

  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" >/dev/null 2>&1 || die "ceph-mon --mkfs failed"
  ceph-mon -c "$conf" -i a 9>&- || die "ceph-mon did not start"

  osd_uuid=$(uuidgen)
  [[ $(ceph_ osd new "$osd_uuid" 0 2>/dev/null) == 0 ]] || die "ceph osd new failed"
  mkdir -p "$dir/osd/osd.0"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1 || die "ceph-osd --mkfs failed"
  ceph-osd -c "$conf" -i 0 9>&- || die "ceph-osd did not start"
  for _ in $(seq 600); do
    ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up' && break
    sleep 0.1
  done
  ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up' || die "osd.0 never came up"

  radosgw -c "$conf" -n client.rgw.a 9>&- || die "radosgw did not start"
  timeout 120 radosgw-admin -c "$conf" user create --uid=pullthrough --display-name=pullthrough \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null 2>"$dir/log/user-create.log" || die "radosgw-admin user create failed"
  printf '{"endpoint":"http://127.0.0.1:%s","accessKeyId":"%s","secretAccessKey":"%s"}\n' "$rgw_port" "$ACCESS_KEY" "$SECRET_KEY" >"$settings"
  for _ in $(seq 600); do
    answers && break
    sleep 0.1
  done
  answers || die "radosgw never answered on 127.0.0.1:$rgw_port"
  mkdir -p "$users"
  log "started in $(awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s at http://127.0.0.1:$rgw_port ($dir)"
  cat "$settings"
}

pid_arg() {
  [[ ${1:-} =~ ^[0-9]+$ ]] || { echo "usage: $0 use|release PID" >&2; exit 2; }
}

case ${1:-} in
  start | use)
    [[ $1 == use ]] && pid_arg "${2:-}"
    mkdir -p "$(dirname "$dir")"
    exec 9>"$dir.lock"
    flock 9
    start
    if [[ $1 == start ]]; then touch "$kept"; else touch "$users/$2"; fi
    ;;
  release)
    pid_arg "${2:-}"
    exec 9>"$dir.lock"
    flock 9
    [[ -f $users/$2 ]] || exit 0
    rm -f "$users/$2"
    [[ -f $kept ]] || live_users || stop
    ;;
  stop)
    exec 9>"$dir.lock"
    flock 9
    stop
    ;;
  status)
    answers
    ;;
  dir)
    echo "$dir"
    ;;
  *)
    echo "usage: $0 start|stop|status|dir|use PID|release PID" >&2
    exit 2
    ;;
esac
