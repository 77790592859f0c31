/* `flexcl spectrum RESULTS.h5 [--point I | --all] [--grid RxC] [--block NB]
 * [--vectors K] [--replace] [--quiet] [--trace]`: eigenvalues of the sample
 * covariance of grid points' raw gradient samples, computed with ScaLAPACK
 * over the ranks and written back into each point's group. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "flexcl/flexcl.h"

typedef struct {
    const char *path;
    long point;      /* -1: every point with samples */
    int all;
    int grid_rows, grid_cols;
    int block;
    int vectors;
    int replace;
    int quiet;
    int trace;
    int help;
} spectrum_options;

static void print_help(void)
{
    printf("usage: flexcl spectrum RESULTS.h5 [--point I | --all] [--grid RxC] [--block NB]\n"
           "                      [--vectors K] [--replace] [--quiet] [--trace]\n"
           "\n"
           "For each grid point with raw samples (samples/ghat [M, P], experiment =\n"
           "isd_variance), forms the P x P sample covariance of the M samples block-cyclically\n"
           "over a BLACS process grid of the ranks (ScaLAPACK pdsyrk), computes its\n"
           "eigenvalues with pdsyevd and writes them into points/<I>/spectrum/eigenvalues\n"
           "(descending), with provenance attributes. The file is updated in place.\n"
           "\n"
           "  --point I     only grid point I (default: --all)\n"
           "  --all         every grid point that has raw samples\n"
           "  --grid RxC    process grid, R x C = number of ranks (default: the squarest)\n"
           "  --block NB    block-cyclic block size (default 64)\n"
           "  --vectors K   also store the K leading eigenvectors, spectrum/eigenvectors [K, P]\n"
           "  --replace     replace existing spectra (default: refuse)\n"
           "  --quiet       no per-point lines\n"
           "  --trace       print the error trace on failure\n"
           "\n"
           "Memory: about 4*P*P * 8 bytes over all ranks at the peak (12.8 GB at P = 20000),\n"
           "split evenly; docs/spectrum.md has the algorithm, limits and timings.\n"
           "Launch with mpiexec -n R flexcl spectrum RESULTS.h5.\n");
}

/* A non-negative integer in [lo, hi]; 0 on success. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) return 1;
    *out = v;
    return 0;
}

/* "RxC" with R, C >= 1; 0 on success. */
static int parse_grid(const char *s, int *rows, int *cols)
{
    char buf[64];
    long r = 0, c = 0;
    const char *x = strpbrk(s, "xX");
    if (x == NULL || (size_t)(x - s) >= sizeof buf) return 1;
    memcpy(buf, s, (size_t)(x - s));
    buf[x - s] = '\0';
    if (parse_int(buf, 1, INT_MAX, &r) || parse_int(x + 1, 1, INT_MAX, &c)) return 1;
    *rows = (int)r;
    *cols = (int)c;
    return 0;
}

/* Parse the options; returns 0, or 2 after printing one error line (rank 0). */
static int parse_options(int argc, char **argv, int rank, int size, spectrum_options *o)
{
    memset(o, 0, sizeof *o);
    o->point = -1;
    o->block = 64;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        long v = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = 1;
        } else if (strcmp(a, "--point") == 0 || strcmp(a, "--grid") == 0 ||
                   strcmp(a, "--block") == 0 || strcmp(a, "--vectors") == 0) {
            if (i + 1 >= argc) {
                if (rank == 0) fprintf(stderr, "flexcl: error: %s needs a value\n", a);
                return 2;
            }
            const char *val = argv[++i];
            int bad = 0;
            const char *want = "";
            if (strcmp(a, "--point") == 0) {
                bad = parse_int(val, 0, LONG_MAX, &v);
                want = "a non-negative grid point index";
                o->point = v;
            } else if (strcmp(a, "--grid") == 0) {
                bad = parse_grid(val, &o->grid_rows, &o->grid_cols);
                want = "RxC with positive R and C, e.g. 2x2";
            } else if (strcmp(a, "--block") == 0) {
                bad = parse_int(val, 1, INT_MAX, &v);
                want = "a positive block size";
                o->block = (int)v;
            } else {
                bad = parse_int(val, 0, INT_MAX, &v);
                want = "a non-negative number of eigenvectors";
                o->vectors = (int)v;
            }
            if (bad) {
                if (rank == 0)
                    fprintf(stderr, "flexcl: error: %s '%s': expected %s\n", a, val, want);
                return 2;
            }
        } else if (strcmp(a, "--all") == 0) {
            o->all = 1;
        } else if (strcmp(a, "--replace") == 0) {
            o->replace = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--trace") == 0) {
            o->trace = 1;
        } else if (a[0] == '-') {
            if (rank == 0)
                fprintf(stderr,
                        "flexcl: error: unknown option '%s' (try flexcl spectrum --help)\n", a);
            return 2;
        } else if (o->path == NULL) {
            o->path = a;
        } else {
            if (rank == 0)
                fprintf(stderr, "flexcl: error: unexpected argument '%s' (one results file)\n",
                        a);
            return 2;
        }
    }
    if (o->help) return 0;
    if (o->path == NULL) {
        if (rank == 0)
            fprintf(stderr,
                    "flexcl: error: spectrum needs a results file (flexcl spectrum RESULTS.h5)\n");
        return 2;
    }
    if (o->all && o->point >= 0) {
        if (rank == 0) fprintf(stderr, "flexcl: error: --point and --all exclude each other\n");
        return 2;
    }
    if (o->grid_rows > 0 && (long long)o->grid_rows * o->grid_cols != size) {
        if (rank == 0)
            fprintf(stderr,
                    "flexcl: error: --grid %dx%d needs %lld ranks, running on %d (launch with "
                    "mpiexec -n %lld)\n",
                    o->grid_rows, o->grid_cols, (long long)o->grid_rows * o->grid_cols, size,
                    (long long)o->grid_rows * o->grid_cols);
        return 2;
    }
    return 0;
}

