/* Equilibrium propagation (Scellier & Bengio 2017) as a registry model:
 * a layered Hopfield-like network relaxed by projected gradient descent on
 * its energy, free or nudged towards the target (docs/models.md, SPEC §3).
 *
 * Network: input x (clamped, the row's pixels without the label block),
 * state layers s_1 … s_L (the hidden layers, then the output s_L of
 * n_classes units), target y (the row's label block). With s_0 = x and
 * ρ = clip(·, 0, 1),
 *
 *     E(s) = ½ Σ_k ‖s_k‖² − Σ_k b_kᵀ ρ(s_k) − Σ_{l=0}^{L−1} ρ(s_{l+1})ᵀ W_l ρ(s_l)
 *     C(s) = ½ ‖s_L − y‖²        (the ½ is ours; SPEC writes ‖·‖²)
 *     F    = E + β C
 *
 * W_l is stored as an n_{l+1} × n_l block "W<l>" (row = receiving unit),
 * b_k as a vector "b<k>". The states stay in [0, 1] (every step clips), so
 * ρ(s) = s on them and ∂E/∂s_k = s_k − a_k with the net input
 *     a_k = b_k + W_{k−1} s_{k−1} + W_kᵀ s_{k+1}   (no second term for k = L);
 * we take ρ' = 1 on the closed interval [0, 1], i.e. one time step is one
 * projected gradient step of the quadratic E on the box, all layers at once
 * (Jacobi, from the old state):
 *     s_k ← clip(s_k − ε (s_k − a_k + [k = L] β' (s_L − y)), 0, 1),
 * β' = β·level in a positive phase, 0 (one-sided nudging) or −β·level
 * (symmetric nudging) in a negative phase; level is 1 unless ops.nudge set it.
 *
 * Phases (flexcl/model.h): POSITIVE = nudged with +β, NEGATIVE = free (or
 * nudged with −β under symmetric nudging). stats_axpy adds G/β (one-sided)
 * or G/(2β) (symmetric) with G_{W_l} = ρ(s_{l+1}) ρ(s_l)ᵀ, G_{b_k} = ρ(s_k),
 * so the two_term direction E⁺[G] − E⁻[G] is the EP update
 * (1/β)(G^β − G⁰) or (G^β − G^{−β})/(2β), which tends to −∂C(s*)/∂θ at the
 * free fixed point s* as β → 0; isd and aol weight the same statistics.
 *
 * Persistent per-example states: when the caller tells the chain which data
 * rows it holds (ops.bind_rows; the learners do), the model keeps a store of
 * one state per data row. Loading rows (phase_begin with rows, chain_reset)
 * starts each state from its row's stored state (zero before the row was
 * first seen), and every negative-phase step writes the states back, so a
 * row's free relaxation resumes where its last one ended. Without a binding
 * (tests, evaluation) chain_reset starts from zero and phase_begin keeps the
 * chain's state. The store is not part of a chain's state but the model's
 * memory (ops.memory_size / memory_get / memory_set: the whole store, rows
 * × S doubles), which train checkpoints save, so a resumed run continues
 * bitwise (docs/models.md). A bound row the store does not hold (no store
 * yet, or a smaller one set by memory_set) is treated as unbound.
 *
 * Cost: the input drive b_1 + W_0 x is constant while x and θ are, so it is
 * cached per chain and recomputed when rows are loaded or θ may have changed
 * (any call of the params operation, i.e. every optimiser step, average or
 * restore, invalidates it). Layer products are batched over the chain's B
 * states with the deterministic blocked GEMM of gemm.c (serial OpenBLAS
 * per fixed block, OpenMP over blocks): results never depend on the thread
 * count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "model_impl.h"

enum { EP_MAX_LAYERS = 16 }; /* state layers (hidden + output) */
/* Rows relaxed together by evaluate. */
enum { EVAL_BATCH = 256 };

typedef struct {
    size_t L;                      /* state layers (hidden layers + output) */
    size_t n[EP_MAX_LAYERS + 1];   /* n[0] = input pixels, n[L] = n_classes */
    size_t soff[EP_MAX_LAYERS + 1]; /* offset of s_k in a state row (k ≥ 1) */
    size_t woff[EP_MAX_LAYERS];    /* offset of W_l (n[l+1] x n[l]) in θ */
    size_t boff[EP_MAX_LAYERS + 1]; /* offset of b_k (n[k]) in θ (k ≥ 1) */
    size_t S;                      /* state units Σ_{k≥1} n[k] */
    size_t P;
    double beta, epsilon, init_sigma;
    int symmetric;
    int eval_steps;
    size_t eval_rows;
    int threads;                   /* 0 = OpenMP's default */
    double *theta;
    uint64_t gen;                  /* bumped whenever θ may have changed */
    char names[2 * EP_MAX_LAYERS + 1][24];
    /* Persistent per-example states: store_rows x S, zero = not seen. */
    double *store;
    size_t store_rows;
} ep;

