/* Temporal contrastive learning: the memory kernels, the dead zone, the
 * sawtooth and the single-synapse experiment (see flexcl/tcl.h). */
#include "flexcl/tcl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { FIR_TAPS = 10 };

void flexcl_tcl_settings_default(flexcl_tcl_settings *s)
{
    memset(s, 0, sizeof *s);
    s->kernel = FLEXCL_TCL_FEEDBACK;
    s->tau_kernel = 1.0;
    s->area = 0.0;
    s->threshold = 0.05;
    s->dt = 1.0;
    s->tau_fast = 8.0;
    s->tau_slow = 72.0;
    s->relax = 4;
    s->down = FLEXCL_TCL_DOWN_INTERPOLATE;
    s->s_free = 0.0;
    s->amp_lo = 0.1;
    s->amp_hi = 100.0;
    s->amplitudes = 61;
    s->cycles = 3;
    s->tolerance = 0.25;
}

const char *flexcl_tcl_kernel_name(flexcl_tcl_kernel k)
{
    switch (k) {
    case FLEXCL_TCL_FEEDBACK: return "feedback";
    case FLEXCL_TCL_FIR_SINE: return "fir_sine";
    }
    return "?";
}

const char *flexcl_tcl_down_name(flexcl_tcl_down d)
{
    switch (d) {
    case FLEXCL_TCL_DOWN_INTERPOLATE: return "interpolate";
    case FLEXCL_TCL_DOWN_RUN: return "run";
    }
    return "?";
}

/* n = x/dt when it is a whole number >= 1 (to 1e-9 relative), else 0. */
static size_t samples_of(double x, double dt)
{
    double q = x / dt, r = nearbyint(q);
    if (!(r >= 1.0) || r > 1e9 || fabs(q - r) > 1e-9 * r) return 0;
    return (size_t)r;
}

flexcl_code flexcl_tcl_settings_check(const flexcl_tcl_settings *s)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(s->kernel == FLEXCL_TCL_FEEDBACK || s->kernel == FLEXCL_TCL_FIR_SINE,
                 FLEXCL_ERR_ARG, "tcl kernel must be feedback or fir_sine, got %d",
                 (int)s->kernel);
    FLEXCL_CHECK(s->dt > 0.0 && isfinite(s->dt), FLEXCL_ERR_ARG, "tcl dt must be > 0, got %g",
                 s->dt);
    FLEXCL_CHECK(s->tau_kernel > 0.0, FLEXCL_ERR_ARG, "tcl tau_kernel must be > 0, got %g",
                 s->tau_kernel);
    FLEXCL_CHECK(s->kernel != FLEXCL_TCL_FEEDBACK || s->dt <= s->tau_kernel, FLEXCL_ERR_ARG,
                 "tcl dt = %g exceeds tau_kernel = %g (the Euler step of the feedback "
                 "kernel needs dt <= tau_kernel)", s->dt, s->tau_kernel);
    FLEXCL_CHECK(s->area >= 0.0 && s->area < 1.0, FLEXCL_ERR_ARG,
                 "tcl area must be in [0, 1), got %g", s->area);
    FLEXCL_CHECK(s->threshold >= 0.0, FLEXCL_ERR_ARG, "tcl threshold must be >= 0, got %g",
                 s->threshold);
    FLEXCL_CHECK(samples_of(s->tau_fast, s->dt) > 0, FLEXCL_ERR_ARG,
                 "tcl tau_fast = %g is not a whole number >= 1 of steps dt = %g", s->tau_fast,
                 s->dt);
    FLEXCL_CHECK(samples_of(s->tau_slow, s->dt) > 0, FLEXCL_ERR_ARG,
                 "tcl tau_slow = %g is not a whole number >= 1 of steps dt = %g", s->tau_slow,
                 s->dt);
done:
    return err;
}

static double fir_tap(size_t k) { return sin(2.0 * M_PI * (double)k / FIR_TAPS) / 3.0; }

void flexcl_tcl_kernel_taps(const flexcl_tcl_settings *s, double *k, size_t n)
{
    if (s->kernel == FLEXCL_TCL_FIR_SINE) {
        for (size_t j = 0; j < n; ++j) k[j] = j < FIR_TAPS ? fir_tap(j) : 0.0;
        return;
    }
    double a = s->dt / s->tau_kernel, p = (1.0 - s->area) * a;
    for (size_t j = 0; j < n; ++j) {
        if (j == 0) {
            k[j] = 1.0;
            continue;
        }
        k[j] = -p;
        p *= 1.0 - a;
    }
}

