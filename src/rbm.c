/* The restricted Boltzmann machine: Gibbs dynamics, statistics and exact
 * quantities by enumeration (see flexcl/rbm.h). */
#include "flexcl/rbm.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "kernels.h"
#include "model_impl.h"

/* Exact sums are split into this many fixed blocks whatever the thread
 * count, and the blocks are combined in order: bitwise reproducible. */
enum { EXACT_BLOCKS = 64 };
/* The batched (OpenBLAS) path runs for minibatches of at least
 * BLAS_MIN_BATCH chains of models with at least BLAS_MIN_SIDE visible and
 * hidden units; everything else takes the chains path. */
enum { BLAS_MIN_BATCH = 32, BLAS_MIN_SIDE = 32 };
/* Units per OpenMP work item (chains per item = BLOCK_UNITS / max(nv, nh)). */
enum { BLOCK_UNITS = 2048 };
/* The chains path keeps a transposed copy of W for models up to this many
 * weights and uses it from TRANSPOSE_MIN_BATCH chains on. */
enum { TRANSPOSE_MAX_WEIGHTS = 1 << 16, TRANSPOSE_MIN_BATCH = 4 };


typedef struct {
    size_t nv, nh, n_classes, P;
    int visible_bias;
    double init_sigma;
    double *theta; /* W (nh x nv) | c (nh) | a (nv, only with visible_bias) */
    /* Exact equilibrium sampler cache: the CDF of the enumerated layer's
     * marginal for the θ copied in cache_theta. */
    double *cache_theta;
    double *cache_cdf;
    int cache_valid;
    int cache_over_hidden;
    flexcl_rbm_path path; /* sweep path (flexcl_rbm_set_path) */
    int threads;          /* OpenMP threads of the sweeps; 0 = OpenMP's default */
} rbm;

typedef struct {
    size_t B;
    double *v;   /* B x nv */
    double *h;   /* B x nh */
    double *act; /* B x max(nv, nh) scratch, rows rounded up to work items */
    double *u;   /* the same, for uniforms */
    double *wt;  /* Wᵀ (nv x nh) scratch of the chains path; NULL for large models */
    /* The batched path's H W by row tiles of W: tile k >= 1's product
     * H[:, tile k] W[tile k, :] (B x nv), tile 0's goes into act itself
     * (see visible_input). */
    double *part;
} rbm_chain;

static inline double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double *W_of(const rbm *r) { return r->theta; }
static double *c_of(const rbm *r) { return r->theta + r->nh * r->nv; }
/* The visible bias, or NULL when it is fixed at 0. */
static double *a_of(const rbm *r)
{
    return r->visible_bias ? r->theta + r->nh * r->nv + r->nh : NULL;
}

/* OpenBLAS serial from here on (see tiling(): OpenBLAS's threaded GEMM
 * rounds differently at different thread counts). Outside parallel regions only. */
