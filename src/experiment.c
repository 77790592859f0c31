/* isd_variance and aol_bias experiments at a fixed θ₀ (flexcl/experiment.h). */
#include "flexcl/experiment.h"
#include "flexcl/results.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flexcl/learner.h"
#include "flexcl/log.h"

enum { MAX_QTY = 5 };

/* Counter of the stream used for θ₀ (no grid point uses it). */
#define THETA0_POINT 0xffffffffULL
/* Step counter of a chain's initial exact draw (phase indices stay below). */
#define INIT_STEP (UINT64_C(1) << 62)

typedef struct {
    const char *name;
    flexcl_moments m; /* merged over every chain and rank */
    double *raw;      /* this rank's raw rows × P */
} quantity;

struct flexcl_experiment_result {
    flexcl_experiment kind;
    size_t P;
    double *theta0;
    double *exact_g; /* NULL when the model has none */
    int n_q;
    quantity q[MAX_QTY];
    uint64_t M;                  /* raw rows in the file */
    uint64_t raw_first, raw_n;   /* this rank's raw rows */
    uint64_t *raw_z, *raw_len;   /* this rank's raw rows */
    flexcl_compression compression; /* of the raw samples datasets */
    double S_pos, S_neg;
};

/* ---- θ₀ --------------------------------------------------------------- */

/* CD-k from the model's initialisation (SPEC: the authors' two_term baseline). */
static flexcl_code train_cd(const flexcl_settings *s, const flexcl_data *d, flexcl_model *m)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_chain *c = NULL;
    double *g = NULL;
    size_t P = flexcl_model_n_params(m), rows = flexcl_data_rows(d);
    const unsigned char *mask = flexcl_model_learnable(m);
    flexcl_stream st = flexcl_stream_make(s->run.seed, THETA0_POINT, 1);
    FLEXCL_CALL(flexcl_chain_create(m, 1, &c));
    FLEXCL_ALLOC(g, P);
    uint64_t t = 0;
    for (uint64_t u = 0; u < s->theta0.updates; ++u) {
        size_t r = (size_t)(flexcl_stream_uniform1(&st, u, FLEXCL_RNG_DATA, 0) * (double)rows);
        const float *row = flexcl_data_row(d, r < rows ? r : rows - 1);
        FLEXCL_CALL(flexcl_model_chain_reset(m, c, &row));
        FLEXCL_CALL(flexcl_model_step(m, c, FLEXCL_PHASE_POSITIVE, &st, t++));
        memset(g, 0, P * sizeof *g);
        flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_POSITIVE, 1.0, g);
        for (int k = 0; k < s->theta0.k; ++k)
            FLEXCL_CALL(flexcl_model_step(m, c, FLEXCL_PHASE_NEGATIVE, &st, t++));
        flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_NEGATIVE, -1.0, g);
        double *th = flexcl_model_params(m);
        for (size_t q = 0; q < P; ++q)
            if (mask[q]) th[q] += s->theta0.eta * g[q];
    }
done:
    flexcl_chain_destroy(&c);
    free(g);
    return err;
}

/* Rank 0 reads row `learner` of points/<point>/params/theta from a results file. */
static flexcl_code read_theta_file(const flexcl_theta0_settings *t, double *out, size_t P)
{
    flexcl_code err = FLEXCL_OK;
    hid_t f = H5I_INVALID_HID, ds = H5I_INVALID_HID, sp = H5I_INVALID_HID, mem = H5I_INVALID_HID;
    char obj[96];
    snprintf(obj, sizeof obj, "points/%06llu/params/theta", (unsigned long long)t->point);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* A regular HDF5 file of this schema version (a damaged one or another
     * version's layout is refused before anything is read). */
    FLEXCL_CALL(flexcl_results_check_file(t->file, NULL));
    f = H5Fopen(t->file, H5F_ACC_RDONLY, H5P_DEFAULT);
    FLEXCL_CHECK(f >= 0, FLEXCL_ERR_DATA, "%s: cannot open as an HDF5 results file", t->file);
    ds = H5Dopen2(f, obj, H5P_DEFAULT);
    FLEXCL_CHECK(ds >= 0, FLEXCL_ERR_DATA, "%s: no dataset %s (theta0.point = %llu)", t->file, obj,
                 (unsigned long long)t->point);
    sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
    FLEXCL_CHECK(nd == 2 && dims[1] == P, FLEXCL_ERR_DATA,
                 "%s: %s has shape %llux%llu, the model needs %zu parameters per row", t->file, obj,
                 (unsigned long long)dims[0], (unsigned long long)(nd == 2 ? dims[1] : 0), P);
    FLEXCL_CHECK(t->learner < dims[0], FLEXCL_ERR_DATA, "%s: %s has %llu rows, theta0.learner = %llu",
                 t->file, obj, (unsigned long long)dims[0], (unsigned long long)t->learner);
    hsize_t start[2] = {t->learner, 0}, count[2] = {1, P};
    FLEXCL_H5(H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL),
              "%s: cannot select row of %s", t->file, obj);
    mem = H5Screate_simple(2, count, NULL);
    FLEXCL_H5(H5Dread(ds, H5T_NATIVE_DOUBLE, mem, sp, H5P_DEFAULT, out), "%s: cannot read %s",
              t->file, obj);
done:
    if (mem >= 0) H5Sclose(mem);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    return err;
}

