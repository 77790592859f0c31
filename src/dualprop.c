/* Dual propagation (DP, DPᵀ) and backpropagation on a ReLU MLP; see
 * include/flexcl/dualprop.h. */
#include "flexcl/dualprop.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "supervised_impl.h"

struct flexcl_dualprop {
    flexcl_dualprop_settings s;
    size_t L;
    const size_t *n; /* widths, points into s */
    size_t off_w[FLEXCL_MLP_MAX_LAYERS], off_b[FLEXCL_MLP_MAX_LAYERS];
    size_t n_params;
    double *theta;
    /* Workspaces, B_max rows each. Layer k = 0..L. */
    double *sbar[FLEXCL_MLP_MAX_LAYERS + 1]; /* s̄_k (backprop: activations) */
    double *delta[FLEXCL_MLP_MAX_LAYERS + 1]; /* δ_k (backprop: ∂ℓ/∂a_k) */
    double *a;     /* bottom-up input of the layer being updated */
    double *top;   /* Δ_k (backprop: ∂ℓ/∂s_k) */
    double *pre[FLEXCL_MLP_MAX_LAYERS + 1]; /* feed-forward a_k (backprop masks) */
    double *grad_out; /* ∇ℓ at the output, B × n_L */
};

void flexcl_dualprop_settings_default(flexcl_dualprop_settings *s)
{
    memset(s, 0, sizeof *s);
    s->n_layers = 3;
    s->widths[0] = 784;
    s->widths[1] = 512;
    s->widths[2] = 512;
    s->widths[3] = 10;
    s->rule = FLEXCL_MLP_DPT;
    s->alpha = 0.5;
    s->beta = 0.01;
    s->sweeps = 8;
    s->max_batch = 100;
    s->threads = 0;
}

static flexcl_code check_rule(flexcl_mlp_rule rule, double alpha, double beta,
                              int sweeps)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(rule == FLEXCL_MLP_BACKPROP || rule == FLEXCL_MLP_DPT ||
                     rule == FLEXCL_MLP_DP,
                 FLEXCL_ERR_ARG, "dualprop: rule %d is not backprop, dpt or dp",
                 (int)rule);
    FLEXCL_CHECK(alpha >= 0.0 && alpha <= 1.0, FLEXCL_ERR_ARG,
                 "dualprop: alpha = %g is outside [0, 1]", alpha);
    FLEXCL_CHECK(beta > 0.0 && isfinite(beta), FLEXCL_ERR_ARG,
                 "dualprop: beta = %g must be finite and > 0", beta);
    FLEXCL_CHECK(sweeps >= 1, FLEXCL_ERR_ARG,
                 "dualprop: sweeps = %d must be >= 1", sweeps);
done:
    return err;
}