static void blas_serial(void)
{
    if (!omp_in_parallel() && openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

static flexcl_code rbm_create(const flexcl_model_settings *s, size_t dim,
                              size_t n_classes, void **impl)
{
    flexcl_code err = FLEXCL_OK;
    rbm *r = NULL;
    FLEXCL_CHECK(s->n_hidden >= 1, FLEXCL_ERR_ARG,
                 "model.n_hidden must be >= 1, got %d", s->n_hidden);
    FLEXCL_ALLOC(r, 1);
    r->nv = dim;
    r->nh = (size_t)s->n_hidden;
    r->n_classes = n_classes;
    r->visible_bias = s->visible_bias;
    r->init_sigma = s->init_sigma;
    r->P = r->nh * r->nv + r->nh + (r->visible_bias ? r->nv : 0);
    r->path = FLEXCL_RBM_PATH_AUTO;
    r->threads = 0;
    blas_serial();
    FLEXCL_ALLOC(r->theta, r->P);
    FLEXCL_ALLOC(r->cache_theta, r->P);
    *impl = r;
    r = NULL;
done:
    if (r) free(r->theta);
    free(r);
    return err;
}

static void rbm_destroy(void *impl)
{
    rbm *r = impl;
    free(r->theta);
    free(r->cache_theta);
    free(r->cache_cdf);
    free(r);
}

static size_t rbm_n_params(const void *impl) { return ((const rbm *)impl)->P; }
static double *rbm_params(void *impl) { return ((rbm *)impl)->theta; }
static size_t rbm_n_blocks(const void *impl)
{
    return ((const rbm *)impl)->visible_bias ? 3 : 2;
}

static flexcl_param_block rbm_block(const void *impl, size_t i)
{
    const rbm *r = impl;
    flexcl_param_block b = {"W", 0, r->nh, r->nv};
    if (i == 1) b = (flexcl_param_block){"c", r->nh * r->nv, r->nh, 1};
    if (i == 2) b = (flexcl_param_block){"a", r->nh * r->nv + r->nh, r->nv, 1};
    return b;
}

static flexcl_code rbm_init_params(void *impl, const flexcl_stream *s)
{
    rbm *r = impl;
    memset(r->theta, 0, r->P * sizeof *r->theta);
    flexcl_stream_normal(s, 0, FLEXCL_RNG_INIT, 0, r->nh * r->nv, r->theta);
    for (size_t k = 0; k < r->nh * r->nv; ++k) r->theta[k] *= r->init_sigma;
    r->cache_valid = 0;
    return FLEXCL_OK;
}

static void rbm_learnable(const void *impl, unsigned char *mask)
{
    memset(mask, 1, ((const rbm *)impl)->P);
}

static void chain_free(rbm_chain *c)
{
    if (!c) return;
    free(c->v);
    free(c->h);
    free(c->act);
    free(c->u);
    free(c->wt);
    free(c->part);
    free(c);
}

static size_t chain_block(const rbm *r);
static void tiling(size_t n, size_t *n_tiles, size_t *width);

static flexcl_code rbm_chain_create(const void *impl, size_t batch, void **out)
{
    flexcl_code err = FLEXCL_OK;
    const rbm *r = impl;
    rbm_chain *c = NULL;
    size_t wide = r->nv > r->nh ? r->nv : r->nh, per = chain_block(r);
    /* Scratch rows rounded up to whole work items: the chains path uses
     * item-sized slots of it, one per thread (see sweep_chains). */
    size_t rows = (batch + per - 1) / per * per;
    FLEXCL_ALLOC(c, 1);
    c->B = batch;
    FLEXCL_ALLOC(c->v, batch * r->nv);
    FLEXCL_ALLOC(c->h, batch * r->nh);
    FLEXCL_ALLOC(c->act, rows * wide);
    FLEXCL_ALLOC(c->u, rows * wide);
    if (r->nv * r->nh <= TRANSPOSE_MAX_WEIGHTS) FLEXCL_ALLOC(c->wt, r->nv * r->nh);
    size_t n_tiles, width;
    tiling(r->nh, &n_tiles, &width);
    if (n_tiles > 1) FLEXCL_ALLOC(c->part, (n_tiles - 1) * batch * r->nv);
    *out = c;
    c = NULL;
done:
    chain_free(c);
    return err;
}

static void rbm_chain_destroy(void *chain) { chain_free(chain); }

static void rbm_chain_copy(const void *impl, void *dst, const void *src)
{
    const rbm *r = impl;
    rbm_chain *d = dst;
    const rbm_chain *s = src;
    memcpy(d->v, s->v, s->B * r->nv * sizeof *d->v);
    memcpy(d->h, s->h, s->B * r->nh * sizeof *d->h);
}

static size_t rbm_state_size(const void *impl)
{
    const rbm *r = impl;
    return r->nv + r->nh;
}

static void rbm_state_get(const void *impl, const void *chain, size_t b, double *out)
{
    const rbm *r = impl;
    const rbm_chain *c = chain;
    memcpy(out, c->v + b * r->nv, r->nv * sizeof *out);
    memcpy(out + r->nv, c->h + b * r->nh, r->nh * sizeof *out);
}

static void load_rows(const rbm *r, rbm_chain *c, const float *const *rows)
{
    for (size_t b = 0; b < c->B; ++b)
        for (size_t i = 0; i < r->nv; ++i) c->v[b * r->nv + i] = rows[b][i];
}

static flexcl_code rbm_phase_begin(void *impl, void *chain, flexcl_phase phase,
                                   const float *const *rows,
                                   const flexcl_stream *s, uint64_t step)
{
    (void)s;
    (void)step;
    if (phase == FLEXCL_PHASE_POSITIVE) {
        if (!rows)
            return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                    "a positive RBM phase needs data rows");
        load_rows(impl, chain, rows);
    }
    return FLEXCL_OK;
}

static flexcl_code rbm_chain_reset(void *impl, void *chain, const float *const *rows)
{
    const rbm *r = impl;
    rbm_chain *c = chain;
    load_rows(r, c, rows);
    memset(c->h, 0, c->B * r->nh * sizeof *c->h);
    return FLEXCL_OK;
}

/* ---- Gibbs sweeps ---------------------------------------------------------
 *
 * Two paths compute the same sweep (SPEC §3):
 *   batched  minibatches of image-sized models: each layer's input for the
 *            whole batch is DGEMM (V Wᵀ or H W) as serial OpenBLAS calls on
 *            fixed row tiles of W, OpenMP over tiles (see tiling()), then the
 *            units are drawn block by block, OpenMP over blocks;
 *   chains   small models and small batches: everything per block of chains
 *            (inputs by flexcl_kern_affine, draws, sampling), OpenMP over
 *            blocks of chains.
 * Which path runs depends only on the shape (and flexcl_rbm_set_path), never
 * on the thread count. Every unit is drawn from its own Philox number
 * (step, purpose, chain·units + unit) by flexcl_kern_uniform and decided by
 * flexcl_kern_sample, both bitwise equal to their scalar references, and no
 * chain's numbers depend on another chain's, so how chains are split over
 * threads never changes a bit. OpenBLAS's own threaded GEMM is not
 * thread-count invariant (tiling() says why), so the batched path fixes its
 * tiles by the shape and calls OpenBLAS serially on each: its bits do not
 * depend on the thread count either; tests/kernels checks both paths at 1
 * and 2 threads. The two paths
 * agree in every sampled unit except where a unit's σ lies within a few
 * ulps of its uniform (the two sums round differently): tests/kernels
 * checks that they agree on every unit of its runs. */

/* Chains per OpenMP work item of the chains path and units per work item of
 * the batched path's sampling: work items are fixed by the shape alone. */
static size_t chain_block(const rbm *r)
{
    size_t wide = r->nv > r->nh ? r->nv : r->nh;
    size_t b = BLOCK_UNITS / wide;
    return b ? b : 1;
}

static int use_batched(const rbm *r, size_t B)
{
    if (r->path == FLEXCL_RBM_PATH_BATCHED) return 1;
    if (r->path == FLEXCL_RBM_PATH_CHAINS) return 0;
    return B >= BLAS_MIN_BATCH && r->nv >= BLAS_MIN_SIDE && r->nh >= BLAS_MIN_SIDE;
}

/* OpenMP threads for a loop of n work items: at most one per item, and 1
 * when nested inside another parallel region (the learners' loop). */
static int team_size(const rbm *r, size_t n_items)
{
    if (n_items < 2 || omp_in_parallel()) return 1;
    int t = r->threads > 0 ? r->threads : omp_get_max_threads();
    if ((size_t)t > n_items) t = (int)n_items;
    return t < 1 ? 1 : t;
}

/* Tiles of the batched path's GEMMs. OpenBLAS 0.3.21's threaded GEMM
 * (level3_thread.c) splits the inner dimension at other points than its
 * serial GEMM (level3.c), so its results change with OpenBLAS's thread
 * count (tests/kernels shows it on the CD-1 shapes). The batched path
 * therefore runs OpenBLAS single-threaded on tiles fixed by the shape alone,
 * OpenMP over tiles: each tile is one serial GEMM whatever thread computes
 * it, so the bits never depend on the thread count.
 *
 * Every GEMM is tiled by the same row tiles of W (hidden units), and tiles
 * go to threads statically (contiguous runs of tiles, as the optimiser's
 * static split of θ), so a thread reads and writes the same rows of W and
 * of its gradient in every GEMM of every step, and their cache lines stay
 * in one core's cache (owner computes): V Wᵀ and Hᵀ V are tiled by their
 * output (columns, rows), H W by its inner dimension: tile k's
 * H[:, tile k] W[tile k, :] goes to act (k = 0, on top of a) or to its own
 * B x nv scratch (c->part), and the visible draws add the parts in tile
 * order (act + P1 + P2 + ..., fixed by the shape). An even number of tiles
 * of 192 to 384 rows: narrower tiles cost serial OpenBLAS speed (8 tiles of
 * 98 columns of the 100 x 784 x 500 product: 15% slower than one call; 2
 * tiles: 1%), and an even count keeps 2 threads balanced. */
static void tiling(size_t n, size_t *n_tiles, size_t *width)
{
    size_t t = 2 * (n / 384 > 1 ? n / 384 : 1);
    if (t > n) t = n;
    *n_tiles = t;
    *width = (n + t - 1) / t;
    *n_tiles = (n + *width - 1) / *width;
}

/* act (B x nh) = V Wᵀ + c for the whole batch, hidden units [j0, j1). */
static void hidden_tile(const rbm *r, const rbm_chain *c, size_t j0, size_t j1)
{
    const double *W = W_of(r), *cb = c_of(r);
    size_t B = c->B, nv = r->nv, nh = r->nh;
    for (size_t b = 0; b < B; ++b) memcpy(c->act + b * nh + j0, cb + j0, (j1 - j0) * sizeof *cb);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)(j1 - j0), (int)nv, 1.0,
                c->v, (int)nv, W + j0 * nv, (int)nv, 1.0, c->act + j0, (int)nh);
}

