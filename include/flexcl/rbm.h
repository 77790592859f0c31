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