typedef struct {
    size_t B;
    double *x;      /* B x n[0] */
    double *y;      /* B x n[L] */
    double *s;      /* B x S */
    double *a;      /* B x S net inputs (scratch) */
    double *drive;  /* B x n[1]: b_1 + W_0 x */
    uint64_t drive_gen;
    int drive_ok;
    double level;   /* graded clamping in [0, 1] */
    int bound;      /* idx holds the data rows of the states */
    size_t *idx;    /* B */
} ep_chain;

static size_t n_in(const ep *m) { return m->n[0]; }
static size_t n_out(const ep *m) { return m->n[m->L]; }

static double clip01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

/* "500" or "500,200"; "" or "auto" = one hidden layer of n_hidden units. */
static flexcl_code parse_widths(const flexcl_model_settings *s, size_t *w, size_t *nw)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(flexcl_widths_parse(s->hidden, w, EP_MAX_LAYERS - 1, nw));
    if (*nw == 0) { /* "" or "auto": one hidden layer of n_hidden units */
        FLEXCL_CHECK(s->n_hidden >= 1, FLEXCL_ERR_ARG, "model.n_hidden must be >= 1, got %d",
                     s->n_hidden);
        w[(*nw)++] = (size_t)s->n_hidden;
    }
done:
    return err;
}

static flexcl_code ep_create(const flexcl_model_settings *s, size_t dim, size_t n_classes,
                             void **impl)
{
    flexcl_code err = FLEXCL_OK;
    ep *m = NULL;
    size_t w[EP_MAX_LAYERS], nw = 0;
    FLEXCL_CHECK(n_classes >= 1 && n_classes < dim, FLEXCL_ERR_ARG,
                 "eqprop needs labelled rows with a label block and pixels besides it: "
                 "got %zu label units in rows of %zu", n_classes, dim);
    FLEXCL_CHECK(isfinite(s->beta) && s->beta != 0.0, FLEXCL_ERR_ARG,
                 "eqprop needs a finite nudging strength beta != 0, got %g", s->beta);
    FLEXCL_CHECK(isfinite(s->epsilon) && s->epsilon > 0.0 && s->epsilon <= 1.0,
                 FLEXCL_ERR_ARG, "eqprop step size epsilon must be in (0, 1], got %g",
                 s->epsilon);
    FLEXCL_CHECK(s->eval_steps >= 1, FLEXCL_ERR_ARG,
                 "eqprop eval_steps must be >= 1, got %d", s->eval_steps);
    FLEXCL_CALL(parse_widths(s, w, &nw));
    FLEXCL_ALLOC(m, 1);
    m->L = nw + 1;
    m->n[0] = dim - n_classes;
    for (size_t k = 0; k < nw; ++k) m->n[k + 1] = w[k];
    m->n[m->L] = n_classes;
    m->S = 0;
    for (size_t k = 1; k <= m->L; ++k) {
        m->soff[k] = m->S;
        m->S += m->n[k];
    }
    m->P = 0;
    for (size_t l = 0; l < m->L; ++l) {
        m->woff[l] = m->P;
        m->P += m->n[l + 1] * m->n[l];
    }
    for (size_t k = 1; k <= m->L; ++k) {
        m->boff[k] = m->P;
        m->P += m->n[k];
    }
    for (size_t l = 0; l < m->L; ++l) snprintf(m->names[l], sizeof m->names[l], "W%zu", l);
    for (size_t k = 1; k <= m->L; ++k)
        snprintf(m->names[m->L + k - 1], sizeof m->names[0], "b%zu", k);
    m->beta = s->beta;
    m->epsilon = s->epsilon;
    m->init_sigma = s->init_sigma;
    m->symmetric = s->symmetric;
    m->eval_steps = s->eval_steps;
    m->eval_rows = s->eval_rows;
    m->threads = 0;
    FLEXCL_ALLOC(m->theta, m->P);
    *impl = m;
    m = NULL;
done:
    if (m) free(m->theta);
    free(m);
    return err;
}