flexcl_code flexcl_dualprop_create(const flexcl_dualprop_settings *s,
                                   flexcl_dualprop **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_dualprop *m = NULL;
    FLEXCL_CHECK(s != NULL && out != NULL, FLEXCL_ERR_ARG,
                 "dualprop: NULL argument");
    FLEXCL_CHECK(s->n_layers >= 1 && s->n_layers <= FLEXCL_MLP_MAX_LAYERS,
                 FLEXCL_ERR_ARG, "dualprop: n_layers = %zu is outside [1, %d]",
                 s->n_layers, FLEXCL_MLP_MAX_LAYERS);
    for (size_t k = 0; k <= s->n_layers; ++k)
        FLEXCL_CHECK(s->widths[k] >= 1 && s->widths[k] <= 1000000,
                     FLEXCL_ERR_ARG, "dualprop: widths[%zu] = %zu is outside [1, 1000000]",
                     k, s->widths[k]);
    FLEXCL_CHECK(s->widths[s->n_layers] >= 2, FLEXCL_ERR_ARG,
                 "dualprop: the output layer needs >= 2 classes, got %zu",
                 s->widths[s->n_layers]);
    FLEXCL_CHECK(s->max_batch >= 1 && s->max_batch <= 1000000, FLEXCL_ERR_ARG,
                 "dualprop: max_batch = %zu is outside [1, 1000000]", s->max_batch);
    FLEXCL_CALL(check_rule(s->rule, s->alpha, s->beta, s->sweeps));
    FLEXCL_ALLOC(m, 1);
    m->s = *s;
    m->L = s->n_layers;
    m->n = m->s.widths;
    size_t off = 0, wmax = 0;
    for (size_t k = 0; k < m->L; ++k) {
        m->off_w[k] = off;
        off += m->n[k + 1] * m->n[k];
        m->off_b[k] = off;
        off += m->n[k + 1];
    }
    m->n_params = off;
    for (size_t k = 0; k <= m->L; ++k) wmax = m->n[k] > wmax ? m->n[k] : wmax;
    const size_t B = s->max_batch;
    FLEXCL_ALLOC(m->theta, m->n_params);
    for (size_t k = 0; k <= m->L; ++k) {
        FLEXCL_ALLOC(m->sbar[k], B * m->n[k]);
        FLEXCL_ALLOC(m->delta[k], B * m->n[k]);
        FLEXCL_ALLOC(m->pre[k], B * m->n[k]);
    }
    FLEXCL_ALLOC(m->a, B * wmax);
    FLEXCL_ALLOC(m->top, B * wmax);
    FLEXCL_ALLOC(m->grad_out, B * m->n[m->L]);
    *out = m;
    m = NULL;
done:
    flexcl_dualprop_destroy(&m);
    return err;
}

void flexcl_dualprop_destroy(flexcl_dualprop **m)
{
    if (!m || !*m) return;
    flexcl_dualprop *p = *m;
    for (size_t k = 0; k <= FLEXCL_MLP_MAX_LAYERS; ++k) {
        free(p->sbar[k]);
        free(p->delta[k]);
        free(p->pre[k]);
    }
    free(p->a);
    free(p->top);
    free(p->grad_out);
    free(p->theta);
    free(p);
    *m = NULL;
}

void flexcl_dualprop_init(flexcl_dualprop *m, const flexcl_stream *s)
{
    for (size_t k = 0; k < m->L; ++k) {
        const double r = 1.0 / sqrt((double)m->n[k]);
        const size_t nw = m->n[k + 1] * m->n[k], nb = m->n[k + 1];
        double *w = m->theta + m->off_w[k];
        flexcl_stream_uniform(s, k, FLEXCL_RNG_INIT, 0, nw + nb, w);
        for (size_t i = 0; i < nw + nb; ++i) w[i] = r * (2.0 * w[i] - 1.0);
    }
}

size_t flexcl_dualprop_n_params(const flexcl_dualprop *m) { return m->n_params; }
double *flexcl_dualprop_params(flexcl_dualprop *m) { return m->theta; }
size_t flexcl_dualprop_weight_offset(const flexcl_dualprop *m, size_t k)
{
    return m->off_w[k];
}
size_t flexcl_dualprop_bias_offset(const flexcl_dualprop *m, size_t k)
{
    return m->off_b[k];
}
const flexcl_dualprop_settings *flexcl_dualprop_settings_get(const flexcl_dualprop *m)
{
    return &m->s;
}

flexcl_code flexcl_dualprop_set_rule(flexcl_dualprop *m, flexcl_mlp_rule rule,
                                     double alpha, double beta, int sweeps)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_rule(rule, alpha, beta, sweeps));
    m->s.rule = rule;
    m->s.alpha = alpha;
    m->s.beta = beta;
    m->s.sweeps = sweeps;
done:
    return err;
}