flexcl_code flexcl_theta0_make(MPI_Comm comm, const flexcl_settings *s, const flexcl_data *d,
                               flexcl_model *m)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_model *init = NULL;
    size_t P = flexcl_model_n_params(m);
    int rank = 0;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (s->theta0.source == FLEXCL_THETA0_FILE) {
        flexcl_code local = FLEXCL_OK;
        char msg[1024] = "";
        if (rank == 0) {
            local = read_theta_file(&s->theta0, flexcl_model_params(m), P);
            if (local != FLEXCL_OK) snprintf(msg, sizeof msg, "%s", flexcl_error_message());
        }
        int code = (int)local;
        FLEXCL_MPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
        FLEXCL_MPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
        FLEXCL_CHECK(code == FLEXCL_OK, (flexcl_code)code, "%s", msg);
        FLEXCL_MPI(MPI_Bcast(flexcl_model_params(m), (int)P, MPI_DOUBLE, 0, comm));
        goto done;
    }
    /* The same initial θ for every grid point: a stream no point uses. */
    flexcl_stream st = flexcl_stream_make(s->run.seed, THETA0_POINT, 0);
    FLEXCL_CALL(flexcl_model_create(&s->model, flexcl_data_dim(d), flexcl_data_classes(d), &st, &init));
    memcpy(flexcl_model_params(m), flexcl_model_params(init), P * sizeof(double));
    if (s->theta0.source == FLEXCL_THETA0_TRAIN) FLEXCL_CALL(train_cd(s, d, m));
done:
    flexcl_model_destroy(&init);
    return err;
}

/* ---- shared machinery ------------------------------------------------- */

typedef struct {
    flexcl_stream stream;
    uint64_t lo, hi;           /* sample range */
    uint64_t next;             /* next sample to draw, lo <= next <= hi */
    uint64_t t;                /* the chain's step counter (chain sampler, aol) */
    flexcl_chain *state;       /* persistent chain (B run / chain sampler) */
    flexcl_chain *work_a;      /* aol: run A */
    flexcl_chain *work_c;      /* aol: run C; isd exact: the draw */
    flexcl_model *model_a;     /* aol: θ moving inside the phase */
    double *g, *dB, *dC, *x;   /* P each; x = a quantity sample */
    flexcl_moments m[MAX_QTY];
    flexcl_code code;
    char message[512];
} chain_work;

static void chain_free(chain_work *w, int n_q)
{
    flexcl_chain_destroy(&w->state);
    flexcl_chain_destroy(&w->work_a);
    flexcl_chain_destroy(&w->work_c);
    flexcl_model_destroy(&w->model_a);
    free(w->g);
    free(w->dB);
    free(w->dC);
    free(w->x);
    for (int q = 0; q < n_q; ++q) flexcl_moments_free(&w->m[q]);
}

static const float *draw_row(const flexcl_data *d, const flexcl_stream *s, uint64_t n)
{
    size_t rows = flexcl_data_rows(d);
    size_t r = (size_t)(flexcl_stream_uniform1(s, n, FLEXCL_RNG_DATA, 0) * (double)rows);
    return flexcl_data_row(d, r < rows ? r : rows - 1);
}

typedef struct {
    const flexcl_settings *s;
    const flexcl_data *d;
    flexcl_model *m; /* θ₀, read-only while chains run */
    flexcl_experiment_result *res;
    double w_pos, w_neg;
    /* aol_bias: quantity indices; equilibrium and transient are −1 when the
     * model has no exact equilibrium sampler (run C is then not run). */
    int q_equilibrium, q_drift, q_transient;
} context;

/* Record quantity q's sample x for global sample n (moments + raw row). */
static void record(context *cx, chain_work *w, int q, uint64_t n, const double *x)
{
    flexcl_moments_add(&w->m[q], x);
    flexcl_experiment_result *r = cx->res;
    if (n >= r->raw_first && n < r->raw_first + r->raw_n)
        memcpy(r->q[q].raw + (n - r->raw_first) * r->P, x, r->P * sizeof *x);
}

static void record_phase(context *cx, uint64_t n, int z, uint64_t len)
{
    flexcl_experiment_result *r = cx->res;
    if (n >= r->raw_first && n < r->raw_first + r->raw_n) {
        r->raw_z[n - r->raw_first] = (uint64_t)z;
        r->raw_len[n - r->raw_first] = len;
    }
}

/* One isd_variance chain: samples [w->next, until). */
static flexcl_code isd_chain(context *cx, chain_work *w, uint64_t until)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_settings *s = cx->s;
    size_t P = cx->res->P;
    int exact = s->run.sampler == FLEXCL_SAMPLER_EXACT;
    for (uint64_t n = w->next; n < until; ++n) {
        int z = flexcl_stream_uniform1(&w->stream, n, FLEXCL_RNG_PHASE, 0) < s->estimator.b;
        flexcl_phase ph = z ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
        const float *row = z ? draw_row(cx->d, &w->stream, n) : NULL;
        uint64_t len = 0;
        if (exact) {
            FLEXCL_CALL(flexcl_model_equilibrium(cx->m, w->state, ph, z ? &row : NULL, &w->stream, n));
        } else {
            double u = flexcl_stream_uniform1(&w->stream, n, FLEXCL_RNG_LENGTH, 0);
            len = flexcl_phase_length(s->estimator.law, s->estimator.tau,
                                      s->estimator.uniform_halfwidth, u);
            FLEXCL_CALL(flexcl_model_phase_begin(cx->m, w->state, ph, z ? &row : NULL, &w->stream,
                                                 w->t));
            for (uint64_t k = 0; k < len; ++k)
                FLEXCL_CALL(flexcl_model_step(cx->m, w->state, ph, &w->stream, w->t++));
        }
        memset(w->g, 0, P * sizeof *w->g);
        flexcl_model_stats_axpy(cx->m, w->state, ph, 1.0, w->g);
        double wz = z ? cx->w_pos : cx->w_neg;
        for (size_t q = 0; q < P; ++q) w->x[q] = wz * w->g[q];
        record(cx, w, 0, n, w->x);
        flexcl_moments_add(&w->m[z ? 1 : 2], w->g);
        record_phase(cx, n, z, len);
        w->next = n + 1;
    }
done:
    return err;
}

