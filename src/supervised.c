/* Minibatch training of the feed-forward learners; see
 * include/flexcl/supervised.h. The trainer owns the estimator, optimiser,
 * epochs and snapshots and reaches each kind's network through its
 * operations table (src/supervised_impl.h). */
#include "flexcl/supervised.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flexcl/dualprop.h"
#include "flexcl/ff.h"
#include "supervised_impl.h"

/* The kind → table lookup: one entry per flexcl_supervised_kind. */
static const flexcl_supervised_model_ops *const models[] = {
    [FLEXCL_SUP_FF] = &flexcl_supervised_ff_ops,
    [FLEXCL_SUP_DP] = &flexcl_supervised_dp_ops,
    [FLEXCL_SUP_DPT] = &flexcl_supervised_dpt_ops,
    [FLEXCL_SUP_BACKPROP] = &flexcl_supervised_backprop_ops,
};
enum { N_MODELS = sizeof models / sizeof models[0] };
_Static_assert((int)N_MODELS == (int)FLEXCL_SUP_KINDS, "one table per flexcl_supervised_kind");

/* The table of a kind; NULL for an unknown value. */
static const flexcl_supervised_model_ops *model_of(flexcl_supervised_kind kind)
{
    return (unsigned)kind < N_MODELS ? models[kind] : NULL;
}

int flexcl_supervised_kind_parse(const char *name, flexcl_supervised_kind *kind)
{
    for (size_t i = 0; name && i < N_MODELS; ++i)
        if (strcmp(name, models[i]->name) == 0) {
            *kind = (flexcl_supervised_kind)i;
            return 1;
        }
    return 0;
}

const char *flexcl_supervised_kind_name(flexcl_supervised_kind kind)
{
    return model_of(kind) ? model_of(kind)->name : "?";
}

void flexcl_supervised_settings_default(flexcl_supervised_settings *s)
{
    memset(s, 0, sizeof *s);
    s->kind = FLEXCL_SUP_DPT;
    s->threshold = 2.0;
    s->alpha = 0.5;
    s->sweeps = 8;
    s->epochs = 2;
}

flexcl_code flexcl_supervised_hidden(const flexcl_supervised_settings *s,
                                     const flexcl_model_settings *model,
                                     size_t *widths, size_t max, size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(flexcl_widths_parse(model->hidden, widths, max, n));
    if (*n == 0) { /* "auto": the authors' network of the kind */
        const flexcl_supervised_model_ops *ops = model_of(s->kind);
        FLEXCL_CHECK(ops != NULL, FLEXCL_ERR_ARG, "supervised: unknown kind %d", (int)s->kind);
        FLEXCL_CHECK(max >= 2, FLEXCL_ERR_ARG, "model.hidden: room for %zu layers", max);
        widths[0] = widths[1] = ops->default_hidden;
        *n = 2;
    }
done:
    return err;
}

struct flexcl_supervised {
    flexcl_supervised_settings s;
    flexcl_estimator_settings est;
    flexcl_stream stream;
    size_t n_in, n_classes, batch;
    const flexcl_supervised_model_ops *ops;
    void *net;     /* the network, ops' impl */
    int aol;       /* a two-phase model under aol */
    flexcl_optim *opt;
    double *theta; /* view into the network */
    size_t n_params;
    double *g;
    double *x; /* batch × n_in */
    int *y, *pred;
    size_t *perm;   /* grown to the data's rows on first use */
    double *u;
    size_t perm_n;
    /* The shuffle in perm is that of epoch perm_epoch over perm_rows rows
     * (perm_rows = 0: none computed yet). */
    uint64_t perm_epoch;
    size_t perm_rows;
    uint64_t epochs, updates;
    /* The epoch in progress: minibatches done, its rows (0 between epochs)
     * and the sum of their losses. */
    uint64_t pos;
    size_t epoch_rows;
    double lsum;
    /* Under aol: the current phase's type (1 positive, 0 negative) and the
     * steps left in it (0: the next step begins a new phase). */
    int aol_z;
    uint64_t aol_left;
    double lr; /* the optimiser's rate: η, or η/τ under aol */
};

