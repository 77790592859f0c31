/* `flexcl run JOB.ini`: expand the grid, train the learners of every grid
 * point, record learning curves and final parameters into one HDF5 file. */
#include <errno.h>
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
#include "flexcl/flexcl.h"

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
} run_options;

static void print_keys(void)
{
    printf("usage: flexcl run JOB.ini [--out DIR] [--set section.key=value ...] [--quiet] [--trace]\n\n"
           "Job-file keys (INI sections [run] [data] [model] [estimator] [optim]).\n"
           "Keys marked 'grid' accept a list \"a, b, c\", linspace(a, b, n) or logspace(a, b, n).\n\n");
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

/* Make the output directory (rank 0) and let all ranks agree. */
static flexcl_code make_out_dir(MPI_Comm comm, const char *dir)
{
    flexcl_code err = FLEXCL_OK;
    int rank, ok = 1;
    char why[256] = "";
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) {
        struct stat st;
        if (stat(dir, &st) != 0) {
            if (mkdir(dir, 0777) != 0) {
                ok = 0;
                snprintf(why, sizeof why, "%s", strerror(errno));
            }
        } else if (!S_ISDIR(st.st_mode)) {
            ok = 0;
            snprintf(why, sizeof why, "not a directory");
        }
    }
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
    uint64_t *phases;   /* L x n_eval */
    uint64_t *updates;  /* L x n_eval */
    double *theta;      /* L x P */
} point_record;

static void record_free(point_record *r)
{
    free(r->steps);
    free(r->nll);
    free(r->error);
    free(r->phases);
    free(r->updates);
    free(r->theta);
    memset(r, 0, sizeof *r);
}

static flexcl_code write_point(flexcl_results *res, const flexcl_job *job, size_t i,
                               const flexcl_settings *s, flexcl_learner *lr,
                               const point_record *rec, const flexcl_data *data)
{
    flexcl_code err = FLEXCL_OK;
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
    snprintf(path, sizeof path, "%s/curve/phases", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, (size_t)G, rec->n_eval, first,
                                              (size_t)L, rec->phases));
    snprintf(path, sizeof path, "%s/curve/updates", g);
    FLEXCL_CALL(flexcl_results_write_rows_u64(res, path, (size_t)G, rec->n_eval, first,
                                              (size_t)L, rec->updates));
    snprintf(path, sizeof path, "%s/params/theta", g);
    FLEXCL_CALL(flexcl_results_write_rows(res, path, (size_t)G, P, first, (size_t)L, rec->theta));
    for (size_t k = 0; k < flexcl_model_n_blocks(m); ++k) {
        flexcl_param_block b = flexcl_model_block(m, k);
        char name[64], dims[64];
        snprintf(name, sizeof name, "%s_offset", b.name);
        FLEXCL_CALL(flexcl_results_attr_int(res, path, name, (long long)b.offset));
        snprintf(name, sizeof name, "%s_shape", b.name);
        snprintf(dims, sizeof dims, "%zu,%zu", b.rows, b.cols);
        FLEXCL_CALL(flexcl_results_attr_string(res, path, name, dims));
    }
done:
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

/* isd_variance / aol_bias: θ₀, the samples, and the point's group. */
static flexcl_code run_experiment_point(MPI_Comm comm, const flexcl_job *job, size_t i,
                                        const flexcl_settings *s, const flexcl_data *data,
                                        flexcl_results *res, int quiet)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_model *m = NULL;
    flexcl_experiment_result *r = NULL;
    char g[64];
    int rank;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    flexcl_stream init = flexcl_stream_make(s->run.seed, i, 0);
    FLEXCL_CALL(flexcl_model_create(&s->model, flexcl_data_dim(data), flexcl_data_classes(data),
                                    &init, &m));
    double t0 = MPI_Wtime();
    FLEXCL_CALL(flexcl_theta0_make(comm, s, data, m));
    FLEXCL_CALL(flexcl_experiment_run(comm, s, i, data, m, &r));
    snprintf(g, sizeof g, "points/%06zu", i);
    FLEXCL_CALL(flexcl_results_group(res, g));
    FLEXCL_CALL(flexcl_point_write_attrs(res, g, job, i, s, data, (int)s->run.chains));
    FLEXCL_CALL(flexcl_experiment_write(res, g, r));
    if (!quiet && rank == 0) {
        double el = MPI_Wtime() - t0;
        flexcl_log(FLEXCL_LOG_INFO, "point %zu/%zu %s b=%g eta=%g tau=%g: %llu samples in %.1f s (%.0f/s)",
                   i + 1, flexcl_job_n_points(job),
                   s->run.experiment == FLEXCL_EXP_AOL_BIAS ? "aol_bias" : "isd_variance",
                   s->estimator.b, s->estimator.eta, s->estimator.tau,
                   (unsigned long long)s->run.samples, el, (double)s->run.samples / (el > 0 ? el : 1));
    }
