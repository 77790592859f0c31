/* `flexcl run JOB.ini`: expand the grid, train the learners of every grid
 * point, record learning curves and final parameters into one HDF5 file. */
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "flexcl/checkpoint.h"
#include "flexcl/flexcl.h"
#include "flexcl/supervised.h"

typedef struct {
    const char *job_path;
    const char *out_dir;
    const char **overrides;
    size_t n_overrides;
    int quiet;
    int trace;
    int help;
    long task;   /* -1: all points */
    long tasks;  /* 0: no task split */
    double checkpoint_every; /* seconds between periodic checkpoints; 0 = only on a signal */
    long stop_after; /* testing: stop as if signalled at this safe point (0 = never) */
} run_options;

/* Safe points, where a grid point may be checkpointed: every TRAIN_SLICE
 * time steps and every curve point of a train point, every
 * EXPERIMENT_SLICE samples per chain of an experiment. A checkpoint's
 * content depends only on the safe point it was taken at. */
enum { TRAIN_SLICE = 1000, EXPERIMENT_SLICE = 64 };
#define DEFAULT_CHECKPOINT_EVERY 600.0

static void print_keys(void)
{
    printf("usage: flexcl run JOB.ini [--out DIR] [--set section.key=value ...] [--quiet] [--trace]\n"
           "                  [--task I --tasks N] [--checkpoint-every SECONDS] [--stop-after K]\n\n"
           "A grid point in progress is checkpointed to DIR/<name>.h5.parts/point_NNNNNN.ckpt.h5\n"
           "on SIGUSR1/SIGTERM (then exit status 3) and every --checkpoint-every seconds\n"
           "(default %.0f; 0 = only on a signal); rerunning the same command resumes it, with\n"
           "results bitwise identical to an uninterrupted run. --stop-after K (for tests) acts\n"
           "as if a signal arrived at the K-th safe point (every %d steps or curve point of a\n"
           "train point, every %d samples per chain of an experiment).\n"
           "A run holds DIR/<name>.h5.parts/lock (\"HOST PID\", touched at least every %d s):\n"
           "a second copy of the command refuses to start (exit status 2) while it lives.\n\n"
           "Job-file keys (INI sections [run] [data] [model] [estimator] [optim] [theta0] [tcl]; [grid] below).\n"
           "Keys marked 'grid' accept a list \"a, b, c\", linspace(a, b, n) or logspace(a, b, n).\n\n",
           DEFAULT_CHECKPOINT_EVERY, (int)TRAIN_SLICE, (int)EXPERIMENT_SLICE,
           (int)FLEXCL_CLI_LOCK_HEARTBEAT);
    const char *section = "";
    for (size_t i = 0; i < flexcl_job_key_count(); ++i) {
        flexcl_job_key_info k = flexcl_job_key(i);
        char def[256];
        flexcl_job_key_default(i, def, sizeof def);
        if (strcmp(section, k.section) != 0) {
            printf("[%s]\n", k.section);
            section = k.section;
        }
        printf("  %-18s %-28s default %s%s%s%s\n      %s\n", k.key, k.type,
               def[0] ? def : "\"\"", k.unit[0] ? " (" : "", k.unit,
               k.unit[0] ? ")" : "", k.help);
        if (k.listable) printf("      grid: yes\n");
    }
}

/* Parse `run` options; returns 0, or 2 after printing one error line. */
static int parse_options(int argc, char **argv, int rank, int plan_mode, run_options *o)
{
    static const char *overrides[256];
    memset(o, 0, sizeof *o);
    o->out_dir = "results";
    o->overrides = overrides;
    o->task = -1;
    o->checkpoint_every = DEFAULT_CHECKPOINT_EVERY;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = 1;
        } else if (strcmp(a, "--out") == 0 || strcmp(a, "--set") == 0) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                if (rank == 0) fprintf(stderr, "flexcl: error: %s needs a value\n", a);
                return 2;
            }
            if (a[2] == 'o') {
                o->out_dir = argv[++i];
            } else {
                if (o->n_overrides == 256) {
                    if (rank == 0) fprintf(stderr, "flexcl: error: more than 256 --set options\n");
                    return 2;
                }
                overrides[o->n_overrides++] = argv[++i];
            }
        } else if (strcmp(a, "--task") == 0 || strcmp(a, "--tasks") == 0) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
            if (i + 1 >= argc || !end || *end || end == argv[i + 1] || v < 0 ||
                (a[6] == 's' && v < 1)) {
                if (rank == 0)
                    fprintf(stderr, "flexcl: error: %s needs a %s integer\n", a,
                            a[6] == 's' ? "positive" : "non-negative");
                return 2;
            }
            ++i;
            if (a[6] == 's') o->tasks = v;
            else o->task = v;
        } else if (strcmp(a, "--checkpoint-every") == 0 || strcmp(a, "--stop-after") == 0) {
            int secs = a[2] == 'c';
            char *end = NULL;
            double v = i + 1 < argc ? strtod(argv[i + 1], &end) : -1;
            if (i + 1 >= argc || !end || *end || end == argv[i + 1] || !(v >= 0) || v > 1e12 ||
                (!secs && (v < 1 || v != floor(v)))) {
                if (rank == 0)
                    fprintf(stderr, "flexcl: error: %s needs %s\n", a,
                            secs ? "a number of seconds >= 0" : "a positive integer");
                return 2;
            }
            ++i;
            if (secs) o->checkpoint_every = v;
            else o->stop_after = (long)v;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--trace") == 0) {
            o->trace = 1;
        } else if (a[0] == '-') {
            if (rank == 0) fprintf(stderr, "flexcl: error: unknown option '%s' (try flexcl run --help)\n", a);
            return 2;
        } else if (!o->job_path) {
            o->job_path = a;
        } else {
            if (rank == 0) fprintf(stderr, "flexcl: error: unexpected argument '%s' (one job file per run)\n", a);
            return 2;
        }
    }
    if ((o->task >= 0) != (o->tasks > 0) && !(o->tasks > 0 && o->task < 0 && plan_mode)) {
        if (rank == 0) fprintf(stderr, "flexcl: error: --task and --tasks go together\n");
        return 2;
    }
    if (o->task >= 0 && o->task >= o->tasks) {
        if (rank == 0)
            fprintf(stderr, "flexcl: error: --task %ld is outside 0..%ld (--tasks %ld)\n", o->task,
                    o->tasks - 1, o->tasks);
        return 2;
    }
    if (!o->help && !o->job_path) {
        if (rank == 0) fprintf(stderr, "flexcl: error: run needs a job file (flexcl run JOB.ini)\n");
        return 2;
    }
    return 0;
}

/* Points [lo, hi) of task t of `tasks` (contiguous blocks, stable order). */
static void task_block(size_t n_points, long t, long tasks, size_t *lo, size_t *hi)
{
    *lo = n_points * (size_t)t / (size_t)tasks;
    *hi = n_points * (size_t)(t + 1) / (size_t)tasks;
}

/* The task of `tasks` that runs point i. */
static long task_of(size_t n_points, size_t i, long tasks)
{
    for (long t = 0; t < tasks; ++t) {
        size_t lo, hi;
        task_block(n_points, t, tasks, &lo, &hi);
        if (i >= lo && i < hi) return t;
    }
    return 0;
}

/* "jobs/bas_isd.ini" -> "bas_isd" */
static void job_stem(const char *path, char *out, size_t n)
{
    char tmp[FLEXCL_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    const char *base = basename(tmp);
    snprintf(out, n, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

/* mkdir -p: make dir and every missing directory above it. Returns 1, or
 * 0 with the reason in why (naming the component that failed when it is
 * not dir itself). */
static int make_dirs(const char *dir, char *why, size_t n)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        snprintf(why, n, "%s", strerror(ENAMETOOLONG));
        return 0;
    }
    for (char *p = path + 1;; ++p) {
        if (*p != '/' && *p != '\0') continue;
        const char c = *p;
        *p = '\0';
        struct stat st;
        if (stat(path, &st) != 0) {
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                if (c) snprintf(why, n, "%s: %s", path, strerror(errno));
                else snprintf(why, n, "%s", strerror(errno));
                return 0;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            if (c) snprintf(why, n, "%s is not a directory", path);
            else snprintf(why, n, "not a directory");
            return 0;
        }
        if (!c) return 1;
        *p = c;
        while (p[1] == '/') ++p;
    }
}

/* Make the output directory and any missing parents (rank 0), and let
 * all ranks agree. */
static flexcl_code make_out_dir(MPI_Comm comm, const char *dir)
{
    flexcl_code err = FLEXCL_OK;
    int rank, ok = 1;
    char why[PATH_MAX + 64] = "";
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) ok = make_dirs(dir, why, sizeof why);
    FLEXCL_MPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    FLEXCL_MPI(MPI_Bcast(why, sizeof why, MPI_CHAR, 0, comm));
    FLEXCL_CHECK(ok, FLEXCL_ERR_IO, "%s: cannot create output directory: %s", dir, why);
done:
    return err;
}

/* All ranks agree on a local outcome: if any rank failed, every rank fails
 * (those that did not, with a note naming the failing rank's problem). */
