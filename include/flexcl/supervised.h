/* flexcl/supervised.h — minibatch training of the feed-forward learners:
 * Forward-Forward (ff), original dual propagation (dp), DPᵀ (dpt) and the
 * backpropagation baseline (backprop) on labelled image data.
 *
 * These models are not in the model registry (flexcl/model.h): they have no
 * persistent network state that runs for many time steps (a phase is one
 * pass, or K layer sweeps that start afresh from the feed-forward pass for
 * every batch), so the chain/step operations do not fit. They have a table
 * of their own instead, flexcl_supervised_model_ops (src/supervised_impl.h;
 * private, as the kinds below are a closed enum): build, θ, init, predict,
 * and either two phases that the estimator combines (ff) or one update
 * direction per minibatch (dp, dpt, backprop). ff's table lives in
 * src/ff.c, the three MLP rules' in src/dualprop.c; one trainer serves
 * every kind with no kind-specific code. The driver owns the loop (STYLE:
 * create / epoch / evaluate / destroy):
 *
 *     flexcl_supervised_create(&s, &model, &est, &opt, pixels, classes, &stream, &t);
 *     for (e = 1..epochs) { flexcl_supervised_epoch(t, train, &loss);
 *                           flexcl_supervised_accuracy(t, test, 0, &acc); }
 *     flexcl_supervised_destroy(&t);
 *
 * or calls flexcl_supervised_train, which does exactly this and fills a
 * flexcl_supervised_curve. A driver that must stop and resume inside an
 * epoch (checkpoints, docs/checkpoint.md) runs the epoch in slices with
 * flexcl_supervised_advance and saves flexcl_supervised_state_get.
 *
 * One epoch = the training rows in a Philox-keyed random order (stream,
 * step = epoch, purpose FLEXCL_RNG_DATA), cut into minibatches of
 * est->batch rows (the last one may be shorter); one optimiser update per
 * minibatch, θ ← θ + η·step(g) with η = est->eta (flexcl_optim: SGD or
 * Adam; Adam is elementwise, so one Adam over the flat vector is exactly
 * the authors' per-layer Adam). Inputs are the data rows' pixels (the label
 * block, if any, is dropped); labels come from flexcl_data_label.
 *
 * ff: per minibatch, the estimator decides the phases (SPEC §2):
 *   two_term  g = G⁺(true labels) − G⁻(random wrong labels);
 *   isd       z ~ Bernoulli(b) (stream, step = update, FLEXCL_RNG_PHASE):
 *             g = w₁ G⁺ if z = 1 else w₀ G⁻ with (w₁, w₀) = (1/b, −1/(1−b))
 *             (importance), (1, −1) (unit) or (1/(1−b), −1/b) (swapped)
 *             (flexcl_estimator_weights);
 *   aol       always-on learning. A time step is one minibatch (one pass:
 *             FF is non-equilibrium, so a phase's state is reached at once,
 *             transient s = 0). A phase has a type z ~ Bernoulli(b) and a
 *             length T from estimator.law with mean estimator.tau (and
 *             estimator.uniform_halfwidth; flexcl_phase_length), both drawn
 *             when the phase begins, at the update counter u₀ of its first
 *             step: z from (stream, u₀, FLEXCL_RNG_PHASE, unit 0) — the very
 *             draw isd makes at update u₀ — and T from (stream, u₀,
 *             FLEXCL_RNG_LENGTH, unit 0), a lane no other ff draw uses. Every
 *             step of the phase takes the next minibatch and moves θ with
 *             g = w_z G^z at rate η/τ (the optimiser's lr; per-layer Adam as
 *             for the other estimators). Within one trainer each (step,
 *             purpose, unit) is used once. With τ = 1 every phase is one step
 *             (any law) and aol is bitwise isd with the same η.
 * Wrong labels: uniform over the n_classes − 1 others (stream, step =
 * update, FLEXCL_RNG_LABEL, unit = row in the batch).
 * dp, dpt, backprop: g = the rule's direction (flexcl/dualprop.h); the
 * estimator's kind, b and weights are ignored.
 *
 * Results depend only on the settings, data and stream: never on thread
 * counts (see flexcl/dualprop.h on BLAS).
 */