/* Row tile k = [j0, j1) of W's part of H W (B x nv): tile 0 into act on top
 * of a, the others into their slot of c->part. */
static void visible_tile(const rbm *r, const rbm_chain *c, size_t k, size_t j0, size_t j1)
{
    const double *W = W_of(r), *a = a_of(r);
    size_t B = c->B, nv = r->nv, nh = r->nh;
    double *out = c->act, beta = 1.0;
    if (k == 0) {
        if (a)
            for (size_t b = 0; b < B; ++b) memcpy(out + b * nv, a, nv * sizeof *a);
        else beta = 0.0;
    } else {
        out = c->part + (k - 1) * B * nv;
        beta = 0.0;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)nv, (int)(j1 - j0), 1.0,
                c->h + j0, (int)nh, W + j0 * nv, (int)nv, beta, out, (int)nv);
}

/* gW[j0:j1, :] += s H[:, j0:j1]ᵀ V. */
static void stats_tile(const rbm *r, const rbm_chain *c, double s, double *gW, size_t j0,
                       size_t j1)
{
    size_t B = c->B, nv = r->nv, nh = r->nh;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(j1 - j0), (int)nv, (int)B, s,
                c->h + j0, (int)nh, c->v, (int)nv, 1.0, gW + j0 * nv, (int)nv);
}

enum { GEMM_HIDDEN, GEMM_VISIBLE, GEMM_STATS };

/* One of the batched path's GEMMs, row tile by row tile of W, tiles
 * statically over the threads (see tiling()). */
static void gemm_tiles(const rbm *r, const rbm_chain *c, int which, double s, double *gW)
{
    size_t nh = r->nh, n_tiles, width;
    tiling(nh, &n_tiles, &width);
    blas_serial();
    int nt = team_size(r, n_tiles);
#pragma omp parallel for schedule(static) num_threads(nt) default(none) \
    shared(r, c, which, s, gW, nh, n_tiles, width)
    for (size_t k = 0; k < n_tiles; ++k) {
        size_t lo = k * width, hi = lo + width < nh ? lo + width : nh;
        if (which == GEMM_HIDDEN) hidden_tile(r, c, lo, hi);
        else if (which == GEMM_VISIBLE) visible_tile(r, c, k, lo, hi);
        else stats_tile(r, c, s, gW, lo, hi);
    }
}

static void hidden_input(const rbm *r, const rbm_chain *c)
{
    gemm_tiles(r, c, GEMM_HIDDEN, 0.0, NULL);
}

/* The tiles' parts of H W; the caller adds them up (add_parts, which
 * draw_layer does block by block). */
static void visible_input(const rbm *r, const rbm_chain *c)
{
    gemm_tiles(r, c, GEMM_VISIBLE, 0.0, NULL);
}

/* act[first, first + n) of the visible layer += the parts of tiles 1, 2,
 * ... in this order (tile 0's is in act): every sum in the tile order. */
static void add_parts(const rbm *r, const rbm_chain *c, size_t first, size_t n)
{
    size_t n_tiles, width, stride = c->B * r->nv;
    tiling(r->nh, &n_tiles, &width);
    double *x = c->act + first;
    for (size_t k = 1; k < n_tiles; ++k) {
        const double *p = c->part + (k - 1) * stride + first;
        for (size_t i = 0; i < n; ++i) x[i] += p[i];
    }
}