/* a (B × n_{k+1}) = s (B × n_k) W_kᵀ + b_k. */
static void bottom_up(const flexcl_dualprop *m, size_t k, const double *s,
                      size_t B, double *a)
{
    const size_t ni = m->n[k], no = m->n[k + 1];
    const double *w = m->theta + m->off_w[k], *b = m->theta + m->off_b[k];
    for (size_t r = 0; r < B; ++r) memcpy(a + r * no, b, no * sizeof *a);
    flexcl_gemm_rows(flexcl_thread_count(m->s.threads), CblasNoTrans, CblasTrans, B, no,
                ni, 1.0, s, ni, w, ni, 1.0, a, no);
}

/* t (B × n_k) = d (B × n_{k+1}) W_k: the top-down input Δ_k. */
static void top_down(const flexcl_dualprop *m, size_t k, const double *d,
                     size_t B, double *t)
{
    const size_t ni = m->n[k], no = m->n[k + 1];
    flexcl_gemm_rows(flexcl_thread_count(m->s.threads), CblasNoTrans, CblasNoTrans, B, ni,
                no, 1.0, d, no, m->theta + m->off_w[k], ni, 0.0, t, ni);
}

/* g_W_k += c · dᵀ s, g_b_k += c · Σ_rows d (d: B × n_{k+1}, s: B × n_k). */
static void outer_axpy(const flexcl_dualprop *m, size_t k, const double *d,
                       const double *s, size_t B, double c, double *g)
{
    const size_t ni = m->n[k], no = m->n[k + 1];
    flexcl_gemm_rows(flexcl_thread_count(m->s.threads), CblasTrans, CblasNoTrans, no, ni,
                B, c, d, no, s, ni, 1.0, g + m->off_w[k], ni);
    double *gb = g + m->off_b[k];
    for (size_t r = 0; r < B; ++r)
        for (size_t j = 0; j < no; ++j) gb[j] += c * d[r * no + j];
}

static double relu(double x) { return x > 0.0 ? x : 0.0; }

/* Softmax of z (n entries) minus onehot(y) into p; returns ℓ = lse(z) − z_y. */
static double softmax_grad(const double *z, int y, size_t n, double *p)
{
    double mx = z[0];
    for (size_t j = 1; j < n; ++j) mx = z[j] > mx ? z[j] : mx;
    double sum = 0.0;
    for (size_t j = 0; j < n; ++j) {
        p[j] = exp(z[j] - mx);
        sum += p[j];
    }
    for (size_t j = 0; j < n; ++j) p[j] /= sum;
    p[y] -= 1.0;
    return mx + log(sum) - z[y];
}

static flexcl_code check_batch(const flexcl_dualprop *m, const double *x,
                               const int *y, size_t B)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(x != NULL, FLEXCL_ERR_ARG, "dualprop: x is NULL");
    FLEXCL_CHECK(B >= 1 && B <= m->s.max_batch, FLEXCL_ERR_ARG,
                 "dualprop: batch %zu is outside [1, max_batch = %zu]", B,
                 m->s.max_batch);
    for (size_t r = 0; y != NULL && r < B; ++r)
        FLEXCL_CHECK(y[r] >= 0 && (size_t)y[r] < m->n[m->L], FLEXCL_ERR_ARG,
                     "dualprop: label %d of row %zu is outside [0, %zu)", y[r],
                     r, m->n[m->L]);
done:
    return err;
}

/* Feed-forward pass: pre[k] = a_k, sbar[k] = s_k (s_L = a_L), δ = 0. */
static void feed_forward(flexcl_dualprop *m, const double *x, size_t B)
{
    memcpy(m->sbar[0], x, B * m->n[0] * sizeof *x);
    for (size_t k = 1; k <= m->L; ++k) {
        const size_t nk = B * m->n[k];
        bottom_up(m, k - 1, m->sbar[k - 1], B, m->pre[k]);
        for (size_t i = 0; i < nk; ++i)
            m->sbar[k][i] = k < m->L ? relu(m->pre[k][i]) : m->pre[k][i];
        memset(m->delta[k], 0, nk * sizeof *m->delta[k]);
    }
    memset(m->delta[0], 0, B * m->n[0] * sizeof *m->delta[0]);
}