#ifndef FLEXCL_SUPERVISED_H
#define FLEXCL_SUPERVISED_H

#include <stddef.h>
#include <stdint.h>

#include "flexcl/data.h"
#include "flexcl/error.h"
#include "flexcl/learner.h"
#include "flexcl/model.h"
#include "flexcl/optim.h"
#include "flexcl/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLEXCL_SUP_FF = 0,       /* Forward-Forward */
    FLEXCL_SUP_DP = 1,       /* original dual propagation (α = ½) */
    FLEXCL_SUP_DPT = 2,      /* DPᵀ */
    FLEXCL_SUP_BACKPROP = 3, /* backpropagation through the same MLP */
    FLEXCL_SUP_KINDS = 4     /* the number of kinds, for loops over them */
} flexcl_supervised_kind;

/* The names "ff", "dp", "dpt", "backprop" (model.kind) → kind; returns 1
 * for a known name, else 0 and *kind untouched. Not collective. */
int flexcl_supervised_kind_parse(const char *name, flexcl_supervised_kind *kind);
/* The name of a kind; "?" for an unknown value. */
const char *flexcl_supervised_kind_name(flexcl_supervised_kind kind);

/* The settings only the supervised learners have. The ones they share
 * with the registry models live in flexcl_model_settings (flexcl/model.h),
 * which every function below that builds or trains a network also takes:
 *   hidden     hidden-layer widths "w1,w2,..." (model.hidden); "auto" (the
 *              default) or "" = the authors' network of the kind: ff
 *              500,500 (784-500-500), dp/dpt/backprop 512,512
 *              (784-512-512-10). Input width = the data's pixels, output
 *              (dp/dpt/backprop) = n_classes.
 *   beta       dp/dpt nudging β > 0 (model.beta); default 0.01 (ours).
 *   eval_rows  training rows, from the first, of flexcl_supervised_train's
 *              train accuracy (run.eval_rows); 0 = all. Default 10000.
 * The other model fields (kind, n_hidden, epsilon, ...) are ignored. The
 * test set (data.test_images, data.test_labels) is a data key and lives in
 * flexcl_data_settings (flexcl/data.h): no function here reads a path; the
 * caller loads the test set and passes it as a flexcl_data. */
typedef struct {
    flexcl_supervised_kind kind; /* from model.kind; default dpt */
    double threshold;  /* ff goodness threshold θ (model.threshold); default 2.0 */
    double alpha;      /* dp/dpt α in [0, 1] (model.alpha); default 0.5 */
    int sweeps;        /* dp/dpt layer sweeps K (model.sweeps); default 8 */
    uint64_t epochs;   /* passes over the training rows (run.epochs); default 2 */
} flexcl_supervised_settings;

void flexcl_supervised_settings_default(flexcl_supervised_settings *s);

/* Parse model->hidden into widths[0..*n) (at most max); "" or "auto" gives
 * the default network of s->kind. FLEXCL_ERR_ARG names the text (or the
 * kind, when it is unknown and the default is needed). Not collective. */
flexcl_code flexcl_supervised_hidden(const flexcl_supervised_settings *s,
                                     const flexcl_model_settings *model,
                                     size_t *widths, size_t max, size_t *n);

typedef struct flexcl_supervised flexcl_supervised;

/* What a kind refuses although each value alone is in its key's range:
 * NULL when s and est suit each other; else the job key at fault, with the
 * job key that makes it so in *context (for an error's place) and the
 * reason in why (n bytes, to follow "KEY: VALUE; "). The rules are the
 * kinds' own (a table operation, src/supervised_impl.h) plus the
 * trainer's: a two-phase kind (ff) under aol needs tau <= 1e15, and a
 * whole tau under the fixed and uniform laws (they centre T on
 * llround(tau), so E[T] = tau only then); dp needs alpha = 0.5.
 * flexcl_supervised_create fails with the same reason. Not collective. */
const char *flexcl_supervised_refusal(const flexcl_supervised_settings *s,
                                      const flexcl_estimator_settings *est,
                                      const char **context, char *why, size_t n);