static void ep_destroy(void *impl)
{
    ep *m = impl;
    free(m->theta);
    free(m->store);
    free(m);
}

static size_t ep_n_params(const void *impl) { return ((const ep *)impl)->P; }

/* A mutable view: the caller may change θ, so cached drives are stale. */
static double *ep_params(void *impl)
{
    ep *m = impl;
    m->gen++;
    return m->theta;
}

static size_t ep_n_blocks(const void *impl) { return 2 * ((const ep *)impl)->L; }

static flexcl_param_block ep_block(const void *impl, size_t i)
{
    const ep *m = impl;
    if (i < m->L)
        return (flexcl_param_block){m->names[i], m->woff[i], m->n[i + 1], m->n[i]};
    size_t k = i - m->L + 1;
    return (flexcl_param_block){m->names[i], m->boff[k], m->n[k], 1};
}

/* W_l ~ N(0, init_sigma²) from units woff_l …, biases 0. */
static flexcl_code ep_init_params(void *impl, const flexcl_stream *s)
{
    ep *m = impl;
    memset(m->theta, 0, m->P * sizeof *m->theta);
    size_t nw = m->boff[1];
    flexcl_stream_normal(s, 0, FLEXCL_RNG_INIT, 0, nw, m->theta);
    for (size_t q = 0; q < nw; ++q) m->theta[q] *= m->init_sigma;
    m->gen++;
    return FLEXCL_OK;
}

static void ep_learnable(const void *impl, unsigned char *mask)
{
    memset(mask, 1, ((const ep *)impl)->P);
}

static void chain_free(ep_chain *c)
{
    if (!c) return;
    free(c->x);
    free(c->y);
    free(c->s);
    free(c->a);
    free(c->drive);
    free(c->idx);
    free(c);
}

static flexcl_code ep_chain_create(const void *impl, size_t batch, void **out)
{
    flexcl_code err = FLEXCL_OK;
    const ep *m = impl;
    ep_chain *c = NULL;
    FLEXCL_ALLOC(c, 1);
    c->B = batch;
    FLEXCL_ALLOC(c->x, batch * n_in(m));
    FLEXCL_ALLOC(c->y, batch * n_out(m));
    FLEXCL_ALLOC(c->s, batch * m->S);
    FLEXCL_ALLOC(c->a, batch * m->S);
    FLEXCL_ALLOC(c->drive, batch * m->n[1]);
    FLEXCL_ALLOC(c->idx, batch);
    c->level = 1.0;
    *out = c;
    c = NULL;
done:
    chain_free(c);
    return err;
}

static void ep_chain_destroy(void *chain) { chain_free(chain); }

static void ep_chain_copy(const void *impl, void *dst, const void *src)
{
    const ep *m = impl;
    ep_chain *d = dst;
    const ep_chain *s = src;
    memcpy(d->x, s->x, s->B * n_in(m) * sizeof *d->x);
    memcpy(d->y, s->y, s->B * n_out(m) * sizeof *d->y);
    memcpy(d->s, s->s, s->B * m->S * sizeof *d->s);
    memcpy(d->idx, s->idx, s->B * sizeof *d->idx);
    d->level = s->level;
    d->bound = s->bound;
    d->drive_ok = 0;
}

/* State b: x (n_in) | y (n_out) | s_1 … s_L (S) | level | data row (−1 = none). */
static size_t ep_state_size(const void *impl)
{
    const ep *m = impl;
    return n_in(m) + n_out(m) + m->S + 2;
}

static void ep_state_get(const void *impl, const void *chain, size_t b, double *out)
{
    const ep *m = impl;
    const ep_chain *c = chain;
    size_t ni = n_in(m), no = n_out(m);
    memcpy(out, c->x + b * ni, ni * sizeof *out);
    memcpy(out + ni, c->y + b * no, no * sizeof *out);
    memcpy(out + ni + no, c->s + b * m->S, m->S * sizeof *out);
    out[ni + no + m->S] = c->level;
    out[ni + no + m->S + 1] = c->bound ? (double)c->idx[b] : -1.0;
}

/* Everything a chain carries between steps is in the state (a and drive are
 * recomputed), so a restored chain continues bitwise. The level and the
 * binding are per chain: the last state set wins. */
