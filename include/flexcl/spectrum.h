/* flexcl/spectrum.h — eigen-spectra of the gradient-noise covariance.
 *
 * For a grid point whose group holds raw samples X = samples/ghat [M, P]
 * (experiment = isd_variance), the spectrum is the eigen-decomposition of
 * the P x P sample covariance
 *
 *     C = (X - 1 xbar^T)^T (X - 1 xbar^T) / (M - 1),   xbar = the mean row of X,
 *
 * computed with ScaLAPACK on a BLACS process grid built from the
 * communicator passed in (never the world communicator):
 *
 *   1. each rank reads a contiguous block of the M rows (one collective
 *      parallel-HDF5 read; the chunks hold whole rows, so no chunk is
 *      decompressed twice) and the column means are summed over ranks;
 *   2. the centred block, which in memory is the column-major P x m_r block
 *      of Y = X^T, is redistributed with pdgemr2d into an NB x NB
 *      block-cyclic layout on the grid_rows x grid_cols grid;
 *   3. pdsyrk forms the lower triangle of C = Y Y^T / (M - 1), block-cyclic;
 *   4. pdsyevd returns every eigenvalue on every rank (and the eigenvectors,
 *      distributed); the K leading ones are redistributed into column blocks
 *      over the ranks and written in parallel.
 *
 * What is written into points/%06d/ (see docs/schema.md for the rest):
 *
 *   spectrum/eigenvalues   double [P]     eigenvalues of C, descending
 *   spectrum/eigenvectors  double [K, P]  row k: unit eigenvector of the k-th
 *                                         largest eigenvalue, its largest-
 *                                         magnitude component positive (only
 *                                         when K > 0)
 *   attributes of spectrum: samples (M), parameters (P), source
 *   ("samples/ghat"), grid ("RxC"), grid_rows, grid_cols, block (NB),
 *   ranks, vectors (K), solver, trace (sum of eigenvalues),
 *   participation_ratio ((sum l)^2 / sum l^2), flexcl_version, git_describe,
 *   time (UTC ISO 8601, end), seconds (wall time of the computation),
 *   command_line.
 *
 * The group is built as "spectrum.partial" and renamed to "spectrum" only
 * when complete, so an interrupted run never leaves a spectrum that looks
 * finished (a leftover partial group is removed by the next run). The file
 * is changed in place; space of a replaced spectrum is not reclaimed (use
 * h5repack).
 *
 * Memory per rank, in doubles, peaks at about 4*P*P / ranks during pdsyevd
 * (C, the eigenvectors and its divide-and-conquer workspace), 12.8 GB
 * allocated in total at P = 20 000; before that 2*P*M / ranks (the samples
 * in both layouts) and (P*M + P*P) / ranks (pdsyrk). ScaLAPACK indexes
 * local arrays with 32-bit integers, so each rank's share of C, of the
 * workspace and of the samples must stay below 2^31 elements (checked,
 * FLEXCL_ERR_ARG); more ranks lift the limit. pdsyevd's own workspace
 * minimum is short in two corner cases of ScaLAPACK 2.2.1 (see
 * src/spectrum.c and docs/spectrum.md); the workspace used covers both.
 */
#ifndef FLEXCL_SPECTRUM_H
#define FLEXCL_SPECTRUM_H

#include <mpi.h>
#include <stddef.h>

#include "flexcl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /* BLACS process grid. Both 0 (the default): the squarest grid of the
     * communicator's ranks with grid_rows <= grid_cols. Otherwise
     * grid_rows * grid_cols must equal the number of ranks. */
    int grid_rows;
    int grid_cols;
    /* Block-cyclic block size NB (rows and columns), >= 1; default 64. */
    int block;
    /* K: number of leading eigenvectors to store, 0 <= K <= P; default 0. */
    int vectors;
    /* 1 = replace an existing spectrum group; default 0 = fail with
     * FLEXCL_ERR_ARG when the point already has one. */
    int replace;
    /* Stored verbatim as the attribute command_line (rank 0's value);
     * NULL = "". Default NULL. */
    const char *command_line;
} flexcl_spectrum_settings;

/* Fill s with the defaults above. Not collective. */
void flexcl_spectrum_settings_default(flexcl_spectrum_settings *s);

/* What one computation did; identical on every rank. */
typedef struct {
    size_t point;                 /* grid point index */
    size_t samples;               /* M, raw samples used */
    size_t parameters;            /* P */
    int grid_rows, grid_cols;     /* BLACS grid used */
    int block;                    /* NB */
    int vectors;                  /* K stored */
    double b;                     /* the point's attribute b; NaN when absent */
    double lambda_max;            /* largest eigenvalue */
    double trace;                 /* sum of the eigenvalues */
    double participation_ratio;   /* (sum l)^2 / sum l^2 (effective rank) */
    /* Wall time in seconds, the maximum over ranks of each phase. */
    double seconds_read;          /* HDF5 read and centring */
    double seconds_covariance;    /* pdgemr2d + pdsyrk */
    double seconds_eigen;         /* pdsyevd (+ eigenvector gathering) */
    double seconds_write;         /* writing the group */
    double seconds;               /* all of it */
} flexcl_spectrum_info;

typedef struct flexcl_spectrum flexcl_spectrum;

/* Open the results file at path for reading and writing with the MPI-IO
 * driver on a duplicate of comm and set up the BLACS grids. Validates s at
 * the door (FLEXCL_ERR_ARG naming the field and value, e.g. a grid whose
 * product is not the number of ranks); a missing, unreadable or non-HDF5
 * file fails with FLEXCL_ERR_IO naming the path. s may be NULL (defaults);
 * its strings are copied. Collective on comm. Release with
 * flexcl_spectrum_destroy. */
flexcl_code flexcl_spectrum_create(MPI_Comm comm, const char *path,
                                   const flexcl_spectrum_settings *s,
                                   flexcl_spectrum **out);

/* The grid points of the file whose group holds samples/ghat, ascending.
 * *points is malloc'd (free() it; NULL when *n is 0) and the same on every
 * rank. Collective. */
flexcl_code flexcl_spectrum_points(flexcl_spectrum *sp, size_t **points, size_t *n);

/* Compute and write the spectrum of grid point `point` (layout above). A
 * point that does not exist fails with FLEXCL_ERR_ARG; one without
 * samples/ghat, or with fewer than 2 samples, with FLEXCL_ERR_DATA; an
 * existing spectrum without settings.replace with FLEXCL_ERR_ARG; K > P
 * with FLEXCL_ERR_ARG; a failure of pdsyevd with FLEXCL_ERR_NUMERIC. Every
 * rank returns the same code. info may be NULL. Collective. */
flexcl_code flexcl_spectrum_compute(flexcl_spectrum *sp, size_t point,
                                    flexcl_spectrum_info *info);

/* The eigenvalues (descending) of the last successful computation, the same
 * on every rank; *n receives P. NULL (and *n = 0) before the first one.
 * Owned by sp, valid until the next compute or destroy. Not collective. */
const double *flexcl_spectrum_eigenvalues(const flexcl_spectrum *sp, size_t *n);

/* The grid actually used (after defaults). Not collective. */
void flexcl_spectrum_grid(const flexcl_spectrum *sp, int *grid_rows, int *grid_cols);

/* Close the file, release the BLACS grids. NULL-safe; sets *sp to NULL.
 * Collective. */
void flexcl_spectrum_destroy(flexcl_spectrum **sp);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_SPECTRUM_H */