flexcl_code flexcl_supervised_param_count(const flexcl_supervised_settings *s,
                                          const flexcl_model_settings *model,
                                          size_t n_inputs, size_t n_classes,
                                          size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_supervised_model_ops *ops = model_of(s->kind);
    *n = 0;
    FLEXCL_CHECK(ops != NULL, FLEXCL_ERR_ARG, "supervised: unknown kind %d", (int)s->kind);
    FLEXCL_CALL(ops->param_count(s, model, n_inputs, n_classes, n));
done:
    return err;
}

/* The phase-length settings of aol: τ >= 1, a known law, and the uniform
 * law's support {τ−w, …, τ+w} starting at 1 or more (τ <= 1e15, whole
 * under the fixed and uniform laws: flexcl_supervised_refusal, the one
 * place of that rule). */
static flexcl_code check_aol(const flexcl_estimator_settings *est)
{
    flexcl_code err = FLEXCL_OK;
    char tau[32];
    flexcl_error_format_real(est->tau, tau, sizeof tau);
    FLEXCL_CHECK(est->tau >= 1.0, FLEXCL_ERR_ARG, "estimator.tau: %s must be >= 1", tau);
    FLEXCL_CHECK(est->law == FLEXCL_LAW_FIXED || est->law == FLEXCL_LAW_GEOMETRIC ||
                     est->law == FLEXCL_LAW_UNIFORM,
                 FLEXCL_ERR_ARG, "estimator.law: %d is not a phase-length law", (int)est->law);
    FLEXCL_CHECK(est->law != FLEXCL_LAW_UNIFORM ||
                     (est->uniform_halfwidth >= 0 && (double)est->uniform_halfwidth < est->tau),
                 FLEXCL_ERR_ARG, "estimator.uniform_halfwidth: %d is outside [0, tau = %s)",
                 est->uniform_halfwidth, tau);
done:
    return err;
}

const char *flexcl_supervised_refusal(const flexcl_supervised_settings *s,
                                      const flexcl_estimator_settings *est,
                                      const char **context, char *why, size_t n)
{
    const flexcl_supervised_model_ops *ops = model_of(s->kind);
    if (ops == NULL) return NULL; /* create refuses an unknown kind itself */
    /* aol's rate is eta/tau per step, so E[T] must be tau: the fixed and
     * uniform laws centre T on llround(tau), which is tau only for a whole
     * tau (1e15 keeps it an exact integer). */
    if (ops->phase && est->kind == FLEXCL_EST_AOL &&
        (est->tau > 1e15 || (est->law != FLEXCL_LAW_GEOMETRIC && est->tau != floor(est->tau)))) {
        char tau[32];
        flexcl_error_format_real(est->tau, tau, sizeof tau);
        *context = "estimator.law";
        snprintf(why, n, "%s; model.kind = %s under aol with estimator.law = %s needs %s",
                 tau, ops->name, flexcl_phase_law_name(est->law),
                 est->law == FLEXCL_LAW_GEOMETRIC
                     ? "tau <= 1e15"
                     : "a whole number of steps up to 1e15 (its phases last llround(tau) "
                       "steps on average and the rate is eta/tau)");
        return "estimator.tau";
    }
    *context = "model.kind";
    return ops->refuse ? ops->refuse(s, why, n) : NULL;
}