static int exit_status(flexcl_code c)
{
    switch (c) {
    case FLEXCL_OK: return 0;
    case FLEXCL_ERR_JOB:
    case FLEXCL_ERR_ARG:
    case FLEXCL_ERR_DATA:
    case FLEXCL_ERR_IO: return 2;
    default: return 1;
    }
}

int flexcl_cli_spectrum(MPI_Comm comm, int argc, char **argv)
{
    flexcl_code err = FLEXCL_OK;
    spectrum_options o;
    flexcl_spectrum *sp = NULL;
    flexcl_spectrum_settings s;
    size_t *points = NULL, n_points = 0, single = 0;
    int rank = 0, size = 1;
    char cmdline[4096];

    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int st = parse_options(argc, argv, rank, size, &o);
    if (st) return st;
    if (o.help) {
        if (rank == 0) print_help();
        return 0;
    }
    snprintf(cmdline, sizeof cmdline, "flexcl");
    for (int k = 0; k < argc; ++k) {
        size_t used = strlen(cmdline);
        snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[k]);
    }

    flexcl_spectrum_settings_default(&s);
    s.grid_rows = o.grid_rows;
    s.grid_cols = o.grid_cols;
    s.block = o.block;
    s.vectors = o.vectors;
    s.replace = o.replace;
    s.command_line = cmdline;
    FLEXCL_CALL(flexcl_spectrum_create(comm, o.path, &s, &sp));

    if (o.point >= 0) {
        single = (size_t)o.point;
        points = &single;
        n_points = 1;
    } else {
        FLEXCL_CALL(flexcl_spectrum_points(sp, &points, &n_points));
        FLEXCL_CHECK(n_points > 0, FLEXCL_ERR_DATA,
                     "%s: no grid point has raw samples (samples/ghat; run an "
                     "isd_variance job with run.raw_samples > 1)",
                     o.path);
    }
    for (size_t k = 0; k < n_points; ++k) {
        flexcl_spectrum_info info;
        FLEXCL_CALL(flexcl_spectrum_compute(sp, points[k], &info));
        if (!o.quiet && rank == 0) {
            char b[32] = "";
            if (!isnan(info.b)) snprintf(b, sizeof b, " b=%g", info.b);
            printf("point %06zu%s: P=%zu M=%zu grid %dx%d NB=%d: lambda_1=%.6g trace=%.6g "
                   "participation ratio=%.2f%s (%.2f s: read %.2f, covariance %.2f, "
                   "eigen %.2f, write %.2f)\n",
                   info.point, b, info.parameters, info.samples, info.grid_rows,
                   info.grid_cols, info.block, info.lambda_max, info.trace,
                   info.participation_ratio, info.vectors ? ", vectors stored" : "",
                   info.seconds, info.seconds_read, info.seconds_covariance,
                   info.seconds_eigen, info.seconds_write);
            fflush(stdout);
        }
    }
    if (!o.quiet && rank == 0)
        printf("flexcl: spectra of %zu grid point(s) on %d rank(s) written to %s\n", n_points,
               size, o.path);
done:
    if (points != &single) free(points);
    flexcl_spectrum_destroy(&sp);
    if (err != FLEXCL_OK && rank == 0) {
        fprintf(stderr, "flexcl: error: %s\n", flexcl_error_message());
        if (o.trace) fprintf(stderr, "%s", flexcl_error_trace());
    }
    return exit_status(err);
}
