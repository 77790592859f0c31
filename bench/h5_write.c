/* h5_write: chunked writes of gradient samples from 2 ranks through flexcl's
 * results API (flexcl/results.h: parallel HDF5, chunks of whole rows of
 * about 1 MiB, one H5Dwrite: a collective transfer for deflated chunks, an
 * independent one for unfiltered chunks) against a plain sequential write(2)
 * of the same bytes by one process, in the same run, to the same directory.
 * Run under mpiexec -n 2.
 *
 * Both storage modes of run.sample_compression are timed: `none` (chunked,
 * unfiltered: what a user who wants write throughput chooses, and the
 * figure on the final line) and `deflate` (shuffle + deflate level 1, the
 * default, which makes the file far smaller and costs CPU time).
 *
 * The samples are real ISD gradient samples ĝ = w_z G(z) of an RBM with
 * 16 hidden units on binarised Fashion-MNIST with its label block (794
 * visible, P = 13 514 parameters): each rank draws its half of the M rows
 * from its own learner stream.
 *
 * Durability. flexcl_results_finish flushes the file before it renames it
 * (H5Fflush, which with the MPI-IO driver is MPI_File_sync, i.e. fsync):
 * the results file is on disk before it gets its final name, and a full
 * disk is reported before the close. The plain reference is therefore
 * timed twice: write(2) + fsync + close (the same end state as the HDF5
 * file: the final line's reference) and write(2) + close (page cache only,
 * which the HDF5 file never stops at; its ratio is printed too). Every
 * timed write starts after a sync(2) (not timed), so that none pays for
 * another's writeback. ratio = plain time / HDF5 time (throughput of
 * the HDF5 write over that of the plain one), best of ROUNDS interleaved
 * repetitions each.
 *
 * Usage: mpiexec -n 2 h5_write [DIR] [M]   (goal: ratio >= 0.8) */
#include <fcntl.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "flexcl/data.h"
#include "flexcl/model.h"
#include "flexcl/results.h"
#include "flexcl/rng.h"

enum { ROUNDS = 5, N_HIDDEN = 16, SWEEPS = 5 };

/* Before every timed write: write out every dirty page of the machine
 * (sync(2)), so that no write pays for the previous one's writeback or for
 * freeing its blocks (this file system is mounted with discard, and a
 * journal commit after a large unlink issues the discards). */
static void sync_all(void) { sync(); }

/* One process writes n bytes to path with sequential write(2) calls of
 * 16 MiB, fsyncs when sync is set, and closes; the time in seconds, or a
 * negative number on failure. The file is removed afterwards. */
