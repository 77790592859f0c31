/* `flexcl merge DIR` and `flexcl status DIR`: the task files of an array job
 * (DIR/task_<i>.h5, complete; DIR/task_<i>.h5.parts/, started). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "flexcl/flexcl.h"

enum { MAX_TASKS = 1000000 };

/* What DIR holds for task t. */
typedef enum { TASK_MISSING, TASK_DONE, TASK_RUNNING, TASK_CHECKPOINTED } task_state;

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* "tasks N" / "points N" of a checkpoint manifest; 0 when absent. */
static long manifest_value(const char *parts_dir, const char *key)
{
    char path[FLEXCL_PATH_MAX + 512], line[128], k[32];
    long v = 0, x;
    snprintf(path, sizeof path, "%s/manifest", parts_dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%31s %ld", k, &x) == 2 && strcmp(k, key) == 0) {
            v = x;
            break;
        }
    if (f) fclose(f);
    return v;
}

/* Number of tasks: --tasks, else the first manifest or complete file found. */
static long count_tasks(const char *dir, long given, char *why, size_t n)
{
    if (given > 0) return given;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(why, n, "%s: cannot open directory: %s", dir, strerror(errno));
        return -1;
    }
    long tasks = 0;
    struct dirent *e;
    char path[FLEXCL_PATH_MAX + 512];
    while ((e = readdir(d)) && tasks == 0) {
        long t;
        char tail[32];
        if (sscanf(e->d_name, "task_%ld.h5%31s", &t, tail) == 2 && strcmp(tail, ".parts") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            tasks = manifest_value(path, "tasks");
        } else if (sscanf(e->d_name, "task_%ld.h5%31s", &t, tail) == 1) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            char v[64];
            /* the tasks attribute is an integer; read through its text twin */
            if (flexcl_results_read_attr_string(path, "/", "task_split", v, sizeof v) == FLEXCL_OK)
                { long skip; sscanf(v, "%ld/%ld", &skip, &tasks); }
        }
    }
    closedir(d);
    if (tasks <= 0) snprintf(why, n, "%s: no task files or checkpoints found (pass --tasks N)", dir);
    return tasks > 0 ? tasks : -1;
}

/* A finished grid point in a checkpoint directory: "NNNNNN.h5". */
static int is_part_name(const char *name)
{
    for (int k = 0; k < 6; ++k)
        if (name[k] < '0' || name[k] > '9') return 0;
    return strcmp(name + 6, ".h5") == 0;
}

/* Task t on disk: done (DIR/task_t.h5), checkpointed (DIR/task_t.h5.parts/
 * with finished points or other saved state), else missing. *points_done
 * counts the finished points in the checkpoint. No process or SLURM query. */
static task_state state_of(const char *dir, long t, int *points_done)
{
    char p[FLEXCL_PATH_MAX + 64];
    int saved = 0;
    *points_done = 0;
    snprintf(p, sizeof p, "%s/task_%ld.h5", dir, t);
    if (exists(p)) return TASK_DONE;
    snprintf(p, sizeof p, "%s/task_%ld.h5.parts", dir, t);
    DIR *d = opendir(p);
    if (!d) return TASK_MISSING;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        /* The manifest and a run's lock (with its temporary files) are
         * not saved work. */
        if (nm[0] == '.' || strcmp(nm, "manifest") == 0 || strncmp(nm, "lock", 4) == 0) continue;
        if (is_part_name(nm)) (*points_done)++;
        else if (!(len > 8 && strcmp(nm + len - 8, ".partial") == 0)) saved++;
    }
    closedir(d);
    return *points_done > 0 || saved > 0 ? TASK_CHECKPOINTED : TASK_MISSING;
}

/* Grid points of the job a complete task file came from (its job text and
 * --set options rebuild the grid); 0 when unreadable. */