static flexcl_code agree(MPI_Comm comm, flexcl_code local)
{
    int bad = local != FLEXCL_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
    if (any && !bad)
        return flexcl_error_set(FLEXCL_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                                "another rank failed");
    return local;
}

typedef struct {
    size_t n_eval;      /* curve points (step 0 included) */
    uint64_t *steps;    /* n_eval */
    double *nll;        /* L x n_eval */
    double *error;      /* L x n_eval */
    double *test_error; /* L x n_eval, on data.test_images; NULL without a test set */
    uint64_t *phases;   /* L x n_eval */
    uint64_t *updates;  /* L x n_eval */
    double *theta;      /* L x P */
} point_record;

static void record_free(point_record *r)
{
    free(r->steps);
    free(r->nll);
    free(r->error);
    free(r->test_error);
    free(r->phases);
    free(r->updates);
    free(r->theta);
    memset(r, 0, sizeof *r);
}

/* A parameter block as params/theta's attributes <name>_offset (int) and
 * <name>_shape ("rows,cols"). Collective on the results' communicator. */
static flexcl_code write_block_attrs(flexcl_results *res, const char *path, flexcl_param_block b)
{
    flexcl_code err = FLEXCL_OK;
    char name[64], dims[64];
    snprintf(name, sizeof name, "%s_offset", b.name);
    FLEXCL_CALL(flexcl_results_attr_int(res, path, name, (long long)b.offset));
    snprintf(name, sizeof name, "%s_shape", b.name);
    snprintf(dims, sizeof dims, "%zu,%zu", b.rows, b.cols);
    FLEXCL_CALL(flexcl_results_attr_string(res, path, name, dims));
done:
    return err;
}

static flexcl_code write_point(MPI_Comm comm, flexcl_results *res, const flexcl_job *job,
                               size_t i, const flexcl_settings *s, flexcl_averaging averaging,
                               flexcl_learner *lr, const point_record *rec,
                               const flexcl_data *data)
{
    flexcl_code err = FLEXCL_OK;
    uint64_t *u = NULL;
    double *v = NULL;
    char g[64], path[128];
    int L = flexcl_learner_local_count(lr), G = flexcl_learner_global_count(lr);
    size_t first = (size_t)flexcl_learner_first_id(lr);
    flexcl_model *m = flexcl_learner_model(lr, 0);
    size_t P = flexcl_model_n_params(m);
    snprintf(g, sizeof g, "points/%06zu", i);
    FLEXCL_CALL(flexcl_results_group(res, g));
    FLEXCL_CALL(flexcl_point_write_attrs(res, g, job, i, s, data, G));

    snprintf(path, sizeof path, "%s/curve/steps", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, rec->n_eval, 1, 0,
                                              first == 0 ? rec->n_eval : 0, rec->steps));
    snprintf(path, sizeof path, "%s/curve/nll", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, (size_t)G, rec->n_eval, first,
                                          (size_t)L, rec->nll));
    snprintf(path, sizeof path, "%s/curve/error", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, (size_t)G, rec->n_eval, first,
                                          (size_t)L, rec->error));
    if (rec->test_error) {
        snprintf(path, sizeof path, "%s/curve/test_error", g);
        FLEXCL_CALL(flexcl_results_write_rows(res, path, (size_t)G, rec->n_eval, first,
                                              (size_t)L, rec->test_error));
    }
    snprintf(path, sizeof path, "%s/curve/phases", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, (size_t)G, rec->n_eval, first,
                                              (size_t)L, rec->phases));
    snprintf(path, sizeof path, "%s/curve/updates", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, (size_t)G, rec->n_eval, first,
                                              (size_t)L, rec->updates));
    /* Parameter averaging: its schedule, and the spread before every average. */
    FLEXCL_CALL(flexcl_results_attr_int(res, g, "average_every", (long long)s->run.average_every));
    FLEXCL_CALL(flexcl_results_attr_string(res, g, "averaging", flexcl_averaging_name(averaging)));
    /* Overlapped: the steps from an average's start to its application. */
    FLEXCL_CALL(flexcl_results_attr_int(
        res, g, "average_delay",
        (long long)(s->run.average_delay ? s->run.average_delay
                                         : flexcl_averaging_delay(s->run.average_every))));
    size_t K = flexcl_learner_n_averages(lr);
    if (K > 0) {
        const flexcl_average_record *h = flexcl_learner_averages(lr);
        size_t mine = flexcl_results_rank(res) == 0 ? K : 0;
        flexcl_code e = FLEXCL_OK;
        u = malloc(2 * K * sizeof *u);
        v = malloc(2 * K * sizeof *v);
        if (!u || !v)
            e = flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__, __func__,
                                 "cannot allocate %zu averaging records", K);
        else
            for (size_t k = 0; k < K; ++k) {
                u[k] = h[k].step;
                u[K + k] = h[k].applied;
                v[k] = h[k].rms_mean;
                v[K + k] = h[k].rms_max;
            }
        FLEXCL_CALL(agree(comm, e));
        snprintf(path, sizeof path, "%s/curve/spread/steps", g);
        FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, K, 1, 0, mine, u));
        snprintf(path, sizeof path, "%s/curve/spread/applied", g);
        FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, K, 1, 0, mine, u + K));
        snprintf(path, sizeof path, "%s/curve/spread/rms_mean", g);
        FLEXCL_CALL(flexcl_results_write_rows(res, path, K, 1, 0, mine, v));
        snprintf(path, sizeof path, "%s/curve/spread/rms_max", g);
        FLEXCL_CALL(flexcl_results_write_rows(res, path, K, 1, 0, mine, v + K));
    }
    snprintf(path, sizeof path, "%s/params/theta", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, (size_t)G, P, first, (size_t)L, rec->theta));
    for (size_t k = 0; k < flexcl_model_n_blocks(m); ++k)
        FLEXCL_CALL(write_block_attrs(res, path, flexcl_model_block(m, k)));
done:
    free(u);
    free(v);
    return err;
}

/* A stop signal (SIGUSR1 / SIGTERM) seen by any rank stops every rank at
 * the same place. Collective. */
static flexcl_code stop_requested(MPI_Comm comm)
{
    flexcl_code err = FLEXCL_OK;
    int mine = flexcl_cli_stop != 0, any = 0;
    FLEXCL_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
    FLEXCL_CHECK(!any, FLEXCL_ERR_INTERRUPTED,
                 "stopped by a signal; finished grid points are kept, rerun the same command to resume");
done:
    return err;
}

/* What the grid points of one invocation share: where checkpoints go and
 * when they are due. */
typedef struct {
    MPI_Comm comm;
    const flexcl_job *job;
    const run_options *o;
    const char *parts;  /* OUT.parts */
    const char *hash;   /* job hash */
    double last;        /* MPI_Wtime of the last checkpoint (or of the start) */
    long safe_points;   /* safe points passed in this invocation */
    int warned;         /* said once that the model cannot be checkpointed */
    double beat;        /* rank 0: MPI_Wtime of the last touch of the parts lock */
    int beat_warned;    /* rank 0: said once that the lock cannot be touched */
} session;

/* Rank 0 touches the parts lock (its heartbeat) when half a heartbeat
 * period has passed, at the driver's periodic points: every safe point and
 * every grid point. Safe points come every fraction of a second to a few
 * seconds, so the lock is touched at least once per period while the run
 * makes progress. Not collective. */
static void heartbeat(session *ss, int rank)
{
    if (rank != 0) return;
    double now = MPI_Wtime();
    if (now - ss->beat < 0.5 * FLEXCL_CLI_LOCK_HEARTBEAT) return;
    ss->beat = now;
    int e = flexcl_cli_lock_touch(ss->parts);
    if (e && !ss->beat_warned) {
        fprintf(stderr, "flexcl: warning: %s/lock: cannot touch it (the heartbeat that tells "
                "other hosts this run is alive): %s\n", ss->parts, strerror(e));
        ss->beat_warned = 1;
    }
}

/* A model without chain-state restore (no state_set) cannot be
 * checkpointed inside a grid point: say so once and go on; a stop then
 * keeps the finished grid points only and the point restarts on resume.
 * The refusal happens on every rank before anything is written. */
static flexcl_code checkpoint_outcome(session *ss, flexcl_code e)
{
    int rank = 0;
    if (e != FLEXCL_ERR_UNSUPPORTED) return e;
    MPI_Comm_rank(ss->comm, &rank);
    if (!ss->warned && rank == 0)
        flexcl_log(FLEXCL_LOG_WARN, "%s; a stopped grid point restarts from its beginning",
                   flexcl_error_message());
    ss->warned = 1;
    ss->last = MPI_Wtime();
    flexcl_error_clear();
    return FLEXCL_OK;
}

/* A safe point: should this grid point write a checkpoint (a stop signal on
 * any rank, or rank 0's clock says a periodic one is due) and stop after
 * it? Every rank gets the same answer. Collective. */
