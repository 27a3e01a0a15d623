#!/usr/bin/env bash
# A one-node SLURM cluster on this host for tclsta's tests, without systemd:
# munged, slurmctld and slurmd run as plain daemons; their PIDs go to $RUN_DIR.
#
#   sudo tests/slurm/start_local_slurm.sh          # install (if missing), configure, start, wait for idle
#   sudo tests/slurm/start_local_slurm.sh stop     # stop what this script started (by PID file)
#   sudo tests/slurm/start_local_slurm.sh status   # exit 0 when the node answers and is usable
#
# Two partitions on the one node, named as in workflow/profiles/slurm: `cpu` (default) and `gpu`.
# Knobs (environment): FAKE_GPUS (default: 2; device-less "gpu" GRES so that GPU rules, which ask
# for --gpus=N, can be scheduled on a machine without GPUs), NODE_CPUS / NODE_MEM_MB (default 8 /
# 65536: the node claims the size of a typical compute node, SlurmdParameters=config_overrides, so
# the profile's real requests fit even on a 2-core CI runner), MIN_JOB_AGE (default: 300 s; the
# profile polls job states with squeue, so finished jobs must stay visible that long).
#
# No slurmdbd: the profile uses `slurm-status-command: squeue`. With Debian's slurm-client, sacct
# exists but answers "accounting storage is disabled" and the executor plugin then drops jobs silently.
# Verified on Debian 12 (slurm-wlm 22.05.8, munge 0.5.15) as root, 2 CPUs, no systemd.
set -euo pipefail

FAKE_GPUS=${FAKE_GPUS:-2}
NODE_CPUS=${NODE_CPUS:-8}
NODE_MEM_MB=${NODE_MEM_MB:-65536}
MIN_JOB_AGE=${MIN_JOB_AGE:-300}
RUN_DIR=/run/tclsta-slurm
LOG_DIR=/var/log/tclsta-slurm
CONF_DIR=/etc/slurm
NODE=$(hostname -s)
PACKAGES=(munge slurmctld slurmd slurm-client)

log() { echo "start_local_slurm: $*" >&2; }
alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_daemon() {  # stop_daemon NAME: SIGTERM the PID in $RUN_DIR/NAME.pid, wait up to 10 s
  local pidfile=$RUN_DIR/$1.pid pid
  if alive "$pidfile"; then
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$pidfile"
}

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null || true; }
usable() { [[ "$1" == idle* || "$1" == mix* || "$1" == alloc* ]]; }

case "${1:-start}" in
  stop)
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
    rm -f /dev/shm/tclsta-fakegpu*
    exit 0 ;;
  status)
    usable "$(node_state)"; exit $? ;;
  start) ;;
  *) log "usage: $0 [start|stop|status]"; exit 2 ;;
esac

if [[ $(id -u) != 0 ]]; then log "must run as root (it installs packages and starts daemons)"; exit 1; fi
T0=$(date +%s.%N)

# ---- packages: apt-get only what is missing; policy-rc.d keeps postinst from starting services ----
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if (( ${#missing[@]} )); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d; trap - EXIT
fi

mkdir -p "$RUN_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd "$CONF_DIR"
chown slurm:slurm /var/spool/slurmctld "$LOG_DIR"

# ---- munge ----
[[ -s /etc/munge/munge.key ]] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge; chmod 755 /run/munge
if ! alive "$RUN_DIR/munged.pid"; then
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$RUN_DIR/munged.pid"
fi
munge -n | unmunge >/dev/null

# ---- slurm.conf (rewritten on every start) ----
GRES_TYPES=""; NODE_GRES=""
rm -f "$CONF_DIR/gres.conf" /dev/shm/tclsta-fakegpu*
if (( FAKE_GPUS > 0 )); then
  # slurmd counts GPUs from File= entries; plain files do when no cgroup device confinement is used
  for i in $(seq 0 $((FAKE_GPUS - 1))); do touch "/dev/shm/tclsta-fakegpu$i"; done
  echo "NodeName=$NODE Name=gpu File=/dev/shm/tclsta-fakegpu[0-$((FAKE_GPUS - 1))]" > "$CONF_DIR/gres.conf"
  GRES_TYPES="GresTypes=gpu"; NODE_GRES="Gres=gpu:$FAKE_GPUS"
fi
cat > "$CONF_DIR/slurm.conf" <<EOF
# written by tclsta tests/slurm/start_local_slurm.sh
ClusterName=tclsta-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
$GRES_TYPES
MinJobAge=$MIN_JOB_AGE
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$NODE_CPUS RealMemory=$NODE_MEM_MB $NODE_GRES State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF

# ---- daemons (both daemonize and write their PID files) ----
if alive "$RUN_DIR/slurmctld.pid"; then scontrol reconfigure; else /usr/sbin/slurmctld -c; fi
alive "$RUN_DIR/slurmd.pid" || /usr/sbin/slurmd

# ---- wait until the node takes jobs ----
state=""
for _ in $(seq 150); do
  state=$(node_state)
  usable "$state" && break
  if [[ "$state" == down* || "$state" == drain* ]]; then scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true; fi
  sleep 0.2
done
if ! usable "$state"; then
  log "node $NODE did not come up (state: ${state:-none}); last log lines:"
  tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
  exit 1
fi
printf 'start_local_slurm: up in %.1f s: node %s, partitions cpu+gpu, %s CPUs, %s MB, %s GPU(s); log %s\n' \
  "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$NODE" "$NODE_CPUS" "$NODE_MEM_MB" \
  "$FAKE_GPUS" "$LOG_DIR/slurmctld.log" >&2
