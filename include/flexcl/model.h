/* flexcl/model.h — the model interface: a table of operations.
 *
 * A model owns its parameters θ (one flat double vector, viewed in named
 * blocks) and knows how to run its network dynamics under a phase. The
 * network state lives in a separate object, a chain: a batch of B network
 * states z that persist across phases (one persistent chain per learner in
 * the authors' RBM runs, B = 1). Estimators and protocols talk only to the
 * functions in this header, so a new model is a new source file with one
 * flexcl_model_ops table, registered in src/model.c.
 *
 * Sign convention: stats_axpy adds the sufficient statistic G(z, θ) of the
 * phase such that the CL ascent direction is g = E⁺[G] − E⁻[G] (for an RBM
 * weight, G = h vᵀ in both phases; the estimator supplies the signs).
 */
#ifndef FLEXCL_MODEL_H
#define FLEXCL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "flexcl/data.h"
#include "flexcl/error.h"
#include "flexcl/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flexcl_model flexcl_model;
typedef struct flexcl_chain flexcl_chain;

typedef enum {
    FLEXCL_PHASE_NEGATIVE = 0, /* free running / negative data */
    FLEXCL_PHASE_POSITIVE = 1  /* data clamped / nudged towards the target */
} flexcl_phase;

#define FLEXCL_MODEL_HIDDEN_MAX 64 /* bytes of the hidden-widths text */

/* Settings of every model kind; each kind reads the fields it needs. The
 * fields marked "shared" are also the network shape, nudging and
 * evaluation size of the supervised learners (flexcl/supervised.h takes
 * them from here): one job key, one field, one default. */
typedef struct {
    char kind[32];      /* model name in the registry; default "rbm" */
    /* RBM */
    int n_hidden;       /* hidden units; default 16 (authors) */
    int visible_bias;   /* 1: learn a visible bias a; 0: a = 0 fixed (authors); default 1 */
    double init_sigma;  /* W ~ N(0, init_sigma^2); default 0.01 (authors) */
    /* Equilibrium propagation (eqprop; docs/models.md) and, where marked,
     * the supervised learners */
    /* Hidden widths "500" or "500,200" (model.hidden; shared). "" or "auto"
     * (the default) = the kind's own network: eqprop one hidden layer of
     * n_hidden units; ff 500,500; dp, dpt, backprop 512,512. */
    char hidden[FLEXCL_MODEL_HIDDEN_MAX];
    /* Nudging strength β (model.beta; shared): eqprop β ≠ 0, either sign
     * (the direction of the nudge); dp/dpt β > 0. Default 0.01. */
    double beta;
    double epsilon;     /* relaxation step size ε in (0, 1]; default 0.5 */
    int symmetric;      /* 0 = one-sided nudging (free / +β), 1 = symmetric
                         * (−β / +β); default 0 */
    int eval_steps;     /* free-relaxation steps of evaluate; default 100 */
    /* Rows classified per evaluation, from the first (run.eval_rows;
     * shared): eqprop's evaluate (the driver also loads only this many
     * test rows for a registry model) and a supervised learner's training
     * accuracy; 0 = all. Default 10000. */
    size_t eval_rows;
} flexcl_model_settings;

void flexcl_model_settings_default(flexcl_model_settings *s);

/* One named block of the flat parameter vector (e.g. "W" of shape n_h x n_v). */
typedef struct {
    const char *name;
    size_t offset;  /* first element in the flat vector */
    size_t rows, cols; /* shape; a vector has cols = 1 */
} flexcl_param_block;

/* Named scalar metrics a model computes on a data set (NaN when unknown). */
typedef struct {
    double nll;          /* exact summed negative log-likelihood (nats); NaN if not exact */
    double log_z;        /* exact log partition function; NaN if not exact */
    double error_rate;   /* classification error in [0, 1]; NaN if no labels */
} flexcl_metrics;

/* What a model kind needs of a job, as the bits of flexcl_model_ops.needs:
 * checked where a job is read (flexcl_job), so that a job the model cannot
 * run fails with its file, line and key before any data are read, and again
 * by the library (flexcl_model_create, flexcl_learner_create). */
