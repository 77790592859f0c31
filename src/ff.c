/* The Forward-Forward network; see include/flexcl/ff.h. */
#include "flexcl/ff.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "supervised_impl.h"

struct flexcl_ff {
    flexcl_ff_settings s;
    size_t L;
    const size_t *n;
    size_t off_w[FLEXCL_FF_MAX_LAYERS], off_b[FLEXCL_FF_MAX_LAYERS];
    size_t n_params;
    double *theta;
    /* Workspaces, max_batch rows each. */
    double *xhat[FLEXCL_FF_MAX_LAYERS]; /* normalised input of layer l */
    double *h[FLEXCL_FF_MAX_LAYERS + 1]; /* h[l+1]: output of layer l */
    double *da;     /* ∂(loss term)/∂a of one layer, B × max width */
    double *over;   /* overlaid copy of a batch, B × n_0 */
    double *score;  /* summed goodness, B × n_classes */
};

void flexcl_ff_settings_default(flexcl_ff_settings *s)
{
    memset(s, 0, sizeof *s);
    s->n_layers = 2;
    s->widths[0] = 784;
    s->widths[1] = 500;
    s->widths[2] = 500;
    s->threshold = 2.0;
    s->n_classes = 10;
    s->max_batch = 100;
    s->threads = 0;
}

flexcl_code flexcl_ff_create(const flexcl_ff_settings *s, flexcl_ff **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_ff *ff = NULL;
    FLEXCL_CHECK(s != NULL && out != NULL, FLEXCL_ERR_ARG, "ff: NULL argument");
    FLEXCL_CHECK(s->n_layers >= 1 && s->n_layers <= FLEXCL_FF_MAX_LAYERS,
                 FLEXCL_ERR_ARG, "ff: n_layers = %zu is outside [1, %d]",
                 s->n_layers, FLEXCL_FF_MAX_LAYERS);
    for (size_t l = 0; l <= s->n_layers; ++l)
        FLEXCL_CHECK(s->widths[l] >= 1 && s->widths[l] <= 1000000,
                     FLEXCL_ERR_ARG, "ff: widths[%zu] = %zu is outside [1, 1000000]",
                     l, s->widths[l]);
    FLEXCL_CHECK(s->n_classes >= 2 && s->n_classes <= s->widths[0],
                 FLEXCL_ERR_ARG,
                 "ff: n_classes = %zu must be >= 2 and fit the %zu input pixels",
                 s->n_classes, s->widths[0]);
    FLEXCL_CHECK(isfinite(s->threshold), FLEXCL_ERR_ARG,
                 "ff: threshold = %g is not finite", s->threshold);
    FLEXCL_CHECK(s->max_batch >= 1 && s->max_batch <= 1000000, FLEXCL_ERR_ARG,
                 "ff: max_batch = %zu is outside [1, 1000000]", s->max_batch);
    FLEXCL_ALLOC(ff, 1);
    ff->s = *s;
    ff->L = s->n_layers;
    ff->n = ff->s.widths;
    size_t off = 0, wmax = 0;
    for (size_t l = 0; l < ff->L; ++l) {
        ff->off_w[l] = off;
        off += ff->n[l + 1] * ff->n[l];
        ff->off_b[l] = off;
        off += ff->n[l + 1];
    }
    ff->n_params = off;
    for (size_t l = 0; l <= ff->L; ++l) wmax = ff->n[l] > wmax ? ff->n[l] : wmax;
    const size_t B = s->max_batch;
    FLEXCL_ALLOC(ff->theta, ff->n_params);
    for (size_t l = 0; l < ff->L; ++l) {
        FLEXCL_ALLOC(ff->xhat[l], B * ff->n[l]);
        FLEXCL_ALLOC(ff->h[l + 1], B * ff->n[l + 1]);
    }
    FLEXCL_ALLOC(ff->da, B * wmax);
    FLEXCL_ALLOC(ff->over, B * ff->n[0]);
    FLEXCL_ALLOC(ff->score, B * s->n_classes);
    *out = ff;
    ff = NULL;
done:
    flexcl_ff_destroy(&ff);
    return err;
}

void flexcl_ff_destroy(flexcl_ff **ff)
{
    if (!ff || !*ff) return;
    flexcl_ff *p = *ff;
    for (size_t l = 0; l <= FLEXCL_FF_MAX_LAYERS; ++l) {
        if (l < FLEXCL_FF_MAX_LAYERS) free(p->xhat[l]);
        free(p->h[l]);
    }
    free(p->da);
    free(p->over);
    free(p->score);
    free(p->theta);
    free(p);
    *ff = NULL;
}

