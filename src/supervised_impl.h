/* src/supervised_impl.h — the operations table of a feed-forward
 * (supervised) learner (private, never installed).
 *
 * flexcl_supervised (src/supervised.c) is one trainer for every kind of
 * flexcl/supervised.h: it owns the epoch's order of minibatches, the
 * estimator (two_term, isd and aol phase draws and weights), the optimiser,
 * the accuracies and the snapshots, and reaches the network only through a
 * flexcl_supervised_model_ops table. The tables live beside their models —
 * ff in src/ff.c; dp, dpt and backprop (one table per update rule) in
 * src/dualprop.c — and the kind → table lookup is one array in
 * src/supervised.c.
 *
 * The table is private, unlike flexcl_model_ops (flexcl/model.h), because
 * the kinds are closed: a kind is a value of flexcl_supervised_kind with
 * its settings fields in flexcl_supervised_settings and its job keys, so a
 * user cannot add one without changing the library, and there is nothing
 * to register at run time. Adding a kind adds an enum value, a source file
 * with its table and an entry in the lookup array.
 *
 * A model has one of two structures, told by which operation it fills:
 *   two phases (phase): a positive and a negative phase whose statistics
 *       the estimator combines — two_term, isd or aol (ff);
 *   one direction (direction): an update direction per minibatch; the
 *       estimator's kind, b and weights are ignored (dp, dpt, backprop).
 * Every operation is required except refuse (optional) and that exactly
 * one of phase and direction is set.
 */
#ifndef FLEXCL_SUPERVISED_IMPL_H
#define FLEXCL_SUPERVISED_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "flexcl/model.h"
#include "flexcl/rng.h"
#include "flexcl/supervised.h"

/* Most hidden widths (model.hidden) of any kind: an MLP of
 * FLEXCL_MLP_MAX_LAYERS weight layers has one fewer hidden layers, and ff
 * keeps the same limit so that one model.hidden is valid for every kind. */
#define FLEXCL_SUP_MAX_HIDDEN 7

/* Parameters of a stack of dense layers widths[0] → … → widths[n_layers]:
 * a weight matrix and a bias vector per layer (ff and the MLP rules alike). */
static inline size_t flexcl_sup_dense_params(const size_t *widths, size_t n_layers)
{
    size_t n = 0;
    for (size_t l = 0; l < n_layers; ++l) n += widths[l + 1] * widths[l] + widths[l + 1];
    return n;
}

typedef struct flexcl_supervised_model_ops {
    const char *name;      /* model.kind: "ff", "dp", "dpt", "backprop" */
    size_t default_hidden; /* width of both hidden layers of model.hidden = auto */
    /* Parameters of the network the settings describe for n_inputs pixels
     * and n_classes labels, without building it; FLEXCL_ERR_ARG for a bad
     * model.hidden. */
    flexcl_code (*param_count)(const flexcl_supervised_settings *s,
                               const flexcl_model_settings *model, size_t n_inputs,
                               size_t n_classes, size_t *n);
    /* Build the network (bad settings fail with FLEXCL_ERR_ARG naming the
     * field) and every workspace for batches of up to max_batch rows;
     * parameters are zero until init. */
    flexcl_code (*create)(const flexcl_supervised_settings *s,
                          const flexcl_model_settings *model, size_t n_inputs,
                          size_t n_classes, size_t max_batch, void **impl);
    void (*destroy)(void *impl); /* NULL-safe */
    size_t (*n_params)(const void *impl);
    double *(*params)(void *impl); /* flat θ, owned by impl */
    void (*init)(void *impl, const flexcl_stream *s); /* θ from s (FLEXCL_RNG_INIT) */
    /* Two-phase models: one phase on the batch x (B × n_inputs, B <=
     * max_batch) with true labels y: g += w · G^phase and *loss += the
     * phase's training loss. The phase makes its own data from x and y
     * (ff overlays the true labels, or in the negative phase wrong labels
     * drawn from (s, update, FLEXCL_RNG_LABEL, unit = row)). */
    flexcl_code (*phase)(void *impl, flexcl_phase phase, const double *x, const int *y,
                         size_t B, const flexcl_stream *s, uint64_t update, double w,
                         double *g, double *loss);
    /* One-direction models: g += the ascent direction of the rule on the
     * batch, *loss = its training loss. */
    flexcl_code (*direction)(void *impl, const double *x, const int *y, size_t B,
                             double *g, double *loss);
    /* The network's layer widths w[0..L] (inputs, hidden layers, last
     * layer) in *w (owned by impl); returns L. θ is laid out layer by
     * layer: W_l (w[l+1] × w[l], row-major) then b_l (w[l+1]), l < L. */
    size_t (*widths)(const void *impl, const size_t **w);
    /* Predicted labels pred[0..B) of the raw rows x (B × n_inputs). */
    flexcl_code (*predict)(void *impl, const double *x, size_t B, int *pred);
    /* Optional (NULL: none). A setting the kind refuses although it is in
     * its key's range: NULL when s suits the kind, else the job key at
     * fault with the reason in why (n bytes); create then fails with it. */
    const char *(*refuse)(const flexcl_supervised_settings *s, char *why, size_t n);
} flexcl_supervised_model_ops;

extern const flexcl_supervised_model_ops flexcl_supervised_ff_ops;       /* src/ff.c */
extern const flexcl_supervised_model_ops flexcl_supervised_dp_ops;       /* src/dualprop.c */
extern const flexcl_supervised_model_ops flexcl_supervised_dpt_ops;      /* src/dualprop.c */
extern const flexcl_supervised_model_ops flexcl_supervised_backprop_ops; /* src/dualprop.c */

#endif /* FLEXCL_SUPERVISED_IMPL_H */
