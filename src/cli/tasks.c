/* `flexcl merge DIR` and `flexcl status DIR`: the task files of an array job
 * (DIR/task_<i>.h5, complete; DIR/task_<i>.h5.parts/, started). */
#include <dirent.h>
#include <errno.h>
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
            snprintf(path, sizeof path, "%s/%s/manifest", dir, e->d_name);
            FILE *f = fopen(path, "r");
            char line[128];
            while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "tasks %ld", &tasks) == 1) break;
            if (f) fclose(f);
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

static task_state state_of(const char *dir, long t, int *points_done)
{
    char p[FLEXCL_PATH_MAX + 64];
    *points_done = 0;
    snprintf(p, sizeof p, "%s/task_%ld.h5", dir, t);
    if (exists(p)) return TASK_DONE;
    snprintf(p, sizeof p, "%s/task_%ld.h5.parts", dir, t);
    DIR *d = opendir(p);
    if (!d) return TASK_MISSING;
    time_t newest = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char f[FLEXCL_PATH_MAX + 384];
        struct stat st;
        snprintf(f, sizeof f, "%s/%s", p, e->d_name);
        if (e->d_name[0] == '.' || stat(f, &st) != 0) continue;
        if (st.st_mtime > newest) newest = st.st_mtime;
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".h5") == 0) (*points_done)++;
    }
    closedir(d);
    /* Something written in the last two minutes: a process is at work. */
    return time(NULL) - newest < 120 ? TASK_RUNNING : TASK_CHECKPOINTED;
}

/* Parse "DIR [--tasks N] [-o FILE]" shared by merge and status. */
static int parse(int argc, char **argv, int rank, const char **dir, long *tasks, const char **out)
{
    *dir = NULL;
    *tasks = 0;
    if (out) *out = NULL;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) {
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
    int rank;
    MPI_Comm_rank(comm, &rank);
    int st = parse(argc, argv, rank, &dir, &tasks, NULL);
    if (st || rank != 0) return st;
    char why[FLEXCL_PATH_MAX + 128] = "";
    tasks = count_tasks(dir, tasks, why, sizeof why);
    if (tasks < 0) {
        fprintf(stderr, "flexcl: error: %s\n", why);
        return 2;
    }
    long n[4] = {0, 0, 0, 0};
    static const char *names[] = {"missing", "done", "running", "checkpointed"};
    printf("%-8s %-13s %s\n", "task", "state", "points in checkpoint");
    for (long t = 0; t < tasks; ++t) {
        int pts = 0;
        task_state s = state_of(dir, t, &pts);
        n[s]++;
        if (s == TASK_DONE || s == TASK_MISSING) printf("%-8ld %-13s\n", t, names[s]);
        else printf("%-8ld %-13s %d\n", t, names[s], pts);
    }
    printf("%s: %ld/%ld tasks done, %ld running, %ld checkpointed, %ld missing\n", dir, n[TASK_DONE],
           tasks, n[TASK_RUNNING], n[TASK_CHECKPOINTED], n[TASK_MISSING]);
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
    int st = parse(argc, argv, rank, &dir, &tasks, &out_arg);
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