static double plain_write(const char *path, const void *buf, size_t n, int sync)
{
    double t0 = bench_now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const char *p = buf;
    size_t left = n;
    while (fd >= 0 && left > 0) {
        ssize_t w = write(fd, p, left > (1u << 24) ? (1u << 24) : left);
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    int bad = fd < 0 || left > 0 || (sync && fsync(fd) != 0);
    bad |= fd >= 0 && close(fd) != 0;
    double t = bench_now() - t0;
    unlink(path);
    return bad ? -1.0 : t;
}

/* n ISD samples of the RBM into out (n x P): a phase of SWEEPS Gibbs sweeps
 * from a data row, type z ~ Bernoulli(½), ĝ = ±2 G. */
static int make_samples(const flexcl_data *d, int rank, size_t n, double *out, size_t *P)
{
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    ms.n_hidden = N_HIDDEN;
    flexcl_stream s = flexcl_stream_make(7, 0, (uint64_t)rank);
    flexcl_model *m = NULL;
    flexcl_chain *c = NULL;
    if (flexcl_model_create(&ms, flexcl_data_dim(d), flexcl_data_classes(d), &s, &m) != FLEXCL_OK ||
        flexcl_chain_create(m, 1, &c) != FLEXCL_OK)
        return 1;
    *P = flexcl_model_n_params(m);
    uint64_t t = 0;
    for (size_t k = 0; k < n; ++k) {
        size_t row = (size_t)(flexcl_stream_uniform1(&s, k, FLEXCL_RNG_DATA, 0) *
                              (double)flexcl_data_rows(d));
        const float *rows[1] = {flexcl_data_row(d, row)};
        int pos = flexcl_stream_uniform1(&s, k, FLEXCL_RNG_PHASE, 0) < 0.5;
        flexcl_phase ph = pos ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
        flexcl_model_chain_reset(m, c, rows);
        for (int sw = 0; sw < SWEEPS; ++sw) flexcl_model_step(m, c, ph, &s, t++);
        double *g = out + k * *P;
        memset(g, 0, *P * sizeof *g);
        flexcl_model_stats_axpy(m, c, ph, pos ? 2.0 : -2.0, g);
    }
    flexcl_chain_destroy(&c);
    flexcl_model_destroy(&m);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    size_t M = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    if (size != 2 || M % 2) {
        if (rank == 0) fprintf(stderr, "usage: mpiexec -n 2 h5_write [DIR] [EVEN M]\n");
        MPI_Finalize();
        return 2;
    }
    flexcl_data *d = NULL;
    size_t half = M / 2, P = 0;
    double *mine = NULL;
    int bad = bench_fmnist(1, 10000, &d) != FLEXCL_OK;
    if (!bad) {
        mine = malloc(half * (flexcl_data_dim(d) * N_HIDDEN + N_HIDDEN + flexcl_data_dim(d)) *
                      sizeof *mine);
        bad = !mine || make_samples(d, rank, half, mine, &P);
    }
    if (bad) {
        fprintf(stderr, "h5_write: %s\n", flexcl_error_message());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* Rank 0 holds all M rows for the plain write. */
    double *all = rank == 0 ? malloc(M * P * sizeof *all) : NULL;
    MPI_Gather(mine, (int)(half * P), MPI_DOUBLE, all, (int)(half * P), MPI_DOUBLE, 0,
               MPI_COMM_WORLD);
    char h5_path[4096], raw_path[4096];
    snprintf(h5_path, sizeof h5_path, "%s/flexcl_h5_write_%d.h5", dir, (int)getpid());
    MPI_Bcast(h5_path, sizeof h5_path, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(raw_path, sizeof raw_path, "%s/flexcl_h5_write_%d.raw", dir, (int)getpid());
    double bytes = (double)M * (double)P * 8.0;
    if (rank == 0)
        printf("h5_write: %zu gradient samples x %zu parameters = %.1f MB, 2 ranks, dir %s\n", M,
               P, bytes * 1e-6, dir);
    double best_h5[2] = {1e30, 1e30}, best_raw[2] = {1e30, 1e30}, file_mb[2] = {0, 0};
    static const flexcl_compression modes[2] = {FLEXCL_COMPRESSION_NONE,
                                                FLEXCL_COMPRESSION_DEFLATE};
    static const char *const mode_names[2] = {"none", "deflate"};
    for (int r = 0; r < ROUNDS && !bad; ++r) {
        /* Plain: one process, one file, sequential write(2) calls, with
         * and without fsync, close. */
        for (int sync = 1; rank == 0 && sync >= 0; --sync) {
            sync_all();
            double t = plain_write(raw_path, all, M * P * sizeof *all, sync);
            bad |= t < 0;
            if (t >= 0 && t < best_raw[sync]) best_raw[sync] = t;
        }
        MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (bad) break;
        /* HDF5: create, one collective chunked write, close and rename. */
        for (int k = 0; k < 2 && !bad; ++k) {
            if (rank == 0) sync_all();
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            flexcl_results *res = NULL;
            flexcl_code rc = flexcl_results_create(MPI_COMM_WORLD, h5_path, &res);
            if (rc == FLEXCL_OK)
                rc = flexcl_results_write_rows_as(res, "samples", M, P, (size_t)rank * half,
                                                  half, mine, modes[k]);
            if (rc == FLEXCL_OK) rc = flexcl_results_finish(res);
            flexcl_results_destroy(&res);
            double t = MPI_Wtime() - t0, worst = 0.0;
            MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (rc != FLEXCL_OK) {
                fprintf(stderr, "h5_write: %s\n", flexcl_error_message());
                bad = 1;
            }
            best_h5[k] = worst < best_h5[k] ? worst : best_h5[k];
            if (rank == 0) {
                struct stat st;
                if (stat(h5_path, &st) == 0) file_mb[k] = (double)st.st_size * 1e-6;
                unlink(h5_path);
            }
        }
    }
    if (rank == 0 && !bad) {
        printf("plain write(2) + fsync: %.1f MB/s; without fsync (page cache only): %.1f MB/s\n",
               bytes / best_raw[1] * 1e-6, bytes / best_raw[0] * 1e-6);
        for (int k = 0; k < 2; ++k)
            printf("flexcl_results_write_rows_as, %-7s: %.1f MB/s, file %.1f MB: ratio %.3f "
                   "(against write + fsync), %.3f (against write without fsync)\n",
                   mode_names[k], bytes / best_h5[k] * 1e-6, file_mb[k],
                   best_raw[1] / best_h5[k], best_raw[0] / best_h5[k]);
        printf("final line: run.sample_compression = none against write + fsync\n");
        bench_result("h5_write", best_raw[1] / best_h5[0], 0.8);
    }
    free(all);
    free(mine);
    flexcl_data_destroy(&d);
    MPI_Finalize();
    return bad;
}