flexcl_code flexcl_supervised_create(const flexcl_supervised_settings *s,
                                     const flexcl_model_settings *model,
                                     const flexcl_estimator_settings *est,
                                     const flexcl_optim_settings *opt,
                                     size_t n_inputs, size_t n_classes,
                                     const flexcl_stream *stream,
                                     flexcl_supervised **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_supervised *t = NULL;
    const flexcl_supervised_model_ops *ops = NULL;
    FLEXCL_CHECK(s && model && est && opt && stream && out, FLEXCL_ERR_ARG,
                 "supervised: NULL argument");
    FLEXCL_CHECK(est->eta > 0.0 && isfinite(est->eta), FLEXCL_ERR_ARG,
                 "estimator.eta: %g must be finite and > 0", est->eta);
    FLEXCL_CHECK(est->batch >= 1 && est->batch <= 100000, FLEXCL_ERR_ARG,
                 "estimator.batch: %d is outside [1, 100000]", est->batch);
    FLEXCL_CHECK(n_classes >= 2, FLEXCL_ERR_ARG,
                 "supervised: needs >= 2 classes, got %zu", n_classes);
    ops = model_of(s->kind);
    FLEXCL_CHECK(ops != NULL, FLEXCL_ERR_ARG, "supervised: unknown kind %d", (int)s->kind);
    if (ops->phase) { /* two phases: the estimator combines them */
        FLEXCL_CHECK(est->kind == FLEXCL_EST_TWO_TERM || est->kind == FLEXCL_EST_ISD ||
                         est->kind == FLEXCL_EST_AOL,
                     FLEXCL_ERR_UNSUPPORTED,
                     "estimator.kind: %s; model.kind = %s trains under two_term, isd "
                     "or aol", flexcl_estimator_kind_name(est->kind), ops->name);
        FLEXCL_CHECK(est->kind == FLEXCL_EST_TWO_TERM || (est->b > 0.0 && est->b < 1.0),
                     FLEXCL_ERR_ARG, "estimator.b: %g is outside (0, 1)", est->b);
        if (est->kind == FLEXCL_EST_AOL)
            FLEXCL_CALL(check_aol(est));
    }
    {
        char why[256];
        const char *context = NULL;
        const char *key = flexcl_supervised_refusal(s, est, &context, why, sizeof why);
        FLEXCL_CHECK(key == NULL, FLEXCL_ERR_ARG, "%s: %s", key, why);
    }
    FLEXCL_ALLOC(t, 1);
    t->s = *s;
    t->est = *est;
    t->stream = *stream;
    t->n_in = n_inputs;
    t->n_classes = n_classes;
    t->batch = (size_t)est->batch;
    t->ops = ops;
    t->aol = ops->phase && est->kind == FLEXCL_EST_AOL;
    t->lr = t->aol ? est->eta / est->tau : est->eta;
    FLEXCL_CALL(ops->create(s, model, n_inputs, n_classes, t->batch, &t->net));
    ops->init(t->net, stream);
    t->theta = ops->params(t->net);
    t->n_params = ops->n_params(t->net);
    FLEXCL_CALL(flexcl_optim_create(opt, t->n_params, NULL, &t->opt));
    FLEXCL_ALLOC(t->g, t->n_params);
    FLEXCL_ALLOC(t->x, t->batch * n_inputs);
    FLEXCL_ALLOC(t->y, t->batch);
    FLEXCL_ALLOC(t->pred, t->batch);
    *out = t;
    t = NULL;
done:
    flexcl_supervised_destroy(&t);
    return err;
}

void flexcl_supervised_destroy(flexcl_supervised **t)
{
    if (!t || !*t) return;
    flexcl_supervised *p = *t;
    if (p->ops) p->ops->destroy(p->net);
    flexcl_optim_destroy(&p->opt);
    free(p->g);
    free(p->x);
    free(p->y);
    free(p->pred);
    free(p->perm);
    free(p->u);
    free(p);
    *t = NULL;
}

static flexcl_code check_data(const flexcl_supervised *t, const flexcl_data *d)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(d != NULL, FLEXCL_ERR_ARG, "supervised: data is NULL");
    FLEXCL_CHECK(flexcl_data_has_labels(d), FLEXCL_ERR_DATA,
                 "supervised: %s has no labels", flexcl_data_describe(d));
    FLEXCL_CHECK(flexcl_data_pixels(d) == t->n_in, FLEXCL_ERR_DATA,
                 "supervised: %s has %zu pixels per row, the network %zu",
                 flexcl_data_describe(d), flexcl_data_pixels(d), t->n_in);
    FLEXCL_CHECK(flexcl_data_rows(d) >= 1, FLEXCL_ERR_DATA,
                 "supervised: %s has no rows", flexcl_data_describe(d));