/* Draw units [first, first + n) of (step, purpose) and decide them:
 * out[k] = 1 when σ(act[k]) >= u, else 0 (the authors' rule). */
static void draw_units(const flexcl_stream *s, uint64_t step, uint32_t purpose,
                       uint64_t first, size_t n, const double *act, double *u, double *out)
{
    flexcl_kern_uniform(s, step, purpose, first, n, u);
    flexcl_kern_sample(act, u, n, out);
}

/* Hidden input of one chain without Wᵀ: act[j] = c_j + Σ_i W_ji v_i as dot
 * products, each sum in the order i = 0, 1, ... (what flexcl_kern_affine
 * computes from Wᵀ, bit for bit; the library is ISO C, so no multiply and
 * add are fused). */
static void chain_hidden_dot(const double *W, const double *cb, const double *v, size_t nv,
                             size_t nh, double *act)
{
    for (size_t j = 0; j < nh; ++j) {
        const double *w = W + j * nv;
        double x = cb[j];
        for (size_t i = 0; i < nv; ++i) x += w[i] * v[i];
        act[j] = x;
    }
}

/* The chains path on chains [b0, b1): hidden units given v, then (negative
 * phase) visible units given h, all per chain. The inputs come from
 * flexcl_kern_affine (bias + Wᵀ v with wt = Wᵀ, a + W h), whose sums run in
 * the scalar loops' order; a visible sum adds W_ji · 0 where the scalar
 * loop skips h_j = 0, which changes at most the sign of a zero input (σ is
 * the same). */
static void sweep_chains(const rbm *r, rbm_chain *c, size_t b0, size_t b1,
                         flexcl_phase phase, const flexcl_stream *s, uint64_t step,
                         const double *wt, size_t slot)
{
    const double *W = W_of(r), *cb = c_of(r), *a = a_of(r);
    size_t nv = r->nv, nh = r->nh, n = b1 - b0;
    /* The calling thread's scratch slot (one work item of act and u, either
     * layer packed): reused from item to item, so it stays in L1, and no
     * other thread touches it. */
    size_t wide = nv > nh ? nv : nh, room = chain_block(r) * wide;
    double *act = c->act + slot * room, *u = c->u + slot * room;
    if (wt) {
        flexcl_kern_affine(wt, cb, c->v + b0 * nv, n, nv, nh, act);
    } else {
        for (size_t b = b0; b < b1; ++b)
            chain_hidden_dot(W, cb, c->v + b * nv, nv, nh, act + (b - b0) * nh);
    }
    draw_units(s, step, FLEXCL_RNG_HIDDEN, b0 * nh, n * nh, act, u, c->h + b0 * nh);
    if (phase != FLEXCL_PHASE_NEGATIVE) return;
    flexcl_kern_affine(W, a, c->h + b0 * nh, n, nh, nv, act);
    draw_units(s, step, FLEXCL_RNG_VISIBLE, b0 * nv, n * nv, act, u, c->v + b0 * nv);
}

static void step_chains(const rbm *r, rbm_chain *c, flexcl_phase phase,
                        const flexcl_stream *s, uint64_t step)
{
    size_t B = c->B, nv = r->nv, nh = r->nh, per = chain_block(r);
    size_t n_items = (B + per - 1) / per;
    /* Wᵀ pays for itself from a few chains on; it is rebuilt every step
     * because θ may have changed since the last one. */
    const double *wt = NULL;
    if (c->wt && B >= TRANSPOSE_MIN_BATCH) {
        const double *W = W_of(r);
        for (size_t j = 0; j < nh; ++j)
            for (size_t i = 0; i < nv; ++i) c->wt[i * nh + j] = W[j * nv + i];
        wt = c->wt;
    }
    int nt = team_size(r, n_items);
    if (nt == 1) { /* block by block all the same: the scratch stays in L1 */
        for (size_t b0 = 0; b0 < B; b0 += per)
            sweep_chains(r, c, b0, b0 + per < B ? b0 + per : B, phase, s, step, wt, 0);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) default(none) \
    shared(r, c, phase, s, step, wt, n_items, per, B)
    for (size_t k = 0; k < n_items; ++k) {
        size_t b0 = k * per, b1 = b0 + per < B ? b0 + per : B;
        sweep_chains(r, c, b0, b1, phase, s, step, wt, (size_t)omp_get_thread_num());
    }
}

/* Draw every unit of one layer of the batch from act, block by block; with
 * parts (the visible layer after visible_input), each block of act first
 * gets the other tiles' parts of H W (add_parts). */
static void draw_layer(const rbm *r, rbm_chain *c, size_t units, uint32_t purpose, int parts,
                       const flexcl_stream *s, uint64_t step, double *out)
{
    size_t B = c->B, per = chain_block(r);
    size_t n_items = (B + per - 1) / per;
    int nt = team_size(r, n_items);
    size_t room = per * (r->nv > r->nh ? r->nv : r->nh); /* a thread's slot of u */
    if (nt == 1) {
        for (size_t b0 = 0; b0 < B; b0 += per) {
            size_t first = b0 * units, n = ((b0 + per < B ? b0 + per : B) - b0) * units;
            if (parts) add_parts(r, c, first, n);
            draw_units(s, step, purpose, first, n, c->act + first, c->u, out + first);
        }
        return;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) default(none) \
    shared(r, c, s, step, purpose, out, n_items, per, B, units, room, parts)
    for (size_t k = 0; k < n_items; ++k) {
        size_t b0 = k * per, b1 = b0 + per < B ? b0 + per : B;
        size_t first = b0 * units, n = (b1 - b0) * units;
        double *u = c->u + (size_t)omp_get_thread_num() * room;
        if (parts) add_parts(r, c, first, n);
        draw_units(s, step, purpose, first, n, c->act + first, u, out + first);
    }
}

