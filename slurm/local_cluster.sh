#!/usr/bin/env bash
# A real single-node Slurm (munged, slurmctld, slurmd + a sacct stand-in) on this machine, as root,
# without systemd, following shared/research/slurm_recipe.md. Used by the tests (tests/conftest.py).
#
#   slurm/local_cluster.sh start [HOLDER_PID]   start (or join, if already up) and register a holder
#   slurm/local_cluster.sh stop  [HOLDER_PID]   drop the holder; stop the daemons when none is left
#   slurm/local_cluster.sh stop --force         stop regardless of holders
#   slurm/local_cluster.sh status
#
# Every daemon is stopped by the PID recorded at start (no pkill/killall). State lives in
# $SFI_SLURM_STATE (default /tmp/sfi-mos-slurm): pids, holders, the sacct shim in bin/.
# Environment: SFI_SLURM_CPUS (CPUs to declare; default nproc; more than real is allowed).
set -euo pipefail
STATE=${SFI_SLURM_STATE:-/tmp/sfi-mos-slurm}
CONF=/etc/slurm/slurm.conf
mkdir -p "$STATE/holders" "$STATE/bin"
exec 9>"$STATE/lock"
flock 9  # start/stop/status of concurrent test sessions are serialised

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { cat "$STATE/$1.pid" 2>/dev/null || true; }
up() {
  for d in munged slurmctld slurmd; do alive "$(pid_of $d)" || return 1; done
  sinfo -h >/dev/null 2>&1
}
live_holders() {
  local n=0 f
  for f in "$STATE"/holders/*; do
    [ -e "$f" ] || continue
    if alive "$(basename "$f")"; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo $n
}

write_sacct_shim() {
  # sacct without slurmdbd fails; submitit needs it to see jobs that die without a result pickle.
  cat > "$STATE/bin/sacct" <<'SHIM'
#!/bin/bash
# sacct stand-in for Slurm without slurmdbd; answers: sacct -o JobID,State,NodeList --parsable2 -j ID [-j ID...]
ids=()
while [ $# -gt 0 ]; do
  case "$1" in
    -j|--jobs) ids+=("$2"); shift 2 ;;
    --jobs=*)  ids+=("${1#--jobs=}"); shift ;;
    -j*)       ids+=("${1#-j}"); shift ;;
    *) shift ;;
  esac
done
echo "JobID|State|NodeList"
squeue --noheader --states=all --array --format='%i|%T|%N' 2>/dev/null |
  awk -F'|' -v want="$(IFS=,; echo "${ids[*]}")" '
    BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) if (w[i] != "") keep[w[i]] = 1 }
    { base = $1; sub(/_.*/, "", base); if (n == 0 || (base in keep) || ($1 in keep)) print }'
exit 0
SHIM
  chmod +x "$STATE/bin/sacct"
}

start() {
  local holder=${1:-$PPID}
  if up; then
    touch "$STATE/holders/$holder"
    echo "already running (holders: $(live_holders)); sacct shim: $STATE/bin"
    return 0
  fi
  [ "$(id -u)" = 0 ] || { echo "error: needs root" >&2; exit 1; }
  for b in munged slurmctld slurmd sinfo; do
    command -v $b >/dev/null || [ -x /usr/sbin/$b ] || { echo "error: $b not installed (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 1; }
  done
  stop_daemons  # leftovers of a crashed session (recorded pids only)

  # munge: key, runtime dir (systemd would create it), daemon as the munge user
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged 9>&- </dev/null >>"$STATE/daemons.log" 2>&1
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$STATE/munged.pid"
  for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done

  local node cpus mem
  node=$(hostname -s)
  cpus=${SFI_SLURM_CPUS:-$(nproc)}
  mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
  mkdir -p /etc/slurm /var/log/slurm
  cat > "$CONF" <<CONFEOF
# written by sfi-mos slurm/local_cluster.sh (see shared/research/slurm_recipe.md)
ClusterName=ci
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
KillWait=5
SlurmdParameters=config_overrides
SchedulerParameters=sched_interval=2,bf_interval=2
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP
CONFEOF
  # a fresh StateSaveLocation: no stale DRAIN state, no old jobs
  rm -rf /var/spool/slurmctld /var/spool/slurmd
  mkdir -p /var/spool/slurmctld /var/spool/slurmd
  rm -f /run/slurmctld.pid /run/slurmd.pid
  # fd 9 (our flock) must not leak into the daemons, nor the caller's stdout
  /usr/sbin/slurmctld 9>&- </dev/null >>"$STATE/daemons.log" 2>&1
  /usr/sbin/slurmd 9>&- </dev/null >>"$STATE/daemons.log" 2>&1
  for _ in $(seq 50); do [ -s /run/slurmctld.pid ] && [ -s /run/slurmd.pid ] && break; sleep 0.1; done
  cp /run/slurmctld.pid "$STATE/slurmctld.pid"
  cp /run/slurmd.pid "$STATE/slurmd.pid"
  write_sacct_shim
  local t
  for t in $(seq 300); do
    if [ "$(sinfo -h -N -o %T 2>/dev/null | head -1)" = idle ]; then
      touch "$STATE/holders/$holder"
      echo "started: node $node idle after ${t}00 ms, cpus=$cpus; sacct shim: $STATE/bin (prepend to PATH)"
      return 0
    fi
    sleep 0.1
  done
  echo "error: node did not become idle in 30 s" >&2
  tail -n 30 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  stop_daemons
  exit 1
}

stop_daemons() {
  local ctl=$(pid_of slurmctld) sd=$(pid_of slurmd) mu=$(pid_of munged) p
  if alive "$ctl"; then scontrol shutdown >/dev/null 2>&1 || true; fi
  for _ in $(seq 100); do alive "$ctl" || alive "$sd" || break; sleep 0.1; done
  for p in "$ctl" "$sd"; do alive "$p" && kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do alive "$ctl" || alive "$sd" || break; sleep 0.1; done
  alive "$mu" && kill -TERM "$mu" 2>/dev/null || true
  for _ in $(seq 100); do alive "$mu" || break; sleep 0.1; done
  for p in "$ctl" "$sd" "$mu"; do alive "$p" && kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$STATE/munged.pid" "$STATE/slurmctld.pid" "$STATE/slurmd.pid"
}

stop() {
  if [ "${1:-}" = --force ]; then
    rm -f "$STATE"/holders/*
  else
    rm -f "$STATE/holders/${1:-$PPID}"
    local n
    n=$(live_holders)
    if [ "$n" -gt 0 ]; then echo "still used by $n other holder(s); not stopping"; return 0; fi
  fi
  stop_daemons
  echo "stopped"
}

status() {
  local d
  for d in munged slurmctld slurmd; do
    if alive "$(pid_of $d)"; then echo "$d: running (pid $(pid_of $d))"; else echo "$d: not running"; fi
  done
  echo "holders: $(live_holders)"
  up && sinfo || true
}

case "${1:-}" in
  start) start "${2:-}";;
  stop) stop "${2:-}";;
  status) status;;
  *) echo "usage: $0 start|stop|status [HOLDER_PID|--force]" >&2; exit 2;;
esac