done:
    return err;
}

/* Copy rows idx[0..B) of d into t->x and their labels into t->y. */
static flexcl_code load_batch(flexcl_supervised *t, const flexcl_data *d,
                              const size_t *idx, size_t first, size_t B)
{
    flexcl_code err = FLEXCL_OK;
    for (size_t r = 0; r < B; ++r) {
        const size_t i = idx ? idx[r] : first + r;
        const float *row = flexcl_data_row(d, i);
        for (size_t j = 0; j < t->n_in; ++j) t->x[r * t->n_in + j] = row[j];
        t->y[r] = flexcl_data_label(d, i);
        FLEXCL_CHECK(t->y[r] >= 0 && (size_t)t->y[r] < t->n_classes,
                     FLEXCL_ERR_DATA, "supervised: row %zu of %s has label %d, "
                     "outside [0, %zu)", i, flexcl_data_describe(d), t->y[r],
                     t->n_classes);
    }
done:
    return err;
}

/* The aol phase of the step about to be taken (update t->updates): the
 * current phase, or a new one when none is left — its type z ~ Bernoulli(b)
 * from the draw isd makes at this update (FLEXCL_RNG_PHASE, unit 0) and its
 * length from the FLEXCL_RNG_LENGTH lane at the same counter. *z and *left
 * (the steps left including this one) are the trainer's state after the
 * step once the step has succeeded. */
static void aol_phase(const flexcl_supervised *t, int *z, uint64_t *left)
{
    if (t->aol_left > 0) {
        *z = t->aol_z;
        *left = t->aol_left;
        return;
    }
    const flexcl_estimator_settings *es = &t->est;
    *z = flexcl_stream_uniform1(&t->stream, t->updates, FLEXCL_RNG_PHASE, 0) < es->b;
    const double u = flexcl_stream_uniform1(&t->stream, t->updates, FLEXCL_RNG_LENGTH, 0);
    *left = flexcl_phase_length(es->law, es->tau, es->uniform_halfwidth, u);
}

/* One update direction into t->g; *loss = the minibatch's training loss.
 * A one-direction model gives its rule's direction. For a two-phase model
 * the estimator decides the phases (include/flexcl/supervised.h): two_term
 * g = G⁺ − G⁻; isd and aol one phase z, weighted w₁ (positive) or w₀
 * (negative). Under aol, *aol_z and *aol_left are the phase of this step
 * (aol_phase). */
static flexcl_code direction(flexcl_supervised *t, size_t B, double *loss, int *aol_z,
                             uint64_t *aol_left)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_supervised_model_ops *ops = t->ops;
    int pos = 1, neg = 1;
    double w1 = 1.0, w0 = -1.0;
    if (!ops->phase) {
        FLEXCL_CALL(ops->direction(t->net, t->x, t->y, B, t->g, loss));
        goto done;
    }
    if (t->est.kind == FLEXCL_EST_ISD || t->est.kind == FLEXCL_EST_AOL) {
        int z;
        if (t->est.kind == FLEXCL_EST_AOL)
            aol_phase(t, &z, aol_left);
        else
            z = flexcl_stream_uniform1(&t->stream, t->updates, FLEXCL_RNG_PHASE, 0) < t->est.b;
        *aol_z = z;
        pos = z;
        neg = !z;
        flexcl_estimator_weights(t->est.weights, t->est.b, &w1, &w0);
    }
    *loss = 0.0;
    if (pos)
        FLEXCL_CALL(ops->phase(t->net, FLEXCL_PHASE_POSITIVE, t->x, t->y, B, &t->stream,
                               t->updates, w1, t->g, loss));
    if (neg)
        FLEXCL_CALL(ops->phase(t->net, FLEXCL_PHASE_NEGATIVE, t->x, t->y, B, &t->stream,
                               t->updates, w0, t->g, loss));