static flexcl_code safe_point(session *ss, int *write, int *stop)
{
    flexcl_code err = FLEXCL_OK;
    int rank, flags = 0, all = 0;
    FLEXCL_MPI(MPI_Comm_rank(ss->comm, &rank));
    ss->safe_points++;
    heartbeat(ss, rank);
    if (ss->o->stop_after > 0 && ss->safe_points == ss->o->stop_after) flexcl_cli_stop = 1;
    if (flexcl_cli_stop) flags |= 1;
    if (rank == 0 && ss->o->checkpoint_every > 0 &&
        MPI_Wtime() - ss->last >= ss->o->checkpoint_every)
        flags |= 2;
    FLEXCL_MPI(MPI_Allreduce(&flags, &all, 1, MPI_INT, MPI_BOR, ss->comm));
    *stop = (all & 1) != 0;
    *write = all != 0;
done:
    return err;
}

/* The stop after a checkpoint: exit status 3 with one line saying where. */
static flexcl_code interrupted(size_t i, const char *what, unsigned long long at,
                               const char *ckpt)
{
    if (!ckpt[0])
        return flexcl_error_set(FLEXCL_ERR_INTERRUPTED, __FILE__, __LINE__, __func__,
                                "stopped by a signal at %s %llu of grid point %zu (not "
                                "checkpointed); finished grid points are kept, rerun the same "
                                "command to resume", what, at, i);
    return flexcl_error_set(FLEXCL_ERR_INTERRUPTED, __FILE__, __LINE__, __func__,
                            "stopped by a signal at %s %llu of grid point %zu; checkpoint %s and "
                            "finished grid points are kept, rerun the same command to resume",
                            what, at, i, ckpt);
}

/* isd_variance / aol_bias: θ₀, the samples (in slices, checkpointed at
 * safe points), and the point's group. */
static flexcl_code run_experiment_point(session *ss, size_t i, const flexcl_settings *s,
                                        const flexcl_data *data, flexcl_results *res, int quiet)
{
    flexcl_code err = FLEXCL_OK;
    MPI_Comm comm = ss->comm;
    flexcl_model *m = NULL;
    flexcl_experiment_state *x = NULL;
    flexcl_experiment_result *r = NULL;
    flexcl_checkpoint *ck = NULL;
    char g[64], path[96], ckpt[FLEXCL_PATH_MAX + 128];
    const char *label = flexcl_experiment_name(s->run.experiment);
    int rank, have = 0, can_checkpoint = 1;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    flexcl_stream init = flexcl_stream_make(s->run.seed, flexcl_job_stream_point(ss->job, i), 0);
    FLEXCL_CALL(flexcl_model_create(&s->model, flexcl_data_dim(data), flexcl_data_classes(data),
                                    &init, &m));
    double t0 = MPI_Wtime();
    FLEXCL_CALL(flexcl_theta0_make(comm, s, data, m));
    FLEXCL_CALL(flexcl_experiment_start(comm, s, flexcl_job_stream_point(ss->job, i), data, m, &x));
    flexcl_checkpoint_path(ss->parts, i, ckpt, sizeof ckpt);
    FLEXCL_CALL(flexcl_checkpoint_exists(comm, ckpt, &have));
    if (have) {
        FLEXCL_CALL(flexcl_checkpoint_open(comm, ckpt, ss->hash, i, label, &ck));
        FLEXCL_CALL(flexcl_experiment_checkpoint_read(x, ck));
        flexcl_checkpoint_destroy(&ck);
        if (!quiet && rank == 0)
            flexcl_log(FLEXCL_LOG_INFO, "point %zu: resumed from %s at %llu samples per chain", i,
                       ckpt, (unsigned long long)flexcl_experiment_progress(x));
    }
    while (flexcl_experiment_remaining(x) > 0) {
        int write = 0, stop = 0;
        FLEXCL_CALL(safe_point(ss, &write, &stop));
        if (write && can_checkpoint) {
            FLEXCL_CALL(flexcl_checkpoint_create(comm, ckpt, ss->hash, i, label, &ck));
            flexcl_code e = flexcl_experiment_checkpoint_write(x, ck);
            if (e == FLEXCL_OK) e = flexcl_checkpoint_commit(ck);
            flexcl_checkpoint_destroy(&ck);
            can_checkpoint = e != FLEXCL_ERR_UNSUPPORTED;
            FLEXCL_CALL(checkpoint_outcome(ss, e));
            ss->last = MPI_Wtime();
        }
        if (stop)
            FLEXCL_CALL(interrupted(i, "sample (per chain)",
                                    (unsigned long long)flexcl_experiment_progress(x),
                                    can_checkpoint ? ckpt : ""));
        uint64_t n = flexcl_experiment_remaining(x);
        FLEXCL_CALL(flexcl_experiment_advance(x, n < EXPERIMENT_SLICE ? n : EXPERIMENT_SLICE));
    }
    FLEXCL_CALL(flexcl_experiment_finish(x, &r));
    snprintf(g, sizeof g, "points/%06zu", i);
    FLEXCL_CALL(flexcl_results_group(res, g));
    FLEXCL_CALL(flexcl_point_write_attrs(res, g, ss->job, i, s, data, (int)s->run.chains));
    FLEXCL_CALL(flexcl_experiment_write(res, g, r));
    /* theta0's blocks, as params/theta's (analysis/aol_drift.py reads them). */
    snprintf(path, sizeof path, "%s/theta0", g);
    for (size_t k = 0; k < flexcl_model_n_blocks(m); ++k)
        FLEXCL_CALL(write_block_attrs(res, path, flexcl_model_block(m, k)));
    if (!quiet && rank == 0) {
        double el = MPI_Wtime() - t0;
        flexcl_log(FLEXCL_LOG_INFO, "point %zu/%zu %s b=%g eta=%g tau=%g: %llu samples in %.1f s (%.0f/s)",
                   i + 1, flexcl_job_n_points(ss->job), label, s->estimator.b, s->estimator.eta,
                   s->estimator.tau, (unsigned long long)s->run.samples, el,
                   (double)s->run.samples / (el > 0 ? el : 1));
    }
done:
    flexcl_checkpoint_destroy(&ck);
    flexcl_experiment_result_destroy(&r);
    flexcl_experiment_state_destroy(&x);
    flexcl_model_destroy(&m);
    return err;
}

/* How a train point averages: blocking until the job file can choose
 * (the key run.averaging; see docs/checkpoint.md and flexcl/learner.h). */
static flexcl_averaging averaging_of(const flexcl_settings *s)
{
    return s->run.averaging;
}

/* Checkpoint a train point at a safe point: the learners' state and the
 * learning curve so far (curve points [0, e) recorded). Collective. */
static flexcl_code write_train_checkpoint(session *ss, size_t i, const char *ckpt,
                                          flexcl_learner *lr, const point_record *rec, size_t e)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_checkpoint *ck = NULL;
    size_t G = (size_t)flexcl_learner_global_count(lr), L = (size_t)flexcl_learner_local_count(lr);
    size_t first = (size_t)flexcl_learner_first_id(lr), E = rec->n_eval;
    int rank;
    FLEXCL_MPI(MPI_Comm_rank(ss->comm, &rank));
    FLEXCL_CALL(flexcl_checkpoint_create(ss->comm, ckpt, ss->hash, i, "train", &ck));
    FLEXCL_CALL(flexcl_learner_checkpoint_write(lr, ck));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "curve_points", e));
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "curve/steps", E, 1, 0, rank == 0 ? E : 0,
                                            rec->steps));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "curve/nll", G, E, first, L, rec->nll));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "curve/error", G, E, first, L, rec->error));
    if (rec->test_error)
        FLEXCL_CALL(flexcl_checkpoint_write(ck, "curve/test_error", G, E, first, L,
                                            rec->test_error));
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "curve/phases", G, E, first, L, rec->phases));
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "curve/updates", G, E, first, L, rec->updates));
    FLEXCL_CALL(flexcl_checkpoint_commit(ck));
    ss->last = MPI_Wtime();
done:
    flexcl_checkpoint_destroy(&ck);
    return err;
}

/* Restore the learners and the curve so far; *e = curve points recorded. */
static flexcl_code read_train_checkpoint(session *ss, size_t i, const char *ckpt,
                                         flexcl_learner *lr, point_record *rec, size_t *e)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_checkpoint *ck = NULL;
    size_t L = (size_t)flexcl_learner_local_count(lr);
    size_t first = (size_t)flexcl_learner_first_id(lr), E = rec->n_eval;
    uint64_t pts = 0;
    FLEXCL_CALL(flexcl_checkpoint_open(ss->comm, ckpt, ss->hash, i, "train", &ck));
    FLEXCL_CALL(flexcl_learner_checkpoint_read(lr, ck));
    flexcl_code local = flexcl_checkpoint_get(ck, "curve_points", &pts);
    if (local == FLEXCL_OK && (pts < 1 || pts > E))
        local = flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__,
                                 "%s: %llu curve points recorded of %zu", ckpt,
                                 (unsigned long long)pts, E);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read_u64(ck, "curve/steps", 1, 0, E, rec->steps);
    if (local == FLEXCL_OK) local = flexcl_checkpoint_read(ck, "curve/nll", E, first, L, rec->nll);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read(ck, "curve/error", E, first, L, rec->error);
    if (local == FLEXCL_OK && rec->test_error)
        local = flexcl_checkpoint_read(ck, "curve/test_error", E, first, L, rec->test_error);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read_u64(ck, "curve/phases", E, first, L, rec->phases);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read_u64(ck, "curve/updates", E, first, L, rec->updates);
    FLEXCL_CALL(agree(ss->comm, local));
    *e = (size_t)pts;
