/* flexcl/checkpoint.h — saving and restoring a running grid point.
 *
 * A checkpoint is one HDF5 file, OUT.parts/point_XXXXXX.ckpt.h5 for grid
 * point XXXXXX, holding everything a grid point needs to continue exactly
 * where it stopped: the learners' parameters, chain states, model memory
 * (eqprop's per-example store), optimiser moments, clocks and averaging
 * state, or an experiment's chain states, moments and raw samples so far
 * (the layout is docs/checkpoint.md). Random
 * numbers are counter-based (flexcl/rng.h), so the step and sample counters
 * are the random streams' state. A resumed point's results are bitwise those
 * of an uninterrupted run.
 *
 * Writing is collective and goes through flexcl_results: the file is written
 * as "<path>.partial" with parallel HDF5 (every rank writes the rows of its
 * own learners or chains) and renamed over the previous checkpoint only
 * when complete, so a kill at any moment leaves either the old or the new
 * checkpoint, never a torn one. The root carries the attributes `format`
 * ("flexcl checkpoint"), `version`, `job_hash` (16 hex digits, the hash of
 * the job text and --set options), `point` and `experiment`; a checkpoint
 * whose job_hash differs from the run's refuses to open (FLEXCL_ERR_JOB).
 *
 * Reading is local: every rank opens the file read-only and reads the rows
 * it needs, so a checkpoint whose rows are indexed by chain can be resumed
 * on another rank count. Callers agree on the outcome before their next
 * collective call.
 */
#ifndef FLEXCL_CHECKPOINT_H
#define FLEXCL_CHECKPOINT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "flexcl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the checkpoint layout; a file of another version refuses to open. */
#define FLEXCL_CHECKPOINT_VERSION 1

typedef struct flexcl_checkpoint flexcl_checkpoint;

/* "<parts_dir>/point_<point, 6 digits>.ckpt.h5" into buf (truncated at n − 1). */
void flexcl_checkpoint_path(const char *parts_dir, uint64_t point, char *buf,
                            size_t n);

/* Whether a checkpoint file exists at path (rank 0 looks; every rank gets
 * the answer). Collective. */
flexcl_code flexcl_checkpoint_exists(MPI_Comm comm, const char *path, int *exists);

/* Start writing the checkpoint of grid point `point` of the job with hash
 * job_hash (experiment: "train", "isd_variance" or "aol_bias"). Nothing
 * replaces an existing checkpoint until flexcl_checkpoint_commit. Collective. */
flexcl_code flexcl_checkpoint_create(MPI_Comm comm, const char *path,
                                     const char *job_hash, uint64_t point,
                                     const char *experiment,
                                     flexcl_checkpoint **out);

/* A rows x cols dataset `name` (groups created as needed) of which this rank
 * supplies rows [first_row, first_row + n_rows) (row-major; n_rows may be
 * 0). Collective; every rank passes the same name, rows and cols. */
flexcl_code flexcl_checkpoint_write(flexcl_checkpoint *ck, const char *name,
                                    size_t rows, size_t cols, size_t first_row,
                                    size_t n_rows, const double *data);
flexcl_code flexcl_checkpoint_write_u64(flexcl_checkpoint *ck, const char *name,
                                        size_t rows, size_t cols,
                                        size_t first_row, size_t n_rows,
                                        const uint64_t *data);
/* A root attribute (a counter below 2^63; the same on every rank). Collective. */
flexcl_code flexcl_checkpoint_set(flexcl_checkpoint *ck, const char *name,
                                  uint64_t value);

/* Close the file and rename it over path. Collective. The handle then only
 * needs destroying. */
flexcl_code flexcl_checkpoint_commit(flexcl_checkpoint *ck);

/* Open the checkpoint at path for reading. Fails with FLEXCL_ERR_JOB and one
 * line naming the file when it belongs to another job (its job_hash is not
 * job_hash: the job file or the --set options changed since it was
 * written), another grid point or experiment, and with FLEXCL_ERR_DATA when
 * it is not a flexcl checkpoint of this version. Collective (the ranks agree
 * on the outcome). */
flexcl_code flexcl_checkpoint_open(MPI_Comm comm, const char *path,
                                   const char *job_hash, uint64_t point,
                                   const char *experiment,
                                   flexcl_checkpoint **out);

/* Read rows [first_row, first_row + n_rows) of the rows x cols dataset
 * `name` into out. A missing dataset, or one whose width is not cols or that
 * has too few rows, fails with FLEXCL_ERR_DATA naming the file and dataset.
 * Not collective. */
flexcl_code flexcl_checkpoint_read(flexcl_checkpoint *ck, const char *name,
                                   size_t cols, size_t first_row, size_t n_rows,
                                   double *out);
flexcl_code flexcl_checkpoint_read_u64(flexcl_checkpoint *ck, const char *name,
                                       size_t cols, size_t first_row,
                                       size_t n_rows, uint64_t *out);
/* A root attribute written by flexcl_checkpoint_set. Not collective. */
flexcl_code flexcl_checkpoint_get(flexcl_checkpoint *ck, const char *name,
                                  uint64_t *value);

/* The final path of the checkpoint (for messages). */
const char *flexcl_checkpoint_file(const flexcl_checkpoint *ck);

/* Close the handle. A checkpoint being written and not committed is removed
 * (the previous checkpoint, if any, stays). NULL-safe; sets *ck to NULL.
 * Collective. */
void flexcl_checkpoint_destroy(flexcl_checkpoint **ck);

/* Remove the checkpoint file at path if it exists (rank 0). Collective. */
flexcl_code flexcl_checkpoint_remove(MPI_Comm comm, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_CHECKPOINT_H */
