/* Learners: the phase clock, the estimators and parameter averaging (see
 * flexcl/learner.h). Each local learner ("core") is a small state machine
 * advanced one time step at a time; nothing in it depends on the thread that
 * runs it, so results depend only on (job, seed, learner count). */
#include "flexcl/learner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void flexcl_estimator_settings_default(flexcl_estimator_settings *s)
{
    s->kind = FLEXCL_EST_ISD;
    s->eta = 0.005;
    s->b = 0.5;
    s->weights = FLEXCL_WEIGHTS_IMPORTANCE;
    s->tau = 200.0;
    s->law = FLEXCL_LAW_FIXED;
    s->uniform_halfwidth = 0;
    s->persistent = 0;
    s->batch = 1;
}

const char *flexcl_estimator_kind_name(flexcl_estimator_kind k)
{
    switch (k) {
    case FLEXCL_EST_TWO_TERM: return "two_term";
    case FLEXCL_EST_ISD: return "isd";
    case FLEXCL_EST_AOL: return "aol";
    }
    return "?";
}

const char *flexcl_phase_law_name(flexcl_phase_law l)
{
    switch (l) {
    case FLEXCL_LAW_FIXED: return "fixed";
    case FLEXCL_LAW_GEOMETRIC: return "geometric";
    case FLEXCL_LAW_UNIFORM: return "uniform";
    }
    return "?";
}

const char *flexcl_weights_name(flexcl_weights w)
{
    switch (w) {
    case FLEXCL_WEIGHTS_IMPORTANCE: return "importance";
    case FLEXCL_WEIGHTS_UNIT: return "unit";
    case FLEXCL_WEIGHTS_SWAPPED: return "swapped";
    }
    return "?";
}

void flexcl_estimator_weights(flexcl_weights mode, double b, double *w_pos,
                              double *w_neg)
{
    switch (mode) {
    case FLEXCL_WEIGHTS_UNIT:
        *w_pos = 1.0;
        *w_neg = -1.0;
        return;
    case FLEXCL_WEIGHTS_SWAPPED:
        *w_pos = 1.0 / (1.0 - b);
        *w_neg = -1.0 / b;
        return;
    case FLEXCL_WEIGHTS_IMPORTANCE:
    default:
        *w_pos = 1.0 / b;
        *w_neg = -1.0 / (1.0 - b);
        return;
    }
}

uint64_t flexcl_phase_length(flexcl_phase_law law, double tau, int halfwidth,
                             double u)
{
    switch (law) {
    case FLEXCL_LAW_GEOMETRIC: {
        /* Inverse CDF of P(T=t) = (1−p)^(t−1) p on {1, 2, ...}, p = 1/τ. */
        double p = 1.0 / tau;
        if (p >= 1.0) return 1;
        double t = ceil(log(u) / log1p(-p));
        return t < 1.0 ? 1 : (uint64_t)t;
    }
    case FLEXCL_LAW_UNIFORM: {
        /* Uniform on {τ−w, ..., τ+w} (τ rounded to the nearest step). */
        long long centre = llround(tau);
        long long span = 2LL * halfwidth + 1;
        long long k = (long long)(u * (double)span);
        if (k >= span) k = span - 1;
        long long t = centre - halfwidth + k;
        return t < 1 ? 1 : (uint64_t)t;
    }
    case FLEXCL_LAW_FIXED:
    default: {
        long long t = llround(tau);
        return t < 1 ? 1 : (uint64_t)t;
    }
    }
}

typedef struct {
    flexcl_model *model;
    flexcl_chain *chain;     /* the persistent chain (positive phases for two_term) */
    flexcl_chain *neg_chain; /* two_term persistent: the separate PCD chain */
    flexcl_optim *opt;
    flexcl_stream stream;
    uint64_t t;          /* time steps done */
    uint64_t phases;     /* phases completed */
    uint64_t updates;    /* parameter updates made */
    flexcl_phase phase;  /* type of the current phase */
    uint64_t remaining;  /* steps left in the current phase; 0 = start one */
    double w;            /* weight of the current phase */
    double *g;           /* update direction (n_params) */
    double *g_pos;       /* two_term: G⁺ held until the negative phase ends */
    size_t *order;       /* data order of the current epoch */
    size_t cursor;       /* next position in order */
    uint64_t epoch;
    const float **rows;  /* rows of the current positive phase (batch) */
} core;