double flexcl_tcl_kernel_tau(const flexcl_tcl_settings *s)
{
    if (s->kernel == FLEXCL_TCL_FIR_SINE) {
        double m = 0.0;
        for (size_t j = 0; j < FIR_TAPS; ++j) m -= (double)j * fir_tap(j);
        return m * s->dt;
    }
    /* −dt Σ_k k K[k] = dt (1 − I) a Σ_k k (1 − a)^(k−1) = (1 − I) τ_K. */
    return (1.0 - s->area) * s->tau_kernel;
}

/* ---- memory ---------------------------------------------------------------- */

struct flexcl_tcl_memory {
    flexcl_tcl_kernel kernel;
    size_t P;
    double a, keep; /* feedback: a = dt/τ_K, keep = 1 − I */
    double *m;      /* feedback: m[P]; fir: ring of FIR_TAPS samples, [tap][P] */
    size_t head;    /* fir: slot of the newest sample */
};

flexcl_code flexcl_tcl_memory_create(const flexcl_tcl_settings *s, size_t P,
                                     flexcl_tcl_memory **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_tcl_memory *m = NULL;
    FLEXCL_CALL(flexcl_tcl_settings_check(s));
    FLEXCL_CHECK(P > 0, FLEXCL_ERR_ARG, "a TCL memory needs P > 0 degrees of freedom");
    FLEXCL_ALLOC(m, 1);
    m->kernel = s->kernel;
    m->P = P;
    m->a = s->dt / s->tau_kernel;
    m->keep = 1.0 - s->area;
    FLEXCL_ALLOC(m->m, m->kernel == FLEXCL_TCL_FIR_SINE ? FIR_TAPS * P : P);
    *out = m;
    m = NULL;
done:
    flexcl_tcl_memory_destroy(&m);
    return err;
}

void flexcl_tcl_memory_destroy(flexcl_tcl_memory **mp)
{
    if (!mp || !*mp) return;
    free((*mp)->m);
    free(*mp);
    *mp = NULL;
}

void flexcl_tcl_memory_reset(flexcl_tcl_memory *m, const double *s)
{
    const size_t P = m->P;
    if (m->kernel == FLEXCL_TCL_FIR_SINE) {
        for (size_t j = 0; j < FIR_TAPS; ++j)
            for (size_t q = 0; q < P; ++q) m->m[j * P + q] = s ? s[q] : 0.0;
        m->head = 0;
        return;
    }
    for (size_t q = 0; q < P; ++q) m->m[q] = s ? m->keep * s[q] : 0.0;
}

void flexcl_tcl_memory_step(flexcl_tcl_memory *m, const double *s, double *u)
{
    const size_t P = m->P;
    if (m->kernel == FLEXCL_TCL_FIR_SINE) {
        /* The newest sample goes into slot head; tap k reads slot head − k. */
        m->head = (m->head + 1) % FIR_TAPS;
        memcpy(m->m + m->head * P, s, P * sizeof *s);
        for (size_t q = 0; q < P; ++q) u[q] = 0.0;
        for (size_t k = 1; k < FIR_TAPS; ++k) {
            const double c = fir_tap(k);
            const double *x = m->m + ((m->head + FIR_TAPS - k) % FIR_TAPS) * P;
            for (size_t q = 0; q < P; ++q) u[q] += c * x[q];
        }
        return; /* tap 0 is sin(0) = 0 */
    }
    const double a = m->a, keep = m->keep;
    for (size_t q = 0; q < P; ++q) {
        const double x = s[q], mq = m->m[q];
        u[q] = x - mq;
        m->m[q] = mq + a * (keep * x - mq);
    }
}

void flexcl_tcl_memory_step_gated(flexcl_tcl_memory *m, const double *s, double theta,
                                  double w, double *acc)
{
    flexcl_tcl_memory_feed_interp(m, s, 1, NULL, 1, theta, w, acc);
}

/* Coordinates per block of feed_interp: m, acc and the rows' slices stay in
 * the L1/L2 cache while all samples pass. */
enum { FEED_BLOCK = 256 };