/* Mean cross-entropy of the logits in sbar[L]; ∇ℓ per row into grad_out. */
static double output_grad(flexcl_dualprop *m, const double *z, const int *y,
                          size_t B)
{
    const size_t nL = m->n[m->L];
    double loss = 0.0;
    for (size_t r = 0; r < B; ++r)
        loss += softmax_grad(z + r * nL, y[r], nL, m->grad_out + r * nL);
    return loss / (double)B;
}

flexcl_code flexcl_dualprop_forward(flexcl_dualprop *m, const double *x,
                                    const int *y, size_t B, double *logits,
                                    double *loss)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_batch(m, x, y, B));
    const int nblas = flexcl_blas_single();
    feed_forward(m, x, B);
    flexcl_blas_restore(nblas);
    if (logits)
        memcpy(logits, m->sbar[m->L], B * m->n[m->L] * sizeof *logits);
    if (loss) *loss = y ? output_grad(m, m->sbar[m->L], y, B) : NAN;
done:
    return err;
}

/* Backprop: g −= w ∇θ (1/B)Σℓ, with grad_out already ∇ℓ per row. */
static void backprop(flexcl_dualprop *m, size_t B, double w, double *g)
{
    const size_t L = m->L;
    memcpy(m->delta[L], m->grad_out, B * m->n[L] * sizeof *m->grad_out);
    for (size_t k = L; k >= 1; --k) {
        outer_axpy(m, k - 1, m->delta[k], m->sbar[k - 1], B, -w / (double)B, g);
        if (k == 1) break;
        top_down(m, k - 1, m->delta[k], B, m->top);
        const size_t nk = B * m->n[k - 1];
        for (size_t i = 0; i < nk; ++i)
            m->delta[k - 1][i] = m->pre[k - 1][i] > 0.0 ? m->top[i] : 0.0;
    }
}

/* One dyadic layer update of layer k (1 <= k <= L) from its neighbours. */
static void relax_layer(flexcl_dualprop *m, size_t k, const int *y, size_t B)
{
    const double al = m->s.alpha, be = m->s.beta;
    const int dpt = m->s.rule == FLEXCL_MLP_DPT;
    const size_t nk = m->n[k], n = B * nk;
    double *a = m->a, *sb = m->sbar[k], *d = m->delta[k];
    bottom_up(m, k - 1, m->sbar[k - 1], B, a);
    if (k < m->L) {
        top_down(m, k, m->delta[k + 1], B, m->top);
        const double cp = dpt ? 1.0 - al : al, cm = dpt ? al : 1.0 - al;
        for (size_t i = 0; i < n; ++i) {
            const double sp = relu(a[i] + cp * m->top[i]);
            const double sm = relu(a[i] - cm * m->top[i]);
            d[i] = sp - sm;
            sb[i] = al * sp + (1.0 - al) * sm;
        }
        return;
    }
    if (!dpt) (void)output_grad(m, a, y, B); /* DP: ∇ℓ at the current a_L */
    const double cp = dpt ? 1.0 - al : al, cm = dpt ? al : 1.0 - al;
    for (size_t i = 0; i < n; ++i) {
        const double sp = a[i] - cp * be * m->grad_out[i];
        const double sm = a[i] + cm * be * m->grad_out[i];
        d[i] = sp - sm;
        sb[i] = al * sp + (1.0 - al) * sm;
    }
}