void flexcl_ff_init(flexcl_ff *ff, const flexcl_stream *s)
{
    for (size_t l = 0; l < ff->L; ++l) {
        const double r = 1.0 / sqrt((double)ff->n[l]);
        const size_t cnt = ff->n[l + 1] * ff->n[l] + ff->n[l + 1];
        double *w = ff->theta + ff->off_w[l];
        flexcl_stream_uniform(s, l, FLEXCL_RNG_INIT, 0, cnt, w);
        for (size_t i = 0; i < cnt; ++i) w[i] = r * (2.0 * w[i] - 1.0);
    }
}

size_t flexcl_ff_n_params(const flexcl_ff *ff) { return ff->n_params; }
double *flexcl_ff_params(flexcl_ff *ff) { return ff->theta; }
size_t flexcl_ff_weight_offset(const flexcl_ff *ff, size_t l) { return ff->off_w[l]; }
size_t flexcl_ff_bias_offset(const flexcl_ff *ff, size_t l) { return ff->off_b[l]; }
const flexcl_ff_settings *flexcl_ff_settings_get(const flexcl_ff *ff) { return &ff->s; }

flexcl_code flexcl_ff_overlay(const flexcl_ff *ff, const double *x,
                              const int *labels, size_t B, double *out)
{
    flexcl_code err = FLEXCL_OK;
    const size_t n0 = ff->n[0], C = ff->s.n_classes;
    FLEXCL_CHECK(x != NULL && labels != NULL && out != NULL, FLEXCL_ERR_ARG,
                 "ff: overlay: NULL argument");
    for (size_t r = 0; r < B; ++r)
        FLEXCL_CHECK(labels[r] >= 0 && (size_t)labels[r] < C, FLEXCL_ERR_ARG,
                     "ff: overlay: label %d of row %zu is outside [0, %zu)",
                     labels[r], r, C);
    for (size_t r = 0; r < B; ++r) {
        const double *xr = x + r * n0;
        double *o = out + r * n0;
        double mx = xr[0];
        for (size_t i = 1; i < n0; ++i) mx = xr[i] > mx ? xr[i] : mx;
        if (o != xr) memcpy(o, xr, n0 * sizeof *o);
        for (size_t i = 0; i < C; ++i) o[i] = 0.0;
        o[labels[r]] = mx;
    }
done:
    return err;
}

/* Forward pass of every layer: xhat[l], h[l+1]. */
static void forward(flexcl_ff *ff, const double *x, size_t B)
{
    for (size_t l = 0; l < ff->L; ++l) {
        const size_t ni = ff->n[l], no = ff->n[l + 1];
        const double *in = l == 0 ? x : ff->h[l];
        double *xh = ff->xhat[l], *h = ff->h[l + 1];
        for (size_t r = 0; r < B; ++r) {
            double ss = 0.0;
            for (size_t i = 0; i < ni; ++i) ss += in[r * ni + i] * in[r * ni + i];
            const double inv = 1.0 / (sqrt(ss) + 1e-4);
            for (size_t i = 0; i < ni; ++i) xh[r * ni + i] = in[r * ni + i] * inv;
            memcpy(h + r * no, ff->theta + ff->off_b[l], no * sizeof *h);
        }
        flexcl_gemm_rows(flexcl_thread_count(ff->s.threads), CblasNoTrans, CblasTrans, B,
                    no, ni, 1.0, xh, ni, ff->theta + ff->off_w[l], ni, 1.0, h,
                    no);
        for (size_t i = 0; i < B * no; ++i) h[i] = h[i] > 0.0 ? h[i] : 0.0;
    }
}

static double goodness(const double *h, size_t n)
{
    double s = 0.0;
    for (size_t j = 0; j < n; ++j) s += h[j] * h[j];
    return s / (double)n;
}

static double softplus(double x) { return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))); }
static double sigmoid(double x)
{
    return x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

static flexcl_code check_batch(const flexcl_ff *ff, const double *x, size_t B)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(x != NULL, FLEXCL_ERR_ARG, "ff: x is NULL");
    FLEXCL_CHECK(B >= 1 && B <= ff->s.max_batch, FLEXCL_ERR_ARG,
                 "ff: batch %zu is outside [1, max_batch = %zu]", B,
                 ff->s.max_batch);
done:
    return err;
}

