# shellcheck shell=bash
# Shared constants and helpers for scripts/sandbox (sourced, not executed).

SBX_STATE=/run/raptor-sandbox
SBX_PIDS=$SBX_STATE/pids
SBX_MANIFEST=$SBX_STATE/manifest
SBX_LVM_DIR=$SBX_STATE/lvm
SBX_LV_LOOPS=$SBX_STATE/lv-loops
SBX_NAMED_DIR=$SBX_STATE/named
SBX_VARDIR=/var/lib/raptor-sandbox
SBX_PV_IMG=$SBX_VARDIR/pv.img
SBX_PV_SIZE=10G
SBX_VG=lvm-data
SBX_NETNS=raptor-dhcp
SBX_NBRIDGES=5
SBX_DNS_PORT=5353
SBX_POLKIT_ROOT_RULES=/etc/polkit-1/rules.d/40-raptor-sandbox-root.rules
SBX_PROBE_DOMAIN=raptor-sandbox-probe
SBX_URI=qemu:///system

log() { printf 'sandbox: %s\n' "$*" >&2; }
die() { printf 'sandbox: ERROR: %s\n' "$*" >&2; exit 1; }

# record TYPE VALUE: remember that the sandbox made something (for `down`).
record() {
  mkdir -p "$SBX_STATE"
  [[ -f $SBX_MANIFEST ]] || : >"$SBX_MANIFEST"
  grep -qxF "$1 $2" "$SBX_MANIFEST" || printf '%s %s\n' "$1" "$2" >>"$SBX_MANIFEST"
}
# recorded TYPE: print the recorded values of TYPE, in recording order.
recorded() {
  [[ -f $SBX_MANIFEST ]] || return 0
  awk -v t="$1" '$1 == t { sub(/^[^ ]+ /, ""); print }' "$SBX_MANIFEST"
}
unrecord() {
  [[ -f $SBX_MANIFEST ]] || return 0
  grep -vxF "$1 $2" "$SBX_MANIFEST" >"$SBX_MANIFEST.tmp" || true
  mv "$SBX_MANIFEST.tmp" "$SBX_MANIFEST"
}

# pid_of NAME COMM: print the recorded pid of NAME if that process is alive and
# is COMM (guards against pid reuse); fail otherwise.
pid_of() {
  local f=$SBX_PIDS/$1.pid pid comm
  [[ -s $f ]] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [[ -n $pid ]] && alive "$pid" || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [[ $comm == "$2" ]] || return 1
  printf '%s\n' "$pid"
}

# alive PID: the process exists and is not a zombie (our daemons are reparented
# to PID 1, which may reap them late).
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# stop_pid NAME COMM: stop the process recorded as NAME (TERM, then KILL).
stop_pid() {
  local pid i
  if pid=$(pid_of "$1" "$2"); then
    log "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "$1 did not exit on TERM; killing"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    log "$1 stopped after $((i / 10)).$((i % 10)) s"
  fi
  rm -f "$SBX_PIDS/$1.pid"
}

# wait_for SECONDS CMD...: retry CMD every 0.2 s until it succeeds or time is up.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

sbx_lvm() { LVM_SYSTEM_DIR=$SBX_LVM_DIR LVM_SUPPRESS_FD_WARNINGS=1 /sbin/lvm "$@"; }

# The loop device attached to the PV image, if any.
pv_loop() { losetup -j "$SBX_PV_IMG" -n -O NAME 2>/dev/null | head -n1; }

# Not [[ -c /dev/mapper/control ]]: libdevmapper creates that node even when
# the kernel has no device-mapper.
dm_available() {
  grep -qw device-mapper /proc/misc 2>/dev/null && dmsetup version >/dev/null 2>&1
}

bus_works() {
  dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId >/dev/null 2>&1
}
bus_has_name() {
  dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}
libvirt_works() { virsh -c "$SBX_URI" version >/dev/null 2>&1; }
dns_works() {
  [[ -n $(dig @127.0.0.1 -p "$SBX_DNS_PORT" raptor.test SOA +short +time=1 +tries=1 2>/dev/null) ]]
}