done:
    flexcl_experiment_result_destroy(&r);
    flexcl_model_destroy(&m);
    return err;
}

/* Train the learners of grid point i and write its group. */
static flexcl_code run_point(MPI_Comm comm, const flexcl_job *job, size_t i,
                             flexcl_results *res, int quiet)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_settings s;
    flexcl_data *data = NULL;
    flexcl_learner *lr = NULL;
    point_record rec = {0};
    int rank;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    FLEXCL_CALL(flexcl_job_point(job, i, &s));
    if (s.run.threads > 0) omp_set_num_threads(s.run.threads);
    FLEXCL_CALL(agree(comm, flexcl_data_create(&s.data, &data)));
    if (s.run.experiment != FLEXCL_EXP_TRAIN) {
        FLEXCL_CALL(run_experiment_point(comm, job, i, &s, data, res, quiet));
        goto done;
    }

    flexcl_learner_settings ls = {s.run.seed, i, s.run.learners_per_rank, s.run.average_every};
    FLEXCL_CALL(flexcl_learner_create(comm, &ls, &s.model, &s.estimator, &s.optim, data,
                                      s.run.same_init, &lr));
    int L = flexcl_learner_local_count(lr);
    size_t P = flexcl_model_n_params(flexcl_learner_model(lr, 0));
    rec.n_eval = (size_t)(s.run.steps / s.run.eval_every) + 1 +
                 (s.run.steps % s.run.eval_every ? 1 : 0);
    FLEXCL_ALLOC(rec.steps, rec.n_eval);
    FLEXCL_ALLOC(rec.nll, (size_t)L * rec.n_eval);
    FLEXCL_ALLOC(rec.error, (size_t)L * rec.n_eval);
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
    for (size_t e = 0; e < rec.n_eval; ++e) {
        if (e > 0) {
            FLEXCL_CALL(stop_requested(comm));
            uint64_t n = s.run.eval_every;
            if (done_steps + n > s.run.steps) n = s.run.steps - done_steps;
            FLEXCL_CALL(agree(comm, flexcl_learner_advance(lr, n)));
            done_steps += n;
        }
        rec.steps[e] = done_steps;
        for (int k = 0; k < L; ++k) {
            flexcl_metrics mt;
            FLEXCL_CALL(flexcl_model_evaluate(flexcl_learner_model(lr, k), data, &mt));
            rec.nll[(size_t)k * rec.n_eval + e] = mt.nll;
            rec.error[(size_t)k * rec.n_eval + e] = mt.error_rate;
            rec.phases[(size_t)k * rec.n_eval + e] = flexcl_learner_phases(lr, k);
            rec.updates[(size_t)k * rec.n_eval + e] = flexcl_learner_updates(lr, k);
        }
        if (!quiet && rank == 0 && (e == 0 || e + 1 == rec.n_eval || e % 5 == 0)) {
            double el = MPI_Wtime() - t0;
            flexcl_log(FLEXCL_LOG_INFO,
                       "point %zu/%zu [%s] step %llu/%llu  nll(learner 0) %.3f  %.1f s",
                       i + 1, flexcl_job_n_points(job), label,
                       (unsigned long long)done_steps, (unsigned long long)s.run.steps,
                       rec.nll[e], el);
        }
    }
    for (int k = 0; k < L; ++k)
        memcpy(rec.theta + (size_t)k * P, flexcl_model_params(flexcl_learner_model(lr, k)),
               P * sizeof(double));
    FLEXCL_CALL(write_point(res, job, i, &s, lr, &rec, data));