flexcl_code flexcl_ff_phase(flexcl_ff *ff, const double *x, size_t B,
                            flexcl_phase phase, double w, double *g,
                            double *loss)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_batch(ff, x, B));
    FLEXCL_CHECK(phase == FLEXCL_PHASE_POSITIVE || phase == FLEXCL_PHASE_NEGATIVE,
                 FLEXCL_ERR_ARG, "ff: phase %d is neither positive nor negative",
                 (int)phase);
    const int nblas = flexcl_blas_single();
    forward(ff, x, B);
    const int pos = phase == FLEXCL_PHASE_POSITIVE;
    const double th = ff->s.threshold;
    for (size_t l = 0; l < ff->L; ++l) {
        const size_t ni = ff->n[l], no = ff->n[l + 1];
        const double *h = ff->h[l + 1];
        double lsum = 0.0;
        for (size_t r = 0; r < B; ++r) {
            const double G = goodness(h + r * no, no);
            /* Statistic = −∂L⁺/∂G ∂G/∂θ (positive) or +∂L⁻/∂G ∂G/∂θ
             * (negative); both factors are σ(·) >= 0 times ∂G/∂θ. */
            const double c = pos ? sigmoid(th - G) : sigmoid(G - th);
            lsum += pos ? softplus(th - G) : softplus(G - th);
            const double f = c * 2.0 / (double)no;
            for (size_t j = 0; j < no; ++j) ff->da[r * no + j] = f * h[r * no + j];
        }
        if (loss) loss[l] = lsum / (double)B;
        if (!g) continue;
        const double cw = w / (double)B;
        flexcl_gemm_rows(flexcl_thread_count(ff->s.threads), CblasTrans, CblasNoTrans, no,
                    ni, B, cw, ff->da, no, ff->xhat[l], ni, 1.0,
                    g + ff->off_w[l], ni);
        double *gb = g + ff->off_b[l];
        for (size_t r = 0; r < B; ++r)
            for (size_t j = 0; j < no; ++j) gb[j] += cw * ff->da[r * no + j];
    }
    flexcl_blas_restore(nblas);
done:
    return err;
}

flexcl_code flexcl_ff_predict(flexcl_ff *ff, const double *x, size_t B,
                              int *pred)
{
    flexcl_code err = FLEXCL_OK;
    const size_t C = ff->s.n_classes, n0 = ff->n[0];
    FLEXCL_CALL(check_batch(ff, x, B));
    FLEXCL_CHECK(pred != NULL, FLEXCL_ERR_ARG, "ff: pred is NULL");
    const int nblas = flexcl_blas_single();
    for (size_t c = 0; c < C; ++c) {
        for (size_t r = 0; r < B; ++r) {
            const double *xr = x + r * n0;
            double *o = ff->over + r * n0, mx = xr[0];
            for (size_t i = 1; i < n0; ++i) mx = xr[i] > mx ? xr[i] : mx;
            memcpy(o, xr, n0 * sizeof *o);
            for (size_t i = 0; i < C; ++i) o[i] = 0.0;
            o[c] = mx;
        }
        forward(ff, ff->over, B);
        for (size_t r = 0; r < B; ++r) {
            double s = 0.0;
            for (size_t l = 0; l < ff->L; ++l)
                s += goodness(ff->h[l + 1] + r * ff->n[l + 1], ff->n[l + 1]);
            ff->score[r * C + c] = s;
        }
    }
    for (size_t r = 0; r < B; ++r) {
        size_t best = 0;
        for (size_t c = 1; c < C; ++c)
            if (ff->score[r * C + c] > ff->score[r * C + best]) best = c;
        pred[r] = (int)best;
    }
    flexcl_blas_restore(nblas);
done:
    return err;
}

/* ---- Forward-Forward as a supervised learner (src/supervised_impl.h) ----
 * Two phases: positive = the batch with its true labels overlaid, negative
 * = with wrong labels, uniform over the n_classes − 1 others. */

typedef struct {
    flexcl_ff *ff;
    double *xo;         /* overlaid batch, max_batch × n_0 */
    int *yneg;          /* the negative phase's labels, max_batch */
    double *layer_loss; /* per-layer loss of a phase, n_layers */
} ff_learner;

/* The network of the trainer's settings (validated by flexcl_ff_create). */
static flexcl_code learner_settings(const flexcl_supervised_settings *s,
                                    const flexcl_model_settings *model, size_t n_in,
                                    size_t n_classes, size_t max_batch,
                                    flexcl_ff_settings *fs)
{
    flexcl_code err = FLEXCL_OK;
    size_t hid[FLEXCL_SUP_MAX_HIDDEN], nh = 0;
    FLEXCL_CALL(flexcl_supervised_hidden(s, model, hid, FLEXCL_SUP_MAX_HIDDEN, &nh));
    flexcl_ff_settings_default(fs);
    fs->n_layers = nh;
    fs->widths[0] = n_in;
    for (size_t l = 0; l < nh; ++l) fs->widths[l + 1] = hid[l];
    fs->threshold = s->threshold;
    fs->n_classes = n_classes;
    fs->max_batch = max_batch;
done:
    return err;
}