static long job_points_of(const char *path)
{
    long n = 0;
    char *text = malloc(1 << 20), *ov = malloc(8192), *ovs[256];
    flexcl_job *job = NULL;
    if (text && ov &&
        flexcl_results_read_attr_string(path, "/", "job_text", text, 1 << 20) == FLEXCL_OK &&
        flexcl_results_read_attr_string(path, "/", "job_overrides", ov, 8192) == FLEXCL_OK) {
        size_t n_ov = 0;
        for (char *tok = strtok(ov, "\n"); tok && n_ov < 256; tok = strtok(NULL, "\n")) ovs[n_ov++] = tok;
        if (flexcl_job_create(text, path, n_ov, (const char *const *)ovs, &job) == FLEXCL_OK)
            n = (long)flexcl_job_n_points(job);
    }
    flexcl_job_destroy(&job);
    free(text);
    free(ov);
    return n;
}

/* What slurm/submit.sh recorded in DIR/slurm/submit.txt. */
typedef struct {
    long tasks, points;
    int n_arrays;
    long array_id[64], array_offset[64];
} submission;

static int read_submission(const char *dir, submission *sub)
{
    char path[FLEXCL_PATH_MAX + 64], line[FLEXCL_PATH_MAX + 64];
    memset(sub, 0, sizeof *sub);
    snprintf(path, sizeof path, "%s/slurm/submit.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        long a, b;
        if (sscanf(line, "tasks %ld", &a) == 1) sub->tasks = a;
        else if (sscanf(line, "points %ld", &a) == 1) sub->points = a;
        else if (sscanf(line, "array %ld offset %ld", &a, &b) == 2 && sub->n_arrays < 64) {
            sub->array_id[sub->n_arrays] = a;
            sub->array_offset[sub->n_arrays++] = b;
        }
    }
    fclose(f);
    return 1;
}

/* SLURM's view of each task, from one squeue call over the recorded arrays. */
typedef struct {
    char state[16];  /* RUNNING, PENDING, ... ("" = not in the queue) */
    char reason[24]; /* pending reason */
    char id[40];     /* ARRAYJOB_INDEX */
} queue_entry;

/* One `squeue` over the recorded arrays (at most 20 s when coreutils'
 * timeout exists: status must stay quick when slurmctld does not answer).
 * Returns 1 when squeue listed any of the tasks. */
static int query_squeue(const submission *sub, long tasks, queue_entry *q)
{
    char cmd[64 * 24 + 256] = "t=$(command -v timeout >/dev/null 2>&1 && echo 'timeout 20'); "
                              "$t squeue -h -r -o '%F %K %T %r' -j ";
    if (sub->n_arrays == 0) return 0;
    for (int k = 0; k < sub->n_arrays; ++k) {
        size_t used = strlen(cmd);
        snprintf(cmd + used, sizeof cmd - used, "%s%ld", k ? "," : "", sub->array_id[k]);
    }
    strncat(cmd, " 2>/dev/null", sizeof cmd - strlen(cmd) - 1);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[256];
    int seen = 0;
    while (fgets(line, sizeof line, p)) {
        long job, idx;
        char st[16], why[24];
        if (sscanf(line, "%ld %ld %15s %23s", &job, &idx, st, why) < 3) continue;
        for (int k = 0; k < sub->n_arrays; ++k) {
            long t = sub->array_offset[k] + idx;
            if (sub->array_id[k] != job || t < 0 || t >= tasks) continue;
            snprintf(q[t].state, sizeof q[t].state, "%s", st);
            snprintf(q[t].reason, sizeof q[t].reason, "%s", strcmp(why, "None") ? why : "");
            snprintf(q[t].id, sizeof q[t].id, "%ld_%ld", job, idx);
            seen = 1;
        }
    }
    pclose(p);
    return seen;
}

/* DIR/slurm/task_t.lock, written by slurm/task.sbatch while flexcl runs:
 * "HOST PID ARRAYTASK HEARTBEAT". Live when the process exists (same
 * host) or the heartbeat is fresh (another host). */
