#!/usr/bin/env bash
# A one-node SLURM (munge + slurmctld + slurmd on localhost, all state in one
# directory), for testing the real jobs/ scripts. Source it:
#   source tests/jobs/slurm_cluster.sh DIR; slurm_up; ...; slurm_down
# After slurm_up, SLURM_CONF points at the cluster's slurm.conf.

slurm_dir=${1:?usage: source slurm_cluster.sh DIR}

slurm_up() {
  local d=$slurm_dir host port
  host=$(hostname)
  # Ports of our own, so that another SLURM on this machine cannot answer.
  port=$((20000 + RANDOM % 20000))
  mkdir -p "$d"/{state,spool,log,munge-key,munge-run}
  chmod 700 "$d/munge-key"
  chmod 755 "$d/munge-run"
  head -c 1024 /dev/urandom > "$d/munge-key/munge.key"
  chmod 400 "$d/munge-key/munge.key"
  munged --key-file="$d/munge-key/munge.key" --socket="$d/munge-run/munge.socket" \
    --pid-file="$d/munge-run/munged.pid" --log-file="$d/log/munged.log" --seed-file="$d/munge-run/seed" --force
  cat > "$d/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge-run/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
EnforcePartLimits=ALL
MailProg=/bin/true
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
  export SLURM_CONF=$d/slurm.conf
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  # slurmd registers in about a second on an idle machine; under load
  # (a build beside the tests) it took over ten.
  for _ in $(seq 1 600); do
    [[ $(sinfo -h -o %T 2>/dev/null) == idle* ]] && return 0
    sleep 0.1
  done
  echo "slurm did not come up: $(sinfo 2>&1)" >&2
  return 1
}

slurm_down() {
  local d=$slurm_dir
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge-run/munged.pid"; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
  done
  pkill -f -- "$d/slurm.conf" 2>/dev/null || true
  pkill -f -- "$d/munge-key" 2>/dev/null || true
}

# Waits for a job to leave the queue states PENDING/RUNNING/... and prints its final state.
slurm_wait() {
  local id=$1 state
  for _ in $(seq 1 3000); do
    state=$(scontrol show job "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case $state in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED) echo "$state"; return 0 ;;
    esac
    sleep 0.2
  done
  echo "TIMEOUT_WAITING"
}