static void ep_state_set(const void *impl, void *chain, size_t b, const double *in)
{
    const ep *m = impl;
    ep_chain *c = chain;
    size_t ni = n_in(m), no = n_out(m);
    memcpy(c->x + b * ni, in, ni * sizeof *in);
    memcpy(c->y + b * no, in + ni, no * sizeof *in);
    memcpy(c->s + b * m->S, in + ni + no, m->S * sizeof *in);
    c->level = in[ni + no + m->S];
    /* The binding is kept even when the store does not hold the row yet
     * (it may be set by memory_set after the chains): slot() checks. */
    double r = in[ni + no + m->S + 1];
    c->bound = r >= 0.0 && r < 9007199254740992.0; /* 2^53: an exact index */
    if (c->bound) c->idx[b] = (size_t)r;
    c->drive_ok = 0;
}

/* The store's row for state b of the chain, or NULL when the chain is not
 * bound or the store does not hold its row. */
static double *slot(const ep *m, const ep_chain *c, size_t b)
{
    if (!c->bound || c->idx[b] >= m->store_rows) return NULL;
    return m->store + c->idx[b] * m->S;
}

/* x and y from the rows; states from the store when bound, else zero
 * (reset) or kept (!reset). */
static void load_rows(const ep *m, ep_chain *c, const float *const *rows, int reset)
{
    size_t ni = n_in(m), no = n_out(m);
    for (size_t b = 0; b < c->B; ++b) {
        for (size_t i = 0; i < ni; ++i) c->x[b * ni + i] = clip01(rows[b][i]);
        for (size_t j = 0; j < no; ++j) c->y[b * no + j] = rows[b][ni + j];
        const double *saved = slot(m, c, b);
        if (saved)
            memcpy(c->s + b * m->S, saved, m->S * sizeof *c->s);
        else if (reset)
            memset(c->s + b * m->S, 0, m->S * sizeof *c->s);
    }
    c->drive_ok = 0;
}

static flexcl_code ep_phase_begin(void *impl, void *chain, flexcl_phase phase,
                                  const float *const *rows, const flexcl_stream *s,
                                  uint64_t step)
{
    (void)s;
    (void)step;
    ep_chain *c = chain;
    if (phase == FLEXCL_PHASE_POSITIVE && !rows)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "a positive (nudged) eqprop phase needs data rows");
    if (rows) load_rows(impl, c, rows, 0);
    c->level = 1.0;
    return FLEXCL_OK;
}

static flexcl_code ep_chain_reset(void *impl, void *chain, const float *const *rows)
{
    ep_chain *c = chain;
    load_rows(impl, c, rows, 1);
    c->level = 1.0;
    return FLEXCL_OK;
}

static flexcl_code ep_bind_rows(void *impl, void *chain, const size_t *index, size_t n_rows)
{
    flexcl_code err = FLEXCL_OK;
    ep *m = impl;
    ep_chain *c = chain;
    if (!index) {
        c->bound = 0;
        goto done;
    }
    if (m->store_rows != n_rows) {
        /* Once per data set (the learners bind from their first rows on). */
        free(m->store);
        m->store = NULL;
        m->store_rows = 0;
        FLEXCL_ALLOC(m->store, n_rows * m->S);
        m->store_rows = n_rows;
    }
    for (size_t b = 0; b < c->B; ++b) {
        FLEXCL_CHECK(index[b] < n_rows, FLEXCL_ERR_ARG, "row %zu of a %zu-row data set",
                     index[b], n_rows);
        c->idx[b] = index[b];
    }
    c->bound = 1;
done:
    return err;
}

static flexcl_code ep_nudge(void *impl, void *chain, double level)
{
    (void)impl;
    ((ep_chain *)chain)->level = level;
    return FLEXCL_OK;
}

/* drive = b_1 + W_0 x for every state of the chain, when stale. */
static void ensure_drive(const ep *m, ep_chain *c, int threads)
{
    if (c->drive_ok && c->drive_gen == m->gen) return;
    size_t n1 = m->n[1];
    const double *b1 = m->theta + m->boff[1];
    for (size_t b = 0; b < c->B; ++b) memcpy(c->drive + b * n1, b1, n1 * sizeof *b1);
    flexcl_gemm_rows(threads, CblasNoTrans, CblasTrans, c->B, n1, n_in(m), 1.0, c->x, n_in(m),
                     m->theta + m->woff[0], n_in(m), 1.0, c->drive, n1);
    c->drive_gen = m->gen;
    c->drive_ok = 1;
}