static void step_batched(const rbm *r, rbm_chain *c, flexcl_phase phase,
                         const flexcl_stream *s, uint64_t step)
{
    hidden_input(r, c);
    draw_layer(r, c, r->nh, FLEXCL_RNG_HIDDEN, 0, s, step, c->h);
    if (phase != FLEXCL_PHASE_NEGATIVE) return;
    visible_input(r, c);
    draw_layer(r, c, r->nv, FLEXCL_RNG_VISIBLE, 1, s, step, c->v);
}

static flexcl_code rbm_step(void *impl, void *chain, flexcl_phase phase,
                            const flexcl_stream *s, uint64_t step)
{
    const rbm *r = impl;
    rbm_chain *c = chain;
    if (use_batched(r, c->B)) step_batched(r, c, phase, s, step);
    else step_chains(r, c, phase, s, step);
    return FLEXCL_OK;
}

static void rbm_stats_axpy(const void *impl, const void *chain,
                           flexcl_phase phase, double w, double *g)
{
    (void)phase;
    const rbm *r = impl;
    const rbm_chain *c = chain;
    size_t B = c->B, nv = r->nv, nh = r->nh;
    double s = w / (double)B;
    double *gW = g, *gc = g + nh * nv;
    if (use_batched(r, B)) {
        gemm_tiles(r, c, GEMM_STATS, s, gW);
    } else {
        for (size_t b = 0; b < B; ++b) {
            const double *h = c->h + b * nh, *v = c->v + b * nv;
            for (size_t j = 0; j < nh; ++j) {
                if (h[j] == 0.0) continue;
                double *row = gW + j * nv;
                double f = s * h[j];
                for (size_t i = 0; i < nv; ++i) row[i] += f * v[i];
            }
        }
    }
    for (size_t b = 0; b < B; ++b)
        for (size_t j = 0; j < nh; ++j) gc[j] += s * c->h[b * nh + j];
    if (r->visible_bias) {
        double *ga = gc + nh;
        for (size_t b = 0; b < B; ++b)
            for (size_t i = 0; i < nv; ++i) ga[i] += s * c->v[b * nv + i];
    }
}

/* ---- exact quantities by enumeration ---------------------------------- */

/* log weight of hidden configuration h (bits of x): c·h + Σ_i softplus(a_i + (Wᵀh)_i).
 * x_act (nv) must hold a + Wᵀh. */
static double hidden_log_weight(const rbm *r, uint64_t x, const double *x_act)
{
    const double *cb = c_of(r);
    double f = 0.0;
    for (size_t j = 0; j < r->nh; ++j)
        if (x >> j & 1u) f += cb[j];
    for (size_t i = 0; i < r->nv; ++i) f += softplus(x_act[i]);
    return f;
}

/* act = a + Wᵀh for the hidden configuration x. */
static void visible_act_of(const rbm *r, uint64_t x, double *act)
{
    const double *W = W_of(r), *a = a_of(r);
    for (size_t i = 0; i < r->nv; ++i) act[i] = a ? a[i] : 0.0;
    for (size_t j = 0; j < r->nh; ++j)
        if (x >> j & 1u)
            for (size_t i = 0; i < r->nv; ++i) act[i] += W[j * r->nv + i];
}

/* Visit hidden configurations [lo, hi) in Gray-code order inside the block,
 * keeping act = a + Wᵀh up to date with one row update per configuration.
 * The visit order and rounding depend only on (lo, hi): reproducible. */
typedef void (*visit_fn)(const rbm *r, uint64_t x, const double *act, void *ctx);

static void enumerate_block(const rbm *r, uint64_t lo, uint64_t hi, double *act,
                            visit_fn fn, void *ctx)
{
    const double *W = W_of(r);
    /* Configurations lo + k for k < hi - lo are visited as lo ^ gray(k) only
     * when the block is aligned to a power of two; blocks are chosen so. */
    uint64_t n = hi - lo;
    uint64_t x = lo;
    visible_act_of(r, x, act);
    fn(r, x, act, ctx);
    for (uint64_t k = 1; k < n; ++k) {
        /* flip bit = index of the lowest set bit of k */
        unsigned bit = (unsigned)__builtin_ctzll(k);
        x ^= (uint64_t)1 << bit;
        const double *w = W + (size_t)bit * r->nv;
        if (x >> bit & 1u)
            for (size_t i = 0; i < r->nv; ++i) act[i] += w[i];
        else
            for (size_t i = 0; i < r->nv; ++i) act[i] -= w[i];
        fn(r, x, act, ctx);
    }
}

/* Blocks: 2^nh configurations split into nb aligned power-of-two blocks. */
static void block_layout(const rbm *r, uint64_t *n_blocks, uint64_t *block_size)
{
    uint64_t total = (uint64_t)1 << r->nh;
    uint64_t nb = EXACT_BLOCKS;
    while (nb > total) nb >>= 1;
    *n_blocks = nb;
    *block_size = total / nb;
}

typedef struct {
    double max, sum; /* running log-sum-exp: log(sum) + max */
} lse_acc;

static void lse_add(lse_acc *a, double f)
{
    if (f <= a->max) {
        a->sum += exp(f - a->max);
    } else {
        a->sum = a->sum * exp(a->max - f) + 1.0;
        a->max = f;
    }
}

static void visit_lse(const rbm *r, uint64_t x, const double *act, void *ctx)
{
    lse_add(ctx, hidden_log_weight(r, x, act));
}

static flexcl_code check_exact(const rbm *r)
{
    if (r->nh > FLEXCL_RBM_EXACT_MAX_HIDDEN)
        return flexcl_error_set(FLEXCL_ERR_UNSUPPORTED, __FILE__, __LINE__, __func__,
                                "exact RBM quantities need n_hidden <= %d, got %zu",
                                FLEXCL_RBM_EXACT_MAX_HIDDEN, r->nh);
    return FLEXCL_OK;
}