struct flexcl_learner {
    MPI_Comm comm;
    int rank, size, L;
    flexcl_learner_settings ls;
    flexcl_estimator_settings es;
    const flexcl_data *data;
    size_t P;
    core *cores;
    double *gather; /* P * L * size, averaging buffer */
    double *mean;   /* P */
    flexcl_code *codes; /* per local learner, from the last advance */
    char (*messages)[256]; /* their error messages (errors are thread-local) */
};

static void shuffle_epoch(core *c, size_t n)
{
    for (size_t k = 0; k < n; ++k) c->order[k] = k;
    /* Fisher-Yates with counter-based uniforms: (epoch, DATA, position). */
    for (size_t k = n; k > 1; --k) {
        double u = flexcl_stream_uniform1(&c->stream, c->epoch, FLEXCL_RNG_DATA, k);
        size_t j = (size_t)(u * (double)k);
        if (j >= k) j = k - 1;
        size_t tmp = c->order[k - 1];
        c->order[k - 1] = c->order[j];
        c->order[j] = tmp;
    }
}

static void next_rows(core *c, const flexcl_data *d, size_t batch)
{
    size_t n = flexcl_data_rows(d);
    for (size_t b = 0; b < batch; ++b) {
        if (c->cursor == n) {
            c->epoch++;
            shuffle_epoch(c, n);
            c->cursor = 0;
        }
        c->rows[b] = flexcl_data_row(d, c->order[c->cursor++]);
    }
}

/* Start a new phase: choose its type, length and data (SPEC §2). */
static flexcl_code begin_phase(flexcl_learner *l, core *c)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_estimator_settings *es = &l->es;
    double w_pos, w_neg;
    flexcl_estimator_weights(es->weights, es->b, &w_pos, &w_neg);
    if (es->kind == FLEXCL_EST_TWO_TERM) {
        c->phase = (c->phases % 2 == 0) ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
    } else {
        double u = flexcl_stream_uniform1(&c->stream, c->t, FLEXCL_RNG_PHASE, 0);
        c->phase = u < es->b ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
    }
    c->w = c->phase == FLEXCL_PHASE_POSITIVE ? w_pos : w_neg;
    double u_len = flexcl_stream_uniform1(&c->stream, c->t, FLEXCL_RNG_LENGTH, 0);
    c->remaining = flexcl_phase_length(es->law, es->tau, es->uniform_halfwidth, u_len);
    if (c->phase == FLEXCL_PHASE_POSITIVE) {
        next_rows(c, l->data, (size_t)es->batch);
        FLEXCL_CALL(flexcl_model_phase_begin(c->model, c->chain, c->phase, c->rows,
                                             &c->stream, c->t));
    } else if (es->kind == FLEXCL_EST_TWO_TERM && !es->persistent) {
        /* CD-K: the negative phase restarts at the positive phase's rows. */
        FLEXCL_CALL(flexcl_model_chain_reset(c->model, c->chain, c->rows));
    } else {
        flexcl_chain *ch = c->neg_chain ? c->neg_chain : c->chain;
        FLEXCL_CALL(flexcl_model_phase_begin(c->model, ch, c->phase, NULL,
                                             &c->stream, c->t));
    }
done:
    return err;
}

/* The phase just ended: make the estimator's end-of-phase update. */
static void end_phase(flexcl_learner *l, core *c, flexcl_chain *ch)
{
    const flexcl_estimator_settings *es = &l->es;
    double *theta = flexcl_model_params(c->model);
    c->phases++;
    switch (es->kind) {
    case FLEXCL_EST_ISD:
        memset(c->g, 0, l->P * sizeof *c->g);
        flexcl_model_stats_axpy(c->model, ch, c->phase, c->w, c->g);
        flexcl_optim_apply(c->opt, theta, c->g, es->eta);
        c->updates++;
        break;
    case FLEXCL_EST_TWO_TERM:
        if (c->phase == FLEXCL_PHASE_POSITIVE) {
            memset(c->g_pos, 0, l->P * sizeof *c->g_pos);
            flexcl_model_stats_axpy(c->model, ch, c->phase, 1.0, c->g_pos);
        } else {
            memcpy(c->g, c->g_pos, l->P * sizeof *c->g);
            flexcl_model_stats_axpy(c->model, ch, c->phase, -1.0, c->g);
            flexcl_optim_apply(c->opt, theta, c->g, es->eta);
            c->updates++;
        }
        break;
    case FLEXCL_EST_AOL:
        break; /* AoL updated at every step */
    }
}