static int lock_live(const char *dir, long t, char *who, size_t n)
{
    char path[FLEXCL_PATH_MAX + 64], host[256] = "", me[256], id[64] = "";
    long pid = 0, every = 60;
    struct stat st;
    snprintf(path, sizeof path, "%s/slurm/task_%ld.lock", dir, t);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int got = fscanf(f, "%255s %ld %63s %ld", host, &pid, id, &every);
    fclose(f);
    if (got < 2 || stat(path, &st) != 0) return 0;
    flexcl_cli_short_host(me, sizeof me);
    int live;
    if (strcmp(host, me) == 0) live = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    else live = time(NULL) - st.st_mtime < 3 * (every > 0 ? every : 60);
    snprintf(who, n, "%s%s%s pid %ld", id[0] ? id : "", id[0] ? " on " : "", host, pid);
    return live;
}

/* DIR/task_t.h5.parts/lock, held by the `flexcl run` working on task t,
 * whether started by hand or by slurm/task.sbatch: "pid P on HOST" when
 * live (src/cli/lock.c). */
static int parts_lock_live(const char *dir, long t, char *who, size_t n)
{
    char path[FLEXCL_PATH_MAX + 64];
    flexcl_cli_lock_owner o;
    snprintf(path, sizeof path, "%s/task_%ld.h5.parts/lock", dir, t);
    if (!flexcl_cli_lock_inspect(path, &o) || !o.live) return 0;
    if (o.pid > 0) snprintf(who, n, "pid %ld on %s", o.pid, o.host);
    else snprintf(who, n, "an unknown process (lock touched %ld s ago)", o.age);
    return 1;
}

/* Parse "DIR [--tasks N] [-o FILE | --no-slurm]" for merge (out) and
 * status (no_slurm). */