enum {
    /* Labelled rows with a label block (data.label_block = 1): the model's
     * target (eqprop's output y). */
    FLEXCL_MODEL_NEEDS_LABELS = 1u << 0,
    /* Both phases run on the example's input, so two_term cannot run its
     * negative phase on a separate persistent chain without a row
     * (estimator.persistent = 0). */
    FLEXCL_MODEL_NEEDS_ROW_EVERY_PHASE = 1u << 1,
};

/* The operations table. Required entries are marked (req); the others may be
 * NULL and then the public wrapper returns FLEXCL_ERR_UNSUPPORTED. */
typedef struct flexcl_model_ops {
    const char *name;
    /* (req) Build the model for data of width dim (label block included) with
     * n_classes label units at its end (0 = none). Parameters uninitialised. */
    flexcl_code (*create)(const flexcl_model_settings *s, size_t dim,
                          size_t n_classes, void **impl);
    void (*destroy)(void *impl);                       /* (req) */
    size_t (*n_params)(const void *impl);              /* (req) */
    double *(*params)(void *impl);                     /* (req) flat view */
    size_t (*n_blocks)(const void *impl);              /* (req) */
    flexcl_param_block (*block)(const void *impl, size_t i); /* (req) */
    /* (req) Initialise θ from the stream (purpose FLEXCL_RNG_INIT). */
    flexcl_code (*init_params)(void *impl, const flexcl_stream *s);
    /* (req) Mask of learnable coordinates: mask[k] = 0 for a parameter that
     * must stay fixed (e.g. the visible bias of the authors' RBM). */
    void (*learnable)(const void *impl, unsigned char *mask);
    /* (req) A chain of `batch` network states, zero-initialised. */
    flexcl_code (*chain_create)(const void *impl, size_t batch, void **chain);
    void (*chain_destroy)(void *chain);                /* (req) */
    void (*chain_copy)(const void *impl, void *dst, const void *src); /* (req) */
    /* (req) Units in one network state, and a copy of state b of the chain
     * (RBM: v then h) for inspection, tests and diagnostics. */
    size_t (*state_size)(const void *impl);
    void (*state_get)(const void *impl, const void *chain, size_t b, double *out);
    /* (req) Start a phase. rows[b] is the data row of chain b for a positive
     * phase (NULL for a negative phase). RBM: a positive phase clamps v to the
     * row and keeps h; a negative phase keeps the state as it is. */
    flexcl_code (*phase_begin)(void *impl, void *chain, flexcl_phase phase,
                               const float *const *rows, const flexcl_stream *s,
                               uint64_t step);
    /* (req) Reset every state of the chain to the data rows (CD-K starts). */
    flexcl_code (*chain_reset)(void *impl, void *chain, const float *const *rows);
    /* (req) One time step of the dynamics under the phase, drawing from
     * (s, step, purpose, chain*units + unit). */
    flexcl_code (*step)(void *impl, void *chain, flexcl_phase phase,
                        const flexcl_stream *s, uint64_t step);
    /* (req) g += w * (1/B) Σ_b G(z_b, θ). */
    void (*stats_axpy)(const void *impl, const void *chain, flexcl_phase phase,
                       double w, double *g);
    /* Draw every state of the chain exactly from the phase's stationary law
     * (positive: given the clamped rows). Small models only. */
    flexcl_code (*equilibrium)(void *impl, void *chain, flexcl_phase phase,
                               const float *const *rows, const flexcl_stream *s,
                               uint64_t step);
    /* The exact CL gradient g(θ) = E_data⁺[G] − E_model⁻[G] into g[n_params]. */
    flexcl_code (*exact_gradient)(void *impl, const flexcl_data *d, double *g);
    /* Metrics on a data set (threads: OpenMP threads the model may use). */
    flexcl_code (*evaluate)(void *impl, const flexcl_data *d, flexcl_metrics *m);
    /* Overwrite state b of the chain with in[state_size] in the layout of
     * state_get. Together with state_get this must capture everything the
     * chain carries from one step to the next, so that a chain restored from
     * a checkpoint continues bitwise as the original (needed by
     * checkpoints; NULL = the model's runs cannot be checkpointed). */
    void (*state_set)(const void *impl, void *chain, size_t b, const double *in);
    /* Graded clamping (temporal CL's sawtooth, SPEC §3): set how strongly
     * the chain's positive phase pulls towards its target, level in [0, 1]
     * of the model's full strength (EP: nudging β·level; level 0 = free
     * dynamics with the clamped inputs kept). Takes effect at the next step
     * and lasts until the next nudge or phase_begin (which restores 1).
     * NULL = the model has no graded clamping. */
    flexcl_code (*nudge)(void *impl, void *chain, double level);
    /* Row indices alongside rows: index[b] < n_rows is the position in the
     * training set (of n_rows rows) of the row that chain state b is given by
     * the next phase_begin / chain_reset with rows, and keeps until the next
     * bind (index = NULL: unknown from now on). A model with per-example
     * memory (eqprop's persistent free states) keys it by these indices; the
     * learners bind every time they draw rows. NULL = the model ignores
     * them. Must not change the chain's state or draw random numbers. */
    flexcl_code (*bind_rows)(void *impl, void *chain, const size_t *index,
                             size_t n_rows);
    /* Model-level memory: state the model itself carries from phase to
     * phase outside every chain (eqprop: the per-example store of
     * persistent free states, filled through bind_rows), as one flat vector
     * of doubles, so that checkpoints can save it. memory_size is its length
     * now (0 = none, e.g. a store not allocated yet); memory_get copies it
     * into out[memory_size]; memory_set replaces it with in[n] (n = 0
     * drops it; a memory not allocated yet is allocated), failing with
     * FLEXCL_ERR_ARG for a length the model cannot hold. A model restored
     * through params, memory_set and its chains' state_set continues
     * bitwise as the original, in either order of the last two. None of
     * the three may draw random numbers or change θ. NULL (all three) =
     * the model has no such memory (the RBM). */
    size_t (*memory_size)(const void *impl);
    void (*memory_get)(const void *impl, double *out);
    flexcl_code (*memory_set)(void *impl, const double *in, size_t n);
    /* FLEXCL_MODEL_NEEDS_* bits (0 = none, the RBM). */
    unsigned needs;
} flexcl_model_ops;