/* One aol_bias chain: phases [w->next, until), three runs each on common numbers. */
static flexcl_code aol_chain(context *cx, chain_work *w, uint64_t until)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_settings *s = cx->s;
    const flexcl_estimator_settings *es = &s->estimator;
    size_t P = cx->res->P;
    /* The result's copy: chains run in threads, and asking a model for its
     * parameters may touch its caches (eqprop counts a generation). */
    const double *theta0 = cx->res->theta0;
    const unsigned char *mask = flexcl_model_learnable(cx->m);
    double lr = es->eta / es->tau;
    for (uint64_t n = w->next; n < until; ++n) {
        uint64_t t = w->t;
        int z = flexcl_stream_uniform1(&w->stream, n, FLEXCL_RNG_PHASE, 0) < es->b;
        flexcl_phase ph = z ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
        double wz = z ? cx->w_pos : cx->w_neg;
        double u = flexcl_stream_uniform1(&w->stream, n, FLEXCL_RNG_LENGTH, 0);
        uint64_t len = flexcl_phase_length(es->law, es->tau, es->uniform_halfwidth, u);
        const float *row = z ? draw_row(cx->d, &w->stream, n) : NULL;
        int run_c = cx->q_transient >= 0;
        /* B runs on the persistent chain; A starts from the same state. */
        FLEXCL_CALL(flexcl_model_phase_begin(cx->m, w->state, ph, z ? &row : NULL, &w->stream, t));
        flexcl_chain_copy(w->work_a, w->state);
        if (run_c)
            FLEXCL_CALL(flexcl_model_equilibrium(cx->m, w->work_c, ph, z ? &row : NULL, &w->stream,
                                                 n));
        double *theta_a = flexcl_model_params(w->model_a);
        memcpy(theta_a, theta0, P * sizeof *theta_a);
        memset(w->dB, 0, P * sizeof *w->dB);
        if (run_c) memset(w->dC, 0, P * sizeof *w->dC);
        for (uint64_t k = 0; k < len; ++k, ++t) {
            FLEXCL_CALL(flexcl_model_step(w->model_a, w->work_a, ph, &w->stream, t));
            memset(w->g, 0, P * sizeof *w->g);
            flexcl_model_stats_axpy(w->model_a, w->work_a, ph, lr * wz, w->g);
            /* Ask for the mutable view at every step: it tells a model that
             * caches θ-dependent terms (eqprop's input drive) that θ moved. */
            theta_a = flexcl_model_params(w->model_a);
            for (size_t q = 0; q < P; ++q)
                if (mask[q]) theta_a[q] += w->g[q];
            FLEXCL_CALL(flexcl_model_step(cx->m, w->state, ph, &w->stream, t));
            flexcl_model_stats_axpy(cx->m, w->state, ph, lr * wz, w->dB);
            if (!run_c) continue;
            FLEXCL_CALL(flexcl_model_step(cx->m, w->work_c, ph, &w->stream, t));
            flexcl_model_stats_axpy(cx->m, w->work_c, ph, lr * wz, w->dC);
        }
        for (size_t q = 0; q < P; ++q) {
            if (!mask[q]) {
                w->dB[q] = 0.0;
                if (run_c) w->dC[q] = 0.0;
            }
            w->g[q] = theta_a[q] - theta0[q]; /* Δθ_A */
        }
        double inv_eta = 1.0 / es->eta;
        for (size_t q = 0; q < P; ++q) w->x[q] = w->g[q] * inv_eta;
        record(cx, w, 0, n, w->x); /* delta */
        for (size_t q = 0; q < P; ++q) w->x[q] = w->dB[q] * inv_eta;
        flexcl_moments_add(&w->m[1], w->x); /* frozen */
        if (run_c) {
            for (size_t q = 0; q < P; ++q) w->x[q] = w->dC[q] * inv_eta;
            flexcl_moments_add(&w->m[cx->q_equilibrium], w->x);
        }
        for (size_t q = 0; q < P; ++q) w->x[q] = w->g[q] - w->dB[q];
        record(cx, w, cx->q_drift, n, w->x);
        if (run_c) {
            for (size_t q = 0; q < P; ++q) w->x[q] = (w->dB[q] - w->dC[q]) * inv_eta;
            record(cx, w, cx->q_transient, n, w->x);
        }
        record_phase(cx, n, z, len);
        w->t = t;
        w->next = n + 1;
    }
done:
    return err;
}

static const char *const isd_names[] = {"ghat", "gpos", "gneg"};
static const char *const aol_names[] = {"delta", "frozen", "equilibrium", "drift", "transient"};
/* aol_bias for a model without an exact equilibrium sampler: runs A and B. */
static const char *const aol_names_drift[] = {"delta", "frozen", "drift"};
/* Which quantities keep raw samples. */
static int keeps_raw(const char *name)
{
    return !strcmp(name, "ghat") || !strcmp(name, "delta") || !strcmp(name, "drift") ||
           !strcmp(name, "transient");
}

struct flexcl_experiment_state {
    MPI_Comm comm;             /* our duplicate */
    int rank, size;
    flexcl_settings s;         /* a copy */
    flexcl_experiment_result *r;
    chain_work *work;
    int n_local;
    int n_q;                   /* quantities (the result's, kept for destroy) */
    uint64_t N, C, c_lo;       /* samples, chains, this rank's first chain */
    uint64_t longest;          /* samples of the longest chain */
    uint64_t done;             /* samples per chain drawn so far (capped per chain) */
    size_t S;                  /* units of one chain state */
    context cx;
};

/* All ranks learn whether any failed; the ones that did not report it. */
static flexcl_code agree(MPI_Comm comm, flexcl_code local, const char *what)
{
    int bad = local != FLEXCL_OK, any = 0;
    if (MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                                "MPI_Allreduce failed (%s)", what);
    if (any && !bad)
        return flexcl_error_set(FLEXCL_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                                "another rank failed (%s)", what);
    return local;
}