void flexcl_tcl_memory_feed_interp(flexcl_tcl_memory *m, const double *rows, size_t n_rows,
                                   const double *pos, size_t n, double theta, double w,
                                   double *acc)
{
    const size_t P = m->P;
    for (size_t q0 = 0; q0 < P; q0 += FEED_BLOCK) {
        const size_t q1 = q0 + FEED_BLOCK < P ? q0 + FEED_BLOCK : P;
        for (size_t k = 0; k < n; ++k) {
            /* Sample k: rows[i] + f (rows[i + 1] − rows[i]) at position pos[k]. */
            size_t i = 0;
            double f = 0.0;
            if (pos) {
                double x = pos[k] < 0.0 ? 0.0 : pos[k];
                i = (size_t)floor(x);
                if (i >= n_rows - 1) i = n_rows > 1 ? n_rows - 2 : 0;
                f = n_rows > 1 ? x - (double)i : 0.0;
            }
            const double *a = rows + i * P, *b = n_rows > 1 ? a + P : a;
            if (m->kernel == FLEXCL_TCL_FIR_SINE) {
                const size_t h = (m->head + k + 1) % FIR_TAPS;
                double *slot = m->m + h * P, tap[FIR_TAPS];
                const double *past[FIR_TAPS];
                for (size_t j = 1; j < FIR_TAPS; ++j) {
                    tap[j] = fir_tap(j);
                    past[j] = m->m + ((h + FIR_TAPS - j) % FIR_TAPS) * P;
                }
                for (size_t q = q0; q < q1; ++q) slot[q] = a[q] + f * (b[q] - a[q]);
                for (size_t q = q0; q < q1; ++q) {
                    double u = 0.0;
                    for (size_t j = 1; j < FIR_TAPS; ++j) u += tap[j] * past[j][q];
                    acc[q] += w * flexcl_tcl_gate(u, theta);
                }
                continue;
            }
            const double am = m->a, keep = m->keep;
            double *mm = m->m;
            for (size_t q = q0; q < q1; ++q) {
                const double x = a[q] + f * (b[q] - a[q]), mq = mm[q], u = x - mq;
                mm[q] = mq + am * (keep * x - mq);
                acc[q] += w * flexcl_tcl_gate(u, theta);
            }
        }
    }
    if (m->kernel == FLEXCL_TCL_FIR_SINE) m->head = (m->head + n) % FIR_TAPS;
}

size_t flexcl_tcl_memory_state_size(const flexcl_tcl_memory *m)
{
    return m->kernel == FLEXCL_TCL_FIR_SINE ? FIR_TAPS * m->P : m->P;
}

void flexcl_tcl_memory_state_get(const flexcl_tcl_memory *m, double *state)
{
    const size_t P = m->P;
    if (m->kernel == FLEXCL_TCL_FIR_SINE) {
        /* Oldest first, so the layout does not depend on head. */
        for (size_t k = 0; k < FIR_TAPS; ++k)
            memcpy(state + k * P, m->m + ((m->head + 1 + k) % FIR_TAPS) * P, P * sizeof *state);
        return;
    }
    memcpy(state, m->m, P * sizeof *state);
}

void flexcl_tcl_memory_state_set(flexcl_tcl_memory *m, const double *state)
{
    const size_t P = m->P;
    if (m->kernel == FLEXCL_TCL_FIR_SINE) {
        memcpy(m->m, state, FIR_TAPS * P * sizeof *state);
        m->head = FIR_TAPS - 1;
        return;
    }
    memcpy(m->m, state, P * sizeof *state);
}

/* ---- sawtooth -------------------------------------------------------------- */

struct flexcl_tcl_sawtooth {
    size_t n_up, n_down, n; /* samples up, down, position in the cycle */
};

flexcl_code flexcl_tcl_sawtooth_create(const flexcl_tcl_settings *s, flexcl_tcl_sawtooth **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_tcl_sawtooth *w = NULL;
    FLEXCL_CALL(flexcl_tcl_settings_check(s));
    FLEXCL_ALLOC(w, 1);
    w->n_up = samples_of(s->tau_fast, s->dt);
    w->n_down = samples_of(s->tau_slow, s->dt);
    *out = w;
done:
    return err;
}

void flexcl_tcl_sawtooth_destroy(flexcl_tcl_sawtooth **w)
{
    if (!w || !*w) return;
    free(*w);
    *w = NULL;
}