done:
    flexcl_checkpoint_destroy(&ck);
    return err;
}

/* Train the learners of grid point i (in slices, checkpointed at safe
 * points) and write its group. */

/* Safe points of a supervised point: every SUPERVISED_SLICE minibatches of
 * an epoch (counted from the epoch's start) and at every epoch's start. */
enum { SUPERVISED_SLICE = 16 };

/* Counters in supervised/clock of a checkpoint without the root attribute
 * `clock` (written before ff's aol phase was saved, when no ff point could
 * run aol): the five before FLEXCL_SUP_CLOCK_PHASE; the rest read as 0. */
enum { SUPERVISED_CLOCK_V1 = FLEXCL_SUP_CLOCK_PHASE };

/* Checkpoint a supervised point at a safe point inside curve point e (curve
 * points [0, e) recorded; `seconds` of epoch e's training so far): the
 * trainer's snapshot and the curve. Every rank holds the same trainer; rank
 * 0 writes. Collective. */
static flexcl_code write_supervised_checkpoint(session *ss, size_t i, const char *ckpt,
                                               const flexcl_supervised *t,
                                               const flexcl_supervised_curve *c, size_t e,
                                               double seconds)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_checkpoint *ck = NULL;
    double *state = NULL;
    uint64_t clock[FLEXCL_SUP_CLOCK];
    const size_t S = flexcl_supervised_state_size(t), E = c->n_points;
    int rank;
    FLEXCL_MPI(MPI_Comm_rank(ss->comm, &rank));
    const size_t mine = rank == 0;
    flexcl_code local = FLEXCL_OK;
    state = malloc(S * sizeof *state);
    if (!state)
        local = flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__, __func__,
                                 "cannot allocate a supervised state of %zu values", S);
    else
        flexcl_supervised_state_get(t, state, clock);
    FLEXCL_CALL(agree(ss->comm, local));
    FLEXCL_CALL(flexcl_checkpoint_create(ss->comm, ckpt, ss->hash, i, "supervised", &ck));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "params", flexcl_supervised_n_params(t)));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "state_size", S));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "epochs", E - 1));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "curve_points", e));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "clock", FLEXCL_SUP_CLOCK));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "supervised/state", 1, S, 0, mine, state));
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "supervised/clock", 1, FLEXCL_SUP_CLOCK, 0,
                                            mine, clock));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "supervised/epoch_seconds", 1, 1, 0, mine, &seconds));
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "curve/epoch", 1, E, 0, mine, c->epoch));
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "curve/updates", 1, E, 0, mine, c->updates));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "curve/train_loss", 1, E, 0, mine, c->train_loss));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "curve/train_acc", 1, E, 0, mine, c->train_acc));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "curve/test_acc", 1, E, 0, mine, c->test_acc));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "curve/seconds", 1, E, 0, mine, c->seconds));
    FLEXCL_CALL(flexcl_checkpoint_commit(ck));
    ss->last = MPI_Wtime();
done:
    flexcl_checkpoint_destroy(&ck);
    free(state);
    return err;
}

/* Restore a supervised point: the trainer, the curve so far (*e = curve
 * points recorded) and *seconds of the epoch in progress. Every rank reads
 * the same rows, so the checkpoint resumes on any rank count. Collective. */
static flexcl_code read_supervised_checkpoint(session *ss, size_t i, const char *ckpt,
                                              flexcl_supervised *t,
                                              flexcl_supervised_curve *c, size_t *e,
                                              double *seconds)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_checkpoint *ck = NULL;
    double *state = NULL;
    uint64_t clock[FLEXCL_SUP_CLOCK] = {0}, pts = 0, P = 0, S = 0, epochs = 0, width = 0;
    const size_t E = c->n_points, want_S = flexcl_supervised_state_size(t);
    FLEXCL_CALL(flexcl_checkpoint_open(ss->comm, ckpt, ss->hash, i, "supervised", &ck));
    flexcl_code local = flexcl_checkpoint_get(ck, "params", &P);
    if (local == FLEXCL_OK) local = flexcl_checkpoint_get(ck, "state_size", &S);
    if (local == FLEXCL_OK) local = flexcl_checkpoint_get(ck, "epochs", &epochs);
    if (local == FLEXCL_OK) local = flexcl_checkpoint_get(ck, "curve_points", &pts);
    if (local == FLEXCL_OK && flexcl_checkpoint_get(ck, "clock", &width) != FLEXCL_OK)
        width = SUPERVISED_CLOCK_V1;
    if (local == FLEXCL_OK && width != FLEXCL_SUP_CLOCK && width != SUPERVISED_CLOCK_V1)
        local = flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__,
                                 "%s: a supervised clock of %llu counters (this flexcl reads "
                                 "%d or %d)", ckpt, (unsigned long long)width,
                                 (int)SUPERVISED_CLOCK_V1, (int)FLEXCL_SUP_CLOCK);
    if (local == FLEXCL_OK &&
        (P != flexcl_supervised_n_params(t) || S != want_S || epochs + 1 != E))
        local = flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__,
                                 "%s: checkpoint of %llu parameters, state %llu, %llu epochs; "
                                 "this point has %zu, %zu, %zu", ckpt, (unsigned long long)P,
                                 (unsigned long long)S, (unsigned long long)epochs,
                                 flexcl_supervised_n_params(t), want_S, E - 1);
    if (local == FLEXCL_OK && (pts < 1 || pts >= E))
        local = flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__,
                                 "%s: %llu curve points recorded of %zu", ckpt,
                                 (unsigned long long)pts, E);
    if (local == FLEXCL_OK && !(state = malloc(want_S * sizeof *state)))
        local = flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__, __func__,
                                 "cannot allocate a supervised state of %zu values", want_S);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read(ck, "supervised/state", want_S, 0, 1, state);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read_u64(ck, "supervised/clock", (size_t)width, 0, 1, clock);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read(ck, "supervised/epoch_seconds", 1, 0, 1, seconds);
    if (local == FLEXCL_OK) local = flexcl_checkpoint_read_u64(ck, "curve/epoch", E, 0, 1, c->epoch);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read_u64(ck, "curve/updates", E, 0, 1, c->updates);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read(ck, "curve/train_loss", E, 0, 1, c->train_loss);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read(ck, "curve/train_acc", E, 0, 1, c->train_acc);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read(ck, "curve/test_acc", E, 0, 1, c->test_acc);
    if (local == FLEXCL_OK)
        local = flexcl_checkpoint_read(ck, "curve/seconds", E, 0, 1, c->seconds);
    if (local == FLEXCL_OK && clock[FLEXCL_SUP_CLOCK_EPOCHS] + 1 != pts)
        local = flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__,
                                 "%s: trainer after %llu epochs with %llu curve points recorded",
                                 ckpt, (unsigned long long)clock[FLEXCL_SUP_CLOCK_EPOCHS],
                                 (unsigned long long)pts);
    if (local == FLEXCL_OK) {
        local = flexcl_supervised_state_set(t, state, want_S, clock);
        if (local != FLEXCL_OK) {
            char why[1024];
            snprintf(why, sizeof why, "%s", flexcl_error_message());
            local = flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__, "%s: %s",
                                     ckpt, why);
        }
    }
    FLEXCL_CALL(agree(ss->comm, local));
    *e = (size_t)pts;
done:
    flexcl_checkpoint_destroy(&ck);
    free(state);
    return err;
}

/* model.kind = ff | dp | dpt | backprop: the supervised learners
 * (flexcl/supervised.h, docs/models.md). Every rank trains the same network
 * (deterministic, thread-count invariant); rank 0 writes the curve and the
 * final parameters. Epochs run in slices of SUPERVISED_SLICE minibatches
 * with a safe point before each (checkpointed like a train point); the
 * curve is flexcl_supervised_train's, bitwise. Collective. */
