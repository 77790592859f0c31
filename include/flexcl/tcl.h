/* flexcl/tcl.h — temporal contrastive learning (TCL, SPEC §3; Falk, Strupp,
 * Scellier & Murugan, Nat. Commun. 16, 2025).
 *
 * Per learning degree of freedom q the synaptic current s_q(t) (for an EP
 * weight, ρ_i ρ_j) is filtered by a memory kernel K, u = K * s, and the
 * weight moves as dw/dt ∝ g(u) with a dead-zone g. With a zero-area kernel
 * (perfect adaptation) and a sawtooth protocol — a fast ramp free → clamped
 * over τ_f and a slow return over τ_s — only the fast ramp clears the
 * threshold θ_g, so the net weight change of one cycle is
 *     Δw = ∫_cycle g(u) dt ≈ τ_K (s_clamped − s_free)
 * for amplitudes A = s_clamped − s_free in the learning window
 *     A_min = θ_g τ_f / τ_K  <  A  <  A_max = θ_g τ_s / τ_K,
 * whose range A_max/A_min is at most τ_s/τ_f.
 *
 * Time is discretised with step dt; sample n of a signal is s_n = s(n·dt).
 *
 * Kernels (flexcl_tcl_kernel):
 *   feedback  integral feedback, the continuous-time memory of SPEC §3
 *                 u = s − m,   τ_K dm/dt = (1 − I) s − m
 *             (I = the kernel area, 0 = perfect adaptation: then
 *             τ_K dm/dt = u), discretised with forward Euler:
 *                 u_n = s_n − m_n,   m_{n+1} = m_n + a ((1 − I) s_n − m_n),
 *             a = dt/τ_K ∈ (0, 1]. Its impulse response is K[0] = 1,
 *             K[k] = −(1 − I) a (1 − a)^(k−1), k ≥ 1: area exactly I, and on
 *             a ramp of slope k the steady state is u = τ_K (1 − I)·k + I·s
 *             exactly (no O(dt) error).
 *   fir_sine  the authors' discrete kernel K[k] = sin(2πk/10)/3, k = 0..9
 *             (zero sum), applied causally: u_n = Σ_k K[k] s_{n−k}. On a
 *             ramp it acts as a derivative with effective time constant
 *             τ_K = −dt Σ_k k K[k] ≈ 5.13 dt.
 * flexcl_tcl_kernel_tau gives the effective τ_K of either (feedback:
 * (1 − I) τ_K), the constant that relates u to ds/dt on a ramp.
 *
 * Dead zone (hard gate, the authors' "zero entries with |·| < cutoff"):
 *     g(u) = u   when |u| ≥ θ_g,     g(u) = 0   when |u| < θ_g.
 * With a hard gate the fast ramp contributes ∫ u dt = τ_K A whole, so Δw is
 * proportional to A (a soft threshold sign(u)·max(|u| − θ_g, 0) would give
 * the affine τ_K A − θ_g τ_f instead).
 *
 * Sawtooth: level r ∈ [0, 1] at samples n = 0 … N−1 of a cycle of
 * N = n_f + n_s samples, n_f = τ_f/dt and n_s = τ_s/dt (whole numbers):
 *     r_n = n / n_f              for n ≤ n_f   (up: free → clamped),
 *     r_n = 1 − (n − n_f) / n_s  for n > n_f   (down, back to free),
 * then the next cycle starts at r = 0. τ_f > τ_s gives a reversed
 * (slow-up, fast-down) sawtooth, whose update has the opposite sign.
 */
#ifndef FLEXCL_TCL_H
#define FLEXCL_TCL_H

#include <stddef.h>
#include <stdint.h>

#include "flexcl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLEXCL_TCL_FEEDBACK = 0, /* integral feedback, continuous time, step dt */
    FLEXCL_TCL_FIR_SINE = 1  /* the authors' 10-tap kernel sin(2πk/10)/3 */
} flexcl_tcl_kernel;

typedef enum {
    FLEXCL_TCL_DOWN_INTERPOLATE = 0, /* down-ramp currents interpolated from the
                                        up-ramp's (the authors: "no hysteresis") */
    FLEXCL_TCL_DOWN_RUN = 1          /* the model is run down the ramp too */
} flexcl_tcl_down;

