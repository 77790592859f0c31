#!/bin/sh
# Submit a flexcl job file as SLURM array job(s) plus a merge job.
#
#   slurm/submit.sh JOB.ini [--out DIR] [--ranks R] [--threads T]
#       [--time [D-]HH:MM:SS] [--partition P] [--max-parallel M]
#       [--tasks N] [--min-task [D-]HH:MM:SS] [--rate STEPS_PER_S]
#       [--signal-lead SECONDS] [--launcher mpirun|srun] [--flexcl PATH]
#       [--dry-run]
#
# It reads `flexcl plan JOB.ini`, estimates each grid point's run time,
# chooses the number N of flexcl tasks (contiguous blocks of grid points,
# the split of `flexcl run --task I --tasks N`) so that each array task runs
# a sensible time, and submits `sbatch --array=...%M slurm/task.sbatch`
# (several arrays when N exceeds the cluster's MaxArraySize) and
# `slurm/merge.sbatch` with --dependency=afterok on them. Scientific
# parameters stay in the job file (a snapshot is kept in DIR/slurm/);
# the sbatch lines set only ranks, threads, paths, time and signals.
# --dry-run prints the sbatch lines and the array index -> task -> grid
# points -> seeds -> output mapping, and submits nothing.
#
# Resubmitting the same job with the same --out submits only the tasks
# whose DIR/task_I.h5 is missing (the others are complete); their
# checkpoints resume. See docs/slurm.md for the cost estimate and the
# packing rule.
#
# Exit status: 0 submitted (or nothing to do), 2 bad arguments or job file
# (one line on stderr), 1 sbatch or SLURM failure.
set -eu

prog=submit.sh
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

bad() { echo "$prog: error: $*" >&2; exit 2; }
fail() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

usage() {
    awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"
}

is_count() { case "$1" in '' | *[!0-9]* | 0*) return 1 ;; *) return 0 ;; esac; }

# [D-]HH:MM:SS (or MM:SS) -> seconds; empty on a malformed value.
seconds_of() {
    echo "$1" | awk -F: '
        { d = 0; s = $0
          if (s ~ /^[0-9]+-/) { d = s; sub(/-.*/, "", d); sub(/^[0-9]+-/, "", s) }
          n = split(s, f, ":")
          if (n < 2 || n > 3) exit
          for (i = 1; i <= n; i++) if (f[i] !~ /^[0-9]+$/) exit
          if (n == 2) { h = 0; m = f[1]; x = f[2] } else { h = f[1]; m = f[2]; x = f[3] }
          if (m >= 60 && n == 3 || x >= 60) exit
          t = ((d * 24 + h) * 60 + m) * 60 + x
          if (t > 0) print t }'
}

hms() { awk -v t="$1" 'BEGIN { printf "%02d:%02d:%02d", int(t / 3600), int(t % 3600 / 60), t % 60 }'; }

# Quote one word for a copy-pasteable command line.
q() {
    case "$1" in
    '' | *[!A-Za-z0-9_./:=%@,+-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
    esac
}

job="" out="" ranks=1 threads=1 time_arg=01:00:00 partition="" max_parallel=0
tasks_arg="" min_task_arg=00:10:00 rate=2000000 lead="" launcher=mpirun dry_run=0
flexcl=${FLEXCL:-}
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    --dry-run) dry_run=1; shift; continue ;;
    --out | --ranks | --threads | --time | --partition | --max-parallel | --tasks | --min-task | \
        --rate | --signal-lead | --launcher | --flexcl)
        [ $# -ge 2 ] && [ -n "$2" ] || bad "$1 needs a value"
        case "$2" in --*) bad "$1 needs a value (got '$2')" ;; esac ;;
    -*) bad "unknown option '$1' (see $prog --help)" ;;
    *)
        [ -z "$job" ] || bad "unexpected argument '$1' (one job file per submission)"
        job=$1; shift; continue ;;
    esac
    v=$2
    case "$1" in
    --out) out=$v ;;
    --ranks) is_count "$v" || bad "--ranks needs a positive integer (got '$v')"; ranks=$v ;;
    --threads) is_count "$v" || bad "--threads needs a positive integer (got '$v')"; threads=$v ;;
    --time) time_arg=$v ;;
    --partition) case "$v" in *[!A-Za-z0-9_.,-]*) bad "--partition: unexpected characters in '$v'" ;; esac; partition=$v ;;
    --max-parallel) is_count "$v" || bad "--max-parallel needs a positive integer (got '$v')"; max_parallel=$v ;;
    --tasks) is_count "$v" || bad "--tasks needs a positive integer (got '$v')"; tasks_arg=$v ;;
    --min-task) min_task_arg=$v ;;
    --rate) echo "$v" | grep -Eq '^[0-9]+([.][0-9]*)?([eE][+]?[0-9]+)?$' && [ "$(awk -v r="$v" 'BEGIN{print (r > 0)}')" = 1 ] ||
            bad "--rate needs a positive number of steps per second (got '$v')"
        rate=$v ;;
    --signal-lead) is_count "$v" || bad "--signal-lead needs a positive number of seconds (got '$v')"; lead=$v ;;
    --launcher) case "$v" in mpirun | srun) launcher=$v ;; *) bad "--launcher is mpirun or srun (got '$v')" ;; esac ;;
    --flexcl) flexcl=$v ;;
    esac
    shift 2