static flexcl_code run_supervised_point(session *ss, size_t i, const flexcl_settings *s,
                                        const flexcl_data *data, flexcl_results *res,
                                        int quiet)
{
    flexcl_code err = FLEXCL_OK;
    MPI_Comm comm = ss->comm;
    flexcl_data *test = NULL;
    flexcl_supervised *t = NULL;
    flexcl_supervised_curve c = {0};
    flexcl_supervised_settings sv = s->supervised;
    char g[64], path[128], ckpt[FLEXCL_PATH_MAX + 128];
    int rank, have = 0;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    flexcl_supervised_kind_parse(s->model.kind, &sv.kind); /* the job parser checked it */
    if (s->data.test_images[0] != '\0') {
        flexcl_data_settings td = s->data; /* same binarisation and label block */
        snprintf(td.images, sizeof td.images, "%s", s->data.test_images);
        snprintf(td.labels, sizeof td.labels, "%s", s->data.test_labels);
        td.max_rows = 0;
        FLEXCL_CALL(agree(comm, flexcl_data_create(&td, &test)));
    }
    FLEXCL_CALL(agree(comm, flexcl_data_has_labels(data)
                                ? FLEXCL_OK
                                : flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__,
                                                   "supervised: %s has no labels",
                                                   flexcl_data_describe(data))));
    flexcl_stream st = flexcl_stream_make(s->run.seed, flexcl_job_stream_point(ss->job, i), 0);
    FLEXCL_CALL(agree(comm, flexcl_supervised_create(&sv, &s->model, &s->estimator, &s->optim,
                                                     flexcl_data_pixels(data),
                                                     flexcl_supervised_classes(data), &st, &t)));
    const size_t E = (size_t)sv.epochs + 1, P = flexcl_supervised_n_params(t);
    FLEXCL_CALL(flexcl_supervised_curve_alloc(&c, E));
    double t0 = MPI_Wtime(), sec = 0.0;
    size_t e0 = 0;
    flexcl_checkpoint_path(ss->parts, i, ckpt, sizeof ckpt);
    FLEXCL_CALL(flexcl_checkpoint_exists(comm, ckpt, &have));
    if (have) {
        FLEXCL_CALL(read_supervised_checkpoint(ss, i, ckpt, t, &c, &e0, &sec));
        if (!quiet && rank == 0)
            flexcl_log(FLEXCL_LOG_INFO, "point %zu: resumed from %s in epoch %zu at minibatch %llu",
                       i, ckpt, e0, (unsigned long long)flexcl_supervised_epoch_position(t));
    }
    for (size_t e = e0; e < E; ++e) {
        double loss = NAN;
        if (e > 0) {
            int epoch_done = 0;
            while (!epoch_done) {
                int write = 0, stop = 0;
                FLEXCL_CALL(safe_point(ss, &write, &stop));
                if (write)
                    FLEXCL_CALL(write_supervised_checkpoint(ss, i, ckpt, t, &c, e, sec));
                if (stop)
                    FLEXCL_CALL(interrupted(i, "update",
                                            (unsigned long long)flexcl_supervised_updates(t),
                                            ckpt));
                const uint64_t n = SUPERVISED_SLICE -
                                   flexcl_supervised_epoch_position(t) % SUPERVISED_SLICE;
                const double t1 = MPI_Wtime();
                FLEXCL_CALL(agree(comm, flexcl_supervised_advance(t, data, n, &epoch_done,
                                                                  &loss)));
                sec += MPI_Wtime() - t1;
            }
        }
        c.epoch[e] = e;
        c.updates[e] = flexcl_supervised_updates(t);
        c.train_loss[e] = loss;
        c.seconds[e] = sec;
        sec = 0.0;
        FLEXCL_CALL(agree(comm, flexcl_supervised_accuracy(t, data, s->model.eval_rows,
                                                           &c.train_acc[e])));
        c.test_acc[e] = NAN;
        if (test)
            FLEXCL_CALL(agree(comm, flexcl_supervised_accuracy(t, test, 0, &c.test_acc[e])));
    }
    if (!quiet && rank == 0)
        flexcl_log(FLEXCL_LOG_INFO, "point %zu/%zu %s: %llu epochs, test accuracy %.4f, %.1f s",
                   i + 1, flexcl_job_n_points(ss->job), s->model.kind,
                   (unsigned long long)sv.epochs, c.test_acc[c.n_points - 1],
                   MPI_Wtime() - t0);
    snprintf(g, sizeof g, "points/%06zu", i);
    FLEXCL_CALL(flexcl_results_group(res, g));
    FLEXCL_CALL(flexcl_point_write_attrs(res, g, ss->job, i, s, data, 1));
    const size_t mine = rank == 0 ? E : 0;
    double *err_rate = c.seconds; /* reused below after seconds is written */
    snprintf(path, sizeof path, "%s/curve/epoch", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, E, 1, 0, mine, c.epoch));
    snprintf(path, sizeof path, "%s/curve/steps", g); /* = updates, as for the RBM curve */
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, E, 1, 0, mine, c.updates));
    snprintf(path, sizeof path, "%s/curve/updates", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, 1, E, 0, rank == 0, c.updates));
    snprintf(path, sizeof path, "%s/curve/train_loss", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, 1, E, 0, rank == 0, c.train_loss));
    snprintf(path, sizeof path, "%s/curve/train_acc", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, 1, E, 0, rank == 0, c.train_acc));
    snprintf(path, sizeof path, "%s/curve/test_acc", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, 1, E, 0, rank == 0, c.test_acc));
    snprintf(path, sizeof path, "%s/curve/seconds", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, 1, E, 0, rank == 0, c.seconds));
    /* curve/error (learners x points, like the RBM's): 1 − test accuracy, or
     * 1 − train accuracy without a test set. */
    for (size_t k = 0; k < E; ++k)
        err_rate[k] = 1.0 - (test ? c.test_acc[k] : c.train_acc[k]);
    snprintf(path, sizeof path, "%s/curve/error", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, 1, E, 0, rank == 0, err_rate));
    snprintf(path, sizeof path, "%s/params/theta", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, 1, P, 0, rank == 0,
                                          flexcl_supervised_params(t)));
    for (size_t k = 0; k < flexcl_supervised_n_blocks(t); ++k)
        FLEXCL_CALL(write_block_attrs(res, path, flexcl_supervised_block(t, k)));
done:
    flexcl_supervised_destroy(&t);
    flexcl_supervised_curve_free(&c);
    flexcl_data_destroy(&test);
    return err;
}

/* tcl_synapse: the single-synapse sweep of flexcl/tcl.h. Deterministic and
 * cheap, so every rank computes it and rank 0 supplies the rows. */
static flexcl_code run_tcl_synapse_point(session *ss, size_t i, const flexcl_settings *s,
                                         const flexcl_data *data, flexcl_results *res,
                                         int quiet)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_tcl_synapse_result r = {0};
    const flexcl_tcl_settings *t = &s->estimator.tcl;
    char g[64], path[160];
    int rank;
    FLEXCL_MPI(MPI_Comm_rank(ss->comm, &rank));
    double t0 = MPI_Wtime();
    FLEXCL_CALL(agree(ss->comm, flexcl_tcl_synapse_run(t, &r)));
    snprintf(g, sizeof g, "points/%06zu", i);
    FLEXCL_CALL(flexcl_results_group(res, g));
    FLEXCL_CALL(flexcl_point_write_attrs(res, g, ss->job, i, s, data, 1));
    const size_t n = r.n, mine = rank == 0 ? n : 0, T = r.trace_n, tmine = rank == 0 ? T : 0;
    const struct {
        const char *name;
        const double *v;
    } sweep[] = {{"amplitude", r.amplitude}, {"dw", r.dw}, {"dw_ideal", r.dw_ideal}},
      trace[] = {{"t", r.trace_t}, {"r", r.trace_r}, {"s", r.trace_s}, {"u", r.trace_u}};
    for (size_t k = 0; k < sizeof sweep / sizeof sweep[0]; ++k) {
        snprintf(path, sizeof path, "%s/tcl/%s", g, sweep[k].name);
        FLEXCL_CALL(flexcl_results_write_rows(res, path, n, 1, 0, mine, sweep[k].v));
    }
    snprintf(path, sizeof path, "%s/tcl/linear", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, n, 1, 0, mine, r.linear));
    for (size_t k = 0; k < sizeof trace / sizeof trace[0]; ++k) {
        snprintf(path, sizeof path, "%s/tcl/trace/%s", g, trace[k].name);
        FLEXCL_CALL(flexcl_results_write_rows(res, path, T, 1, 0, tmine, trace[k].v));
    }
    snprintf(path, sizeof path, "%s/tcl", g);
    const struct {
        const char *name;
        double v;
    } attrs[] = {
        {"tau_fast", t->tau_fast},       {"tau_slow", t->tau_slow},
        {"ratio", t->tau_slow / t->tau_fast}, {"tau_kernel", r.tau_kernel},
        {"area", t->area},               {"threshold", t->threshold},
        {"dt", t->dt},                   {"s_free", t->s_free},
        {"tolerance", t->tolerance},     {"A_min_pred", r.a_min_pred},
        {"A_max_pred", r.a_max_pred},    {"A_onset", r.a_onset},
        {"A_min", r.a_min},              {"A_max", r.a_max},
        {"range", r.a_max / r.a_min},    {"slope", r.slope},
        {"trace_amplitude", r.trace_amplitude},
    };
    for (size_t k = 0; k < sizeof attrs / sizeof attrs[0]; ++k)
        FLEXCL_CALL(flexcl_results_attr_double(res, path, attrs[k].name, attrs[k].v));
    FLEXCL_CALL(flexcl_results_attr_string(res, path, "kernel", flexcl_tcl_kernel_name(t->kernel)));
    FLEXCL_CALL(flexcl_results_attr_int(res, path, "cycles", (long long)t->cycles));
    if (!quiet && rank == 0)
        flexcl_log(FLEXCL_LOG_INFO,
                   "point %zu/%zu tcl_synapse tau_s/tau_f=%g: window [%.4g, %.4g] (predicted "
                   "[%.4g, %.4g]), range %.4g <= %g, %.2f s",
                   i + 1, flexcl_job_n_points(ss->job), t->tau_slow / t->tau_fast, r.a_min,
                   r.a_max, r.a_min_pred, r.a_max_pred, r.a_max / r.a_min,
                   t->tau_slow / t->tau_fast, MPI_Wtime() - t0);
done:
    flexcl_tcl_synapse_result_free(&r);
    return err;
}

