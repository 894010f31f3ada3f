#!/bin/bash
# A one-node SLURM cluster for tests, as root without systemd: munge + slurmctld + slurmd, state in a scratch dir.
# Usage: bash tests/slurm/start_cluster.sh [SCRATCH]   (default /tmp/pipeline-slurm); stop with stop_cluster.sh.
# Needs Debian's slurm-wlm and munge. Prints the path of slurm.conf; jobs completion log: $SCRATCH/jobcomp.log.
set -euo pipefail
scratch="${1:-/tmp/pipeline-slurm}"
mkdir -p "$scratch"/{spool,state,log}
command -v slurmctld >/dev/null || { echo "slurmctld not found: apt-get install slurm-wlm munge" >&2; exit 2; }

# munge: a key owned by munge, mode 400, then the daemon
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
pgrep -x munged >/dev/null || runuser -u munge -- munged --force

host=$(hostname -s)
# at least 4 CPUs declared (config_overrides lets slurmd accept more than the hardware has): on a 2-core CI
# machine, 4 one-CPU jobs can run at once, so that throttles such as a sweep's max_parallel 2 are really tested
cpus=$(( $(nproc) < 4 ? 4 : $(nproc) ))
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
conf=/etc/slurm/slurm.conf
mkdir -p /etc/slurm
cat > "$conf" <<CONF
ClusterName=pipeline-test
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
SlurmdUser=root
ReturnToService=2
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/log/slurmctld.log
SlurmdLogFile=$scratch/log/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc=$scratch/jobcomp.log
MinJobAge=600
# without a default memory per CPU a job takes the whole node and array tasks run one at a time
DefMemPerCPU=1024
MpiDefault=none
SlurmdParameters=config_overrides
# a requeued job waits cred_expire seconds before it may start again (default 120), then for the next scheduling
# pass (sched_interval, default 60 s): the requeue tests requeue several times (measured: 12 s instead of ~150 s)
AuthInfo=cred_expire=10
SchedulerParameters=bf_interval=5,sched_interval=5
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd || { tail -n 5 "$scratch/log/slurmd.log" >&2; exit 1; }
for _ in $(seq 1 60); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -n1 || true)
  if [ "$state" = "idle" ] || [ "$state" = "mixed" ]; then
    echo "slurm cluster up: node $host $state, $cpus cpus, ${mem}M; conf $conf"
    exit 0
  fi
  sleep 0.5
done
echo "slurm cluster did not become idle; state '${state:-?}'; see $scratch/log/" >&2
tail -n 20 "$scratch"/log/*.log >&2 || true
exit 1