done:
    return err;
}

/* The shuffle of the current epoch over n rows into t->perm: Fisher-Yates
 * with uniforms keyed by (stream, epoch). Kept while the epoch lasts. */
static flexcl_code shuffle(flexcl_supervised *t, size_t n)
{
    flexcl_code err = FLEXCL_OK;
    if (t->perm_rows == n && t->perm_epoch == t->epochs) goto done;
    if (t->perm_n < n) {
        free(t->perm);
        free(t->u);
        t->perm = NULL;
        t->u = NULL;
        t->perm_n = 0;
        t->perm_rows = 0;
        FLEXCL_ALLOC(t->perm, n);
        FLEXCL_ALLOC(t->u, n);
        t->perm_n = n;
    }
    flexcl_stream_uniform(&t->stream, t->epochs, FLEXCL_RNG_DATA, 0, n, t->u);
    for (size_t i = 0; i < n; ++i) t->perm[i] = i;
    for (size_t i = n - 1; i > 0; --i) {
        size_t j = (size_t)(t->u[i] * (double)(i + 1));
        if (j > i) j = i;
        const size_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
    t->perm_rows = n;
    t->perm_epoch = t->epochs;
done:
    return err;
}

/* Minibatches of an epoch over n rows (the last one may be shorter). */
static uint64_t epoch_batches(const flexcl_supervised *t, size_t n)
{
    return (uint64_t)((n + t->batch - 1) / t->batch);
}

flexcl_code flexcl_supervised_advance(flexcl_supervised *t, const flexcl_data *d,
                                      uint64_t max_batches, int *epoch_done,
                                      double *epoch_loss)
{
    flexcl_code err = FLEXCL_OK;
    if (epoch_done) *epoch_done = 0;
    if (epoch_loss) *epoch_loss = NAN;
    FLEXCL_CALL(check_data(t, d));
    const size_t n = flexcl_data_rows(d);
    FLEXCL_CHECK(t->pos == 0 || t->epoch_rows == n, FLEXCL_ERR_DATA,
                 "supervised: epoch %llu is in progress over %zu rows (%llu "
                 "minibatches done), %s has %zu",
                 (unsigned long long)t->epochs + 1, t->epoch_rows,
                 (unsigned long long)t->pos, flexcl_data_describe(d), n);
    if (max_batches == 0) goto done;
    FLEXCL_CALL(shuffle(t, n));
    const uint64_t nb = epoch_batches(t, n);
    t->epoch_rows = n;
    for (uint64_t k = 0; k < max_batches && t->pos < nb; ++k) {
        const size_t first = (size_t)t->pos * t->batch;
        const size_t B = n - first < t->batch ? n - first : t->batch;
        double l = 0.0;
        int z = 0;
        uint64_t left = 0;
        FLEXCL_CALL(load_batch(t, d, t->perm + first, 0, B));
        memset(t->g, 0, t->n_params * sizeof *t->g);
        FLEXCL_CALL(direction(t, B, &l, &z, &left));
        for (size_t c = 0; c < t->n_params; ++c)
            FLEXCL_CHECK(isfinite(t->g[c]), FLEXCL_ERR_NUMERIC,
                         "supervised: %s update %llu: coordinate %zu of the "
                         "direction is %g", flexcl_supervised_kind_name(t->s.kind),
                         (unsigned long long)t->updates, c, t->g[c]);
        flexcl_optim_apply(t->opt, t->theta, t->g, t->lr);
        if (t->aol) {
            t->aol_left = left - 1;
            t->aol_z = t->aol_left > 0 ? z : 0; /* 0 when no phase is in progress */
        }
        t->updates++;
        t->pos++;
        t->lsum += l;
    }
    if (t->pos == nb) {
        const double loss = t->lsum / (double)nb;
        t->epochs++;
        t->pos = 0;
        t->epoch_rows = 0;
        t->lsum = 0.0;
        if (epoch_done) *epoch_done = 1;
        if (epoch_loss) *epoch_loss = loss;
    }
done:
    return err;
}

flexcl_code flexcl_supervised_epoch(flexcl_supervised *t, const flexcl_data *d,
                                    double *loss)
{
    flexcl_code err = FLEXCL_OK;
    int finished = 0;
    double l = NAN;
    FLEXCL_CALL(flexcl_supervised_advance(t, d, UINT64_MAX, &finished, &l));
    FLEXCL_CHECK(finished, FLEXCL_ERR_INTERNAL,
                 "supervised: epoch %llu did not finish",
                 (unsigned long long)t->epochs + 1);
    if (loss) *loss = l;
done:
    return err;
}

uint64_t flexcl_supervised_epoch_position(const flexcl_supervised *t) { return t->pos; }

size_t flexcl_supervised_state_size(const flexcl_supervised *t)
{
    return t->n_params + flexcl_optim_state_size(t->opt) + 1;
}

void flexcl_supervised_state_get(const flexcl_supervised *t, double *state,
                                 uint64_t clock[FLEXCL_SUP_CLOCK])
{
    const size_t P = t->n_params, Q = flexcl_optim_state_size(t->opt);
    memcpy(state, t->theta, P * sizeof *state);
    flexcl_optim_state_get(t->opt, state + P);
    state[P + Q] = t->lsum;
    clock[FLEXCL_SUP_CLOCK_EPOCHS] = t->epochs;
    clock[FLEXCL_SUP_CLOCK_UPDATES] = t->updates;
    clock[FLEXCL_SUP_CLOCK_POSITION] = t->pos;
    clock[FLEXCL_SUP_CLOCK_ROWS] = (uint64_t)t->epoch_rows;
    clock[FLEXCL_SUP_CLOCK_OPTIM] = (uint64_t)flexcl_optim_count(t->opt);
    clock[FLEXCL_SUP_CLOCK_PHASE] = (uint64_t)t->aol_z;
    clock[FLEXCL_SUP_CLOCK_REMAINING] = t->aol_left;
}

/* The longest phase the aol law of t can draw (UINT64_MAX: unbounded, the
 * geometric law), 0 when t does not train under aol. */
static uint64_t aol_max_length(const flexcl_supervised *t)
{
    const flexcl_estimator_settings *es = &t->est;
    if (!t->aol) return 0;
    switch (es->law) {
    case FLEXCL_LAW_GEOMETRIC: return UINT64_MAX;
    case FLEXCL_LAW_UNIFORM: return (uint64_t)llround(es->tau) + (uint64_t)es->uniform_halfwidth;
    case FLEXCL_LAW_FIXED:
    default: return (uint64_t)llround(es->tau);
    }
}

flexcl_code flexcl_supervised_state_set(flexcl_supervised *t, const double *state,
                                        size_t n,
                                        const uint64_t clock[FLEXCL_SUP_CLOCK])
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(t && state && clock, FLEXCL_ERR_ARG, "supervised: NULL argument");
    const size_t P = t->n_params, Q = flexcl_optim_state_size(t->opt);
    const uint64_t pos = clock[FLEXCL_SUP_CLOCK_POSITION];
    const uint64_t rows = clock[FLEXCL_SUP_CLOCK_ROWS];
    FLEXCL_CHECK(n == P + Q + 1, FLEXCL_ERR_DATA,
                 "supervised: a state of %zu values, this %s trainer has %zu "
                 "(%zu parameters, %zu optimiser values, 1 loss sum)", n,
                 flexcl_supervised_kind_name(t->s.kind), P + Q + 1, P, Q);
    FLEXCL_CHECK(pos == 0 ? rows == 0 : rows > 0 && rows <= SIZE_MAX &&
                                            pos < epoch_batches(t, (size_t)rows),
                 FLEXCL_ERR_DATA,
                 "supervised: state at minibatch %llu of an epoch over %llu rows "
                 "(batch %zu) is inconsistent", (unsigned long long)pos,
                 (unsigned long long)rows, t->batch);
    FLEXCL_CHECK(pos <= clock[FLEXCL_SUP_CLOCK_UPDATES], FLEXCL_ERR_DATA,
                 "supervised: state at minibatch %llu of its epoch after only "
                 "%llu updates", (unsigned long long)pos,
                 (unsigned long long)clock[FLEXCL_SUP_CLOCK_UPDATES]);
    FLEXCL_CHECK(isfinite(state[P + Q]) && (pos > 0 || state[P + Q] == 0.0),
                 FLEXCL_ERR_DATA, "supervised: state's loss sum %g at minibatch "
                 "%llu of its epoch", state[P + Q], (unsigned long long)pos);
    const uint64_t z = clock[FLEXCL_SUP_CLOCK_PHASE], left = clock[FLEXCL_SUP_CLOCK_REMAINING];
    /* A phase in progress has steps left, and a step has been taken in it. */
    FLEXCL_CHECK(z <= 1 && (z == 0 || left > 0) && (left == 0 || left < aol_max_length(t)) &&
                     (left == 0 || clock[FLEXCL_SUP_CLOCK_UPDATES] > 0),
                 FLEXCL_ERR_DATA,
                 "supervised: state's aol phase (type %llu, %llu steps left) is impossible "
                 "for this %s trainer under %s%s%s", (unsigned long long)z,
                 (unsigned long long)left, flexcl_supervised_kind_name(t->s.kind),
                 flexcl_estimator_kind_name(t->est.kind),
                 aol_max_length(t) ? ", law " : "",
                 aol_max_length(t) ? flexcl_phase_law_name(t->est.law) : "");
    memcpy(t->theta, state, P * sizeof *state);
    flexcl_optim_state_set(t->opt, state + P,
                           (unsigned long long)clock[FLEXCL_SUP_CLOCK_OPTIM]);
    t->lsum = state[P + Q];
    t->epochs = clock[FLEXCL_SUP_CLOCK_EPOCHS];
    t->updates = clock[FLEXCL_SUP_CLOCK_UPDATES];
    t->pos = pos;
    t->epoch_rows = (size_t)rows;
    t->aol_z = (int)z;
    t->aol_left = left;
done:
    return err;
}