static flexcl_code run_point(session *ss, size_t i, flexcl_results *res, int quiet)
{
    flexcl_code err = FLEXCL_OK;
    MPI_Comm comm = ss->comm;
    const flexcl_job *job = ss->job;
    flexcl_settings s;
    flexcl_data *data = NULL, *test = NULL;
    flexcl_learner *lr = NULL;
    point_record rec = {0};
    char ckpt[FLEXCL_PATH_MAX + 128];
    int rank, have = 0, can_checkpoint = 1;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    FLEXCL_CALL(flexcl_job_point(job, i, &s));
    if (s.run.threads > 0) omp_set_num_threads(s.run.threads);
    FLEXCL_CALL(agree(comm, flexcl_data_create(&s.data, &data)));
    if (s.run.experiment == FLEXCL_EXP_TCL_SYNAPSE) {
        FLEXCL_CALL(run_tcl_synapse_point(ss, i, &s, data, res, quiet));
        goto done;
    }
    if (s.run.experiment != FLEXCL_EXP_TRAIN) {
        FLEXCL_CALL(run_experiment_point(ss, i, &s, data, res, quiet));
        goto done;
    }
    if (flexcl_model_lookup(s.model.kind) == NULL) { /* ff | dp | dpt | backprop */
        FLEXCL_CALL(run_supervised_point(ss, i, &s, data, res, quiet));
        goto done;
    }

    flexcl_learner_settings ls;
    flexcl_learner_settings_default(&ls);
    ls.seed = s.run.seed;
    ls.point = flexcl_job_stream_point(job, i);
    ls.learners_per_rank = s.run.learners_per_rank;
    ls.average_every = s.run.average_every;
    ls.averaging = averaging_of(&s);
    ls.average_delay = s.run.average_delay;
    ls.exchange = s.run.average_exchange;
    FLEXCL_CALL(flexcl_learner_create(comm, &ls, &s.model, &s.estimator, &s.optim, data,
                                      s.run.same_init, &lr));
    int L = flexcl_learner_local_count(lr);
    size_t P = flexcl_model_n_params(flexcl_learner_model(lr, 0));
    rec.n_eval = (size_t)(s.run.steps / s.run.eval_every) + 1 +
                 (s.run.steps % s.run.eval_every ? 1 : 0);
    FLEXCL_ALLOC(rec.steps, rec.n_eval);
    FLEXCL_ALLOC(rec.nll, (size_t)L * rec.n_eval);
    FLEXCL_ALLOC(rec.error, (size_t)L * rec.n_eval);
    /* A labelled IDX job with data.test_images also records the test error
     * (curve/test_error) on the first run.eval_rows test rows (0 = all). */
    if (s.data.source == FLEXCL_DATA_IDX && s.data.label_block &&
        s.data.test_images[0] != '\0') {
        flexcl_data_settings td = s.data; /* same binarisation and label block */
        snprintf(td.images, sizeof td.images, "%s", s.data.test_images);
        snprintf(td.labels, sizeof td.labels, "%s", s.data.test_labels);
        td.max_rows = s.model.eval_rows;
        FLEXCL_CALL(agree(comm, flexcl_data_create(&td, &test)));
        FLEXCL_ALLOC(rec.test_error, (size_t)L * rec.n_eval);
    }
    FLEXCL_ALLOC(rec.phases, (size_t)L * rec.n_eval);
    FLEXCL_ALLOC(rec.updates, (size_t)L * rec.n_eval);
    FLEXCL_ALLOC(rec.theta, (size_t)L * P);

    char label[512] = "";
    for (size_t a = 0; a < flexcl_job_n_axes(job); ++a) {
        size_t used = strlen(label);
        snprintf(label + used, sizeof label - used, "%s%s=%s", a ? " " : "",
                 flexcl_job_axis_name(job, a), flexcl_job_point_value(job, i, a));
    }
    double t0 = MPI_Wtime();
    uint64_t done_steps = 0;
    size_t e0 = 0;
    flexcl_checkpoint_path(ss->parts, i, ckpt, sizeof ckpt);
    FLEXCL_CALL(flexcl_checkpoint_exists(comm, ckpt, &have));
    if (have) {
        FLEXCL_CALL(read_train_checkpoint(ss, i, ckpt, lr, &rec, &e0));
        done_steps = flexcl_learner_steps(lr, 0);
        if (!quiet && rank == 0)
            flexcl_log(FLEXCL_LOG_INFO, "point %zu: resumed from %s at step %llu", i, ckpt,
                       (unsigned long long)done_steps);
    }
    for (size_t e = e0; e < rec.n_eval; ++e) {
        uint64_t target = (uint64_t)e * s.run.eval_every;
        if (target > s.run.steps) target = s.run.steps;
        while (done_steps < target) {
            int write = 0, stop = 0;
            FLEXCL_CALL(safe_point(ss, &write, &stop));
            if (write && can_checkpoint) {
                flexcl_code w = write_train_checkpoint(ss, i, ckpt, lr, &rec, e);
                can_checkpoint = w != FLEXCL_ERR_UNSUPPORTED;
                FLEXCL_CALL(checkpoint_outcome(ss, w));
            }
            if (stop)
                FLEXCL_CALL(interrupted(i, "step", (unsigned long long)done_steps,
                                        can_checkpoint ? ckpt : ""));
            uint64_t n = target - done_steps, to_slice = TRAIN_SLICE - done_steps % TRAIN_SLICE;
            if (n > to_slice) n = to_slice;
            FLEXCL_CALL(agree(comm, flexcl_learner_advance(lr, n)));
            done_steps += n;
        }
        rec.steps[e] = done_steps;
        for (int k = 0; k < L; ++k) {
            flexcl_metrics mt;
            FLEXCL_CALL(flexcl_model_evaluate(flexcl_learner_model(lr, k), data, &mt));
            rec.nll[(size_t)k * rec.n_eval + e] = mt.nll;
            rec.error[(size_t)k * rec.n_eval + e] = mt.error_rate;
            if (test) {
                FLEXCL_CALL(flexcl_model_evaluate(flexcl_learner_model(lr, k), test, &mt));
                rec.test_error[(size_t)k * rec.n_eval + e] = mt.error_rate;
            }
            rec.phases[(size_t)k * rec.n_eval + e] = flexcl_learner_phases(lr, k);
            rec.updates[(size_t)k * rec.n_eval + e] = flexcl_learner_updates(lr, k);
        }
        if (!quiet && rank == 0 && (e == 0 || e + 1 == rec.n_eval || e % 5 == 0)) {
            double el = MPI_Wtime() - t0;
            flexcl_log(FLEXCL_LOG_INFO,
                       "point %zu/%zu [%s] step %llu/%llu  nll(learner 0) %.3f  error %.4f"
                       "  test error %.4f  %.1f s",
                       i + 1, flexcl_job_n_points(job), label,
                       (unsigned long long)done_steps, (unsigned long long)s.run.steps,
                       rec.nll[e], rec.error[e], test ? rec.test_error[e] : NAN, el);
        }
    }
    for (int k = 0; k < L; ++k)
        memcpy(rec.theta + (size_t)k * P, flexcl_model_params(flexcl_learner_model(lr, k)),
               P * sizeof(double));
    if (s.run.average_every > 0) {
        /* How the averages travelled, and the longest any rank waited for
         * them (time it could not run its learners). Collective. */
        double waited = flexcl_learner_wait_seconds(lr), most = 0.0;
        FLEXCL_MPI(MPI_Reduce(&waited, &most, 1, MPI_DOUBLE, MPI_MAX, 0, comm));
        if (!quiet && rank == 0)
            flexcl_log(FLEXCL_LOG_INFO,
                       "point %zu/%zu [%s]: averages through the %s exchange; the longest a rank "
                       "waited for them: %.3g s (%.1f %% of the point)",
                       i + 1, flexcl_job_n_points(job), label,
                       flexcl_exchange_name(flexcl_learner_exchange(lr)), most,
                       100.0 * most / fmax(MPI_Wtime() - t0, 1e-9));
    }
    FLEXCL_CALL(write_point(comm, res, job, i, &s, ls.averaging, lr, &rec, data));
done:
    record_free(&rec);
    flexcl_learner_destroy(&lr);
    flexcl_data_destroy(&test);
    flexcl_data_destroy(&data);
    return err;
}

/* Name the job key behind a data error: "FILE:LINE: data.images: message". */
static flexcl_code data_error(const flexcl_job *job, size_t i, const flexcl_settings *s)
{
    const char *msg = flexcl_error_message();
    const char *key = s->data.labels[0] && strncmp(msg, s->data.labels, strlen(s->data.labels)) == 0
                          ? "data.labels" : "data.images";
    if (s->data.source == FLEXCL_DATA_BAS) key = "data.bas_n";
    const char *loc = flexcl_job_point_key_location(job, i, key);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", msg);
    return flexcl_error_set(FLEXCL_ERR_DATA, __FILE__, __LINE__, __func__, "%s: %s: %s",
                            loc ? loc : "job", key, copy);
}