flexcl_code flexcl_dualprop_gradient(flexcl_dualprop *m, const double *x,
                                     const int *y, size_t B, double w,
                                     double *g, double *loss)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(y != NULL && g != NULL, FLEXCL_ERR_ARG,
                 "dualprop: labels and gradient must not be NULL");
    FLEXCL_CALL(check_batch(m, x, y, B));
    const int nblas = flexcl_blas_single();
    feed_forward(m, x, B);
    const double l = output_grad(m, m->sbar[m->L], y, B);
    if (loss) *loss = l;
    if (m->s.rule == FLEXCL_MLP_BACKPROP) {
        backprop(m, B, w, g);
    } else {
        for (int t = 0; t < m->s.sweeps; ++t)
            for (size_t k = 1; k <= m->L; ++k) relax_layer(m, k, y, B);
        for (size_t k = 1; k <= m->L; ++k)
            outer_axpy(m, k - 1, m->delta[k], m->sbar[k - 1], B,
                       w / (m->s.beta * (double)B), g);
    }
    flexcl_blas_restore(nblas);
done:
    return err;
}

/* ---- The MLP as a supervised learner (src/supervised_impl.h) ----
 * One direction per minibatch, the rule's (dp, dpt or backprop: one table
 * each); prediction = argmax of the feed-forward logits. */

typedef struct {
    flexcl_dualprop *mlp;
    double *logits; /* max_batch × n_classes */
} mlp_learner;

/* The network of the trainer's settings under rule (validated by
 * flexcl_dualprop_create): the hidden widths, then an output layer of
 * n_classes logits. */
static flexcl_code learner_settings(flexcl_mlp_rule rule, const flexcl_supervised_settings *s,
                                    const flexcl_model_settings *model, size_t n_in,
                                    size_t n_classes, size_t max_batch,
                                    flexcl_dualprop_settings *ds)
{
    flexcl_code err = FLEXCL_OK;
    size_t hid[FLEXCL_SUP_MAX_HIDDEN], nh = 0;
    FLEXCL_CALL(flexcl_supervised_hidden(s, model, hid, FLEXCL_SUP_MAX_HIDDEN, &nh));
    flexcl_dualprop_settings_default(ds);
    ds->n_layers = nh + 1;
    ds->widths[0] = n_in;
    for (size_t l = 0; l < nh; ++l) ds->widths[l + 1] = hid[l];
    ds->widths[nh + 1] = n_classes;
    ds->rule = rule;
    ds->alpha = s->alpha;
    ds->beta = model->beta;
    ds->sweeps = s->sweeps;
    ds->max_batch = max_batch;
done:
    return err;
}

static flexcl_code learner_param_count(const flexcl_supervised_settings *s,
                                       const flexcl_model_settings *model, size_t n_in,
                                       size_t n_classes, size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_dualprop_settings ds;
    FLEXCL_CALL(learner_settings(FLEXCL_MLP_DPT, s, model, n_in, n_classes, 1, &ds));
    *n = flexcl_sup_dense_params(ds.widths, ds.n_layers);
done:
    return err;
}

static void learner_destroy(void *impl)
{
    mlp_learner *p = impl;
    if (!p) return;
    flexcl_dualprop_destroy(&p->mlp);
    free(p->logits);
    free(p);
}

static flexcl_code learner_create(flexcl_mlp_rule rule, const flexcl_supervised_settings *s,
                                  const flexcl_model_settings *model, size_t n_in,
                                  size_t n_classes, size_t max_batch, void **impl)
{
    flexcl_code err = FLEXCL_OK;
    mlp_learner *p = NULL;
    flexcl_dualprop_settings ds;
    FLEXCL_CALL(learner_settings(rule, s, model, n_in, n_classes, max_batch, &ds));
    FLEXCL_ALLOC(p, 1);
    FLEXCL_CALL(flexcl_dualprop_create(&ds, &p->mlp));
    FLEXCL_ALLOC(p->logits, max_batch * n_classes);
    *impl = p;
    p = NULL;
done:
    learner_destroy(p);
    return err;
}