static int parse(int argc, char **argv, int rank, const char **dir, long *tasks, const char **out,
                 int *no_slurm)
{
    *dir = NULL;
    *tasks = 0;
    if (out) *out = NULL;
    if (no_slurm) *no_slurm = 0;
    for (int i = 1; i < argc; ++i) {
        if (no_slurm && strcmp(argv[i], "--no-slurm") == 0) {
            *no_slurm = 1;
        } else if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) {
            char *end;
            *tasks = strtol(argv[++i], &end, 10);
            if (*end || *tasks < 1 || *tasks > MAX_TASKS) {
                if (rank == 0) fprintf(stderr, "flexcl: error: --tasks needs an integer in 1..%d\n", MAX_TASKS);
                return 2;
            }
        } else if (out && (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
            *out = argv[++i];
        } else if (argv[i][0] == '-') {
            if (rank == 0) fprintf(stderr, "flexcl: error: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        } else if (!*dir) {
            *dir = argv[i];
        } else {
            if (rank == 0) fprintf(stderr, "flexcl: error: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!*dir) {
        if (rank == 0) fprintf(stderr, "flexcl: error: %s needs a results directory\n", argv[0]);
        return 2;
    }
    return 0;
}

int flexcl_cli_status(MPI_Comm comm, int argc, char **argv)
{
    const char *dir;
    long tasks;
    int rank, no_slurm;
    MPI_Comm_rank(comm, &rank);
    int st = parse(argc, argv, rank, &dir, &tasks, NULL, &no_slurm);
    if (st || rank != 0) return st;
    char why[FLEXCL_PATH_MAX + 128] = "";
    submission sub;
    int have_sub = read_submission(dir, &sub);
    if (tasks <= 0 && have_sub && sub.tasks > 0) tasks = sub.tasks;
    tasks = count_tasks(dir, tasks, why, sizeof why);
    if (tasks < 0) {
        fprintf(stderr, "flexcl: error: %s\n", why);
        return 2;
    }
    /* Grid points of the job: the submission record or any manifest. */
    long points = have_sub ? sub.points : 0;
    for (long t = 0; t < tasks && points <= 0; ++t) {
        char p[FLEXCL_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/task_%ld.h5.parts", dir, t);
        points = manifest_value(p, "points");
    }
    for (long t = 0; t < tasks && points <= 0; ++t) {
        char p[FLEXCL_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/task_%ld.h5", dir, t);
        if (exists(p)) points = job_points_of(p);
    }
    queue_entry *q = calloc((size_t)tasks, sizeof *q);
    if (!q) {
        fprintf(stderr, "flexcl: error: out of memory\n");
        return 1;
    }
    int queried = !no_slurm && have_sub && query_squeue(&sub, tasks, q);

    long n[4] = {0, 0, 0, 0}, queued = 0, pts_done = 0;
    static const char *names[] = {"missing", "done", "running", "checkpointed"};
    printf("%-8s %-13s %-11s %s\n", "task", "state", "points", "slurm / process");
    for (long t = 0; t < tasks; ++t) {
        int pts = 0;
        char who[400] = "", run_who[320] = "", col[48], note[1024] = "";
        task_state s = state_of(dir, t, &pts);
        long mine = points > 0 ? points * (t + 1) / tasks - points * t / tasks : -1;
        int live = s != TASK_DONE && lock_live(dir, t, who, sizeof who);
        int run_live = s != TASK_DONE && parts_lock_live(dir, t, run_who, sizeof run_who);
        int slurm_running = strcmp(q[t].state, "RUNNING") == 0 || strcmp(q[t].state, "COMPLETING") == 0;
        if (s != TASK_DONE && (live || run_live || slurm_running)) s = TASK_RUNNING;
        if (strcmp(q[t].state, "PENDING") == 0 || strcmp(q[t].state, "REQUEUED") == 0) queued++;
        n[s]++;
        long d = s == TASK_DONE ? (mine > 0 ? mine : 0) : pts;
        pts_done += d;
        if (s == TASK_DONE && mine < 0) snprintf(col, sizeof col, "all");
        else if (mine >= 0) snprintf(col, sizeof col, "%ld/%ld", d, mine);
        else snprintf(col, sizeof col, "%ld", d);
        if (q[t].state[0])
            snprintf(note, sizeof note, "%s %s%s%s%s", q[t].id, q[t].state, q[t].reason[0] ? " (" : "",
                     q[t].reason, q[t].reason[0] ? ")" : "");
        if (live) {
            size_t used = strlen(note);
            snprintf(note + used, sizeof note - used, "%s%s", used ? "; " : "", who);
        }
        if (run_live) {
            size_t used = strlen(note);
            snprintf(note + used, sizeof note - used, "%s%s", used ? "; " : "", run_who);
        }
        printf("%-8ld %-13s %-11s %s\n", t, names[s], col, note[0] ? note : "-");
    }
    printf("%s: %ld/%ld tasks done, %ld running, %ld checkpointed, %ld missing", dir, n[TASK_DONE], tasks,
           n[TASK_RUNNING], n[TASK_CHECKPOINTED], n[TASK_MISSING]);
    if (queried) printf(", %ld queued", queued);
    if (points > 0)
        printf("; grid points %ld/%ld done (%.0f%%)", pts_done, points, 100.0 * (double)pts_done / (double)points);
    printf("\n");
    free(q);
    return 0;
}

int flexcl_cli_merge(MPI_Comm comm, int argc, char **argv)
{
    flexcl_code err = FLEXCL_OK;
    const char *dir, *out_arg;
    long tasks;
    int rank;
    flexcl_results *res = NULL;
    flexcl_job *job = NULL;
    size_t *points = NULL, n_points = 0;
    char *text = NULL, *ov = NULL, **ovs = NULL;
    char out[FLEXCL_PATH_MAX + 64], why[FLEXCL_PATH_MAX + 128] = "";
    MPI_Comm_rank(comm, &rank);
    int st = parse(argc, argv, rank, &dir, &tasks, &out_arg, NULL);
    if (st) return st;
    if (out_arg) snprintf(out, sizeof out, "%s", out_arg);
    else snprintf(out, sizeof out, "%s/merged.h5", dir);
    /* Rank 0 inspects the directory; everyone agrees on the verdict. */
    long T = 0;
    char missing[4096] = "";
    if (rank == 0) {
        T = count_tasks(dir, tasks, why, sizeof why);
        size_t used = 0;
        for (long t = 0; T > 0 && t < T; ++t) {
            int pts;
            if (state_of(dir, t, &pts) != TASK_DONE && used + 24 < sizeof missing)
                used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%ld", used ? ", " : "", t);
        }
    }
    MPI_Bcast(&T, 1, MPI_LONG, 0, comm);
    MPI_Bcast(why, sizeof why, MPI_CHAR, 0, comm);
    MPI_Bcast(missing, sizeof missing, MPI_CHAR, 0, comm);
    FLEXCL_CHECK(T > 0, FLEXCL_ERR_DATA, "%s", why);
    FLEXCL_CHECK(missing[0] == '\0', FLEXCL_ERR_DATA,
                 "%s: task(s) %s of %ld missing or incomplete; refusing to merge (see flexcl status %s)",
                 dir, missing, T, dir);
    /* The job (text + overrides) of task 0 rebuilds the grid for /index;
     * every task must come from the same job. */
    char first[FLEXCL_PATH_MAX + 64], hash0[64] = "", hash[64];
    snprintf(first, sizeof first, "%s/task_0.h5", dir);
    FLEXCL_ALLOC(text, 1 << 20);
    FLEXCL_ALLOC(ov, 8192);
    FLEXCL_CALL(flexcl_results_read_attr_string(first, "/", "job_text", text, 1 << 20));
    FLEXCL_CALL(flexcl_results_read_attr_string(first, "/", "job_overrides", ov, 8192));
    FLEXCL_CALL(flexcl_results_read_attr_string(first, "/", "job_hash", hash0, sizeof hash0));
    for (long t = 1; t < T; ++t) {
        char p[FLEXCL_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/task_%ld.h5", dir, t);
        FLEXCL_CALL(flexcl_results_read_attr_string(p, "/", "job_hash", hash, sizeof hash));
        FLEXCL_CHECK(strcmp(hash, hash0) == 0, FLEXCL_ERR_DATA,
                     "%s comes from another job than %s (job_hash %s vs %s); refusing to merge", p,
                     first, hash, hash0);
    }
    size_t n_ov = 0;
    FLEXCL_ALLOC(ovs, 256);
    for (char *tok = strtok(ov, "\n"); tok && n_ov < 256; tok = strtok(NULL, "\n")) ovs[n_ov++] = tok;
    FLEXCL_CALL(flexcl_job_create(text, first, n_ov, (const char *const *)ovs, &job));
    n_points = flexcl_job_n_points(job);
    FLEXCL_ALLOC(points, n_points);
    for (size_t i = 0; i < n_points; ++i) points[i] = i;

    FLEXCL_CALL(flexcl_results_create(comm, out, &res));
    FLEXCL_CALL(flexcl_results_copy_attrs(res, first, "/", "/"));
    FLEXCL_CALL(flexcl_results_group(res, "points"));
    for (long t = 0; t < T; ++t) {
        char p[FLEXCL_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/task_%ld.h5", dir, t);
        FLEXCL_CALL(flexcl_results_copy_tree(res, p, "/points", "points"));
    }
    FLEXCL_CALL(flexcl_results_attr_int(res, "points", "count", (long long)n_points));
    FLEXCL_CALL(flexcl_results_attr_int(res, "points", "task", 0));
    FLEXCL_CALL(flexcl_results_attr_int(res, "points", "tasks", 1));
    FLEXCL_CALL(flexcl_index_write(res, job, points, n_points));
    char merged[64];
    snprintf(merged, sizeof merged, "%ld task files", T);
    FLEXCL_CALL(flexcl_results_attr_string(res, "/", "merged_from", merged));
    FLEXCL_CALL(flexcl_results_finish(res));
    if (rank == 0) printf("flexcl: merged %ld task files, %zu grid points\nresults: %s\n", T, n_points, out);
done:
    flexcl_results_destroy(&res);
    flexcl_job_destroy(&job);
    free(points);
    free(text);
    free(ov);
    free(ovs);
    if (err != FLEXCL_OK && rank == 0) fprintf(stderr, "flexcl: error: %s\n", flexcl_error_message());
    return err == FLEXCL_OK ? 0 : (err == FLEXCL_ERR_DATA || err == FLEXCL_ERR_IO || err == FLEXCL_ERR_JOB ? 2 : 1);
}