static flexcl_code check_data(MPI_Comm comm, const flexcl_job *job)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_settings s, prev;
    flexcl_data *probe = NULL;
    for (size_t i = 0; i < flexcl_job_n_points(job); ++i) {
        FLEXCL_CALL(flexcl_job_point(job, i, &s));
        if (i > 0 && memcmp(&s.data, &prev.data, sizeof s.data) == 0) continue;
        flexcl_code e = flexcl_data_create(&s.data, &probe);
        if (e != FLEXCL_OK) e = data_error(job, i, &s);
        flexcl_data_destroy(&probe);
        FLEXCL_CALL(agree(comm, e));
        prev = s;
    }
done:
    return err;
}

static void iso_time(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int exit_status(flexcl_code c)
{
    switch (c) {
    case FLEXCL_OK: return 0;
    case FLEXCL_ERR_JOB:
    case FLEXCL_ERR_ARG:
    case FLEXCL_ERR_DATA:
    case FLEXCL_ERR_IO: return 2;
    case FLEXCL_ERR_INTERRUPTED: return 3;
    default: return 1;
    }
}

/* FNV-1a over the job text and the overrides: what a checkpoint belongs to. */
static void job_hash(const flexcl_job *job, const run_options *o, char out[32])
{
    uint64_t h = 1469598103934665603ULL;
    const char *t = flexcl_job_text(job);
    for (; *t; ++t) h = (h ^ (unsigned char)*t) * 1099511628211ULL;
    for (size_t k = 0; k < o->n_overrides; ++k) {
        h = (h ^ 0xffu) * 1099511628211ULL;
        for (t = o->overrides[k]; *t; ++t) h = (h ^ (unsigned char)*t) * 1099511628211ULL;
    }
    snprintf(out, 32, "%016llx", (unsigned long long)h);
}

/* A complete results file from the same job makes the run a no-op; one
 * from another job is refused (never overwritten). Collective. */
static flexcl_code check_existing(MPI_Comm comm, const char *path, const char *hash,
                                  const char *split, int *complete)
{
    flexcl_code err = FLEXCL_OK;
    int rank, state = 0; /* 0 absent, 1 same job, 2 other job */
    char msg[FLEXCL_PATH_MAX + 256] = "";
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0 && access(path, F_OK) == 0) {
        char old[64] = "", old_split[64] = "";
        if (flexcl_results_read_attr_string(path, "/", "job_hash", old, sizeof old) == FLEXCL_OK &&
            strcmp(old, hash) == 0 &&
            flexcl_results_read_attr_string(path, "/", "task_split", old_split,
                                            sizeof old_split) == FLEXCL_OK &&
            strcmp(old_split, split) == 0) {
            state = 1;
        } else if (strcmp(old, hash) == 0) {
            state = 2;
            snprintf(msg, sizeof msg, "%s exists and holds another task split of this job (not "
                     "task %s); move it away or choose another --out", path, split);
        } else {
            state = 2;
            snprintf(msg, sizeof msg, "%s exists and was not written by this job (and these --set "
                     "options); move it away or choose another --out", path);
        }
    }
    FLEXCL_MPI(MPI_Bcast(&state, 1, MPI_INT, 0, comm));
    FLEXCL_MPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
    FLEXCL_CHECK(state != 2, FLEXCL_ERR_IO, "%s", msg);
    *complete = state == 1;
done:
    return err;
}

/* Create <parts>/ with its manifest, or check that an existing one belongs
 * to this job and task, and take <parts>/lock for this run (rank 0; *locked
 * = 1 on every rank once taken). A live lock of another run refuses (exit
 * status 2) before anything is written. Collective. */
static flexcl_code open_parts(MPI_Comm comm, const char *parts, const char *hash, const run_options *o,
                              size_t n_points, int *locked)
{
    flexcl_code err = FLEXCL_OK;
    int rank, ok = 1, code = FLEXCL_ERR_JOB, fresh = 0;
    char msg[2 * FLEXCL_PATH_MAX + 512] = "", manifest[FLEXCL_PATH_MAX + 96], want[256];
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    snprintf(manifest, sizeof manifest, "%s/manifest", parts);
    snprintf(want, sizeof want, "flexcl checkpoint 1\njob_hash %s\ntask %ld\ntasks %ld\npoints %zu\n",
             hash, o->tasks > 0 ? o->task : 0, o->tasks > 0 ? o->tasks : 1, n_points);
    if (rank == 0) {
        FILE *f = fopen(manifest, "r");
        if (f) {
            char have[256] = "";
            size_t n = fread(have, 1, sizeof have - 1, f);
            have[n] = '\0';
            fclose(f);
            if (strcmp(have, want) != 0) {
                ok = 0;
                snprintf(msg, sizeof msg, "%s: checkpoint of another job or task split (the job file "
                         "or --set options changed since it was written); remove %s to start over",
                         manifest, parts);
            }
        } else if (mkdir(parts, 0777) != 0 && errno != EEXIST) {
            ok = 0;
            snprintf(msg, sizeof msg, "%s: cannot create checkpoint directory: %s", parts, strerror(errno));
        } else {
            fresh = 1;
        }
        /* The lock before the manifest is written: of two runs started
         * together, only the one holding the lock writes anything. */
        if (ok && flexcl_cli_lock_take(parts, msg, sizeof msg) != 0) {
            ok = 0;
            code = FLEXCL_ERR_IO;
        }
        if (ok && fresh && (!(f = fopen(manifest, "w")) || fputs(want, f) < 0 || fclose(f) != 0)) {
            ok = 0;
            snprintf(msg, sizeof msg, "%s: cannot write: %s", manifest, strerror(errno));
            flexcl_cli_lock_release(parts);
        }
    }
    FLEXCL_MPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    FLEXCL_MPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
    FLEXCL_MPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
    FLEXCL_CHECK(ok, (flexcl_code)code, "%s", msg);
    *locked = 1;
done:
    return err;
}

/* Remove the parts of points [lo, hi), the manifest, this run's lock and
 * the directory (rank 0). Collective. */
static flexcl_code remove_parts(MPI_Comm comm, const char *parts, size_t lo, size_t hi)
{
    flexcl_code err = FLEXCL_OK;
    int rank;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) {
        char p[FLEXCL_PATH_MAX + 128];
        for (size_t i = lo; i < hi; ++i) {
            snprintf(p, sizeof p, "%s/%06zu.h5", parts, i);
            unlink(p);
            /* A checkpoint left by a kill between a point's completion and
             * its removal, and any unfinished temporary files. */
            flexcl_checkpoint_path(parts, i, p, sizeof p);
            unlink(p);
            size_t n = strlen(p);
            snprintf(p + n, sizeof p - n, ".partial");
            unlink(p);
            snprintf(p, sizeof p, "%s/%06zu.h5.partial", parts, i);
            unlink(p);
        }
        snprintf(p, sizeof p, "%s/manifest", parts);
        unlink(p);
        /* The lock last: rmdir needs the directory empty. */
        flexcl_cli_lock_release(parts);
        rmdir(parts);
    }
    FLEXCL_MPI(MPI_Barrier(comm));
done:
    return err;
}