done:
    record_free(&rec);
    flexcl_learner_destroy(&lr);
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
static flexcl_code check_existing(MPI_Comm comm, const char *path, const char *hash, int *complete)
{
    flexcl_code err = FLEXCL_OK;
    int rank, state = 0; /* 0 absent, 1 same job, 2 other job */
    char msg[FLEXCL_PATH_MAX + 256] = "";
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0 && access(path, F_OK) == 0) {
        char old[64];
        if (flexcl_results_read_attr_string(path, "/", "job_hash", old, sizeof old) == FLEXCL_OK &&
            strcmp(old, hash) == 0) {
            state = 1;
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
 * to this job and task. Collective. */
static flexcl_code open_parts(MPI_Comm comm, const char *parts, const char *hash, const run_options *o,
                              size_t n_points)
{
    flexcl_code err = FLEXCL_OK;
    int rank, ok = 1;
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
        } else if (!(f = fopen(manifest, "w")) || fputs(want, f) < 0 || fclose(f) != 0) {
            ok = 0;
            snprintf(msg, sizeof msg, "%s: cannot write: %s", manifest, strerror(errno));
        }
    }
    FLEXCL_MPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    FLEXCL_MPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
    FLEXCL_CHECK(ok, FLEXCL_ERR_JOB, "%s", msg);
done:
    return err;
}

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
        }
        snprintf(p, sizeof p, "%s/manifest", parts);
        unlink(p);
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
    int rank = 0;
    char out_path[FLEXCL_PATH_MAX + 64], stem[256], cmdline[4096] = "";
    char parts[FLEXCL_PATH_MAX + 80];
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
    FLEXCL_CALL(check_existing(comm, out_path, hash, &complete));
    if (complete) {
        if (rank == 0)
            printf("flexcl: %s is already complete; nothing to do\nresults: %s\n", out_path, out_path);
        goto done;
    }
    /* Every grid point goes to its own file in <out>.parts/ first, written
     * under a temporary name and renamed when complete: a killed or
     * preempted run keeps every finished point, and a rerun skips them. */
    snprintf(parts, sizeof parts, "%s.parts", out_path);
    FLEXCL_CALL(open_parts(comm, parts, hash, &o, n_points));
    FLEXCL_ALLOC(mine, hi > lo ? hi - lo : 1);
    size_t resumed = 0;
    for (size_t i = lo; i < hi; ++i) {
        mine[i - lo] = i;
        char part[FLEXCL_PATH_MAX + 128];
        snprintf(part, sizeof part, "%s/%06zu.h5", parts, i);
        int have = 0;
        if (rank == 0) have = access(part, F_OK) == 0;
        FLEXCL_MPI(MPI_Bcast(&have, 1, MPI_INT, 0, comm));
        if (have) {
            resumed++;
            continue;
        }
        FLEXCL_CALL(stop_requested(comm));
        FLEXCL_CALL(flexcl_results_create(comm, part, &res));
        FLEXCL_CALL(run_point(comm, job, i, res, o.quiet));
        FLEXCL_CALL(flexcl_results_finish(res));
        flexcl_results_destroy(&res);
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
    if (err != FLEXCL_OK && rank == 0) {
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
                   s.run.experiment == FLEXCL_EXP_TRAIN ? "train"
                   : s.run.experiment == FLEXCL_EXP_ISD_VARIANCE ? "isd_variance" : "aol_bias",
                   (unsigned long long)s.run.seed, out);
            for (size_t a = 0; a < flexcl_job_n_axes(job); ++a)
                printf(" %s=%s", flexcl_job_axis_name(job, a), flexcl_job_point_value(job, i, a));
            printf(" replicate=%d\n", flexcl_job_point_replicate(job, i));
        }
        printf("streams: Philox key (seed, point index, learner or chain id)\n");
    }
done:
    flexcl_job_destroy(&job);
    if (err != FLEXCL_OK && rank == 0) {
        fprintf(stderr, "flexcl: error: %s\n", flexcl_error_message());
        if (o.trace) fprintf(stderr, "%s", flexcl_error_trace());
    }
    return exit_status(err);
}