static flexcl_code start_local(flexcl_experiment_state *x, uint64_t point, const flexcl_data *d,
                               flexcl_model *m)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_settings *s = &x->s;
    flexcl_experiment kind = s->run.experiment;
    FLEXCL_CHECK(kind == FLEXCL_EXP_ISD_VARIANCE || kind == FLEXCL_EXP_AOL_BIAS, FLEXCL_ERR_ARG,
                 "flexcl_experiment_start needs experiment isd_variance or aol_bias");
    FLEXCL_CHECK(s->run.samples > 0 && s->run.chains > 0, FLEXCL_ERR_ARG,
                 "an experiment needs run.samples > 0 and run.chains > 0");
    flexcl_experiment_result *r = NULL;
    FLEXCL_ALLOC(x->r, 1);
    r = x->r;
    r->kind = kind;
    r->P = flexcl_model_n_params(m);
    size_t P = r->P;
    uint64_t N = s->run.samples;
    uint64_t C = s->run.chains < N ? s->run.chains : N;
    x->N = N;
    x->C = C;
    x->longest = (N + C - 1) / C; /* chain c has ⌊N(c+1)/C⌋ − ⌊Nc/C⌋ ≤ ⌈N/C⌉ samples */
    x->S = flexcl_model_state_size(m);
    r->M = s->run.raw_samples < N ? s->run.raw_samples : N;
    r->compression = s->run.sample_compression;
    /* Whether the model draws exact equilibrium samples, asked once: the
     * probe draws on a scratch chain from a counter no sample uses (and, for
     * the RBM, fills the sampler's cache before threads share the model).
     * With them, chains start in equilibrium and aol_bias runs C (the
     * transient); without them chains burn in, aol_bias measures the drift
     * only (runs A and B), and run.sampler = exact is refused. */
    int exact = 0;
    {
        flexcl_chain *probe = NULL;
        flexcl_stream ps = flexcl_stream_make(s->run.seed, point, UINT64_MAX);
        const float *row0 = flexcl_data_row(d, 0);
        FLEXCL_CALL(flexcl_chain_create(m, 1, &probe));
        flexcl_code e = flexcl_model_chain_reset(m, probe, &row0);
        if (e == FLEXCL_OK)
            e = flexcl_model_equilibrium(m, probe, FLEXCL_PHASE_NEGATIVE, NULL, &ps, INIT_STEP);
        flexcl_chain_destroy(&probe);
        FLEXCL_CHECK(e == FLEXCL_OK || e == FLEXCL_ERR_UNSUPPORTED, e, "equilibrium draw: %s",
                     flexcl_error_message());
        exact = e == FLEXCL_OK;
        FLEXCL_CHECK(exact || kind != FLEXCL_EXP_ISD_VARIANCE ||
                         s->run.sampler != FLEXCL_SAMPLER_EXACT,
                     e, "run.sampler = exact needs exact equilibrium samples: %s",
                     flexcl_error_message());
        if (!exact && kind == FLEXCL_EXP_AOL_BIAS && x->rank == 0)
            flexcl_log(FLEXCL_LOG_WARN, "aol_bias at point %llu: %s, so the drift is measured and "
                       "the transient is not (no equilibrium run C)", (unsigned long long)point,
                       flexcl_error_message());
        flexcl_error_clear();
    }
    const char *const *names = kind == FLEXCL_EXP_ISD_VARIANCE ? isd_names
                               : exact                          ? aol_names
                                                                : aol_names_drift;
    r->n_q = kind == FLEXCL_EXP_ISD_VARIANCE ? 3 : exact ? 5 : 3;
    x->n_q = r->n_q;

    FLEXCL_ALLOC(r->theta0, P);
    memcpy(r->theta0, flexcl_model_params(m), P * sizeof(double));
    {
        double *g = NULL;
        FLEXCL_ALLOC(g, P);
        flexcl_code e = flexcl_model_exact_gradient(m, d, g);
        if (e == FLEXCL_OK) r->exact_g = g;
        else free(g);
        FLEXCL_CHECK(e == FLEXCL_OK || e == FLEXCL_ERR_UNSUPPORTED, e, "exact gradient: %s",
                     flexcl_error_message());
        flexcl_error_clear(); /* none is not an error */
    }
    /* This rank's chains and samples (contiguous blocks). */
    uint64_t rank = (uint64_t)x->rank, size = (uint64_t)x->size;
    uint64_t c_lo = C * rank / size, c_hi = C * (rank + 1) / size;
    uint64_t n_lo = N * c_lo / C, n_hi = N * c_hi / C;
    x->c_lo = c_lo;
    r->raw_first = n_lo < r->M ? n_lo : r->M;
    r->raw_n = (n_hi < r->M ? n_hi : r->M) - r->raw_first;
    for (int q = 0; q < r->n_q; ++q) {
        r->q[q].name = names[q];
        FLEXCL_CALL(flexcl_moments_init(&r->q[q].m, P));
        if (keeps_raw(names[q])) FLEXCL_ALLOC(r->q[q].raw, r->raw_n * P);
    }
    FLEXCL_ALLOC(r->raw_z, r->raw_n);
    FLEXCL_ALLOC(r->raw_len, r->raw_n);

    int n_local = (int)(c_hi - c_lo);
    FLEXCL_ALLOC(x->work, n_local > 0 ? (size_t)n_local : 1);
    x->n_local = n_local;
    for (int i = 0; i < n_local; ++i) {
        chain_work *w = &x->work[i];
        uint64_t c = c_lo + (uint64_t)i;
        w->stream = flexcl_stream_make(s->run.seed, point, c);
        w->lo = N * c / C;
        w->hi = N * (c + 1) / C;
        w->next = w->lo;
        w->t = 0;
        FLEXCL_CALL(flexcl_chain_create(m, 1, &w->state));
        FLEXCL_ALLOC(w->g, P);
        FLEXCL_ALLOC(w->dB, P);
        if (exact && kind == FLEXCL_EXP_AOL_BIAS) FLEXCL_ALLOC(w->dC, P); /* run C */
        FLEXCL_ALLOC(w->x, P);
        for (int q = 0; q < r->n_q; ++q) FLEXCL_CALL(flexcl_moments_init(&w->m[q], P));
        if (kind == FLEXCL_EXP_AOL_BIAS) {
            FLEXCL_CALL(flexcl_chain_create(m, 1, &w->work_a));
            if (exact) FLEXCL_CALL(flexcl_chain_create(m, 1, &w->work_c)); /* run C */
            flexcl_stream init = flexcl_stream_make(s->run.seed, point, c);
            FLEXCL_CALL(flexcl_model_create(&s->model, flexcl_data_dim(d), flexcl_data_classes(d),
                                            &init, &w->model_a));
        }
        /* Persistent chains start in equilibrium when the model allows it,
         * else burn in 10 τ free steps from a data row. */
        const float *row = flexcl_data_row(d, 0);
        FLEXCL_CALL(flexcl_model_chain_reset(m, w->state, &row));
        if (exact) {
            FLEXCL_CALL(flexcl_model_equilibrium(m, w->state, FLEXCL_PHASE_NEGATIVE, NULL,
                                                 &w->stream, INIT_STEP));
        } else {
            uint64_t burn = (uint64_t)(10.0 * s->estimator.tau);
            for (uint64_t k = 0; k < burn; ++k)
                FLEXCL_CALL(flexcl_model_step(m, w->state, FLEXCL_PHASE_NEGATIVE, &w->stream,
                                              INIT_STEP + k));
        }
    }
    x->cx = (context){.s = &x->s,
                      .d = d,
                      .m = m,
                      .res = r,
                      .q_equilibrium = exact ? 2 : -1,
                      .q_drift = exact ? 3 : 2,
                      .q_transient = exact ? 4 : -1};
    flexcl_estimator_weights(s->estimator.weights, s->estimator.b, &x->cx.w_pos, &x->cx.w_neg);