/* A trainer for inputs of n_inputs pixels and n_classes labels; parameters
 * initialised from stream (FLEXCL_RNG_INIT), which also keys the shuffles
 * and draws of every later epoch. model supplies hidden and beta; est
 * supplies eta (learning rate), batch (minibatch size) and, for ff, kind, b
 * and weights, and for ff under aol tau, law and uniform_halfwidth. Bad
 * values fail with FLEXCL_ERR_ARG naming the field (for ff under aol: tau
 * must be finite and >= 1, a whole number of steps under the fixed and
 * uniform laws so that E[T] = τ, and 0 <= uniform_halfwidth < τ under the
 * uniform law; see also flexcl_supervised_refusal); ff with estimator tcl
 * fails with FLEXCL_ERR_UNSUPPORTED. Not collective. */
flexcl_code flexcl_supervised_create(const flexcl_supervised_settings *s,
                                     const flexcl_model_settings *model,
                                     const flexcl_estimator_settings *est,
                                     const flexcl_optim_settings *opt,
                                     size_t n_inputs, size_t n_classes,
                                     const flexcl_stream *stream,
                                     flexcl_supervised **out);
void flexcl_supervised_destroy(flexcl_supervised **t); /* NULL-safe */

/* One epoch over d (labels required, pixels = n_inputs), or the rest of the
 * epoch in progress (flexcl_supervised_advance). *loss (may be NULL) is the
 * mean training loss of the epoch's minibatches: cross-entropy for
 * dp/dpt/backprop, the summed per-layer FF loss of the phases computed for
 * ff. Not collective. */
flexcl_code flexcl_supervised_epoch(flexcl_supervised *t, const flexcl_data *d,
                                    double *loss);

/* Up to max_batches minibatches of the current epoch over d (one optimiser
 * update each), stopping early at the end of the epoch: training can stop
 * and resume at any minibatch boundary. The epoch's shuffle is keyed by
 * (stream, epoch), so it is recomputed, never stored. *epoch_done (may be
 * NULL) is 1 when this call finished the epoch, and *epoch_loss (may be
 * NULL) is then the epoch's mean minibatch loss (as flexcl_supervised_epoch;
 * NaN when the epoch is not finished). Any sequence of calls that covers an
 * epoch gives bitwise the θ, optimiser state and loss of one
 * flexcl_supervised_epoch. An epoch in progress must go on over data of the
 * same row count (FLEXCL_ERR_DATA otherwise). max_batches = 0 does nothing.
 * Not collective. */
flexcl_code flexcl_supervised_advance(flexcl_supervised *t, const flexcl_data *d,
                                      uint64_t max_batches, int *epoch_done,
                                      double *epoch_loss);
/* Minibatches done in the epoch in progress (0 between epochs). */
uint64_t flexcl_supervised_epoch_position(const flexcl_supervised *t);

/* The trainer's state, for checkpoints (STYLE: size / get / set). A
 * snapshot is state_size doubles — θ (n_params), then the optimiser state
 * (flexcl_optim_state_get: Adam's first then second moments, nothing for
 * SGD), then the loss accumulator of the epoch in progress — and
 * FLEXCL_SUP_CLOCK counters: */
enum {
    FLEXCL_SUP_CLOCK_EPOCHS = 0,  /* epochs finished */
    FLEXCL_SUP_CLOCK_UPDATES = 1, /* optimiser updates (minibatches) so far */
    FLEXCL_SUP_CLOCK_POSITION = 2,/* minibatches done in the epoch in progress */
    FLEXCL_SUP_CLOCK_ROWS = 3,    /* that epoch's data rows (0 between epochs) */
    FLEXCL_SUP_CLOCK_OPTIM = 4,   /* the optimiser's update count (Adam's bias correction) */
    FLEXCL_SUP_CLOCK_PHASE = 5,   /* ff under aol: the current phase's type z (1 positive,
                                     0 negative); 0 otherwise */
    FLEXCL_SUP_CLOCK_REMAINING = 6, /* ff under aol: steps left in that phase (0 = the next
                                       step begins a new phase); 0 otherwise */
    FLEXCL_SUP_CLOCK = 7
};
/* Random numbers are counter-based (keyed by the epoch and update
 * counters), so the snapshot is the whole state: a trainer created with the
 * same arguments and given a snapshot by state_set continues bitwise as the
 * one state_get was called on. state_set checks the length (n must be
 * state_size) and the counters' consistency (a position inside the epoch's
 * minibatches, a finite loss accumulator, an aol phase type of 0 or 1 and
 * steps left that its law can produce, both 0 for the other estimators
 * and models) before changing anything, and
 * fails with FLEXCL_ERR_DATA naming the problem. Not collective. */