int flexcl_cli_run(MPI_Comm comm, int argc, char **argv)
{
    flexcl_code err = FLEXCL_OK;
    run_options o;
    flexcl_job *job = NULL;
    flexcl_results *res = NULL;
    size_t *mine = NULL;
    int rank = 0, locked = 0;
    char out_path[FLEXCL_PATH_MAX + 64], stem[256], cmdline[4096] = "";
    char parts[FLEXCL_PATH_MAX + 80] = "";
    time_t start = time(NULL);
    MPI_Comm_rank(comm, &rank);
    int st = parse_options(argc, argv, rank, 0, &o);
    if (st) return st;
    if (o.help) {
        if (rank == 0) print_keys();
        return 0;
    }
    if (o.quiet) flexcl_log_set(NULL, NULL, FLEXCL_LOG_ERROR);
    snprintf(cmdline, sizeof cmdline, "flexcl");
    for (int k = 0; k < argc; ++k) {
        size_t used = strlen(cmdline);
        snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[k]);
    }
    FLEXCL_CALL(flexcl_job_load(comm, o.job_path, o.n_overrides, o.overrides, &job));
    job_stem(o.job_path, stem, sizeof stem);
    FLEXCL_CALL(make_out_dir(comm, o.out_dir));
    if (o.tasks > 0) snprintf(out_path, sizeof out_path, "%s/task_%ld.h5", o.out_dir, o.task);
    else snprintf(out_path, sizeof out_path, "%s/%s.h5", o.out_dir, stem);
    /* Load every distinct data set of the grid once before any work: bad
     * input must fail before hours of compute and leave no results file. */
    FLEXCL_CALL(check_data(comm, job));
    size_t n_points = flexcl_job_n_points(job), lo = 0, hi = n_points;
    if (o.tasks > 0) task_block(n_points, o.task, o.tasks, &lo, &hi);
    char hash[32];
    job_hash(job, &o, hash);
    int complete = 0;
    char split_want[64];
    snprintf(split_want, sizeof split_want, "%ld/%ld", o.tasks > 0 ? o.task : 0, o.tasks > 0 ? o.tasks : 1);
    FLEXCL_CALL(check_existing(comm, out_path, hash, split_want, &complete));
    if (complete) {
        if (rank == 0)
            printf("flexcl: %s is already complete; nothing to do\nresults: %s\n", out_path, out_path);
        goto done;
    }
    /* Every grid point goes to its own file in <out>.parts/ first, written
     * under a temporary name and renamed when complete: a killed or
     * preempted run keeps every finished point, and a rerun skips them. */
    snprintf(parts, sizeof parts, "%s.parts", out_path);
    FLEXCL_CALL(open_parts(comm, parts, hash, &o, n_points, &locked));
    FLEXCL_ALLOC(mine, hi > lo ? hi - lo : 1);
    size_t resumed = 0;
    session ss = {comm, job, &o, parts, hash, MPI_Wtime(), 0, 0, MPI_Wtime(), 0};
    for (size_t i = lo; i < hi; ++i) {
        mine[i - lo] = i;
        heartbeat(&ss, rank);
        char part[FLEXCL_PATH_MAX + 128];
        snprintf(part, sizeof part, "%s/%06zu.h5", parts, i);
        int have = 0;
        flexcl_code pc = FLEXCL_OK;
        if (rank == 0 && access(part, F_OK) == 0) {
            /* A finished part must be a readable results file of this job:
             * one copied in from another job, or damaged, is refused. */
            have = 1;
            pc = flexcl_results_check_file(part, hash);
        }
        FLEXCL_CALL(agree(comm, pc));
        FLEXCL_MPI(MPI_Bcast(&have, 1, MPI_INT, 0, comm));
        if (have) {
            resumed++;
            continue;
        }
        FLEXCL_CALL(stop_requested(comm));
        FLEXCL_CALL(flexcl_results_create(comm, part, &res));
        FLEXCL_CALL(run_point(&ss, i, res, o.quiet));
        FLEXCL_CALL(flexcl_results_attr_string(res, "/", "job_hash", hash));
        FLEXCL_CALL(flexcl_results_finish(res));
        flexcl_results_destroy(&res);
        /* The point is complete: its checkpoint is no longer needed. */
        char ckpt[FLEXCL_PATH_MAX + 128];
        flexcl_checkpoint_path(parts, i, ckpt, sizeof ckpt);
        FLEXCL_CALL(flexcl_checkpoint_remove(comm, ckpt));
    }
    if (resumed && rank == 0 && !o.quiet)
        flexcl_log(FLEXCL_LOG_INFO, "resumed: %zu of %zu point(s) were already complete in %s", resumed,
                   hi - lo, parts);
    /* Assemble the parts into the results file. */
    FLEXCL_CALL(flexcl_results_create(comm, out_path, &res));
    FLEXCL_CALL(flexcl_results_group(res, "points"));
    FLEXCL_CALL(flexcl_results_attr_int(res, "points", "count", (long long)(hi - lo)));
    FLEXCL_CALL(flexcl_results_attr_int(res, "points", "job_points", (long long)n_points));
    FLEXCL_CALL(flexcl_results_attr_int(res, "points", "task", o.tasks > 0 ? o.task : 0));
    FLEXCL_CALL(flexcl_results_attr_int(res, "points", "tasks", o.tasks > 0 ? o.tasks : 1));
    for (size_t i = lo; i < hi; ++i) {
        char part[FLEXCL_PATH_MAX + 128], g[64];
        snprintf(part, sizeof part, "%s/%06zu.h5", parts, i);
        snprintf(g, sizeof g, "points/%06zu", i);
        heartbeat(&ss, rank);
        FLEXCL_CALL(flexcl_results_copy_tree(res, part, g, g));
    }
    FLEXCL_CALL(flexcl_index_write(res, job, mine, hi - lo));
    int nprocs;
    MPI_Comm_size(comm, &nprocs);
    flexcl_provenance prov = {flexcl_job_text(job), o.job_path, cmdline,
                              omp_get_max_threads(), start, time(NULL)};
    FLEXCL_CALL(flexcl_provenance_write(comm, res, &prov));
    FLEXCL_CALL(flexcl_results_attr_string(res, "/", "job_hash", hash));
    {
        char split[64];
        snprintf(split, sizeof split, "%ld/%ld", o.tasks > 0 ? o.task : 0, o.tasks > 0 ? o.tasks : 1);
        FLEXCL_CALL(flexcl_results_attr_string(res, "/", "task_split", split));
    }
    {
        /* The --set options, one per line: with job_text they rebuild the job
         * (flexcl merge writes the merged /index from them). */
        char ov[8192] = "";
        for (size_t k = 0; k < o.n_overrides; ++k) {
            size_t used = strlen(ov);
            snprintf(ov + used, sizeof ov - used, "%s%s", k ? "\n" : "", o.overrides[k]);
        }
        FLEXCL_CALL(flexcl_results_attr_string(res, "/", "job_overrides", ov));
    }
    FLEXCL_CALL(flexcl_results_finish(res));
    FLEXCL_CALL(remove_parts(comm, parts, lo, hi));
    locked = 0;
    if (rank == 0) {
        char t[32];
        iso_time(time(NULL), t, sizeof t);
        printf("flexcl: %zu grid point(s) on %d rank(s) done at %s\nresults: %s\n", hi - lo,
               nprocs, t, out_path);
    }
done:
    free(mine);
    flexcl_results_destroy(&res);
    flexcl_job_destroy(&job);
    /* Errors and the signal stop (exit status 3) end here too: the parts
     * directory stays for the rerun, and the lock goes. */
    if (locked && rank == 0) flexcl_cli_lock_release(parts);
    if (err != FLEXCL_OK && rank == 0) {
        /* A full disk (or quota) is not the end of the run: say how to go on. */
        if (err == FLEXCL_ERR_NOSPACE && parts[0])
            fprintf(stderr, "flexcl: error: %s; finished grid points are kept in %s: free space and "
                    "rerun the same command to resume\n", flexcl_error_message(), parts);
        else
            fprintf(stderr, "flexcl: error: %s\n", flexcl_error_message());
        if (o.trace) fprintf(stderr, "%s", flexcl_error_trace());
    }
    return exit_status(err);
}

/* `flexcl plan JOB.ini [--tasks N] [--out DIR] [--set ...]`: the grid, without running it. */
int flexcl_cli_plan(MPI_Comm comm, int argc, char **argv)
{
    flexcl_code err = FLEXCL_OK;
    run_options o;
    flexcl_job *job = NULL;
    int rank = 0;
    char stem[256];
    MPI_Comm_rank(comm, &rank);
    int st = parse_options(argc, argv, rank, 1, &o);
    if (st) return st;
    if (o.help) {
        if (rank == 0)
            printf("usage: flexcl plan JOB.ini [--tasks N] [--out DIR] [--set section.key=value ...]\n"
                   "Prints the grid points of the job (index, task, sub-grid, experiment, seed,\n"
                   "output file, parameters) without running anything.\n");
        return 0;
    }
    FLEXCL_CALL(flexcl_job_load(comm, o.job_path, o.n_overrides, o.overrides, &job));
    job_stem(o.job_path, stem, sizeof stem);
    if (rank == 0) {
        size_t n = flexcl_job_n_points(job);
        long tasks = o.tasks > 0 ? o.tasks : 1;
        printf("job: %s\ngrid points: %zu\naxes:", o.job_path, n);
        for (size_t a = 0; a < flexcl_job_n_axes(job); ++a)
            printf(" %s(%zu)", flexcl_job_axis_name(job, a), flexcl_job_axis_length(job, a));
        printf("%s\ntasks: %ld\n", flexcl_job_n_axes(job) ? "" : " none", tasks);
        printf("%-7s %-5s %-12s %-13s %-10s %-24s %s\n", "index", "task", "subgrid", "experiment",
               "seed", "output", "parameters");
        for (size_t i = 0; i < n; ++i) {
            flexcl_settings s;
            FLEXCL_CALL(flexcl_job_point(job, i, &s));
            long t = task_of(n, i, tasks);
            char out[FLEXCL_PATH_MAX + 64];
            if (o.tasks > 0) snprintf(out, sizeof out, "%s/task_%ld.h5", o.out_dir, t);
            else snprintf(out, sizeof out, "%s/%s.h5", o.out_dir, stem);
            const char *sub = flexcl_job_point_subgrid(job, i);
            printf("%-7zu %-5ld %-12s %-13s %-10llu %-24s", i, t, sub[0] ? sub : "-",
                   flexcl_experiment_name(s.run.experiment),
                   (unsigned long long)s.run.seed, out);
            for (size_t a = 0; a < flexcl_job_n_axes(job); ++a)
                printf(" %s=%s", flexcl_job_axis_name(job, a), flexcl_job_point_value(job, i, a));
            printf(" replicate=%d\n", flexcl_job_point_replicate(job, i));
        }
        int by_rep = 0;
        for (size_t i = 0; i < flexcl_job_n_points(job) && !by_rep; ++i)
            by_rep = flexcl_job_stream_point(job, i) != (uint64_t)i;
        printf("streams: Philox key (seed, %s, learner or chain id)\n",
               by_rep ? "replicate index: run.streams = replicate" : "point index");
    }
done:
    flexcl_job_destroy(&job);
    if (err != FLEXCL_OK && rank == 0) {
        fprintf(stderr, "flexcl: error: %s\n", flexcl_error_message());
        if (o.trace) fprintf(stderr, "%s", flexcl_error_trace());
    }
    return exit_status(err);
}