/* Parse a hidden-layer widths text (model.hidden, shared by every model
 * kind that reads it): "w1,w2,..." with each width in [1, 100000], blanks
 * allowed around the numbers. "" or "auto" gives *n = 0 (the caller's
 * default). At most max widths; FLEXCL_ERR_ARG names the text. Not
 * collective. */
flexcl_code flexcl_widths_parse(const char *text, size_t *widths, size_t max, size_t *n);

/* Look up a registered model kind by name ("rbm"); NULL if unknown. */
const flexcl_model_ops *flexcl_model_lookup(const char *name);
/* Built-in kinds, NULL-terminated, for help texts. */
const flexcl_model_ops *const *flexcl_model_registry(void);
/* Add a model kind at run time (a test's tiny model, a plugin): afterwards
 * flexcl_model_lookup and flexcl_model_create find it by ops->name. The
 * table is borrowed and must outlive every use. FLEXCL_ERR_ARG for a table
 * without a name or a required operation, a name already taken, or more
 * than 16 registered kinds. Not thread-safe: call before creating models.
 * Not collective (call it on every rank). */
flexcl_code flexcl_model_register(const flexcl_model_ops *ops);

/* Create a model of kind s->kind for data of width dim with n_classes label
 * units. Parameters are initialised from stream s (FLEXCL_RNG_INIT, step 0).
 * Not collective. Release with flexcl_model_destroy. */
flexcl_code flexcl_model_create(const flexcl_model_settings *settings,
                                size_t dim, size_t n_classes,
                                const flexcl_stream *init, flexcl_model **out);
void flexcl_model_destroy(flexcl_model **m); /* NULL-safe */

const char *flexcl_model_name(const flexcl_model *m);
size_t flexcl_model_n_params(const flexcl_model *m);
/* The parameter vector θ. The mutable view tells the model that θ may
 * change, so a model with θ-dependent caches (eqprop's input drive) drops
 * them: ask for it again after every change made through an earlier
 * pointer. The const view goes through the same operation, so it is not for
 * several threads at once on one model. */