/* The [tcl] section of a job (keys tcl.*, see flexcl run --help). */
typedef struct {
    flexcl_tcl_kernel kernel; /* tcl.kernel; default feedback */
    double tau_kernel;  /* tcl.tau_kernel: τ_K of the feedback kernel (time); default 1 */
    double area;        /* tcl.area: kernel area I of the feedback kernel, in [0, 1); default 0 */
    double threshold;   /* tcl.threshold: dead zone θ_g (units of s); default 0.05 */
    double dt;          /* tcl.dt: time step (time); default 1 */
    double tau_fast;    /* tcl.tau_fast: duration τ_f of the up ramp (time); default 8 */
    double tau_slow;    /* tcl.tau_slow: duration τ_s of the down ramp (time); default 72 */
    /* Training protocol (estimator.kind = tcl). */
    int relax;          /* tcl.relax: model steps at every ramp point; default 4 */
    flexcl_tcl_down down; /* tcl.down; default interpolate */
    /* Single-synapse experiment (run.experiment = tcl_synapse). */
    double s_free;      /* tcl.s_free: free-phase current s_free; default 0 */
    double amp_lo, amp_hi; /* tcl.amp_lo, tcl.amp_hi: amplitude sweep; defaults 0.1, 100 */
    int amplitudes;     /* tcl.amplitudes: points of the (geometric) sweep; default 61 */
    uint64_t cycles;    /* tcl.cycles: sawtooth cycles per amplitude; default 3 */
    double tolerance;   /* tcl.tolerance: relative linearity tolerance; default 0.25 */
} flexcl_tcl_settings;

/* Every field at its documented default. Not collective. */
void flexcl_tcl_settings_default(flexcl_tcl_settings *s);
/* Check the fields the memory and the sawtooth use (kernel, τ_K > 0,
 * 0 < dt ≤ τ_K for feedback, 0 ≤ area < 1, θ_g ≥ 0, τ_f/dt and τ_s/dt
 * whole numbers ≥ 1); FLEXCL_ERR_ARG naming the field. Not collective. */
flexcl_code flexcl_tcl_settings_check(const flexcl_tcl_settings *s);

/* Names for job files and output. Not collective. */
const char *flexcl_tcl_kernel_name(flexcl_tcl_kernel k); /* "feedback", "fir_sine" */
const char *flexcl_tcl_down_name(flexcl_tcl_down d);     /* "interpolate", "run" */

/* Effective τ_K (time) of the settings' kernel: −dt Σ_k k K[k]. Not collective. */
double flexcl_tcl_kernel_tau(const flexcl_tcl_settings *s);
/* The first n taps of the kernel's impulse response into k[n]. Not collective. */
void flexcl_tcl_kernel_taps(const flexcl_tcl_settings *s, double *k, size_t n);
/* The dead zone (hard gate): u when |u| ≥ theta, else 0. Not collective. */
static inline double flexcl_tcl_gate(double u, double theta)
{
    return (u >= theta || u <= -theta) ? u : 0.0;
}

/* ---- the per-parameter memory ------------------------------------------ */

typedef struct flexcl_tcl_memory flexcl_tcl_memory;

/* A memory for P degrees of freedom (feedback: one double each; fir_sine:
 * the last 10 samples each), adapted to s = 0. Not collective. */
flexcl_code flexcl_tcl_memory_create(const flexcl_tcl_settings *s, size_t P,
                                     flexcl_tcl_memory **out);
void flexcl_tcl_memory_destroy(flexcl_tcl_memory **m); /* NULL-safe; sets *m to NULL */
/* Adapt the memory to a signal held constant at s[P] for ever (NULL: 0):
 * afterwards u = I·s for that signal. Not collective. */
void flexcl_tcl_memory_reset(flexcl_tcl_memory *m, const double *s);
/* Feed sample s[P] of the signal and write u = (K * s) at this sample into
 * u[P]. Not collective. */
void flexcl_tcl_memory_step(flexcl_tcl_memory *m, const double *s, double *u);
/* The same fused with the update: feed s[P] and add w·g(u) (dead zone
 * theta) to acc[P] without storing u. */
void flexcl_tcl_memory_step_gated(flexcl_tcl_memory *m, const double *s, double theta,
                                  double w, double *acc);
/* Feed n samples that interpolate n_rows stored rows (rows[n_rows][P]):
 * sample k is rows[i] + f (rows[i+1] − rows[i]) with i + f = pos[k]
 * (clamped to [0, n_rows − 1]); pos = NULL feeds rows[0] n times. Each
 * sample's w·g(u) is added to acc[P]. Works through the coordinates in
 * cache-sized blocks (the result equals n calls of step_gated bitwise).
 * Not collective. */