done:
    return err;
}

flexcl_code flexcl_experiment_start(MPI_Comm comm, const flexcl_settings *s, uint64_t point,
                                    const flexcl_data *d, flexcl_model *m,
                                    flexcl_experiment_state **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_experiment_state *x = NULL;
    *out = NULL;
    FLEXCL_ALLOC(x, 1);
    x->comm = MPI_COMM_NULL;
    x->s = *s;
    FLEXCL_MPI(MPI_Comm_dup(comm, &x->comm));
    FLEXCL_MPI(MPI_Comm_rank(x->comm, &x->rank));
    FLEXCL_MPI(MPI_Comm_size(x->comm, &x->size));
    FLEXCL_CALL(agree(x->comm, start_local(x, point, d, m), "starting the experiment"));
    *out = x;
    x = NULL;
done:
    flexcl_experiment_state_destroy(&x);
    return err;
}

uint64_t flexcl_experiment_remaining(const flexcl_experiment_state *x)
{
    return x->longest - x->done;
}

uint64_t flexcl_experiment_progress(const flexcl_experiment_state *x) { return x->done; }

flexcl_code flexcl_experiment_advance(flexcl_experiment_state *x, uint64_t n)
{
    flexcl_code err = FLEXCL_OK;
    if (n > x->longest - x->done) n = x->longest - x->done;
    x->done += n;
    uint64_t done = x->done;
    chain_work *work = x->work;
    int n_local = x->n_local;
    context *cx = &x->cx;
    flexcl_experiment kind = x->s.run.experiment;
#pragma omp parallel for schedule(dynamic, 1) default(none) shared(work, n_local, cx, kind, done) if (n_local > 1)
    for (int i = 0; i < n_local; ++i) {
        chain_work *w = &work[i];
        uint64_t until = w->lo + done < w->hi ? w->lo + done : w->hi;
        w->code = kind == FLEXCL_EXP_ISD_VARIANCE ? isd_chain(cx, w, until) : aol_chain(cx, w, until);
        if (w->code != FLEXCL_OK) snprintf(w->message, sizeof w->message, "%s", flexcl_error_message());
    }
    flexcl_code local = FLEXCL_OK;
    for (int i = 0; i < n_local && local == FLEXCL_OK; ++i)
        if (work[i].code != FLEXCL_OK)
            local = flexcl_error_set(work[i].code, __FILE__, __LINE__, __func__, "chain %llu: %s",
                                     (unsigned long long)(x->c_lo + (uint64_t)i), work[i].message);
    FLEXCL_CALL(agree(x->comm, local, "drawing samples"));
done:
    return err;
}

flexcl_code flexcl_experiment_finish(flexcl_experiment_state *x, flexcl_experiment_result **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_moments *blocks = NULL;
    flexcl_experiment_result *r = x->r;
    *out = NULL;
    FLEXCL_CHECK(x->r != NULL, FLEXCL_ERR_ARG, "the experiment's result was already taken");
    FLEXCL_CHECK(x->done == x->longest, FLEXCL_ERR_ARG,
                 "the experiment has %llu samples per chain left to draw",
                 (unsigned long long)(x->longest - x->done));
    /* Merge every chain's moments in chain order, one chain at a time, on
     * every rank: the result is that of one rank holding every chain. */
    FLEXCL_ALLOC(blocks, x->n_local > 0 ? (size_t)x->n_local : 1);
    for (int q = 0; q < r->n_q; ++q) {
        for (int i = 0; i < x->n_local; ++i) blocks[i] = x->work[i].m[q];
        FLEXCL_CALL(flexcl_moments_allmerge_blocks(blocks, x->n_local, x->comm, &r->q[q].m));
    }
    if (r->kind == FLEXCL_EXP_ISD_VARIANCE) {
        r->S_pos = flexcl_moments_second_moment(&r->q[1].m);
        r->S_neg = flexcl_moments_second_moment(&r->q[2].m);
    }
    *out = r;
    x->r = NULL;
done:
    free(blocks);
    return err;
}

void flexcl_experiment_state_destroy(flexcl_experiment_state **xp)
{
    if (!xp || !*xp) return;
    flexcl_experiment_state *x = *xp;
    int n_q = x->n_q;
    if (x->work)
        for (int i = 0; i < x->n_local; ++i) chain_free(&x->work[i], n_q);
    free(x->work);
    flexcl_experiment_result_destroy(&x->r);
    if (x->comm != MPI_COMM_NULL) MPI_Comm_free(&x->comm);
    free(x);
    *xp = NULL;
}

flexcl_code flexcl_experiment_run(MPI_Comm comm, const flexcl_settings *s, uint64_t point,
                                  const flexcl_data *d, flexcl_model *m,
                                  flexcl_experiment_result **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_experiment_state *x = NULL;
    FLEXCL_CALL(flexcl_experiment_start(comm, s, point, d, m, &x));
    FLEXCL_CALL(flexcl_experiment_advance(x, flexcl_experiment_remaining(x)));
    FLEXCL_CALL(flexcl_experiment_finish(x, out));
done:
    flexcl_experiment_state_destroy(&x);
    return err;
}