size_t flexcl_supervised_state_size(const flexcl_supervised *t);
void flexcl_supervised_state_get(const flexcl_supervised *t, double *state,
                                 uint64_t clock[FLEXCL_SUP_CLOCK]);
flexcl_code flexcl_supervised_state_set(flexcl_supervised *t, const double *state,
                                        size_t n,
                                        const uint64_t clock[FLEXCL_SUP_CLOCK]);
/* Fraction of the first `rows` rows of d (0 = all) classified correctly.
 * Not collective. */
flexcl_code flexcl_supervised_accuracy(flexcl_supervised *t,
                                       const flexcl_data *d, size_t rows,
                                       double *acc);

uint64_t flexcl_supervised_epochs_done(const flexcl_supervised *t);
uint64_t flexcl_supervised_updates(const flexcl_supervised *t);
size_t flexcl_supervised_n_params(const flexcl_supervised *t);
const double *flexcl_supervised_params(const flexcl_supervised *t);
/* The named blocks of θ in its order, 2 L for a network of L weight
 * layers: W0, b1, W1, b2, …, W{L−1}, bL, where W_l (n_{l+1} × n_l,
 * row-major) maps layer l to layer l + 1 (layer 0: the pixels) and b_{l+1}
 * (n_{l+1} × 1) is its bias: the eqprop model's names. The driver writes
 * them as params/theta's block attributes. Not collective. */
size_t flexcl_supervised_n_blocks(const flexcl_supervised *t);
flexcl_param_block flexcl_supervised_block(const flexcl_supervised *t, size_t i);

/* A learning curve: point e = 0..epochs (0 = before training). Arrays of
 * n_points entries, malloc'd; release with flexcl_supervised_curve_free.
 * test_acc is NaN without a test set. */
typedef struct {
    size_t n_points;
    uint64_t *epoch;
    uint64_t *updates;
    double *train_loss;  /* NaN at point 0 */
    double *train_acc;   /* on the first model->eval_rows training rows */
    double *test_acc;
    double *seconds;     /* wall time of the epoch's training (0 at point 0) */
} flexcl_supervised_curve;

void flexcl_supervised_curve_free(flexcl_supervised_curve *c); /* NULL-safe */
/* Allocate the arrays of c for n_points points (contents unset); on failure
 * c holds what was allocated (free it with flexcl_supervised_curve_free).
 * Not collective. */
flexcl_code flexcl_supervised_curve_alloc(flexcl_supervised_curve *c, size_t n_points);

/* The whole run: create, s->epochs epochs, accuracy after each (training
 * set: its first model->eval_rows rows; test set: every row), destroy.
 * test may be NULL. On success *curve is filled (the caller frees it) and,
 * when params is not NULL, the final parameters are copied there
 * (flexcl_supervised_param_count(s, model, flexcl_data_pixels(train),
 * flexcl_supervised_classes(train)) entries). Not collective. */
flexcl_code flexcl_supervised_train(const flexcl_supervised_settings *s,
                                    const flexcl_model_settings *model,
                                    const flexcl_estimator_settings *est,
                                    const flexcl_optim_settings *opt,
                                    const flexcl_data *train,
                                    const flexcl_data *test,
                                    const flexcl_stream *stream,
                                    flexcl_supervised_curve *curve,
                                    double *params);

/* The class count the trainer uses for training data d: its label-block
 * width when it has one, else 1 + its largest label (at least 2). Not
 * collective. */
size_t flexcl_supervised_classes(const flexcl_data *d);

/* Number of parameters of the network s and model describe for the given
 * input and class counts (0 and FLEXCL_ERR_ARG when they are invalid). Not
 * collective. */
flexcl_code flexcl_supervised_param_count(const flexcl_supervised_settings *s,
                                          const flexcl_model_settings *model,
                                          size_t n_inputs, size_t n_classes,
                                          size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_SUPERVISED_H */
