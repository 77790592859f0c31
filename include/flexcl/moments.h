/* flexcl/moments.h — streaming moments of vector samples.
 *
 * Per coordinate: count, mean and M2 (sum of squared deviations), updated
 * one sample at a time with Welford's recurrence and combined with Chan,
 * Golub & LeVeque's pairwise formula. Merges happen in a fixed order (block
 * order, then rank order), so merged moments depend only on the samples,
 * never on the thread or rank count that produced them.
 */
#ifndef FLEXCL_MOMENTS_H
#define FLEXCL_MOMENTS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "flexcl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t dim;
    uint64_t count;
    double *mean; /* dim */
    double *m2;   /* dim */
} flexcl_moments;

/* Allocate zeroed moments of dimension dim. Not collective. */
flexcl_code flexcl_moments_init(flexcl_moments *m, size_t dim);
void flexcl_moments_free(flexcl_moments *m);
void flexcl_moments_reset(flexcl_moments *m);

/* Add one sample x[dim] (Welford). */
void flexcl_moments_add(flexcl_moments *m, const double *x);

/* a ← a ∪ b (Chan's pairwise update); b is unchanged. Dimensions must agree. */
void flexcl_moments_merge(flexcl_moments *a, const flexcl_moments *b);

/* Sum over coordinates of the unbiased variances m2/(count − 1) (0 if count < 2). */
double flexcl_moments_trace_cov(const flexcl_moments *m);

/* E‖x‖² estimated as ‖mean‖² + Σ m2 / count. */
double flexcl_moments_second_moment(const flexcl_moments *m);

/* Replace m on every rank by the merge of all ranks' m, merged in rank order
 * 0, 1, …, so every rank ends with bitwise the same moments. Collective. */
flexcl_code flexcl_moments_allmerge(flexcl_moments *m, MPI_Comm comm);

/* out ← the merge of every rank's blocks: this rank holds n_local blocks
 * (each of out's dimension), and the blocks of all ranks are merged one at
 * a time into an empty accumulator in global order (rank 0's blocks in
 * order, then rank 1's, …). Every rank ends with bitwise the same out, and
 * since the sequence of merges is that of one rank holding every block, the
 * result does not depend on how the blocks are spread over the ranks (unlike
 * merging per rank first, then across ranks). out must be initialised; its
 * content is replaced. Collective. */
flexcl_code flexcl_moments_allmerge_blocks(const flexcl_moments *blocks, int n_local,
                                           MPI_Comm comm, flexcl_moments *out);

#ifdef __cplusplus
}
#endif
#endif