/* ---- checkpoints ---------------------------------------------------------- */

flexcl_code flexcl_experiment_checkpoint_write(flexcl_experiment_state *x, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_experiment_result *r = x->r;
    double *buf = NULL;
    uint64_t *u = NULL;
    size_t L = (size_t)x->n_local, P = r ? r->P : 0, S = x->S, C = (size_t)x->C;
    char name[128];
    FLEXCL_CHECK(r != NULL, FLEXCL_ERR_ARG, "the experiment is finished: nothing to checkpoint");
    size_t width = P > S ? P : S;
    FLEXCL_ALLOC(buf, (L ? L : 1) * width);
    FLEXCL_ALLOC(u, (L ? L : 1) * 2);
    {
        /* Refuse on every rank when the chains cannot be restored. */
        int ok = 1, all = 0;
        if (L > 0) {
            flexcl_chain_state(x->cx.m, x->work[0].state, 0, buf);
            ok = flexcl_chain_set_state(x->cx.m, x->work[0].state, 0, buf) == FLEXCL_OK;
        }
        FLEXCL_MPI(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, x->comm));
        FLEXCL_CHECK(all, FLEXCL_ERR_UNSUPPORTED,
                     "model '%s' cannot restore chain states (no state_set operation): its "
                     "experiments cannot be checkpointed", flexcl_model_name(x->cx.m));
    }
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "samples", x->N));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "chains", x->C));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "params", P));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "state_size", S));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "raw_samples", r->M));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "done", x->done));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "experiment/theta0", P, 1, 0, x->rank == 0 ? P : 0,
                                        r->theta0));
    for (size_t i = 0; i < L; ++i) {
        u[2 * i] = x->work[i].next;
        u[2 * i + 1] = x->work[i].t;
    }
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "experiment/chain_clock", C, 2, x->c_lo, L, u));
    for (size_t i = 0; i < L; ++i) flexcl_chain_state(x->cx.m, x->work[i].state, 0, buf + i * S);
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "experiment/chain_state", C, S, x->c_lo, L, buf));
    for (int q = 0; q < r->n_q; ++q) {
        for (size_t i = 0; i < L; ++i) memcpy(buf + i * P, x->work[i].m[q].mean, P * sizeof *buf);
        snprintf(name, sizeof name, "experiment/moments/%s/mean", r->q[q].name);
        FLEXCL_CALL(flexcl_checkpoint_write(ck, name, C, P, x->c_lo, L, buf));
        for (size_t i = 0; i < L; ++i) memcpy(buf + i * P, x->work[i].m[q].m2, P * sizeof *buf);
        snprintf(name, sizeof name, "experiment/moments/%s/m2", r->q[q].name);
        FLEXCL_CALL(flexcl_checkpoint_write(ck, name, C, P, x->c_lo, L, buf));
        for (size_t i = 0; i < L; ++i) u[i] = x->work[i].m[q].count;
        snprintf(name, sizeof name, "experiment/moments/%s/count", r->q[q].name);
        FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, name, C, 1, x->c_lo, L, u));
    }
    if (r->M > 0) {
        for (int q = 0; q < r->n_q; ++q) {
            if (!r->q[q].raw) continue;
            snprintf(name, sizeof name, "experiment/samples/%s", r->q[q].name);
            FLEXCL_CALL(flexcl_checkpoint_write(ck, name, r->M, P, r->raw_first, r->raw_n,
                                                r->q[q].raw));
        }
        FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "experiment/samples/z", r->M, 1, r->raw_first,
                                                r->raw_n, r->raw_z));
        FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "experiment/samples/length", r->M, 1,
                                                r->raw_first, r->raw_n, r->raw_len));
    }
done:
    free(buf);
    free(u);
    return err;
}

static flexcl_code expect(flexcl_checkpoint *ck, const char *name, uint64_t want)
{
    flexcl_code err = FLEXCL_OK;
    uint64_t have = 0;
    FLEXCL_CALL(flexcl_checkpoint_get(ck, name, &have));
    FLEXCL_CHECK(have == want, FLEXCL_ERR_JOB,
                 "%s: checkpoint written with %s %llu, this run has %llu; remove it to start the "
                 "grid point over", flexcl_checkpoint_file(ck), name, (unsigned long long)have,
                 (unsigned long long)want);
done:
    return err;
}