void flexcl_tcl_memory_feed_interp(flexcl_tcl_memory *m, const double *rows, size_t n_rows,
                                   const double *pos, size_t n, double theta, double w,
                                   double *acc);
/* The memory's state (feedback: m[P]; fir_sine: the 10 last samples, oldest
 * first), for checkpoints: its size in doubles, a copy, and its restoration
 * (after which the memory continues bitwise). Not collective. */
size_t flexcl_tcl_memory_state_size(const flexcl_tcl_memory *m);
void flexcl_tcl_memory_state_get(const flexcl_tcl_memory *m, double *state);
void flexcl_tcl_memory_state_set(flexcl_tcl_memory *m, const double *state);

/* ---- the sawtooth ------------------------------------------------------ */

typedef struct flexcl_tcl_sawtooth flexcl_tcl_sawtooth;

/* The sawtooth of the settings (τ_f, τ_s, dt), at sample 0 of a cycle.
 * FLEXCL_ERR_ARG (naming the field) for invalid settings. Not collective. */
flexcl_code flexcl_tcl_sawtooth_create(const flexcl_tcl_settings *s,
                                       flexcl_tcl_sawtooth **out);
void flexcl_tcl_sawtooth_destroy(flexcl_tcl_sawtooth **w); /* NULL-safe; sets *w to NULL */
/* Level r_n of the current sample, then advance to the next (wrapping to
 * the next cycle). Not collective. */
double flexcl_tcl_sawtooth_step(flexcl_tcl_sawtooth *w);
/* Samples per cycle N, samples of the up ramp n_f (r reaches 1 at n = n_f),
 * the level of sample n of a cycle, and the sample the next step returns. */
size_t flexcl_tcl_sawtooth_period(const flexcl_tcl_sawtooth *w);
size_t flexcl_tcl_sawtooth_up(const flexcl_tcl_sawtooth *w);
double flexcl_tcl_sawtooth_level(const flexcl_tcl_sawtooth *w, size_t n);
size_t flexcl_tcl_sawtooth_position(const flexcl_tcl_sawtooth *w);

/* ---- the single-synapse experiment (run.experiment = tcl_synapse) ------ */

/* One synapse driven by s(t) = s_free + A·r(t) for `cycles` cycles from a
 * memory adapted to s_free; Δw per cycle = ∫ g(u) dt (η = 1) averaged over
 * the cycles after the first (the first alone when cycles = 1). Not
 * collective. */
double flexcl_tcl_synapse_dw(const flexcl_tcl_settings *s, double amplitude);

/* Whether Δw at amplitude A is "the contrastive law": |Δw − τ_K A| ≤
 * tolerance · τ_K A, τ_K the effective kernel time (Δw > 0 needed). Not
 * collective. */
int flexcl_tcl_synapse_linear(const flexcl_tcl_settings *s, double amplitude,
                              double dw);

typedef struct {
    size_t n;             /* amplitudes of the sweep */
    double *amplitude;    /* [n], geometric from amp_lo to amp_hi */
    double *dw;           /* [n] Δw per cycle */
    double *dw_ideal;     /* [n] τ_K·A, the contrastive prediction */
    uint64_t *linear;     /* [n] 1 where Δw follows the law within tolerance */
    double tau_kernel;    /* effective τ_K */
    double a_min_pred, a_max_pred; /* θ_g τ_f/τ_K and θ_g τ_s/τ_K */
    double a_onset;       /* bisection: smallest A with Δw ≠ 0 */
    double a_min, a_max;  /* bisection: edges of the linear window (NaN if none) */
    double slope;         /* least-squares slope of Δw = c·A over the linear sweep points (NaN if none) */
    /* u and s over one cycle (after the first) at the trace amplitude
     * sqrt(a_min_pred · a_max_pred). */
    size_t trace_n;
    double trace_amplitude;
    double *trace_t, *trace_r, *trace_s, *trace_u;
} flexcl_tcl_synapse_result;

/* Run the sweep and the bisections (relative precision 1e-6) for the
 * settings. Not collective. Release with flexcl_tcl_synapse_result_free. */
flexcl_code flexcl_tcl_synapse_run(const flexcl_tcl_settings *s,
                                   flexcl_tcl_synapse_result *out);
void flexcl_tcl_synapse_result_free(flexcl_tcl_synapse_result *r);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_TCL_H */