done
[ -n "$job" ] || bad "no job file (usage: $prog JOB.ini [--out DIR] [--ranks R] [--threads T] [--time HH:MM:SS] [--max-parallel M] [--dry-run])"
[ -f "$job" ] && [ -r "$job" ] || bad "$job: no such job file"
time_s=$(seconds_of "$time_arg")
[ -n "$time_s" ] || bad "--time needs [D-]HH:MM:SS (got '$time_arg')"
min_task_s=$(seconds_of "$min_task_arg")
[ -n "$min_task_s" ] || bad "--min-task needs [D-]HH:MM:SS (got '$min_task_arg')"
# USR1 this long before the time limit: a fifth of it, 30 s .. 10 min.
if [ -z "$lead" ]; then
    lead=$((time_s / 5))
    [ "$lead" -ge 30 ] || lead=30
    [ "$lead" -le 600 ] || lead=600
fi
[ "$lead" -lt "$time_s" ] || bad "--signal-lead ${lead}s must be shorter than --time $time_arg"

if [ -z "$flexcl" ]; then
    if [ -x "$repo/build/flexcl" ]; then flexcl=$repo/build/flexcl
    else flexcl=$(command -v flexcl || true)
    fi
fi
[ -n "$flexcl" ] && [ -x "$flexcl" ] && [ ! -d "$flexcl" ] ||
    bad "flexcl executable not found${flexcl:+ at '$flexcl'} (pass --flexcl PATH or set FLEXCL)"

# Does --out hold task files or checkpoints?
has_results() {
    for f in "$out"/task_*.h5 "$out"/task_*.h5.parts; do [ -e "$f" ] && return 0; done
    return 1
}
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
flexcl=$(abspath "$flexcl")
job_abs=$(abspath "$job")
stem=$(basename "$job")
stem=${stem%.*}
[ -n "$out" ] || out=results/$stem
out=$(abspath "$out")
out=${out%/}
case "$out" in *[[:space:]]*) bad "--out '$out' contains white space (SLURM log paths would break)" ;; esac
[ ! -e "$out" ] || [ -d "$out" ] || bad "--out $out exists and is not a directory"

# flexcl links MPI: as root, Open MPI must be told that is intended.
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_io=${OMPI_MCA_io:-romio321}
export OMPI_MCA_btl_vader_eager_limit=${OMPI_MCA_btl_vader_eager_limit:-32768}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! "$flexcl" plan "$job_abs" >"$tmp/plan" 2>"$tmp/plan.err"; then
    msg=$(grep -v '^$' "$tmp/plan.err" | tail -n 1)
    bad "flexcl plan failed: ${msg:-no message}"
fi
"$flexcl" run --help >"$tmp/help" 2>/dev/null || bad "$flexcl run --help failed"