static flexcl_code checkpoint_read_local(flexcl_experiment_state *x, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_experiment_result *r = x->r;
    double *buf = NULL;
    uint64_t *u = NULL, done = 0;
    size_t L = (size_t)x->n_local, P = r->P, S = x->S;
    char name[128];
    FLEXCL_CALL(expect(ck, "samples", x->N));
    FLEXCL_CALL(expect(ck, "chains", x->C));
    FLEXCL_CALL(expect(ck, "params", P));
    FLEXCL_CALL(expect(ck, "state_size", S));
    FLEXCL_CALL(expect(ck, "raw_samples", r->M));
    FLEXCL_CALL(flexcl_checkpoint_get(ck, "done", &done));
    FLEXCL_CHECK(done <= x->longest, FLEXCL_ERR_DATA, "%s: %llu samples per chain done of %llu",
                 flexcl_checkpoint_file(ck), (unsigned long long)done,
                 (unsigned long long)x->longest);
    size_t width = P > S ? P : S;
    FLEXCL_ALLOC(buf, (L ? L : 1) * width);
    FLEXCL_ALLOC(u, (L ? L : 1) * 2);
    /* θ₀ is rebuilt by the caller from the job: it must be the one the
     * samples so far were drawn at (a theta0.file may have changed). */
    FLEXCL_CALL(flexcl_checkpoint_read(ck, "experiment/theta0", 1, 0, P, buf));
    FLEXCL_CHECK(memcmp(buf, r->theta0, P * sizeof *buf) == 0, FLEXCL_ERR_JOB,
                 "%s: θ₀ differs from the one the checkpoint's samples were drawn at (did the "
                 "theta0 file change?); remove it to start the grid point over",
                 flexcl_checkpoint_file(ck));
    FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, "experiment/chain_clock", 2, x->c_lo, L, u));
    for (size_t i = 0; i < L; ++i) {
        chain_work *w = &x->work[i];
        uint64_t want = w->lo + done < w->hi ? w->lo + done : w->hi;
        FLEXCL_CHECK(u[2 * i] == want, FLEXCL_ERR_DATA,
                     "%s: chain %llu stopped at sample %llu, expected %llu",
                     flexcl_checkpoint_file(ck), (unsigned long long)(x->c_lo + i),
                     (unsigned long long)u[2 * i], (unsigned long long)want);
        w->next = u[2 * i];
        w->t = u[2 * i + 1];
    }
    FLEXCL_CALL(flexcl_checkpoint_read(ck, "experiment/chain_state", S, x->c_lo, L, buf));
    for (size_t i = 0; i < L; ++i)
        FLEXCL_CALL(flexcl_chain_set_state(x->cx.m, x->work[i].state, 0, buf + i * S));
    for (int q = 0; q < r->n_q; ++q) {
        snprintf(name, sizeof name, "experiment/moments/%s/mean", r->q[q].name);
        FLEXCL_CALL(flexcl_checkpoint_read(ck, name, P, x->c_lo, L, buf));
        for (size_t i = 0; i < L; ++i) memcpy(x->work[i].m[q].mean, buf + i * P, P * sizeof *buf);
        snprintf(name, sizeof name, "experiment/moments/%s/m2", r->q[q].name);
        FLEXCL_CALL(flexcl_checkpoint_read(ck, name, P, x->c_lo, L, buf));
        for (size_t i = 0; i < L; ++i) memcpy(x->work[i].m[q].m2, buf + i * P, P * sizeof *buf);
        snprintf(name, sizeof name, "experiment/moments/%s/count", r->q[q].name);
        FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, name, 1, x->c_lo, L, u));
        for (size_t i = 0; i < L; ++i) x->work[i].m[q].count = u[i];
    }
    if (r->M > 0) {
        for (int q = 0; q < r->n_q; ++q) {
            if (!r->q[q].raw) continue;
            snprintf(name, sizeof name, "experiment/samples/%s", r->q[q].name);
            FLEXCL_CALL(flexcl_checkpoint_read(ck, name, P, r->raw_first, r->raw_n, r->q[q].raw));
        }
        FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, "experiment/samples/z", 1, r->raw_first,
                                               r->raw_n, r->raw_z));
        FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, "experiment/samples/length", 1, r->raw_first,
                                               r->raw_n, r->raw_len));
    }
    x->done = done;
done:
    free(buf);
    free(u);
    return err;
}

flexcl_code flexcl_experiment_checkpoint_read(flexcl_experiment_state *x, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_code local = FLEXCL_OK;
    if (!x->r || x->done != 0)
        local = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                 "a checkpoint can only be read into an experiment that has not run");
    else
        local = checkpoint_read_local(x, ck);
    FLEXCL_CALL(agree(x->comm, local, "reading the checkpoint"));
done:
    return err;
}

void flexcl_experiment_result_destroy(flexcl_experiment_result **rp)
{
    if (!rp || !*rp) return;
    flexcl_experiment_result *r = *rp;
    for (int q = 0; q < r->n_q; ++q) {
        flexcl_moments_free(&r->q[q].m);
        free(r->q[q].raw);
    }
    free(r->theta0);
    free(r->exact_g);
    free(r->raw_z);
    free(r->raw_len);
    free(r);
    *rp = NULL;
}

const flexcl_moments *flexcl_experiment_moments(const flexcl_experiment_result *r, const char *name)
{
    for (int q = 0; q < r->n_q; ++q)
        if (strcmp(r->q[q].name, name) == 0) return &r->q[q].m;
    return NULL;
}

const double *flexcl_experiment_exact_gradient(const flexcl_experiment_result *r)
{
    return r->exact_g;
}

const double *flexcl_experiment_raw(const flexcl_experiment_result *r, const char *name,
                                    uint64_t *first, uint64_t *rows)
{
    *first = r->raw_first;
    *rows = r->raw_n;
    for (int q = 0; q < r->n_q; ++q)
        if (strcmp(r->q[q].name, name) == 0) return r->q[q].raw;
    return NULL;
}

const uint64_t *flexcl_experiment_raw_z(const flexcl_experiment_result *r) { return r->raw_z; }

/* A vector held by rank 0 (all ranks hold the same) written as a 1-D dataset. */
static flexcl_code write_vector(flexcl_results *res, const char *path, const double *v, size_t n,
                                int rank)
{
    return flexcl_results_write_rows(res, path, n, 1, 0, rank == 0 ? n : 0, v);
}

flexcl_code flexcl_experiment_write(flexcl_results *res, const char *group,
                                    const flexcl_experiment_result *r)
{
    flexcl_code err = FLEXCL_OK;
    char path[256];
    int crank = flexcl_results_rank(res);
    snprintf(path, sizeof path, "%s/theta0", group);
    FLEXCL_CALL(write_vector(res, path, r->theta0, r->P, crank));
    if (r->exact_g) {
        snprintf(path, sizeof path, "%s/exact_gradient", group);
        FLEXCL_CALL(write_vector(res, path, r->exact_g, r->P, crank));
    }
    for (int q = 0; q < r->n_q; ++q) {
        const quantity *qq = &r->q[q];
        snprintf(path, sizeof path, "%s/moments/%s", group, qq->name);
        FLEXCL_CALL(flexcl_results_group(res, path));
        FLEXCL_CALL(flexcl_results_attr_int(res, path, "count", (long long)qq->m.count));
        snprintf(path, sizeof path, "%s/moments/%s/mean", group, qq->name);
        FLEXCL_CALL(write_vector(res, path, qq->m.mean, r->P, crank));
        snprintf(path, sizeof path, "%s/moments/%s/m2", group, qq->name);
        FLEXCL_CALL(write_vector(res, path, qq->m.m2, r->P, crank));
        if (qq->raw && r->M > 0) {
            snprintf(path, sizeof path, "%s/samples/%s", group, qq->name);
            FLEXCL_CALL(flexcl_results_write_rows_as(res, path, r->M, r->P, r->raw_first,
                                                     r->raw_n, qq->raw, r->compression));
        }
    }
    if (r->M > 0) {
        snprintf(path, sizeof path, "%s/samples/z", group);
        FLEXCL_CALL(flexcl_results_write_rows_u64_as(res, path, r->M, 1, r->raw_first,
                                                     r->raw_n, r->raw_z, r->compression));
        if (r->kind == FLEXCL_EXP_AOL_BIAS) {
            snprintf(path, sizeof path, "%s/samples/length", group);
            FLEXCL_CALL(flexcl_results_write_rows_u64_as(res, path, r->M, 1, r->raw_first,
                                                         r->raw_n, r->raw_len, r->compression));
        }
    }
    if (r->kind == FLEXCL_EXP_ISD_VARIANCE) {
        FLEXCL_CALL(flexcl_results_attr_double(res, group, "S_pos", r->S_pos));
        FLEXCL_CALL(flexcl_results_attr_double(res, group, "S_neg", r->S_neg));
    }
done:
    return err;
}