static flexcl_code learner_param_count(const flexcl_supervised_settings *s,
                                       const flexcl_model_settings *model, size_t n_in,
                                       size_t n_classes, size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_ff_settings fs;
    FLEXCL_CALL(learner_settings(s, model, n_in, n_classes, 1, &fs));
    *n = flexcl_sup_dense_params(fs.widths, fs.n_layers);
done:
    return err;
}

static void learner_destroy(void *impl)
{
    ff_learner *f = impl;
    if (!f) return;
    flexcl_ff_destroy(&f->ff);
    free(f->xo);
    free(f->yneg);
    free(f->layer_loss);
    free(f);
}

static flexcl_code learner_create(const flexcl_supervised_settings *s,
                                  const flexcl_model_settings *model, size_t n_in,
                                  size_t n_classes, size_t max_batch, void **impl)
{
    flexcl_code err = FLEXCL_OK;
    ff_learner *f = NULL;
    flexcl_ff_settings fs;
    FLEXCL_CALL(learner_settings(s, model, n_in, n_classes, max_batch, &fs));
    FLEXCL_ALLOC(f, 1);
    FLEXCL_CALL(flexcl_ff_create(&fs, &f->ff));
    FLEXCL_ALLOC(f->xo, max_batch * n_in);
    FLEXCL_ALLOC(f->yneg, max_batch);
    FLEXCL_ALLOC(f->layer_loss, fs.n_layers);
    *impl = f;
    f = NULL;
done:
    learner_destroy(f);
    return err;
}

static size_t learner_n_params(const void *impl)
{
    return flexcl_ff_n_params(((const ff_learner *)impl)->ff);
}
static double *learner_params(void *impl) { return flexcl_ff_params(((ff_learner *)impl)->ff); }
static void learner_init(void *impl, const flexcl_stream *s)
{
    flexcl_ff_init(((ff_learner *)impl)->ff, s);
}

static flexcl_code learner_phase(void *impl, flexcl_phase phase, const double *x,
                                 const int *y, size_t B, const flexcl_stream *s,
                                 uint64_t update, double w, double *g, double *loss)
{
    flexcl_code err = FLEXCL_OK;
    ff_learner *f = impl;
    const flexcl_ff_settings *fs = &f->ff->s;
    const int *labels = y;
    FLEXCL_CHECK(B >= 1 && B <= fs->max_batch, FLEXCL_ERR_ARG,
                 "ff: batch %zu is outside [1, max_batch = %zu]", B, fs->max_batch);
    if (phase == FLEXCL_PHASE_NEGATIVE) {
        const size_t C = fs->n_classes;
        for (size_t r = 0; r < B; ++r) {
            const double u = flexcl_stream_uniform1(s, update, FLEXCL_RNG_LABEL, r);
            size_t k = (size_t)(u * (double)(C - 1));
            if (k >= C - 1) k = C - 2;
            f->yneg[r] = (int)k < y[r] ? (int)k : (int)k + 1;
        }
        labels = f->yneg;
    }
    FLEXCL_CALL(flexcl_ff_overlay(f->ff, x, labels, B, f->xo));
    FLEXCL_CALL(flexcl_ff_phase(f->ff, f->xo, B, phase, w, g, f->layer_loss));
    for (size_t l = 0; l < fs->n_layers; ++l) *loss += f->layer_loss[l];
done:
    return err;
}

static size_t learner_widths(const void *impl, const size_t **w)
{
    const flexcl_ff_settings *s = flexcl_ff_settings_get(((const ff_learner *)impl)->ff);
    *w = s->widths;
    return s->n_layers;
}

static flexcl_code learner_predict(void *impl, const double *x, size_t B, int *pred)
{
    return flexcl_ff_predict(((ff_learner *)impl)->ff, x, B, pred);
}

const flexcl_supervised_model_ops flexcl_supervised_ff_ops = {
    .name = "ff",
    .default_hidden = 500, /* 784-500-500, the authors' network */
    .param_count = learner_param_count,
    .create = learner_create,
    .destroy = learner_destroy,
    .n_params = learner_n_params,
    .params = learner_params,
    .init = learner_init,
    .phase = learner_phase,
    .direction = NULL,
    .widths = learner_widths,
    .predict = learner_predict,
};