flexcl_code flexcl_supervised_accuracy(flexcl_supervised *t,
                                       const flexcl_data *d, size_t rows,
                                       double *acc)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_data(t, d));
    size_t n = flexcl_data_rows(d), right = 0;
    if (rows > 0 && rows < n) n = rows;
    for (size_t first = 0; first < n; first += t->batch) {
        const size_t B = n - first < t->batch ? n - first : t->batch;
        FLEXCL_CALL(load_batch(t, d, NULL, first, B));
        FLEXCL_CALL(t->ops->predict(t->net, t->x, B, t->pred));
        for (size_t r = 0; r < B; ++r) right += t->pred[r] == t->y[r];
    }
    *acc = (double)right / (double)n;
done:
    return err;
}

size_t flexcl_supervised_n_blocks(const flexcl_supervised *t)
{
    const size_t *w = NULL;
    return 2 * t->ops->widths(t->net, &w);
}

flexcl_param_block flexcl_supervised_block(const flexcl_supervised *t, size_t i)
{
    static const char *const wn[] = {"W0", "W1", "W2", "W3", "W4", "W5", "W6", "W7"};
    static const char *const bn[] = {"b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"};
    _Static_assert(FLEXCL_FF_MAX_LAYERS <= 8 && FLEXCL_MLP_MAX_LAYERS <= 8,
                   "block names for at most 8 layers");
    const size_t *w = NULL;
    const size_t L = t->ops->widths(t->net, &w), l = i / 2;
    flexcl_param_block b = {NULL, 0, 0, 0};
    if (l >= L) return b;
    b.offset = flexcl_sup_dense_params(w, l); /* the layers before l */
    if (i % 2 == 0) {
        b.name = wn[l];
        b.rows = w[l + 1];
        b.cols = w[l];
    } else {
        b.name = bn[l];
        b.offset += w[l + 1] * w[l];
        b.rows = w[l + 1];
        b.cols = 1;
    }
    return b;
}