size_t flexcl_tcl_sawtooth_period(const flexcl_tcl_sawtooth *w) { return w->n_up + w->n_down; }
size_t flexcl_tcl_sawtooth_up(const flexcl_tcl_sawtooth *w) { return w->n_up; }
size_t flexcl_tcl_sawtooth_position(const flexcl_tcl_sawtooth *w) { return w->n; }

double flexcl_tcl_sawtooth_level(const flexcl_tcl_sawtooth *w, size_t n)
{
    n %= w->n_up + w->n_down;
    if (n <= w->n_up) return (double)n / (double)w->n_up;
    return 1.0 - (double)(n - w->n_up) / (double)w->n_down;
}

double flexcl_tcl_sawtooth_step(flexcl_tcl_sawtooth *w)
{
    double r = flexcl_tcl_sawtooth_level(w, w->n);
    w->n = (w->n + 1) % (w->n_up + w->n_down);
    return r;
}

/* ---- the single-synapse experiment ---------------------------------------- */

/* Run `cycles` cycles at amplitude A; Δw per cycle as documented. With
 * trace != NULL, the samples of cycle min(1, cycles − 1) go there. Returns
 * Δw; *peak gets max |u| over all samples. */
static double synapse(const flexcl_tcl_settings *s, double A, double *peak, double *tr_r,
                      double *tr_s, double *tr_u)
{
    flexcl_tcl_memory *m = NULL;
    flexcl_tcl_sawtooth *w = NULL;
    double dw = NAN, sum = 0.0, first = 0.0, mx = 0.0;
    if (flexcl_tcl_memory_create(s, 1, &m) != FLEXCL_OK ||
        flexcl_tcl_sawtooth_create(s, &w) != FLEXCL_OK)
        goto done;
    const size_t N = flexcl_tcl_sawtooth_period(w);
    const uint64_t C = s->cycles < 1 ? 1 : s->cycles, traced = C > 1 ? 1 : 0;
    double x = s->s_free, u = 0.0;
    flexcl_tcl_memory_reset(m, &x);
    for (uint64_t c = 0; c < C; ++c) {
        double cyc = 0.0;
        for (size_t n = 0; n < N; ++n) {
            double r = flexcl_tcl_sawtooth_step(w);
            x = s->s_free + A * r;
            flexcl_tcl_memory_step(m, &x, &u);
            cyc += flexcl_tcl_gate(u, s->threshold) * s->dt;
            if (fabs(u) > mx) mx = fabs(u);
            if (c == traced && tr_r) {
                tr_r[n] = r;
                tr_s[n] = x;
                tr_u[n] = u;
            }
        }
        if (c == 0) first = cyc;
        else sum += cyc;
    }
    dw = C > 1 ? sum / (double)(C - 1) : first;
done:
    if (peak) *peak = mx;
    flexcl_tcl_memory_destroy(&m);
    flexcl_tcl_sawtooth_destroy(&w);
    return dw;
}

double flexcl_tcl_synapse_dw(const flexcl_tcl_settings *s, double amplitude)
{
    return synapse(s, amplitude, NULL, NULL, NULL, NULL);
}

int flexcl_tcl_synapse_linear(const flexcl_tcl_settings *s, double A, double dw)
{
    double ideal = flexcl_tcl_kernel_tau(s) * A;
    return dw > 0.0 && fabs(dw - ideal) <= s->tolerance * ideal;
}

static int is_linear(const flexcl_tcl_settings *s, double A)
{
    return flexcl_tcl_synapse_linear(s, A, flexcl_tcl_synapse_dw(s, A));
}

static int is_on(const flexcl_tcl_settings *s, double A)
{
    double peak = 0.0;
    synapse(s, A, &peak, NULL, NULL, NULL);
    return peak >= s->threshold;
}

/* Geometric bisection of a predicate that is false at lo and true at hi
 * (or the reverse), to relative precision 1e-6. */
static double bisect(const flexcl_tcl_settings *s, int (*pred)(const flexcl_tcl_settings *, double),
                     double lo, double hi)
{
    int at_lo = pred(s, lo);
    while (hi / lo > 1.0 + 1e-6) {
        double mid = sqrt(lo * hi);
        if (pred(s, mid) == at_lo) lo = mid;
        else hi = mid;
    }
    return sqrt(lo * hi);
}

void flexcl_tcl_synapse_result_free(flexcl_tcl_synapse_result *r)
{
    free(r->amplitude);
    free(r->dw);
    free(r->dw_ideal);
    free(r->linear);
    free(r->trace_t);
    free(r->trace_r);
    free(r->trace_s);
    free(r->trace_u);
    memset(r, 0, sizeof *r);
}