# An earlier submission into the same --out: the same job text keeps its
# task split (its checkpoints and task files belong to it); another job
# text is refused while results of the old one are there.
snap=$out/slurm/$stem.ini
record=$out/slurm/submit.txt
reuse=""
if [ -f "$record" ] && [ -f "$snap" ]; then
    old_tasks=$(sed -n 's/^tasks //p' "$record")
    if ! cmp -s "$snap" "$job_abs"; then
        if has_results; then
            bad "$out holds results of a different version of $stem.ini ($snap); choose another --out"
        fi
    elif [ -n "$old_tasks" ]; then
        # Training results depend on the number of learners (ranks x
        # run.learners_per_rank): a task must not resume on other ranks.
        old_ranks=$(sed -n 's/^ranks //p' "$record")
        if [ -n "$old_ranks" ] && [ "$old_ranks" != "$ranks" ] &&
            has_results; then
            bad "$out holds results computed on $old_ranks rank(s); resubmit with --ranks $old_ranks or choose another --out"
        fi
        if [ -n "$tasks_arg" ] && [ "$tasks_arg" != "$old_tasks" ]; then
            bad "$out holds a $old_tasks-task split of this job; resubmit with --tasks $old_tasks or choose another --out"
        fi
        reuse=$old_tasks
    fi
fi
# Task files or checkpoints without a record (e.g. from flexcl run --task
# by hand): keep their split too.
if [ -z "$reuse" ] && has_results; then
    reuse=$("$flexcl" status "$out" --no-slurm 2>/dev/null | tail -n 1 |
        sed -n 's|^.*: [0-9]*/\([0-9]*\) tasks done.*|\1|p')
    if [ -n "$reuse" ] && [ -n "$tasks_arg" ] && [ "$tasks_arg" != "$reuse" ]; then
        bad "$out holds a $reuse-task split; resubmit with --tasks $reuse or choose another --out"
    fi
fi

# Per-point cost (estimated seconds) and the task split. Inputs: the key
# defaults (run --help), the job file (base values, sub-grid scalars) and
# the plan (grid-axis values per point).
awk -v ranks="$ranks" -v threads="$threads" -v rate="$rate" -v forced="${reuse:-${tasks_arg:-0}}" \
    -v time_s="$time_s" -v lead="$lead" -v min_task="$min_task_s" -v maxpar="$max_parallel" '