uint64_t flexcl_supervised_epochs_done(const flexcl_supervised *t) { return t->epochs; }
uint64_t flexcl_supervised_updates(const flexcl_supervised *t) { return t->updates; }
size_t flexcl_supervised_n_params(const flexcl_supervised *t) { return t->n_params; }
const double *flexcl_supervised_params(const flexcl_supervised *t) { return t->theta; }

size_t flexcl_supervised_classes(const flexcl_data *d)
{
    if (flexcl_data_classes(d) > 0) return flexcl_data_classes(d);
    int maxl = 1;
    for (size_t i = 0; i < flexcl_data_rows(d); ++i) {
        const int y = flexcl_data_label(d, i);
        maxl = y > maxl ? y : maxl;
    }
    return (size_t)maxl + 1;
}

flexcl_code flexcl_supervised_curve_alloc(flexcl_supervised_curve *c, size_t n_points)
{
    flexcl_code err = FLEXCL_OK;
    c->n_points = n_points;
    FLEXCL_ALLOC(c->epoch, n_points);
    FLEXCL_ALLOC(c->updates, n_points);
    FLEXCL_ALLOC(c->train_loss, n_points);
    FLEXCL_ALLOC(c->train_acc, n_points);
    FLEXCL_ALLOC(c->test_acc, n_points);
    FLEXCL_ALLOC(c->seconds, n_points);
done:
    return err;
}

