/* Time and peak memory of `flexcl spectrum` on synthetic samples.
 *
 * usage: mpiexec -n R spectrum_bench P [M] [--block NB] [--vectors K] [--dir DIR]
 *
 * Writes a results file with one isd_variance-like grid point holding M x P
 * synthetic samples (a rank-8 signal plus noise, generated from a hash of
 * the indices, so the same at any rank count), then times
 * flexcl_spectrum_create + compute + destroy on it and prints
 *
 *   spectrum_P<P>: ranks=R seconds=S peak_MiB=M
 *
 * where S is the wall time of the spectrum (the slowest rank) and M the
 * largest peak resident set (getrusage ru_maxrss) over the ranks, which
 * includes the smaller peak of writing the synthetic file. One process per
 * size: ru_maxrss never goes down. A second line splits the time into
 * phases. Results never depend on the thread count; set OMP_NUM_THREADS and
 * OPENBLAS_NUM_THREADS to compare like with like. */
#include <ftw.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "flexcl/flexcl.h"

static int rank = 0, size = 1;

static void die(const char *what)
{
    if (rank == 0 || flexcl_error_code() != FLEXCL_OK)
        fprintf(stderr, "spectrum_bench: rank %d: %s: %s\n", rank, what, flexcl_error_message());
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* A uniform in [-1, 1) from two indices (splitmix64). */
static double hash_uniform(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0xD1B54A32D192ED03ULL);
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return (double)(x >> 11) * 0x1.0p-52 - 1.0;
}

enum { RANK_SIGNAL = 8 };

/* Sample i, parameter j: sum_r s_r xi_r(i) u_r(j) + 0.1 noise(i, j). */
static double sample(uint64_t i, uint64_t j)
{
    double v = 0.1 * hash_uniform(i, j + 7777777);
    for (int r = 0; r < RANK_SIGNAL; r++)
        v += (1.0 / (r + 1)) * hash_uniform(i, 1000000000ULL + (uint64_t)r) *
             hash_uniform(2000000000ULL + (uint64_t)r, j);
    return v;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    long P = 0, M = 1000, block = 64, vectors = 0;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--block") == 0 && i + 1 < argc) block = atol(argv[++i]);
        else if (strcmp(argv[i], "--vectors") == 0 && i + 1 < argc) vectors = atol(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (P == 0) P = atol(argv[i]);
        else M = atol(argv[i]);
    }
    if (P < 1 || M < 2 || block < 1 || vectors < 0) {
        if (rank == 0)
            fprintf(stderr, "usage: spectrum_bench P [M] [--block NB] [--vectors K] [--dir DIR]\n");
        MPI_Finalize();
        return 2;
    }

    char tmp[4096] = "", path[4200];
    int ok = 1;
    if (rank == 0) {
        snprintf(tmp, sizeof tmp, "%s/flexcl_spectrum_bench_XXXXXX", dir);
        ok = mkdtemp(tmp) != NULL;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok) {
        if (rank == 0) fprintf(stderr, "spectrum_bench: cannot create a directory in %s\n", dir);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "%s/bench.h5", tmp);

    /* The synthetic file: this rank's contiguous rows. */
    {
        flexcl_results *r = NULL;
        size_t first = (size_t)M * (size_t)rank / (size_t)size;
        size_t n = (size_t)M * (size_t)(rank + 1) / (size_t)size - first;
        double *x = malloc((n ? n : 1) * (size_t)P * sizeof *x);
        if (x == NULL) {
            fprintf(stderr, "spectrum_bench: rank %d: out of memory\n", rank);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t i = 0; i < n; i++)
            for (long j = 0; j < P; j++) x[i * (size_t)P + (size_t)j] = sample(first + i, (uint64_t)j);
        if (flexcl_results_create(MPI_COMM_WORLD, path, &r) != FLEXCL_OK) die("create");
        if (flexcl_results_group(r, "points/000000") != FLEXCL_OK) die("group");
        if (flexcl_results_attr_string(r, "points/000000", "experiment", "isd_variance") !=
            FLEXCL_OK)
            die("attribute");
        if (flexcl_results_attr_double(r, "points/000000", "b", 0.5) != FLEXCL_OK)
            die("attribute");
        if (flexcl_results_write_rows(r, "points/000000/samples/ghat", (size_t)M, (size_t)P,
                                      first, n, x) != FLEXCL_OK)
            die("samples");
        if (flexcl_results_finish(r) != FLEXCL_OK) die("finish");
        flexcl_results_destroy(&r);
        free(x);
    }

    flexcl_spectrum *sp = NULL;
    flexcl_spectrum_settings s;
    flexcl_spectrum_info info;
    flexcl_spectrum_settings_default(&s);
    s.block = (int)block;
    s.vectors = (int)vectors;
    s.command_line = "spectrum_bench";
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp) != FLEXCL_OK) die("spectrum create");
    if (flexcl_spectrum_compute(sp, 0, &info) != FLEXCL_OK) die("spectrum compute");
    flexcl_spectrum_destroy(&sp);
    double seconds = MPI_Wtime() - t0, slowest = 0.0;
    MPI_Reduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long mine = ru.ru_maxrss, peak = 0; /* KiB on Linux */
    MPI_Reduce(&mine, &peak, 1, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("spectrum_P%ld: ranks=%d seconds=%.2f peak_MiB=%.0f\n", P, size, slowest,
               (double)peak / 1024.0);
        printf("  M=%ld grid %dx%d NB=%d: read %.2f s, covariance %.2f s, eigen %.2f s, "
               "write %.2f s; lambda_1=%.6g trace=%.6g participation ratio=%.2f\n",
               M, info.grid_rows, info.grid_cols, info.block, info.seconds_read,
               info.seconds_covariance, info.seconds_eigen, info.seconds_write,
               info.lambda_max, info.trace, info.participation_ratio);
        fflush(stdout);
        nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    MPI_Finalize();
    return 0;
}
