/* flexcl/ff.h — the Forward-Forward network (Hinton 2022; the authors'
 * FF_EXP_ICML.py configuration, SPEC §3).
 *
 * Layers l = 0..L−1 map n_l inputs to n_{l+1} ReLU units:
 *     x̂_l = x_l / (‖x_l‖₂ + 1e-4),  h_{l+1} = ReLU(W_l x̂_l + b_l),  x_{l+1} = h_{l+1},
 * goodness G_l = mean_j h_{l+1,j}², threshold θ (2.0). The layers are trained
 * locally: a layer's input is a constant for its gradient (the authors
 * detach between layers). Parameter layout: for l = 0..L−1, W_l
 * (n_{l+1} × n_l, row-major) then b_l.
 *
 * In flexcl's contrastive framing one time step is one pass (the state is
 * reached at once: FF is non-equilibrium); a two_term or isd phase is one
 * step, an aol phase T steps on successive examples:
 *   positive phase: the image with its true label overlaid; statistic
 *       G⁺ = −∇θ Σ_l softplus(θ − G_l)      (the descent direction of the
 *                                              positive loss term)
 *   negative phase: the image with a wrong label overlaid; statistic
 *       G⁻ = +∇θ Σ_l softplus(G_l − θ)
 * so that G⁺ − G⁻ = −∇θ Σ_l [softplus(θ − G_l⁺) + softplus(G_l⁻ − θ)], the
 * descent direction of the authors' per-layer loss, and the estimators of
 * SPEC §2 apply unchanged: two_term uses G⁺ − G⁻, isd draws one phase with
 * probability b and weights it (z/b)G⁺ − ((1−z)/(1−b))G⁻ (importance) or
 * ±1 (unit, what the authors ran), aol applies w_z G^z at every step of a
 * phase of type z with rate η/τ (flexcl/supervised.h). Each layer's block
 * of G^± depends on that layer's parameters only (the layer-local
 * gradients). Batches are averaged.
 *
 * Label overlay (authors): the first n_classes pixels are set to 0 and pixel
 * y to the maximum of the original row (per row here; the authors' batch is 1).
 * Prediction: argmax over labels c of Σ_l G_l(overlay(x, c)).
 */
#ifndef FLEXCL_FF_H
#define FLEXCL_FF_H

#include <stddef.h>

#include "flexcl/error.h"
#include "flexcl/model.h"
#include "flexcl/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most layers a Forward-Forward network may have. */
#define FLEXCL_FF_MAX_LAYERS 8

typedef struct {
    size_t n_layers;                         /* L, 1..FLEXCL_FF_MAX_LAYERS; default 2 */
    size_t widths[FLEXCL_FF_MAX_LAYERS + 1]; /* n_0 (pixels) .. n_L; default 784, 500, 500 */
    double threshold;  /* goodness threshold θ; default 2.0 (authors) */
    size_t n_classes;  /* labels overlaid in pixels 0..n_classes−1; default 10, <= n_0 */
    size_t max_batch;  /* largest batch the workspaces hold; default 100 */
    int threads;       /* OpenMP threads of the blocked GEMMs; 0 = omp_get_max_threads(); default 0 */
} flexcl_ff_settings;

typedef struct flexcl_ff flexcl_ff;

/* The authors' configuration above. Not collective. */
void flexcl_ff_settings_default(flexcl_ff_settings *s);

/* Validate s (a bad field is named with its value) and build the network
 * with its workspaces; parameters are zero until flexcl_ff_init.
 * Not collective. Release with flexcl_ff_destroy. */
flexcl_code flexcl_ff_create(const flexcl_ff_settings *s, flexcl_ff **out);
void flexcl_ff_destroy(flexcl_ff **ff); /* NULL-safe */

/* W_l, b_l ~ U(−1/√n_l, 1/√n_l) (PyTorch nn.Linear, the authors' code),
 * from stream s (purpose FLEXCL_RNG_INIT, step = layer). Not collective. */
void flexcl_ff_init(flexcl_ff *ff, const flexcl_stream *s);

size_t flexcl_ff_n_params(const flexcl_ff *ff);
double *flexcl_ff_params(flexcl_ff *ff);      /* flat view, owned by ff */
size_t flexcl_ff_weight_offset(const flexcl_ff *ff, size_t l);
size_t flexcl_ff_bias_offset(const flexcl_ff *ff, size_t l);
const flexcl_ff_settings *flexcl_ff_settings_get(const flexcl_ff *ff);

/* out (B × n_0) = x with label labels[r] overlaid on row r (see above).
 * x and out may be the same array. Labels must lie in [0, n_classes).
 * Not collective. */
flexcl_code flexcl_ff_overlay(const flexcl_ff *ff, const double *x,
                              const int *labels, size_t B, double *out);

/* One phase on a batch of (already overlaid) inputs x (B × n_0, B <=
 * max_batch): g += w · G^phase (see above; g may be NULL to skip it), and,
 * when loss is not NULL, loss[l] = the batch mean of the phase's loss term
 * of layer l (positive: softplus(θ − G_l), negative: softplus(G_l − θ)).
 * Not collective. */
flexcl_code flexcl_ff_phase(flexcl_ff *ff, const double *x, size_t B,
                            flexcl_phase phase, double w, double *g,
                            double *loss);

/* Predicted labels of a batch of raw images x (B × n_0, no overlay):
 * argmax over c < n_classes of the summed goodness (ties: the lower label).
 * Not collective. */
flexcl_code flexcl_ff_predict(flexcl_ff *ff, const double *x, size_t B,
                              int *pred);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_FF_H */
