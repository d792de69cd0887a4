#!/usr/bin/env bash
# A real one-node SLURM 22.05 cluster (Debian's slurmctld, slurmd, slurm-client, munge) run as
# plain background processes, for the tests and CI: no systemd, no cgroups, no slurmdbd.
#
#   .ci/slurm-cluster.sh start    install the packages if missing (apt-get, needs root), write
#                                 slurm.conf/gres.conf under $TRAITRACK_SLURM_DIR and start
#                                 munged, slurmctld and slurmd; idempotent
#   .ci/slurm-cluster.sh stop     cancel the cluster's jobs and stop its daemons by PID
#   .ci/slurm-cluster.sh status   exit 0 when the cluster answers and its node is usable
#
# Client commands read $TRAITRACK_SLURM_DIR/slurm.conf through SLURM_CONF (see
# $TRAITRACK_SLURM_DIR/env) or through the symlink /etc/slurm/slurm.conf that `start` makes
# when the machine has no slurm.conf of its own (and `stop` removes).
#
# The node has two fake GPUs: slurmd 22.05 drops GPU GRES that only give a count, so each GPU
# gets a `File=` that is a symlink to /dev/null. Partitions: `cpu` (default) and `gpu`.
# There is no accounting database, so `sacct` does not work: the workflow's SLURM test uses
# `--slurm-status-command squeue` (MinJobAge keeps finished jobs visible to squeue/scontrol for
# an hour, so `scontrol show job` still reports each job's request, e.g. TresPerJob=gres:gpu:1)
# and jobcomp/filetxt keeps a record of every finished job in $TRAITRACK_SLURM_DIR/log/jobcomp.txt.
set -euo pipefail

DIR=${TRAITRACK_SLURM_DIR:-/tmp/traitrack-slurm}
CTLD_PORT=${TRAITRACK_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${TRAITRACK_SLURMD_PORT:-6818}
PACKAGES=(slurmctld slurmd slurm-client munge)
SYSTEM_CONF=/etc/slurm/slurm.conf
export SLURM_CONF="$DIR/slurm.conf"

say() { echo "slurm-cluster: $*" >&2; }

install_packages() {
    local missing=()
    for tool in slurmctld slurmd sbatch munged; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"$DIR/log/apt.log" 2>&1 \
        || { tail -20 "$DIR/log/apt.log" >&2; exit 1; }
}

pid_alive() { # pid_alive FILE: the process named in FILE runs
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_ready() {
    local state
    state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -1) || return 1
    case "$state" in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac
}

write_config() {
    local host cpus memory real_memory sockets cores threads
    host=$(hostname -s)
    # slurmd -C prints the node as slurmd measures it: keep the topology, stay below its memory
    read -r cpus sockets cores threads memory < <(slurmd -C | head -1 | tr ' ' '\n' | awk -F= '
        $1=="CPUs"{c=$2} $1=="SocketsPerBoard"{s=$2} $1=="CoresPerSocket"{k=$2}
        $1=="ThreadsPerCore"{t=$2} $1=="RealMemory"{m=$2} END{print c, s, k, t, m}')
    real_memory=$((memory * 8 / 10))
    for i in 0 1; do ln -sfn /dev/null "$DIR/gpu$i"; done
    cat >"$DIR/slurm.conf" <<EOF
# written by .ci/slurm-cluster.sh: a one-node test cluster, not for production
ClusterName=traitrack
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MinJobAge=3600
ReturnToService=2
MpiDefault=none
DefMemPerCPU=500
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$real_memory Gres=gpu:2 State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
EOF
    cat >"$DIR/gres.conf" <<EOF
NodeName=$host Name=gpu File=$DIR/gpu0
NodeName=$host Name=gpu File=$DIR/gpu1
EOF
    echo "export SLURM_CONF=$DIR/slurm.conf" >"$DIR/env"
    # The `srun` that Snakemake's jobstep runs inside each job drops SLURM_CONF from its
    # environment and reads the default /etc/slurm/slurm.conf: link ours there, unless the
    # machine has a slurm.conf of its own.
    if [ -L "$SYSTEM_CONF" ] || [ ! -e "$SYSTEM_CONF" ]; then
        mkdir -p "$(dirname "$SYSTEM_CONF")"
        ln -sfn "$DIR/slurm.conf" "$SYSTEM_CONF"
    else
        say "warning: $SYSTEM_CONF exists and is not ours: jobs' srun will read it"
    fi
}

start() {
    mkdir -p "$DIR/log" "$DIR/state" "$DIR/spool" "$DIR/munge"
    chmod 700 "$DIR/munge"
    if pid_alive "$DIR/munged.pid" && pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid" \
        && node_ready; then
        say "already running ($DIR)"
        return 0
    fi
    stop_daemons
    install_packages
    write_config
    if [ ! -s "$DIR/munge/munge.key" ]; then
        head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
        chmod 400 "$DIR/munge/munge.key"
    fi
    # --force: /tmp is world-writable, which munged otherwise refuses for its parent directories
    munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
        --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" </dev/null >/dev/null 2>&1
    slurmctld -f "$DIR/slurm.conf" -c </dev/null >/dev/null 2>&1
    slurmd -f "$DIR/slurm.conf" </dev/null >/dev/null 2>&1
    for _ in $(seq 30); do
        node_ready && break
        pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid" || break
        sleep 1
    done
    if ! node_ready; then
        say "the node did not come up; logs in $DIR/log"
        tail -5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
        exit 1
    fi
    say "up: $(sinfo -h -N -o '%N %T cpus=%c mem=%m gres=%G' | head -1)"
    say "for client commands: source $DIR/env"
}

stop_daemon() { # stop_daemon NAME: TERM the PID in $DIR/NAME.pid, wait for it to exit
    local file="$DIR/$1.pid" pid
    pid_alive "$file" || { rm -f "$file"; return 0; }
    pid=$(cat "$file")
    kill "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$file"
}

stop_daemons() {
    if pid_alive "$DIR/slurmctld.pid"; then
        local jobs
        jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
        [ -n "$jobs" ] && timeout 10 scancel $jobs 2>/dev/null || true
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
    if [ "$(readlink "$SYSTEM_CONF" 2>/dev/null)" = "$DIR/slurm.conf" ]; then
        rm -f "$SYSTEM_CONF"
    fi
}

case "${1:-}" in
start) start ;;
stop)
    stop_daemons
    say "stopped"
    ;;
status)
    if [ -s "$DIR/slurm.conf" ] && node_ready; then
        sinfo -N -o '%N %P %T cpus=%c mem=%m gres=%G'
    else
        say "not running ($DIR)"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