double *flexcl_model_params(flexcl_model *m);
const double *flexcl_model_params_const(const flexcl_model *m);
size_t flexcl_model_n_blocks(const flexcl_model *m);
flexcl_param_block flexcl_model_block(const flexcl_model *m, size_t i);
/* 1 for each learnable coordinate, 0 for a fixed one; n_params entries. */
const unsigned char *flexcl_model_learnable(const flexcl_model *m);
const flexcl_model_settings *flexcl_model_settings_get(const flexcl_model *m);

flexcl_code flexcl_chain_create(const flexcl_model *m, size_t batch,
                                flexcl_chain **out);
void flexcl_chain_destroy(flexcl_chain **c); /* NULL-safe */
size_t flexcl_chain_batch(const flexcl_chain *c);
/* Units in one network state, and a copy of state b < batch into out. */
size_t flexcl_model_state_size(const flexcl_model *m);
void flexcl_chain_state(const flexcl_model *m, const flexcl_chain *c, size_t b,
                        double *out);
/* dst and src must come from the same model and batch size. */
void flexcl_chain_copy(flexcl_chain *dst, const flexcl_chain *src);
/* Overwrite state b < batch of the chain with in[state_size] (the layout of
 * flexcl_chain_state), e.g. from a checkpoint. FLEXCL_ERR_UNSUPPORTED when
 * the model has no state_set operation. Not collective. */
flexcl_code flexcl_chain_set_state(const flexcl_model *m, flexcl_chain *c,
                                   size_t b, const double *in);

flexcl_code flexcl_model_phase_begin(flexcl_model *m, flexcl_chain *c,
                                     flexcl_phase phase,
                                     const float *const *rows,
                                     const flexcl_stream *s, uint64_t step);
flexcl_code flexcl_model_chain_reset(flexcl_model *m, flexcl_chain *c,
                                     const float *const *rows);
flexcl_code flexcl_model_step(flexcl_model *m, flexcl_chain *c,
                              flexcl_phase phase, const flexcl_stream *s,
                              uint64_t step);
void flexcl_model_stats_axpy(const flexcl_model *m, const flexcl_chain *c,
                             flexcl_phase phase, double w, double *g);
/* Graded clamping of a chain's positive phase (ops.nudge); level in [0, 1].
 * FLEXCL_ERR_UNSUPPORTED when the model has none, FLEXCL_ERR_ARG for a level
 * outside [0, 1]. Not collective. */
flexcl_code flexcl_model_nudge(flexcl_model *m, flexcl_chain *c, double level);
/* Tell the chain the training-set indices of the rows its states are given
 * next (ops.bind_rows); a no-op (FLEXCL_OK) for a model without per-example
 * memory. index = NULL unbinds. Not collective. */
flexcl_code flexcl_model_bind_rows(flexcl_model *m, flexcl_chain *c,
                                   const size_t *index, size_t n_rows);
/* The model's memory outside its chains (ops.memory_size / memory_get /
 * memory_set), e.g. for checkpoints. flexcl_model_memory_size is 0 for a
 * model without memory (or none yet), and flexcl_model_memory_get then
 * copies nothing. flexcl_model_memory_set replaces the memory with in[n]
 * (n = 0: drop it; in may be NULL then): FLEXCL_OK for n = 0 on a model
 * without memory, FLEXCL_ERR_UNSUPPORTED for n > 0 there, FLEXCL_ERR_ARG
 * for a length the model cannot hold. Not collective. */
size_t flexcl_model_memory_size(const flexcl_model *m);
void flexcl_model_memory_get(const flexcl_model *m, double *out);
flexcl_code flexcl_model_memory_set(flexcl_model *m, const double *in, size_t n);
flexcl_code flexcl_model_equilibrium(flexcl_model *m, flexcl_chain *c,
                                     flexcl_phase phase,
                                     const float *const *rows,
                                     const flexcl_stream *s, uint64_t step);
flexcl_code flexcl_model_exact_gradient(flexcl_model *m, const flexcl_data *d,
                                        double *g);
flexcl_code flexcl_model_evaluate(flexcl_model *m, const flexcl_data *d,
                                  flexcl_metrics *out);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_MODEL_H */
