/* flexcl/dualprop.h — a ReLU MLP trained by dual propagation (DP, DPᵀ) or
 * by backpropagation (the baseline).
 *
 * Network (SPEC §3, Høier & Zach): layers k = 0..L with widths n_0..n_L,
 * s_0 = x, a_k = W_{k−1} s̄_{k−1} + b_{k−1}, hidden f = ReLU, output linear
 * (logits), loss ℓ = softmax cross-entropy. W_{k−1} is n_k × n_{k−1}.
 * Parameter layout (flat vector): for k = 0..L−1, W_k row-major then b_k.
 *
 * Dyadic states: s̄_k = α s_k⁺ + (1−α) s_k⁻, δ_k = s_k⁺ − s_k⁻,
 * Δ_k = W_kᵀ δ_{k+1}.
 *   DPᵀ  hidden s_k⁺ = f(a_k + (1−α)Δ_k), s_k⁻ = f(a_k − αΔ_k);
 *        output s_L⁺ = a_L − (1−α)β∇ℓ(ŷ), s_L⁻ = a_L + αβ∇ℓ(ŷ), ŷ the
 *        feed-forward logits (held fixed during inference).
 *   DP   (original / "RAOVR", stable at α = ½ only)
 *        hidden s_k⁺ = f(a_k + αΔ_k), s_k⁻ = f(a_k − (1−α)Δ_k);
 *        output s_L⁺ = a_L − αβ∇ℓ(a_L), s_L⁻ = a_L + (1−α)β∇ℓ(a_L) with
 *        ∇ℓ at the current a_L.
 * Inference starts from the feed-forward pass (s⁺ = s⁻ = feed-forward
 * activations) and runs K sweeps over k = 1, 2, ..., L, each layer from its
 * current neighbours (the authors' "fwK" schedule). The update is
 * ΔW_{k−1} = δ_k s̄_{k−1}ᵀ / β, Δb_{k−1} = δ_k / β, averaged over the batch;
 * with β → 0 and K ≥ L it tends to −∇ℓ (the backprop gradient).
 *
 * Every batched product is cblas_dgemm (row-major), cut into fixed blocks
 * of 32 rows of the result that OpenMP threads share, with OpenBLAS held
 * single-threaded during the call (OpenBLAS 0.3.21's own threading gives
 * different roundings at 1 and 2 threads); elementwise work is serial per
 * row. Results are therefore bitwise independent of the thread count.
 */
#ifndef FLEXCL_DUALPROP_H
#define FLEXCL_DUALPROP_H

#include <stddef.h>

#include "flexcl/error.h"
#include "flexcl/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most weight layers an MLP may have. */
#define FLEXCL_MLP_MAX_LAYERS 8

typedef enum {
    FLEXCL_MLP_BACKPROP = 0, /* exact gradient, the baseline */
    FLEXCL_MLP_DPT = 1,      /* DPᵀ (adjoint / Lagrangian form), any α in [0, 1] */
    FLEXCL_MLP_DP = 2        /* original dual propagation (RAOVR), α = ½ */
} flexcl_mlp_rule;

typedef struct {
    size_t n_layers;                           /* L weight layers, 1..FLEXCL_MLP_MAX_LAYERS */
    size_t widths[FLEXCL_MLP_MAX_LAYERS + 1];  /* n_0 (input) .. n_L (classes) */
    flexcl_mlp_rule rule;  /* default DPᵀ */
    double alpha;          /* α in [0, 1]; default 0.5 */
    double beta;           /* nudging strength β > 0; default 0.01 (ours) */
    int sweeps;            /* K layer sweeps >= 1; default 8 (authors, MNIST) */
    size_t max_batch;      /* largest batch the workspaces hold; default 100 */
    int threads;       /* OpenMP threads of the blocked GEMMs; 0 = omp_get_max_threads(); default 0 */
} flexcl_dualprop_settings;

typedef struct flexcl_dualprop flexcl_dualprop;

/* Defaults: 784-512-512-10 (the authors' MNIST / Fashion-MNIST MLP), DPᵀ,
 * α = ½, β = 0.01, K = 8, max_batch = 100. Not collective. */
void flexcl_dualprop_settings_default(flexcl_dualprop_settings *s);

/* Validate s (each bad field is named with its value), build the network
 * and its workspaces. Parameters are zero until flexcl_dualprop_init.
 * Not collective. Release with flexcl_dualprop_destroy. */
flexcl_code flexcl_dualprop_create(const flexcl_dualprop_settings *s,
                                   flexcl_dualprop **out);
void flexcl_dualprop_destroy(flexcl_dualprop **m); /* NULL-safe */

/* Initialise θ from stream s (purpose FLEXCL_RNG_INIT, step = layer):
 * W_k, b_k ~ U(−1/√n_k, 1/√n_k) (PyTorch's nn.Linear default; ours for DP).
 * Not collective. */
void flexcl_dualprop_init(flexcl_dualprop *m, const flexcl_stream *s);

size_t flexcl_dualprop_n_params(const flexcl_dualprop *m);
double *flexcl_dualprop_params(flexcl_dualprop *m);   /* flat view, owned by m */
/* Offsets of W_k and b_k (k < n_layers) in the flat vector. */
size_t flexcl_dualprop_weight_offset(const flexcl_dualprop *m, size_t k);
size_t flexcl_dualprop_bias_offset(const flexcl_dualprop *m, size_t k);
const flexcl_dualprop_settings *flexcl_dualprop_settings_get(const flexcl_dualprop *m);
/* Change α, β, K or the rule of an existing network (tests, grids).
 * FLEXCL_ERR_ARG names a bad value. Not collective. */
flexcl_code flexcl_dualprop_set_rule(flexcl_dualprop *m, flexcl_mlp_rule rule,
                                     double alpha, double beta, int sweeps);

/* Feed-forward logits of a batch: x is B × n_0 row-major, B <= max_batch;
 * logits (B × n_L) may be NULL. *loss (may be NULL) receives the mean
 * cross-entropy against y (labels in [0, n_L); y may be NULL, then no loss).
 * Not collective. */
flexcl_code flexcl_dualprop_forward(flexcl_dualprop *m, const double *x,
                                    const int *y, size_t B, double *logits,
                                    double *loss);

/* The update direction of the network's rule on a batch:
 *     g += w · (ascent direction)
 * where the ascent direction is −∇θ (1/B)Σ ℓ for backprop, and
 * (1/β)(δ_k s̄_{k−1}ᵀ, δ_k) averaged over the batch for DP and DPᵀ (its
 * β → 0 limit). *loss (may be NULL) is the mean feed-forward cross-entropy.
 * flexcl optimisers ascend, so g can go straight to flexcl_optim_apply.
 * Not collective. */
flexcl_code flexcl_dualprop_gradient(flexcl_dualprop *m, const double *x,
                                     const int *y, size_t B, double w,
                                     double *g, double *loss);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_DUALPROP_H */