function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
function get(i, k) {
    if ((i, k) in pv) return pv[i, k]
    if ((sg[i], k) in sub_) return sub_[sg[i], k]
    if (k in base) return base[k]
    return def[k]
}
function ceil(x) { return x == int(x) ? x : int(x) + 1 }
FNR == 1 { file++ }
file == 1 {                       # flexcl run --help: "[sec]" and "  key  type  default V"
    if ($0 ~ /^\[[a-z0-9_]+\]/) { sec = $0; gsub(/[\[\]]/, "", sec) }
    else if ($0 ~ /^  [a-z_0-9]+ / && $0 ~ / default /) {
        v = $0; sub(/.* default /, "", v); sub(/ .*/, "", v); if (v == "\"\"") v = ""
        def[sec "." $1] = v
    }
    next
}
file == 2 {                       # the job file (INI)
    line = $0
    if (line ~ /^[ \t]*[;#]/ || line !~ /[^ \t\r]/) next
    if (line ~ /^[ \t]*\[/) { s = line; sub(/^[ \t]*\[/, "", s); sub(/\].*/, "", s); jsec = trim(s); next }
    eq = index(line, "="); if (!eq) next
    k = trim(substr(line, 1, eq - 1)); v = substr(line, eq + 1)
    sub(/[ \t]+[;#].*$/, "", v); v = trim(v)
    if (v ~ /,|\(/) next           # a list: a grid axis, its value is in the plan
    if (jsec ~ /^grid\./) { if (k != "zip") sub_[substr(jsec, 6), k] = v }
    else if (jsec != "grid") base[jsec "." k] = v
    next
}
/^[0-9]+ +[0-9]+ / {              # the plan: index task subgrid experiment seed output k=v ...
    i = $1 + 0; n = i + 1; sg[i] = $3; ex[i] = $4; seed[i] = $5
    for (f = 7; f <= NF; f++)
        if ($f ~ /^[a-z_0-9]+\.[a-z_0-9]+=/) { e = index($f, "="); pv[i, substr($f, 1, e - 1)] = substr($f, e + 1) }
    next
}
END {
    if (n == 0) { print "error no grid points in the plan"; exit }
    width = ranks * threads
    total = 0; maxp = 0; maxi = 0
    for (i = 0; i < n; i++) {
        nh = get(i, "model.n_hidden") + 0
        if (get(i, "data.source") == "bas") { b = get(i, "data.bas_n") + 0; nv = b * b } else nv = 784
        if (get(i, "data.label_block") + 0) nv += get(i, "data.n_classes") + 0
        size = nh * nv / 256                         # relative to a 16 x 16 RBM
        tau = get(i, "estimator.tau") + 0
        chains = get(i, "run.chains") + 0; par = chains < width ? chains : width; if (par < 1) par = 1
        if (ex[i] == "train") {
            w = (get(i, "run.steps") + 0) * ceil((get(i, "run.learners_per_rank") + 0) / threads)
            if (get(i, "estimator.kind") == "aol") w *= 2.5  # an update every step
        } else if (ex[i] == "isd_variance") {
            w = (get(i, "run.samples") + 0) * (get(i, "run.sampler") == "chain" ? 2 * tau : 10) / par
        } else {
            w = 3 * (get(i, "run.samples") + 0) * tau / par
        }
        c[i] = w * size / rate + 0.5                 # + writing the point
        pre[i + 1] = pre[i] + c[i]
        total += c[i]
        if (c[i] > maxp) { maxp = c[i]; maxi = i }
    }
    cap = 0.9 * time_s - lead
    if (cap < 1) cap = 1
    target = min_task
    if (maxpar > 0 && total / maxpar > target) target = total / maxpar
    if (target > cap) target = cap
    if (forced > 0) N = forced
    else {
        N = 0
        for (T = ceil(total / target); T <= n; T++) {
            if (T < 1) T = 1
            worst = 0
            for (t = 0; t < T; t++) {
                lo = int(n * t / T); hi = int(n * (t + 1) / T)
                if (pre[hi] - pre[lo] > worst) worst = pre[hi] - pre[lo]
            }
            if (worst <= target) { N = T; break }
        }
        if (N == 0) N = n
    }
    printf "summary %d %d %.1f %.1f %d %.1f %.1f\n", n, N, total, maxp, maxi, target, cap
    for (t = 0; t < N; t++) {
        lo = int(n * t / N); hi = int(n * (t + 1) / N)
        seeds = ""; delete seen
        for (i = lo; i < hi; i++) if (!(seed[i] in seen)) { seen[seed[i]] = 1; seeds = seeds (seeds == "" ? "" : ",") seed[i] }
        printf "task %d %d %d %.1f %s\n", t, lo, hi, pre[hi] - pre[lo], seeds == "" ? "-" : seeds
    }
}' "$tmp/help" "$job_abs" "$tmp/plan" >"$tmp/split"
if grep -q '^error ' "$tmp/split"; then bad "$job: $(sed -n 's/^error //p' "$tmp/split")"; fi
set -- $(sed -n 's/^summary //p' "$tmp/split")
n_points=$1 tasks=$2 total=$3 max_point=$4 max_index=$5 target=$6 cap=$7
[ -z "$tasks_arg" ] || [ "$tasks_arg" -le "$n_points" ] ||
    bad "--tasks $tasks_arg is more than the job's $n_points grid points"
[ -z "$reuse" ] || [ -n "$tasks_arg" ] || note "reusing the $reuse-task split of the earlier submission into $out"

# Tasks still to run: those without a complete DIR/task_I.h5.
todo="" n_todo=0
t=0
while [ "$t" -lt "$tasks" ]; do
    if [ ! -f "$out/task_$t.h5" ]; then todo="$todo $t"; n_todo=$((n_todo + 1)); fi
    t=$((t + 1))
done

# Arrays: MaxArraySize bounds the array index (0 .. MaxArraySize-1).
max_array=""
if config=$(scontrol show config 2>/dev/null); then
    max_array=$(printf '%s\n' "$config" | awk '$1 == "MaxArraySize" { print $3 }')
fi
if [ -z "$max_array" ]; then
    [ "$dry_run" = 1 ] || fail "cannot read the SLURM configuration (scontrol show config); is slurmctld up and SLURM_CONF right?"
    max_array=1001
    max_array_note=" (scontrol unavailable: assuming SLURM's default)"
fi
is_count "$max_array" || fail "unexpected MaxArraySize '$max_array' from scontrol show config"
chunk=$max_array

# Pending tasks grouped by array: "array_no offset indexes".
printf '%s\n' $todo | awk -v chunk="$chunk" '
    NF { t = $1 + 0; a = int(t / chunk); idx = t - a * chunk
         if (!(a in first)) { order[++na] = a; first[a] = 1 }
         list[a] = list[a] (list[a] == "" ? "" : " ") idx }
    END {
        for (k = 1; k <= na; k++) {
            a = order[k]; m = split(list[a], v, " "); s = ""; i = 1
            while (i <= m) { j = i; while (j < m && v[j + 1] == v[j] + 1) j++
                s = s (s == "" ? "" : ",") (j > i ? v[i] "-" v[j] : v[i]); i = j + 1 }
            print k, a * chunk, s, m }
    }' >"$tmp/arrays"
n_arrays=$(wc -l <"$tmp/arrays" | tr -d ' ')

job_name=flexcl-$stem
# Tasks run a snapshot of the job file: editing JOB.ini while the arrays
# are queued cannot change (or, through the checkpoint's job hash, break) them.
run_job=$snap
common="--time=$(hms "$time_s")"
[ -z "$partition" ] || common="$common --partition=$partition"

if [ "$dry_run" = 1 ]; then echo "flexcl SLURM submission (dry run: nothing is submitted)"; else echo "flexcl SLURM submission"; fi
echo "job:       $job_abs ($n_points grid points, estimated ${total} s of work at $rate steps/s per core)"
echo "tasks:     $tasks flexcl tasks ($n_todo to run), $ranks rank(s) x $threads thread(s) each, time limit $(hms "$time_s"), SIGUSR1 ${lead}s before it"
echo "packing:   at most ${target} s of estimated work per task (time limit minus signal lead and 10%: ${cap} s; min task $(hms "$min_task_s")${tasks_arg:+; --tasks given})"
awk -v m="$max_point" -v c="$cap" -v i="$max_index" 'BEGIN { if (m + 0 > c + 0)
    printf "warning:   grid point %d alone is estimated at %s s, more than %s s: it finishes only across requeues (within-point checkpoints) unless --time is raised\n", i, m, c }'
limit=""
[ "$max_parallel" -eq 0 ] || limit=", at most $max_parallel task(s) at a time"
echo "arrays:    $n_arrays (MaxArraySize $max_array${max_array_note:-})$limit"
echo "snapshot:  $snap (the job file as submitted; the tasks run it)"
echo "results:   $out/task_<I>.h5, merged into $out/merged.h5; logs in $out/slurm/logs/"
echo
echo "array index -> flexcl task -> grid points -> seeds -> output (estimated time)"
awk -v out="$out" '
    FNR == 1 { f++ }
    f == 1 && $1 == "task" { lo[$2] = $3; hi[$2] = $4; est[$2] = $5; seeds[$2] = $6; next }
    f == 2 {
        n = split($3, runs, ",")
        for (p = 1; p <= n; p++) {
            m = split(runs[p], r, "-"); a = r[1] + 0; b = (m > 1 ? r[2] : r[1]) + 0
            for (i = a; i <= b; i++) {
                t = $2 + i
                printf "  array %s [%d] -> task %d -> points %d-%d (%d) -> seed %s -> %s/task_%d.h5 (~%s s)\n",
                    $1, i, t, lo[t], hi[t] - 1, hi[t] - lo[t], seeds[t], out, t, est[t]
            }
        }
    }' "$tmp/split" "$tmp/arrays"
if [ "$tasks" -gt "$n_todo" ]; then echo "  (tasks with a complete $out/task_<I>.h5 are not resubmitted)"; fi
echo

if [ "$n_todo" -eq 0 ] && [ -f "$out/merged.h5" ]; then
    echo "nothing to do: every task is complete and $out/merged.h5 exists"
    exit 0
fi

# Refuse to run a second copy of a submission that is still queued.
if [ "$dry_run" = 0 ] && [ -f "$record" ]; then
    ids=$(awk '$1 == "array" || $1 == "merge" { printf "%s%s", s, $2; s = "," }' "$record")
    if [ -n "$ids" ] && live=$(squeue -h -j "$ids" -o %i 2>/dev/null) && [ -n "$live" ]; then
        fail "jobs of an earlier submission into $out are still queued or running ($(echo $live | tr ' ' ,)); wait for them or scancel them first"
    fi
fi

if [ "$dry_run" = 0 ]; then
    mkdir -p "$out/slurm/logs" || fail "cannot create $out/slurm/logs"
    cp "$job_abs" "$snap.new" && mv "$snap.new" "$snap" || fail "cannot write $snap"
    {
        echo "flexcl-slurm 1"
        echo "job $snap"
        echo "source $job_abs"
        echo "points $n_points"
        echo "tasks $tasks"
        echo "ranks $ranks"
        echo "submitted $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$record.new"
    mv "$record.new" "$record"
fi

submit() { # prints the job id
    if [ "$dry_run" = 1 ]; then return 0; fi
    sbatch --parsable "$@" | cut -d';' -f1
}

logs=$out/slurm/logs
deps="" prev=""
if [ "$dry_run" = 1 ]; then
    echo "sbatch commands (ARRAYk stands for the job id sbatch returns for array k):"
else
    echo "sbatch commands:"
fi
while read -r k off idx m; do
    array="--array=$idx"
    [ "$max_parallel" -eq 0 ] || array="$array%$max_parallel"
    # With a parallel limit, arrays run one after another so that the
    # limit holds for the whole job.
    after=""
    [ "$max_parallel" -eq 0 ] || [ -z "$prev" ] || after="--dependency=afterany:$prev"
    set -- --job-name="$job_name" $array --ntasks="$ranks" --cpus-per-task="$threads" $common \
        --requeue --signal=B:USR1@"$lead" --open-mode=append \
        --output="$logs/$stem-%A_%a.out" ${after:+"$after"} \
        "$here/task.sbatch" --flexcl "$flexcl" --job "$run_job" --out "$out" --tasks "$tasks" \
        --offset "$off" --points "$n_points" --launcher "$launcher"
    printf '  sbatch'; for a in "$@"; do printf ' %s' "$(q "$a")"; done; echo
    if [ "$dry_run" = 0 ]; then
        id=$(submit "$@") && [ -n "$id" ] || fail "sbatch failed for array $k (tasks from $off); arrays submitted so far: ${deps:-none}"
        echo "array $id offset $off indexes $idx" >>"$record"
        echo "  -> array $k: job $id (tasks $(echo "$idx" | awk -F, -v o="$off" '{ for (i = 1; i <= NF; i++) { n = split($i, r, "-"); s = s (i > 1 ? "," : "") (r[1] + o); if (n > 1) s = s "-" (r[2] + o) } print s }'))"
    else
        id="ARRAY$k"
    fi
    deps="$deps:$id"
    prev=$id
done <"$tmp/arrays"
mdep=""
[ -z "$deps" ] || mdep="--dependency=afterok$deps"
set -- --job-name="$job_name-merge" --ntasks=1 $common --output="$logs/merge-%j.out" \
    ${mdep:+"$mdep"} --kill-on-invalid-dep=yes \
    "$here/merge.sbatch" --flexcl "$flexcl" --out "$out" --tasks "$tasks"
printf '  sbatch'; for a in "$@"; do printf ' %s' "$(q "$a")"; done; echo
if [ "$dry_run" = 0 ]; then
    mid=$(submit "$@") && [ -n "$mid" ] || fail "sbatch failed for the merge job (arrays${deps:-: none} are queued)"
    echo "merge $mid" >>"$record"
    echo "  -> merge: job $mid"
    echo
    echo "submitted: arrays$(echo "$deps" | tr ':' ' '), merge $mid"
    echo "follow:    flexcl status $out    (squeue -j$(echo "$deps" | tr ':' ',' | sed 's/^,/ /'),$mid)"
    echo "results:   $out/merged.h5 when job $mid completes"
fi
