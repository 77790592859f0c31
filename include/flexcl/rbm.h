/* flexcl/rbm.h — the restricted Boltzmann machine (binary 0/1 units).
 *
 * p(h_j=1|v) = σ(W_j·v + c_j), p(v_i=1|h) = σ(Wᵀ_i·h + a_i); a unit is 1 when
 * p ≥ U(0,1). One time step is one Gibbs sweep: all h given v, then (negative
 * phase only) all v given h. Parameter blocks, in this order in the flat
 * vector: "W" (n_h x n_v, row-major), "c" (hidden bias, n_h), "a" (visible
 * bias, n_v; fixed at 0 when visible_bias = 0). Statistics: G_W = h vᵀ,
 * G_c = h, G_a = v.
 *
 * The functions below are the RBM's exact quantities, computed by
 * enumerating 2^n_h hidden configurations (n_h <= FLEXCL_RBM_EXACT_MAX_HIDDEN)
 * with log-sum-exp; they are deterministic for any OpenMP thread count.
 * They fail with FLEXCL_ERR_UNSUPPORTED above that size and with
 * FLEXCL_ERR_ARG when m is not an RBM.
 */
#ifndef FLEXCL_RBM_H
#define FLEXCL_RBM_H

#include "flexcl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLEXCL_RBM_EXACT_MAX_HIDDEN 24

/* The operations table (registered as "rbm"). */
extern const flexcl_model_ops flexcl_rbm_ops;

/* How a Gibbs sweep of a chain of B states is computed. Both paths draw
 * every unit from the same Philox number and decide it by the same rule,
 * and neither depends on the thread count; they differ only in how each
 * unit's input is summed (OpenBLAS DGEMM or a per-chain loop), so a unit
 * whose σ lies within a few ulps of its uniform could in principle be
 * decided differently (never seen in tests/kernels).
 *   AUTO     batched when B >= 32 and n_visible, n_hidden >= 32; else chains;
 *   BATCHED  each layer's input for the whole batch is one DGEMM, the
 *            statistic h vᵀ another (minibatches of image-sized models);
 *   CHAINS   per-chain SIMD loops, OpenMP over blocks of chains (small
 *            models, many independent chains). */
typedef enum {
    FLEXCL_RBM_PATH_AUTO = 0,
    FLEXCL_RBM_PATH_BATCHED = 1,
    FLEXCL_RBM_PATH_CHAINS = 2
} flexcl_rbm_path;

/* Choose the sweep path (default FLEXCL_RBM_PATH_AUTO). FLEXCL_ERR_ARG when
 * m is not an RBM or path is unknown. Not collective. */
flexcl_code flexcl_rbm_set_path(flexcl_model *m, flexcl_rbm_path path);

/* OpenMP threads the sweeps of m may use (0, the default: OpenMP's default
 * team size). Inside another parallel region (e.g. the learners' loop) the
 * sweeps run on the calling thread. Results never depend on it. Creating an
 * RBM, and every batched sweep outside a parallel region, switch OpenBLAS to
 * one thread (openblas_set_num_threads(1), process wide); the batched path
 * runs its GEMMs as serial OpenBLAS calls on output tiles fixed by
 * the shape, OpenMP over tiles: OpenBLAS 0.3.21's own threaded GEMM splits
 * the inner dimension differently at different thread counts, so its bits
 * would depend on them. FLEXCL_ERR_ARG when m is not an RBM or threads < 0.
 * Not collective. */
flexcl_code flexcl_rbm_set_threads(flexcl_model *m, int threads);

/* Shape of an RBM model: n_visible, n_hidden. Not collective. */
flexcl_code flexcl_rbm_shape(const flexcl_model *m, size_t *n_visible,
                             size_t *n_hidden);

/* log Z = logsumexp_h [c·h + Σ_i softplus(a_i + Wᵀ_i h)]. Not collective. */
flexcl_code flexcl_rbm_log_z(const flexcl_model *m, double *log_z);

/* log p̃(v) = a·v + Σ_j softplus(c_j + W_j·v) (free energy, unnormalised). */
double flexcl_rbm_log_unnormalised(const flexcl_model *m, const double *v);

/* Exact summed NLL of the data set's rows: Σ_rows (log Z − log p̃(v)). */
flexcl_code flexcl_rbm_nll(const flexcl_model *m, const flexcl_data *d,
                           double *nll);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_RBM_H */
