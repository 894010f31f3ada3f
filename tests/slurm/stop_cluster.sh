#!/bin/bash
# Stop the test cluster of start_cluster.sh (slurmctld and slurmd); munged is left running (harmless).
scontrol shutdown >/dev/null 2>&1 || true
for _ in $(seq 1 20); do pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || exit 0; sleep 0.25; done
pkill -x slurmd || true; pkill -x slurmctld || true