/* Advance one core by n time steps. */
static flexcl_code core_advance(flexcl_learner *l, core *c, uint64_t n)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_estimator_settings *es = &l->es;
    double aol_lr = es->eta / es->tau;
    for (uint64_t k = 0; k < n; ++k) {
        if (c->remaining == 0) FLEXCL_CALL(begin_phase(l, c));
        flexcl_chain *ch = (c->phase == FLEXCL_PHASE_NEGATIVE && c->neg_chain)
                               ? c->neg_chain : c->chain;
        FLEXCL_CALL(flexcl_model_step(c->model, ch, c->phase, &c->stream, c->t));
        if (es->kind == FLEXCL_EST_AOL) {
            memset(c->g, 0, l->P * sizeof *c->g);
            flexcl_model_stats_axpy(c->model, ch, c->phase, c->w, c->g);
            flexcl_optim_apply(c->opt, flexcl_model_params(c->model), c->g, aol_lr);
            c->updates++;
        }
        c->t++;
        if (--c->remaining == 0) end_phase(l, c, ch);
    }
done:
    return err;
}

static void core_free(core *c)
{
    flexcl_model_destroy(&c->model);
    flexcl_chain_destroy(&c->chain);
    flexcl_chain_destroy(&c->neg_chain);
    flexcl_optim_destroy(&c->opt);
    free(c->g);
    free(c->g_pos);
    free(c->order);
    free(c->rows);
}

flexcl_code flexcl_learner_create(MPI_Comm comm, const flexcl_learner_settings *ls,
                                  const flexcl_model_settings *ms,
                                  const flexcl_estimator_settings *es,
                                  const flexcl_optim_settings *os,
                                  const flexcl_data *data, int same_init,
                                  flexcl_learner **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_learner *l = NULL;
    int local_ok = 1, all_ok = 0;
    FLEXCL_CHECK(ls->learners_per_rank >= 1, FLEXCL_ERR_ARG,
                 "learners_per_rank must be >= 1, got %d", ls->learners_per_rank);
    FLEXCL_CHECK(es->b > 0.0 && es->b < 1.0, FLEXCL_ERR_ARG,
                 "estimator b must be in (0, 1), got %g", es->b);
    FLEXCL_CHECK(es->eta > 0.0 && es->tau >= 1.0 && es->batch >= 1, FLEXCL_ERR_ARG,
                 "estimator needs eta > 0, tau >= 1 and batch >= 1");
    FLEXCL_CHECK(flexcl_data_rows(data) > 0, FLEXCL_ERR_ARG, "the data set is empty");
    FLEXCL_ALLOC(l, 1);
    l->comm = MPI_COMM_NULL;
    FLEXCL_MPI(MPI_Comm_dup(comm, &l->comm));
    FLEXCL_MPI(MPI_Comm_rank(l->comm, &l->rank));
    FLEXCL_MPI(MPI_Comm_size(l->comm, &l->size));
    l->ls = *ls;
    l->es = *es;
    l->data = data;
    l->L = ls->learners_per_rank;
    FLEXCL_ALLOC(l->cores, l->L);
    size_t n_rows = flexcl_data_rows(data);
    for (int i = 0; i < l->L; ++i) {
        core *c = &l->cores[i];
        uint64_t id = (uint64_t)l->rank * (uint64_t)l->L + (uint64_t)i;
        c->stream = flexcl_stream_make(ls->seed, ls->point, id);
        flexcl_stream init = same_init ? flexcl_stream_make(ls->seed, ls->point, 0)
                                       : c->stream;
        FLEXCL_CALL(flexcl_model_create(ms, flexcl_data_dim(data),
                                        flexcl_data_classes(data), &init, &c->model));
        l->P = flexcl_model_n_params(c->model);
        FLEXCL_CALL(flexcl_chain_create(c->model, (size_t)es->batch, &c->chain));
        if (es->kind == FLEXCL_EST_TWO_TERM && es->persistent)
            FLEXCL_CALL(flexcl_chain_create(c->model, (size_t)es->batch, &c->neg_chain));
        FLEXCL_CALL(flexcl_optim_create(os, l->P, flexcl_model_learnable(c->model),
                                        &c->opt));
        FLEXCL_ALLOC(c->g, l->P);
        FLEXCL_ALLOC(c->g_pos, l->P);
        FLEXCL_ALLOC(c->order, n_rows);
        FLEXCL_ALLOC(c->rows, (size_t)es->batch);
        shuffle_epoch(c, n_rows);
        /* Chains start at data rows (h = 0), the PCD chain too. */
        next_rows(c, data, (size_t)es->batch);
        FLEXCL_CALL(flexcl_model_chain_reset(c->model, c->chain, c->rows));
        if (c->neg_chain) FLEXCL_CALL(flexcl_model_chain_reset(c->model, c->neg_chain, c->rows));
    }
    FLEXCL_ALLOC(l->gather, l->P * (size_t)l->L * (size_t)l->size);
    FLEXCL_ALLOC(l->mean, l->P);
    FLEXCL_ALLOC(l->codes, (size_t)l->L);
    FLEXCL_ALLOC(l->messages, (size_t)l->L);
done:
    /* Ranks agree on failure before anyone returns. */
    local_ok = err == FLEXCL_OK;
    if (l && l->comm != MPI_COMM_NULL) {
        MPI_Allreduce(&local_ok, &all_ok, 1, MPI_INT, MPI_LAND, l->comm);
        if (local_ok && !all_ok)
            err = flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                                   "another rank failed to create its learners");
    }
    if (err == FLEXCL_OK) *out = l;
    else flexcl_learner_destroy(&l);
    return err;
}