/* One Jacobi step of all layers with output nudging beta_eff (see the top). */
static void relax_step(const ep *m, ep_chain *c, double beta_eff, int threads)
{
    const size_t B = c->B, S = m->S, L = m->L;
    ensure_drive(m, c, threads);
    for (size_t k = 1; k <= L; ++k) {
        const size_t nk = m->n[k];
        double *a = c->a + m->soff[k];
        if (k == 1) {
            for (size_t b = 0; b < B; ++b)
                memcpy(a + b * S, c->drive + b * nk, nk * sizeof *a);
        } else {
            const double *bk = m->theta + m->boff[k];
            for (size_t b = 0; b < B; ++b) memcpy(a + b * S, bk, nk * sizeof *a);
            flexcl_gemm_rows(threads, CblasNoTrans, CblasTrans, B, nk, m->n[k - 1], 1.0,
                             c->s + m->soff[k - 1], S, m->theta + m->woff[k - 1], m->n[k - 1],
                             1.0, a, S);
        }
        if (k < L)
            flexcl_gemm_rows(threads, CblasNoTrans, CblasNoTrans, B, nk, m->n[k + 1], 1.0,
                             c->s + m->soff[k + 1], S, m->theta + m->woff[k], nk, 1.0, a, S);
    }
    const double eps = m->epsilon;
    const size_t no = n_out(m), oo = m->soff[L];
    for (size_t b = 0; b < B; ++b) {
        double *s = c->s + b * S;
        const double *a = c->a + b * S;
        for (size_t u = 0; u < oo; ++u) s[u] = clip01(s[u] - eps * (s[u] - a[u]));
        const double *y = c->y + b * no;
        for (size_t j = 0; j < no; ++j) {
            double v = s[oo + j];
            s[oo + j] = clip01(v - eps * (v - a[oo + j] + beta_eff * (v - y[j])));
        }
    }
}

static flexcl_code ep_step(void *impl, void *chain, flexcl_phase phase, const flexcl_stream *s,
                           uint64_t step)
{
    (void)s;
    (void)step;
    ep *m = impl;
    ep_chain *c = chain;
    double beta_eff = 0.0;
    if (phase == FLEXCL_PHASE_POSITIVE) beta_eff = m->beta * c->level;
    else if (m->symmetric) beta_eff = -m->beta * c->level;
    const int th = flexcl_thread_count(m->threads);
    const int saved = flexcl_blas_single();
    relax_step(m, c, beta_eff, th);
    flexcl_blas_restore(saved);
    if (phase == FLEXCL_PHASE_NEGATIVE && c->bound)
        for (size_t b = 0; b < c->B; ++b) {
            double *saved = slot(m, c, b);
            if (saved) memcpy(saved, c->s + b * m->S, m->S * sizeof *c->s);
        }
    return FLEXCL_OK;
}

/* The model's memory is the whole store, store_rows x S (rows never seen are
 * zero); none before the first binding. */
static size_t ep_memory_size(const void *impl)
{
    const ep *m = impl;
    return m->store ? m->store_rows * m->S : 0;
}

static void ep_memory_get(const void *impl, double *out)
{
    const ep *m = impl;
    if (m->store) memcpy(out, m->store, m->store_rows * m->S * sizeof *out);
}

/* A store of n / S rows (n a multiple of S); n = 0 drops it. A later
 * bind_rows over the same row count keeps it. */
static flexcl_code ep_memory_set(void *impl, const double *in, size_t n)
{
    flexcl_code err = FLEXCL_OK;
    ep *m = impl;
    double *store = NULL;
    FLEXCL_CHECK(n % m->S == 0, FLEXCL_ERR_ARG,
                 "eqprop memory of %zu values is not whole states of %zu units (the "
                 "per-example store of another network?)", n, m->S);
    size_t rows = n / m->S;
    if (rows != m->store_rows) {
        if (rows > 0) FLEXCL_ALLOC(store, n);
        free(m->store);
        m->store = store;
        m->store_rows = rows;
        store = NULL;
    }
    if (rows > 0) memcpy(m->store, in, n * sizeof *in);
done:
    free(store);
    return err;
}