flexcl_code flexcl_point_write_attrs(flexcl_results *r, const char *g, const flexcl_job *job,
                                     size_t i, const flexcl_settings *s, const flexcl_data *d,
                                     int learners)
{
    flexcl_code err = FLEXCL_OK;
    for (size_t a = 0; a < flexcl_job_n_axes(job); ++a)
        FLEXCL_CALL(flexcl_results_attr_string(r, g, flexcl_job_axis_name(job, a),
                                               flexcl_job_point_value(job, i, a)));
    FLEXCL_CALL(flexcl_results_attr_int(r, g, "index", (long long)i));
    FLEXCL_CALL(flexcl_results_attr_int(r, g, "replicate", flexcl_job_point_replicate(job, i)));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "subgrid", flexcl_job_point_subgrid(job, i)));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "experiment", flexcl_experiment_name(s->run.experiment)));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "model", s->model.kind));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "estimator",
                                           flexcl_estimator_kind_name(s->estimator.kind)));
    FLEXCL_CALL(flexcl_results_attr_double(r, g, "eta", s->estimator.eta));
    FLEXCL_CALL(flexcl_results_attr_double(r, g, "tau", s->estimator.tau));
    FLEXCL_CALL(flexcl_results_attr_double(r, g, "b", s->estimator.b));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "law", flexcl_phase_law_name(s->estimator.law)));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "weights",
                                           flexcl_weights_name(s->estimator.weights)));
    FLEXCL_CALL(flexcl_results_attr_int(r, g, "learners", learners));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "data", flexcl_data_describe(d)));
    FLEXCL_CALL(flexcl_results_attr_int(r, g, "samples", (long long)s->run.samples));
    FLEXCL_CALL(flexcl_results_attr_int(r, g, "seed", (long long)s->run.seed));
    FLEXCL_CALL(flexcl_results_attr_string(r, g, "sampler",
                                           s->run.sampler == FLEXCL_SAMPLER_EXACT ? "exact" : "chain"));
    FLEXCL_CALL(flexcl_results_attr_int(r, g, "chains", (long long)s->run.chains));
    FLEXCL_CALL(flexcl_results_attr_int(r, g, "raw_samples", (long long)s->run.raw_samples));
done:
    return err;
}

flexcl_code flexcl_index_write(flexcl_results *r, const flexcl_job *job, const size_t *points,
                               size_t n)
{
    flexcl_code err = FLEXCL_OK;
    double *eta = NULL, *tau = NULL, *b = NULL;
    uint64_t *idx = NULL, *rep = NULL;
    char *names = NULL, *axes = NULL;
    size_t cap = 32 * (n + 1), used = 0;
    int root = flexcl_results_rank(r) == 0;
    FLEXCL_ALLOC(eta, n);
    FLEXCL_ALLOC(tau, n);
    FLEXCL_ALLOC(b, n);
    FLEXCL_ALLOC(idx, n);
    FLEXCL_ALLOC(rep, n);
    FLEXCL_ALLOC(names, cap);
    for (size_t k = 0; k < n; ++k) {
        flexcl_settings s;
        FLEXCL_CALL(flexcl_job_point(job, points[k], &s));
        eta[k] = s.estimator.eta;
        tau[k] = s.estimator.tau;
        b[k] = s.estimator.b;
        idx[k] = points[k];
        rep[k] = (uint64_t)flexcl_job_point_replicate(job, points[k]);
        used += (size_t)snprintf(names + used, cap - used, "%s%s", k ? "," : "",
                                 flexcl_experiment_name(s.run.experiment));
    }
    size_t acap = 64 * (flexcl_job_n_axes(job) + 1), aused = 0;
    FLEXCL_ALLOC(axes, acap);
    for (size_t a = 0; a < flexcl_job_n_axes(job); ++a)
        aused += (size_t)snprintf(axes + aused, acap - aused, "%s%s", a ? "," : "",
                                  flexcl_job_axis_name(job, a));
    FLEXCL_CALL(flexcl_results_write_rows_u64(r, "index/point", n, 1, 0, root ? n : 0, idx));
    FLEXCL_CALL(flexcl_results_write_rows(r, "index/eta", n, 1, 0, root ? n : 0, eta));
    FLEXCL_CALL(flexcl_results_write_rows(r, "index/tau", n, 1, 0, root ? n : 0, tau));
    FLEXCL_CALL(flexcl_results_write_rows(r, "index/b", n, 1, 0, root ? n : 0, b));
    FLEXCL_CALL(flexcl_results_write_rows_u64(r, "index/replicate", n, 1, 0, root ? n : 0, rep));
    FLEXCL_CALL(flexcl_results_attr_string(r, "index", "experiments", names));
    FLEXCL_CALL(flexcl_results_attr_string(r, "index", "axes", axes));
done:
    free(eta);
    free(tau);
    free(b);
    free(idx);
    free(rep);
    free(names);
    free(axes);
    return err;
}