void flexcl_supervised_curve_free(flexcl_supervised_curve *c)
{
    if (!c) return;
    free(c->epoch);
    free(c->updates);
    free(c->train_loss);
    free(c->train_acc);
    free(c->test_acc);
    free(c->seconds);
    memset(c, 0, sizeof *c);
}

flexcl_code flexcl_supervised_train(const flexcl_supervised_settings *s,
                                    const flexcl_model_settings *model,
                                    const flexcl_estimator_settings *est,
                                    const flexcl_optim_settings *opt,
                                    const flexcl_data *train,
                                    const flexcl_data *test,
                                    const flexcl_stream *stream,
                                    flexcl_supervised_curve *curve,
                                    double *params)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_supervised *t = NULL;
    flexcl_supervised_curve c = {0};
    FLEXCL_CHECK(s && model && train && curve, FLEXCL_ERR_ARG, "supervised: NULL argument");
    FLEXCL_CHECK(flexcl_data_has_labels(train), FLEXCL_ERR_DATA,
                 "supervised: %s has no labels", flexcl_data_describe(train));
    FLEXCL_CALL(flexcl_supervised_create(s, model, est, opt, flexcl_data_pixels(train),
                                         flexcl_supervised_classes(train), stream, &t));
    const size_t E = (size_t)s->epochs + 1;
    FLEXCL_CALL(flexcl_supervised_curve_alloc(&c, E));
    for (size_t e = 0; e < E; ++e) {
        double loss = NAN, sec = 0.0;
        if (e > 0) {
            const double t0 = omp_get_wtime();
            FLEXCL_CALL(flexcl_supervised_epoch(t, train, &loss));
            sec = omp_get_wtime() - t0;
        }
        c.epoch[e] = e;
        c.updates[e] = t->updates;
        c.train_loss[e] = loss;
        c.seconds[e] = sec;
        FLEXCL_CALL(flexcl_supervised_accuracy(t, train, model->eval_rows,
                                               &c.train_acc[e]));
        c.test_acc[e] = NAN;
        if (test)
            FLEXCL_CALL(flexcl_supervised_accuracy(t, test, 0, &c.test_acc[e]));
    }
    if (params) memcpy(params, t->theta, t->n_params * sizeof *params);
    *curve = c;
    memset(&c, 0, sizeof c);
done:
    flexcl_supervised_curve_free(&c);
    flexcl_supervised_destroy(&t);
    return err;
}