static flexcl_code log_z_of(const rbm *r, double *out)
{
    flexcl_code err = FLEXCL_OK;
    lse_acc *part = NULL;
    double *acts = NULL;
    uint64_t nb, bs;
    FLEXCL_CALL(check_exact(r));
    block_layout(r, &nb, &bs);
    FLEXCL_ALLOC(part, nb);
    FLEXCL_ALLOC(acts, nb * r->nv);
#pragma omp parallel for schedule(static) default(none) shared(r, part, acts, nb, bs)
    for (uint64_t k = 0; k < nb; ++k) {
        part[k] = (lse_acc){-INFINITY, 0.0};
        enumerate_block(r, k * bs, (k + 1) * bs, acts + k * r->nv, visit_lse, &part[k]);
    }
    lse_acc total = {-INFINITY, 0.0};
    for (uint64_t k = 0; k < nb; ++k) {
        if (part[k].sum == 0.0) continue;
        double f = part[k].max + log(part[k].sum);
        lse_add(&total, f);
    }
    *out = total.max + log(total.sum);
done:
    free(part);
    free(acts);
    return err;
}

static const rbm *rbm_of(const flexcl_model *m)
{
    return m && m->ops == &flexcl_rbm_ops ? m->impl : NULL;
}

flexcl_code flexcl_rbm_set_path(flexcl_model *m, flexcl_rbm_path path)
{
    rbm *r = m && m->ops == &flexcl_rbm_ops ? m->impl : NULL;
    if (!r || (path != FLEXCL_RBM_PATH_AUTO && path != FLEXCL_RBM_PATH_BATCHED &&
               path != FLEXCL_RBM_PATH_CHAINS))
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "model is not an RBM or sweep path %d is unknown", (int)path);
    r->path = path;
    return FLEXCL_OK;
}

flexcl_code flexcl_rbm_set_threads(flexcl_model *m, int threads)
{
    rbm *r = m && m->ops == &flexcl_rbm_ops ? m->impl : NULL;
    if (!r || threads < 0)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "model is not an RBM or threads = %d < 0", threads);
    r->threads = threads;
    return FLEXCL_OK;
}

flexcl_code flexcl_rbm_shape(const flexcl_model *m, size_t *n_visible,
                             size_t *n_hidden)
{
    const rbm *r = rbm_of(m);
    if (!r)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "model is not an RBM");
    *n_visible = r->nv;
    *n_hidden = r->nh;
    return FLEXCL_OK;
}

flexcl_code flexcl_rbm_log_z(const flexcl_model *m, double *log_z)
{
    const rbm *r = rbm_of(m);
    if (!r)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "model is not an RBM");
    return log_z_of(r, log_z);
}

static double log_unnormalised(const rbm *r, const double *v)
{
    const double *W = W_of(r), *cb = c_of(r), *a = a_of(r);
    double f = 0.0;
    if (a)
        for (size_t i = 0; i < r->nv; ++i) f += a[i] * v[i];
    for (size_t j = 0; j < r->nh; ++j) {
        double x = cb[j];
        for (size_t i = 0; i < r->nv; ++i) x += W[j * r->nv + i] * v[i];
        f += softplus(x);
    }
    return f;
}

double flexcl_rbm_log_unnormalised(const flexcl_model *m, const double *v)
{
    const rbm *r = rbm_of(m);
    return r ? log_unnormalised(r, v) : NAN;
}

/* Σ_rows (log Z − log p̃(v)) for a known log Z. */
static flexcl_code nll_given(const rbm *r, const flexcl_data *d, double log_z,
                             double *nll)
{
    flexcl_code err = FLEXCL_OK;
    double *v = NULL;
    size_t n = flexcl_data_rows(d);
    FLEXCL_CHECK(flexcl_data_dim(d) == r->nv, FLEXCL_ERR_ARG,
                 "data width %zu does not match the RBM's %zu visible units",
                 flexcl_data_dim(d), r->nv);
    FLEXCL_ALLOC(v, r->nv);
    double sum = 0.0;
    for (size_t k = 0; k < n; ++k) {
        const float *row = flexcl_data_row(d, k);
        for (size_t i = 0; i < r->nv; ++i) v[i] = row[i];
        sum += log_z - log_unnormalised(r, v);
    }
    *nll = sum;
done:
    free(v);
    return err;
}

flexcl_code flexcl_rbm_nll(const flexcl_model *m, const flexcl_data *d, double *nll)
{
    const rbm *r = rbm_of(m);
    if (!r)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "model is not an RBM");
    flexcl_code err = FLEXCL_OK;
    double log_z;
    FLEXCL_CALL(log_z_of(r, &log_z));
    FLEXCL_CALL(nll_given(r, d, log_z, nll));
done:
    return err;
}

/* Model term of the exact gradient: Σ_h p(h) [h σ(act)ᵀ, h, σ(act)]. */
typedef struct {
    double log_z;
    double *g; /* P accumulator for this block */
    double *sig; /* nv scratch */
} grad_ctx;

static void visit_grad(const rbm *r, uint64_t x, const double *act, void *vctx)
{
    grad_ctx *ctx = vctx;
    double p = exp(hidden_log_weight(r, x, act) - ctx->log_z);
    if (p == 0.0) return;
    size_t nv = r->nv, nh = r->nh;
    for (size_t i = 0; i < nv; ++i) ctx->sig[i] = p * sigmoid(act[i]);
    double *gW = ctx->g, *gc = ctx->g + nh * nv;
    for (size_t j = 0; j < nh; ++j) {
        if (!(x >> j & 1u)) continue;
        gc[j] += p;
        double *row = gW + j * nv;
        for (size_t i = 0; i < nv; ++i) row[i] += ctx->sig[i];
    }
    if (r->visible_bias) {
        double *ga = gc + nh;
        for (size_t i = 0; i < nv; ++i) ga[i] += ctx->sig[i];
    }
}

