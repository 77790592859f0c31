# A private single-node SLURM for the tests (sourced, POSIX sh). As root:
# munged with its own key and socket, slurmctld and slurmd with a minimal
# slurm.conf, state, spool, logs and pid files, all in one temporary
# directory, on ports nobody listens on. Nothing outside that directory
# is touched; cluster_stop ends exactly the processes cluster_start began
# (and the jobs they ran).
#
#   . tests/slurm/cluster.sh
#   cluster_start DIR [MAX_ARRAY_SIZE]   # exports SLURM_CONF; returns 1 with the logs on failure
#                                        # (every directory above DIR must be o+x: munged)
#   cluster_stop DIR
#
# Failing to start is an error, never a skip: the SLURM suite exists to
# exercise a real slurmctld.

cluster_log() { echo "cluster: $*"; }

# A TCP port in 20000..31999 (below the ephemeral range) nobody listens on.
cluster_free_port() {
    _p=$(( 20000 + ($$ * 7 + $1 * 131) % 12000 ))
    while ss -Htln "sport = :$_p" 2>/dev/null | grep -q . || ss -Htln "sport = :$((_p + 1))" 2>/dev/null | grep -q .; do
        _p=$(( _p + 2 ))
        [ "$_p" -lt 32000 ] || _p=20000
    done
    echo "$_p"
}

cluster_start() {
    _d=$1
    _max_array=${2:-1001}
    for _b in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo ss; do
        command -v "$_b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
        command -v "$_b" >/dev/null 2>&1 || {
            cluster_log "FAIL: $_b not found (install munge slurmctld slurmd slurm-client: scripts/deps.sh)"
            return 1
        }
    done
    [ "$(id -u)" = 0 ] || { cluster_log "FAIL: the SLURM test starts slurmd and must run as root"; return 1; }
    _host=$(hostname -s)
    mkdir -p "$_d/munge" "$_d/sock" "$_d/state" "$_d/spool" "$_d/log" || return 1
    # munged insists: key readable by its owner only, socket directory
    # reachable by everyone, the socket path not world-writable.
    chmod 755 "$_d" "$_d/sock"
    chmod 700 "$_d/munge"
    dd if=/dev/urandom of="$_d/munge/munge.key" bs=1024 count=1 2>/dev/null && chmod 400 "$_d/munge/munge.key" || return 1
    munged --socket="$_d/sock/munge.socket" --key-file="$_d/munge/munge.key" \
        --pid-file="$_d/sock/munged.pid" --seed-file="$_d/munge/seed" \
        --log-file="$_d/log/munged.log" || { cluster_log "FAIL: munged did not start"; cat "$_d/log/munged.log"; return 1; }
    _ctld_port=$(cluster_free_port 1)
    _slurmd_port=$(( _ctld_port + 1 ))
    : >"$_d/plugstack.conf"
    cat >"$_d/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh: a private one-node cluster for tests.
ClusterName=flexcltest
SlurmctldHost=$_host(127.0.0.1)
SlurmctldPort=$_ctld_port
SlurmdPort=$_slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$_d/sock/munge.socket
CredType=cred/munge
StateSaveLocation=$_d/state
SlurmdSpoolDir=$_d/spool
SlurmctldPidFile=$_d/slurmctld.pid
SlurmdPidFile=$_d/slurmd.pid
SlurmctldLogFile=$_d/log/slurmctld.log
SlurmdLogFile=$_d/log/slurmd.log
PlugStackConfig=$_d/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MaxArraySize=$_max_array
KillWait=5
MinJobAge=600
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$_host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$_host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$_d/slurm.conf"
    # The daemons carry a marker so that cluster_stop can find their
    # job steps (slurmstepd inherits slurmd's environment).
    FLEXCL_TEST_CLUSTER=$_d slurmctld -c -f "$_d/slurm.conf" ||
        { cluster_log "FAIL: slurmctld did not start"; cluster_dump "$_d"; return 1; }
    FLEXCL_TEST_CLUSTER=$_d slurmd -f "$_d/slurm.conf" -N "$_host" ||
        { cluster_log "FAIL: slurmd did not start"; cluster_dump "$_d"; return 1; }
    _i=0
    until [ "$(sinfo -h -n "$_host" -o %t 2>/dev/null)" = idle ]; do
        _i=$((_i + 1))
        if [ "$_i" -gt 150 ]; then
            cluster_log "FAIL: node $_host not idle after 30 s ($(sinfo -h -o '%t %E' 2>&1))"
            cluster_dump "$_d"
            return 1
        fi
        sleep 0.2
    done
    cluster_log "slurmctld :$_ctld_port and slurmd :$_slurmd_port up on $_host (SLURM_CONF=$SLURM_CONF, MaxArraySize=$_max_array)"
}

cluster_dump() {
    for _f in "$1"/log/*.log; do
        [ -f "$_f" ] || continue
        echo "---- $_f (last 30 lines)"
        tail -n 30 "$_f"
    done
}

# Pids of the processes whose environment holds NAME=VALUE.
cluster_pids_with_env() {
    grep -lzxF "$1" /proc/[0-9]*/environ 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' | grep -vx "$$"
}

cluster_stop() {
    _d=$1
    [ -f "$_d/slurm.conf" ] || return 0
    export SLURM_CONF="$_d/slurm.conf"
    if [ -f "$_d/slurmctld.pid" ]; then
        _jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
        if [ -n "$_jobs" ]; then
            scancel $_jobs 2>/dev/null
            _i=0
            while [ -n "$(squeue -h -o %A 2>/dev/null)" ] && [ "$_i" -lt 50 ]; do sleep 0.2; _i=$((_i + 1)); done
        fi
    fi
    for _f in slurmd.pid slurmctld.pid sock/munged.pid; do
        [ -f "$_d/$_f" ] || continue
        _pid=$(cat "$_d/$_f")
        kill "$_pid" 2>/dev/null || continue
        _i=0
        while kill -0 "$_pid" 2>/dev/null && [ "$_i" -lt 50 ]; do sleep 0.2; _i=$((_i + 1)); done
        kill -0 "$_pid" 2>/dev/null && kill -KILL "$_pid" 2>/dev/null
    done
    # Steps and job processes of this cluster that outlived it: the steps
    # carry the daemons' marker, the jobs this cluster's SLURM_JOB_ID.
    for _pid in $(cluster_pids_with_env "FLEXCL_TEST_CLUSTER=$_d"); do
        kill -KILL "$_pid" 2>/dev/null && cluster_log "killed leftover step process $_pid"
    done
    for _pid in $(cluster_pids_with_env "SLURM_CONF=$_d/slurm.conf"); do
        grep -qz '^SLURM_JOB_ID=' "/proc/$_pid/environ" 2>/dev/null &&
            kill -KILL "$_pid" 2>/dev/null && cluster_log "killed leftover job process $_pid"
    done
    cluster_log "stopped"
}