flexcl_code flexcl_tcl_synapse_run(const flexcl_tcl_settings *s, flexcl_tcl_synapse_result *out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_tcl_synapse_result r = {0};
    FLEXCL_CALL(flexcl_tcl_settings_check(s));
    FLEXCL_CHECK(s->amplitudes >= 2 && s->amp_lo > 0.0 && s->amp_hi > s->amp_lo &&
                     s->tolerance > 0.0,
                 FLEXCL_ERR_ARG,
                 "tcl synapse sweep needs amplitudes >= 2, 0 < amp_lo < amp_hi, tolerance > 0");
    const size_t n = (size_t)s->amplitudes;
    r.n = n;
    FLEXCL_ALLOC(r.amplitude, n);
    FLEXCL_ALLOC(r.dw, n);
    FLEXCL_ALLOC(r.dw_ideal, n);
    FLEXCL_ALLOC(r.linear, n);
    r.tau_kernel = flexcl_tcl_kernel_tau(s);
    r.a_min_pred = s->threshold * s->tau_fast / r.tau_kernel;
    r.a_max_pred = s->threshold * s->tau_slow / r.tau_kernel;
    double sxy = 0.0, sxx = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double A = s->amp_lo * pow(s->amp_hi / s->amp_lo, (double)i / (double)(n - 1));
        r.amplitude[i] = A;
        r.dw[i] = flexcl_tcl_synapse_dw(s, A);
        r.dw_ideal[i] = r.tau_kernel * A;
        r.linear[i] = (uint64_t)flexcl_tcl_synapse_linear(s, A, r.dw[i]);
        if (r.linear[i]) {
            sxy += A * r.dw[i];
            sxx += A * A;
        }
    }
    r.slope = sxx > 0.0 ? sxy / sxx : NAN;

    /* The onset: Δw ≠ 0 exactly when some |u| reaches θ_g, and max |u| is
     * proportional to A (u = K * (s_free + A r) = I s_free + A (K * r)). */
    r.a_onset = NAN;
    if (s->threshold > 0.0) {
        double hi = r.a_min_pred > 0.0 ? r.a_min_pred : 1.0;
        int guard = 0;
        while (!is_on(s, hi) && guard++ < 200) hi *= 2.0;
        double lo = hi;
        guard = 0;
        while (is_on(s, lo) && guard++ < 200) lo /= 2.0;
        if (is_on(s, hi) && !is_on(s, lo)) r.a_onset = bisect(s, is_on, lo, hi);
    }
    /* The linear window around the geometric mean of the predicted edges. */
    r.a_min = r.a_max = NAN;
    double mid = sqrt(r.a_min_pred * r.a_max_pred);
    if (s->threshold > 0.0 && is_linear(s, mid)) {
        double lo = mid, hi = mid;
        int guard = 0;
        while (is_linear(s, lo) && guard++ < 200) lo /= 2.0;
        guard = 0;
        while (is_linear(s, hi) && guard++ < 200) hi *= 2.0;
        if (!is_linear(s, lo)) r.a_min = bisect(s, is_linear, lo, mid);
        if (!is_linear(s, hi)) r.a_max = bisect(s, is_linear, mid, hi);
    }

    /* One cycle of u and s at the geometric mean of the predicted edges. */
    {
        flexcl_tcl_sawtooth *w = NULL;
        FLEXCL_CALL(flexcl_tcl_sawtooth_create(s, &w));
        r.trace_n = flexcl_tcl_sawtooth_period(w);
        flexcl_tcl_sawtooth_destroy(&w);
    }
    r.trace_amplitude = mid > 0.0 ? mid : 1.0;
    FLEXCL_ALLOC(r.trace_t, r.trace_n);
    FLEXCL_ALLOC(r.trace_r, r.trace_n);
    FLEXCL_ALLOC(r.trace_s, r.trace_n);
    FLEXCL_ALLOC(r.trace_u, r.trace_n);
    for (size_t k = 0; k < r.trace_n; ++k) r.trace_t[k] = (double)k * s->dt;
    synapse(s, r.trace_amplitude, NULL, r.trace_r, r.trace_s, r.trace_u);
    *out = r;
    memset(&r, 0, sizeof r);
done:
    flexcl_tcl_synapse_result_free(&r);
    return err;
}