static flexcl_code rbm_exact_gradient(void *impl, const flexcl_data *d, double *g)
{
    flexcl_code err = FLEXCL_OK;
    const rbm *r = impl;
    double *part = NULL, *scratch = NULL, *acts = NULL;
    size_t nv = r->nv, nh = r->nh, P = r->P, n = flexcl_data_rows(d);
    double log_z;
    uint64_t nb, bs;
    FLEXCL_CHECK(flexcl_data_dim(d) == nv, FLEXCL_ERR_ARG,
                 "data width %zu does not match the RBM's %zu visible units",
                 flexcl_data_dim(d), nv);
    FLEXCL_CHECK(n > 0, FLEXCL_ERR_ARG, "exact gradient of an empty data set");
    FLEXCL_CALL(log_z_of(r, &log_z));
    block_layout(r, &nb, &bs);
    FLEXCL_ALLOC(part, nb * P);
    FLEXCL_ALLOC(scratch, nb * nv);
    FLEXCL_ALLOC(acts, nb * nv);
#pragma omp parallel for schedule(static) default(none) \
    shared(r, part, scratch, acts, nb, bs, log_z, P, nv)
    for (uint64_t k = 0; k < nb; ++k) {
        grad_ctx ctx = {log_z, part + k * P, scratch + k * nv};
        enumerate_block(r, k * bs, (k + 1) * bs, acts + k * nv, visit_grad, &ctx);
    }
    /* g = data term − model term */
    memset(g, 0, P * sizeof *g);
    for (uint64_t k = 0; k < nb; ++k)
        for (size_t q = 0; q < P; ++q) g[q] -= part[k * P + q];
    const double *W = W_of(r), *cb = c_of(r);
    double inv_n = 1.0 / (double)n;
    for (size_t row_i = 0; row_i < n; ++row_i) {
        const float *v = flexcl_data_row(d, row_i);
        for (size_t j = 0; j < nh; ++j) {
            double x = cb[j];
            for (size_t i = 0; i < nv; ++i) x += W[j * nv + i] * v[i];
            double ph = sigmoid(x) * inv_n;
            for (size_t i = 0; i < nv; ++i) g[j * nv + i] += ph * v[i];
            g[nh * nv + j] += ph;
        }
        if (r->visible_bias)
            for (size_t i = 0; i < nv; ++i) g[nh * nv + nh + i] += v[i] * inv_n;
    }
done:
    free(part);
    free(scratch);
    free(acts);
    return err;
}

/* ---- exact equilibrium samples ----------------------------------------- */

static void visit_logw(const rbm *r, uint64_t x, const double *act, void *ctx)
{
    ((double *)ctx)[x] = hidden_log_weight(r, x, act);
}

/* Build (or reuse) the CDF of the hidden marginal p(h) for the current θ. */
static flexcl_code ensure_cdf(rbm *r)
{
    flexcl_code err = FLEXCL_OK;
    double *acts = NULL;
    if (r->cache_valid && memcmp(r->cache_theta, r->theta, r->P * sizeof *r->theta) == 0)
        return FLEXCL_OK;
    FLEXCL_CALL(check_exact(r));
    FLEXCL_CHECK(r->nh <= 22, FLEXCL_ERR_UNSUPPORTED,
                 "exact equilibrium samples need n_hidden <= 22, got %zu", r->nh);
    uint64_t total = (uint64_t)1 << r->nh, nb, bs;
    if (!r->cache_cdf) FLEXCL_ALLOC(r->cache_cdf, total);
    block_layout(r, &nb, &bs);
    FLEXCL_ALLOC(acts, nb * r->nv);
    double *logw = r->cache_cdf;
#pragma omp parallel for schedule(static) default(none) shared(r, acts, nb, bs, logw)
    for (uint64_t k = 0; k < nb; ++k)
        enumerate_block(r, k * bs, (k + 1) * bs, acts + k * r->nv, visit_logw, logw);
    double mx = -INFINITY;
    for (uint64_t x = 0; x < total; ++x) mx = logw[x] > mx ? logw[x] : mx;
    double run = 0.0;
    for (uint64_t x = 0; x < total; ++x) {
        run += exp(logw[x] - mx);
        logw[x] = run;
    }
    for (uint64_t x = 0; x < total; ++x) logw[x] /= run;
    memcpy(r->cache_theta, r->theta, r->P * sizeof *r->theta);
    r->cache_valid = 1;
done:
    free(acts);
    return err;
}

static flexcl_code rbm_equilibrium(void *impl, void *chain, flexcl_phase phase,
                                   const float *const *rows,
                                   const flexcl_stream *s, uint64_t step)
{
    flexcl_code err = FLEXCL_OK;
    rbm *r = impl;
    rbm_chain *c = chain;
    /* Every draw here uses the EQUILIBRIUM lane (units: [0, B·n_h) for h | v;
     * [0, B) for the hidden configurations and B + b·n_v + i for v | h), so
     * an exact sample never shares random numbers with the dynamics' steps. */
    if (phase == FLEXCL_PHASE_POSITIVE) {
        FLEXCL_CHECK(rows != NULL, FLEXCL_ERR_ARG, "a positive phase needs data rows");
        load_rows(r, c, rows);
        hidden_input(r, c);
        draw_units(s, step, FLEXCL_RNG_EQUILIBRIUM, 0, c->B * r->nh, c->act, c->u, c->h);
        goto done;
    }
    FLEXCL_CALL(ensure_cdf(r));
    uint64_t total = (uint64_t)1 << r->nh;
    for (size_t b = 0; b < c->B; ++b) {
        double u = flexcl_stream_uniform1(s, step, FLEXCL_RNG_EQUILIBRIUM, b);
        uint64_t lo = 0, hi = total - 1; /* first x with cdf[x] >= u */
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (r->cache_cdf[mid] >= u) hi = mid;
            else lo = mid + 1;
        }
        for (size_t j = 0; j < r->nh; ++j) c->h[b * r->nh + j] = (double)(lo >> j & 1u);
    }
    visible_input(r, c);
    add_parts(r, c, 0, c->B * r->nv);
    draw_units(s, step, FLEXCL_RNG_EQUILIBRIUM, c->B, c->B * r->nv, c->act, c->u, c->v);