static flexcl_code create_dp(const flexcl_supervised_settings *s,
                             const flexcl_model_settings *model, size_t n_in,
                             size_t n_classes, size_t max_batch, void **impl)
{
    return learner_create(FLEXCL_MLP_DP, s, model, n_in, n_classes, max_batch, impl);
}
static flexcl_code create_dpt(const flexcl_supervised_settings *s,
                              const flexcl_model_settings *model, size_t n_in,
                              size_t n_classes, size_t max_batch, void **impl)
{
    return learner_create(FLEXCL_MLP_DPT, s, model, n_in, n_classes, max_batch, impl);
}
static flexcl_code create_backprop(const flexcl_supervised_settings *s,
                                   const flexcl_model_settings *model, size_t n_in,
                                   size_t n_classes, size_t max_batch, void **impl)
{
    return learner_create(FLEXCL_MLP_BACKPROP, s, model, n_in, n_classes, max_batch, impl);
}

static size_t learner_n_params(const void *impl)
{
    return flexcl_dualprop_n_params(((const mlp_learner *)impl)->mlp);
}
static double *learner_params(void *impl)
{
    return flexcl_dualprop_params(((mlp_learner *)impl)->mlp);
}
static void learner_init(void *impl, const flexcl_stream *s)
{
    flexcl_dualprop_init(((mlp_learner *)impl)->mlp, s);
}

static flexcl_code learner_direction(void *impl, const double *x, const int *y, size_t B,
                                     double *g, double *loss)
{
    return flexcl_dualprop_gradient(((mlp_learner *)impl)->mlp, x, y, B, 1.0, g, loss);
}

static size_t learner_widths(const void *impl, const size_t **w)
{
    const flexcl_dualprop_settings *s =
        flexcl_dualprop_settings_get(((const mlp_learner *)impl)->mlp);
    *w = s->widths;
    return s->n_layers;
}

static flexcl_code learner_predict(void *impl, const double *x, size_t B, int *pred)
{
    flexcl_code err = FLEXCL_OK;
    mlp_learner *p = impl;
    const size_t C = p->mlp->n[p->mlp->L];
    FLEXCL_CALL(flexcl_dualprop_forward(p->mlp, x, NULL, B, p->logits, NULL));
    for (size_t r = 0; r < B; ++r) {
        const double *z = p->logits + r * C;
        size_t best = 0;
        for (size_t c = 1; c < C; ++c)
            if (z[c] > z[best]) best = c;
        pred[r] = (int)best;
    }
done:
    return err;
}

/* The three rules share every operation but create, which fixes the rule. */
/* Original DP (SPEC §3) is defined, and stable, at α = ½ only; an
 * asymmetric nudge needs DPᵀ. */
static const char *refuse_dp(const flexcl_supervised_settings *s, char *why, size_t n)
{
    if (s->alpha == 0.5) return NULL;
    char alpha[32];
    flexcl_error_format_real(s->alpha, alpha, sizeof alpha);
    snprintf(why, n, "%s; original dual propagation (model.kind = dp) is stable only at 0.5 "
                     "(use dpt)", alpha);
    return "model.alpha";
}

#define MLP_LEARNER_OPS(NAME, CREATE, REFUSE)                                              \
    {                                                                                      \
        .name = NAME, .default_hidden = 512, /* 784-512-512-10, the authors' network */    \
            .param_count = learner_param_count, .create = CREATE,                          \
            .destroy = learner_destroy, .n_params = learner_n_params,                      \
            .params = learner_params, .init = learner_init, .phase = NULL,                 \
            .direction = learner_direction, .widths = learner_widths,                     \
            .predict = learner_predict, .refuse = REFUSE,                                  \
    }

const flexcl_supervised_model_ops flexcl_supervised_dp_ops =
    MLP_LEARNER_OPS("dp", create_dp, refuse_dp);
const flexcl_supervised_model_ops flexcl_supervised_dpt_ops =
    MLP_LEARNER_OPS("dpt", create_dpt, NULL);
const flexcl_supervised_model_ops flexcl_supervised_backprop_ops =
    MLP_LEARNER_OPS("backprop", create_backprop, NULL);