void flexcl_learner_destroy(flexcl_learner **lp)
{
    if (!lp || !*lp) return;
    flexcl_learner *l = *lp;
    if (l->cores)
        for (int i = 0; i < l->L; ++i) core_free(&l->cores[i]);
    free(l->cores);
    free(l->gather);
    free(l->mean);
    free(l->codes);
    free(l->messages);
    if (l->comm != MPI_COMM_NULL) MPI_Comm_free(&l->comm);
    free(l);
    *lp = NULL;
}

/* Average θ over every learner of the communicator. The sum runs over
 * learners in global id order on every rank, so every rank computes
 * bitwise the same mean whatever MPI's reduction algorithm would do. */
static flexcl_code average(flexcl_learner *l)
{
    flexcl_code err = FLEXCL_OK;
    size_t P = l->P, L = (size_t)l->L;
    double *mine = l->gather + (size_t)l->rank * L * P;
    for (size_t i = 0; i < L; ++i)
        memcpy(mine + i * P, flexcl_model_params(l->cores[i].model), P * sizeof(double));
    FLEXCL_MPI(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, l->gather,
                             (int)(L * P), MPI_DOUBLE, l->comm));
    size_t total = L * (size_t)l->size;
    memset(l->mean, 0, P * sizeof *l->mean);
    for (size_t k = 0; k < total; ++k)
        for (size_t q = 0; q < P; ++q) l->mean[q] += l->gather[k * P + q];
    for (size_t q = 0; q < P; ++q) l->mean[q] /= (double)total;
    for (size_t i = 0; i < L; ++i)
        memcpy(flexcl_model_params(l->cores[i].model), l->mean, P * sizeof(double));
done:
    return err;
}

flexcl_code flexcl_learner_advance(flexcl_learner *l, uint64_t n)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_code *codes = l->codes;
    uint64_t A = l->ls.average_every;
    while (n > 0) {
        /* All cores share one clock value (they advance by equal counts). */
        uint64_t t = l->cores[0].t;
        uint64_t chunk = n;
        if (A > 0 && A - t % A < chunk) chunk = A - t % A;
        int L = l->L;
#pragma omp parallel for schedule(dynamic, 1) default(none) shared(l, codes, chunk, L)
        for (int i = 0; i < L; ++i) {
            codes[i] = core_advance(l, &l->cores[i], chunk);
            if (codes[i] != FLEXCL_OK)
                snprintf(l->messages[i], sizeof l->messages[i], "%s",
                         flexcl_error_message());
        }
        for (int i = 0; i < L; ++i)
            FLEXCL_CHECK(codes[i] == FLEXCL_OK, codes[i], "learner %d failed: %s",
                         flexcl_learner_first_id(l) + i, l->messages[i]);
        n -= chunk;
        if (A > 0 && l->cores[0].t % A == 0) FLEXCL_CALL(average(l));
    }
done:
    return err;
}

int flexcl_learner_local_count(const flexcl_learner *l) { return l->L; }
int flexcl_learner_global_count(const flexcl_learner *l) { return l->L * l->size; }
int flexcl_learner_first_id(const flexcl_learner *l) { return l->rank * l->L; }
flexcl_model *flexcl_learner_model(flexcl_learner *l, int i) { return l->cores[i].model; }
uint64_t flexcl_learner_steps(const flexcl_learner *l, int i) { return l->cores[i].t; }
uint64_t flexcl_learner_phases(const flexcl_learner *l, int i) { return l->cores[i].phases; }
uint64_t flexcl_learner_updates(const flexcl_learner *l, int i) { return l->cores[i].updates; }