done:
    return err;
}

/* Rows per block of label_error's GEMM. */
enum { EVAL_ROWS = 512 };

/* The fraction of rows whose label is not the argmax over y of the exact
 * label posterior p(y | pixels) ∝ exp(a_y) Π_j (1 + exp(c_j + W_j,y +
 * W_j,pixels · x)). The pixels' inputs of a block of rows, X W_pixelsᵀ, are
 * one GEMM (flexcl_gemm_rows: fixed blocks of rows, OpenBLAS single-threaded,
 * so the result never depends on the thread count) shared by the K labels;
 * the rest is per row. */
static flexcl_code label_error(const rbm *r, const flexcl_data *d, double *out)
{
    flexcl_code err = FLEXCL_OK;
    const size_t n = flexcl_data_rows(d), K = r->n_classes, nv = r->nv, npx = nv - K,
                 nh = r->nh, blk = n < EVAL_ROWS ? n : EVAL_ROWS;
    const double *W = W_of(r), *cb = c_of(r), *a = a_of(r);
    size_t wrong = 0;
    double *X = NULL, *PX = NULL;
    FLEXCL_ALLOC(X, blk * npx);
    FLEXCL_ALLOC(PX, blk * nh);
    const int nt = team_size(r, blk), saved = flexcl_blas_single();
    for (size_t k0 = 0; k0 < n; k0 += blk) {
        const size_t m = n - k0 < blk ? n - k0 : blk;
#pragma omp parallel for schedule(static) num_threads(nt) default(none) \
    shared(m, k0, npx, d, X)
        for (size_t k = 0; k < m; ++k) {
            const float *x = flexcl_data_row(d, k0 + k);
            for (size_t i = 0; i < npx; ++i) X[k * npx + i] = x[i];
        }
        flexcl_gemm_rows(nt, CblasNoTrans, CblasTrans, m, nh, npx, 1.0, X, npx, W, nv, 0.0, PX,
                         nh);
#pragma omp parallel for schedule(static) num_threads(nt) reduction(+ : wrong) default(none) \
    shared(m, k0, K, npx, nh, nv, W, cb, a, d, PX)
        for (size_t k = 0; k < m; ++k) {
            const double *px = PX + k * nh;
            double best = -INFINITY;
            size_t arg = 0;
            for (size_t y = 0; y < K; ++y) {
                double f = a ? a[npx + y] : 0.0;
                for (size_t j = 0; j < nh; ++j) f += softplus(cb[j] + W[j * nv + npx + y] + px[j]);
                if (f > best) {
                    best = f;
                    arg = y;
                }
            }
            if ((int)arg != flexcl_data_label(d, k0 + k)) wrong++;
        }
    }
    flexcl_blas_restore(saved);
    *out = (double)wrong / (double)n;
done:
    free(X);
    free(PX);
    return err;
}

static flexcl_code rbm_evaluate(void *impl, const flexcl_data *d, flexcl_metrics *m)
{
    flexcl_code err = FLEXCL_OK;
    const rbm *r = impl;
    m->nll = m->log_z = m->error_rate = NAN;
    if (r->nh <= FLEXCL_RBM_EXACT_MAX_HIDDEN) {
        FLEXCL_CALL(log_z_of(r, &m->log_z));
        FLEXCL_CALL(nll_given(r, d, m->log_z, &m->nll));
    }
    if (r->n_classes > 0 && flexcl_data_has_labels(d) && flexcl_data_rows(d) > 0)
        FLEXCL_CALL(label_error(r, d, &m->error_rate));
done:
    return err;
}

/* Restore state b (v then h, the layout of rbm_state_get). v and h are all a
 * chain carries between steps (act and u are scratch), so a restored chain
 * continues bitwise as the saved one: checkpoints need nothing more. */
static void rbm_state_set(const void *impl, void *chain, size_t b, const double *in)
{
    const rbm *r = impl;
    rbm_chain *c = chain;
    memcpy(c->v + b * r->nv, in, r->nv * sizeof *in);
    memcpy(c->h + b * r->nh, in + r->nv, r->nh * sizeof *in);
}

const flexcl_model_ops flexcl_rbm_ops = {
    .name = "rbm",
    .create = rbm_create,
    .destroy = rbm_destroy,
    .n_params = rbm_n_params,
    .params = rbm_params,
    .n_blocks = rbm_n_blocks,
    .block = rbm_block,
    .init_params = rbm_init_params,
    .learnable = rbm_learnable,
    .chain_create = rbm_chain_create,
    .chain_destroy = rbm_chain_destroy,
    .chain_copy = rbm_chain_copy,
    .state_size = rbm_state_size,
    .state_get = rbm_state_get,
    .phase_begin = rbm_phase_begin,
    .chain_reset = rbm_chain_reset,
    .step = rbm_step,
    .stats_axpy = rbm_stats_axpy,
    .equilibrium = rbm_equilibrium,
    .exact_gradient = rbm_exact_gradient,
    .evaluate = rbm_evaluate,
    .state_set = rbm_state_set,
};