/* g += w/(B β_div) Σ_b G(s_b), β_div = β (one-sided) or 2β (symmetric). */
static void ep_stats_axpy(const void *impl, const void *chain, flexcl_phase phase, double w,
                          double *g)
{
    (void)phase;
    const ep *m = impl;
    const ep_chain *c = chain;
    const size_t B = c->B, S = m->S;
    const double scale = w / ((double)B * (m->symmetric ? 2.0 * m->beta : m->beta));
    const int th = flexcl_thread_count(m->threads);
    const int saved = flexcl_blas_single();
    for (size_t l = 0; l < m->L; ++l) {
        const double *lo = l == 0 ? c->x : c->s + m->soff[l];
        const size_t ldlo = l == 0 ? n_in(m) : S;
        flexcl_gemm_rows(th, CblasTrans, CblasNoTrans, m->n[l + 1], m->n[l], B, scale,
                         c->s + m->soff[l + 1], S, lo, ldlo, 1.0, g + m->woff[l], m->n[l]);
    }
    flexcl_blas_restore(saved);
    for (size_t k = 1; k <= m->L; ++k) {
        double *gb = g + m->boff[k];
        for (size_t j = 0; j < m->n[k]; ++j) {
            double sum = 0.0;
            for (size_t b = 0; b < B; ++b) sum += c->s[b * S + m->soff[k] + j];
            gb[j] += scale * sum;
        }
    }
}

/* Test error: each row's free state relaxed from zero for eval_steps steps,
 * prediction = argmax of the output (first maximum); the first eval_rows
 * rows (0 = all). */
static flexcl_code ep_evaluate(void *impl, const flexcl_data *d, flexcl_metrics *out)
{
    flexcl_code err = FLEXCL_OK;
    ep *m = impl;
    ep_chain *c = NULL;
    const float **rows = NULL;
    out->nll = out->log_z = out->error_rate = NAN;
    size_t n = flexcl_data_rows(d);
    if (m->eval_rows > 0 && m->eval_rows < n) n = m->eval_rows;
    if (n == 0 || !flexcl_data_has_labels(d) || flexcl_data_classes(d) != n_out(m) ||
        flexcl_data_dim(d) != n_in(m) + n_out(m))
        goto done;
    size_t EB = n < EVAL_BATCH ? n : EVAL_BATCH, wrong = 0;
    FLEXCL_CALL(ep_chain_create(m, EB, (void **)&c));
    FLEXCL_ALLOC(rows, EB);
    const int th = flexcl_thread_count(m->threads);
    const int saved = flexcl_blas_single();
    for (size_t r0 = 0; r0 < n; r0 += EB) {
        size_t nb = n - r0 < EB ? n - r0 : EB;
        c->B = nb;
        for (size_t b = 0; b < nb; ++b) rows[b] = flexcl_data_row(d, r0 + b);
        load_rows(m, c, rows, 1);
        for (int t = 0; t < m->eval_steps; ++t) relax_step(m, c, 0.0, th);
        const size_t no = n_out(m);
        for (size_t b = 0; b < nb; ++b) {
            const double *o = c->s + b * m->S + m->soff[m->L];
            size_t arg = 0;
            for (size_t j = 1; j < no; ++j)
                if (o[j] > o[arg]) arg = j;
            if ((int)arg != flexcl_data_label(d, r0 + b)) wrong++;
        }
    }
    flexcl_blas_restore(saved);
    c->B = EB;
    out->error_rate = (double)wrong / (double)n;
done:
    chain_free(c);
    free(rows);
    return err;
}

const flexcl_model_ops flexcl_eqprop_ops = {
    .name = "eqprop",
    .create = ep_create,
    .destroy = ep_destroy,
    .n_params = ep_n_params,
    .params = ep_params,
    .n_blocks = ep_n_blocks,
    .block = ep_block,
    .init_params = ep_init_params,
    .learnable = ep_learnable,
    .chain_create = ep_chain_create,
    .chain_destroy = ep_chain_destroy,
    .chain_copy = ep_chain_copy,
    .state_size = ep_state_size,
    .state_get = ep_state_get,
    .phase_begin = ep_phase_begin,
    .chain_reset = ep_chain_reset,
    .step = ep_step,
    .stats_axpy = ep_stats_axpy,
    .evaluate = ep_evaluate,
    .state_set = ep_state_set,
    .nudge = ep_nudge,
    .bind_rows = ep_bind_rows,
    .memory_size = ep_memory_size,
    .memory_get = ep_memory_get,
    .memory_set = ep_memory_set,
    /* The label block is the target; a free phase clamps the example's
     * input (its states persist per example instead of per chain). */
    .needs = FLEXCL_MODEL_NEEDS_LABELS | FLEXCL_MODEL_NEEDS_ROW_EVERY_PHASE,
};
