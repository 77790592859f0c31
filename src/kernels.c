/* Vectorised element-wise kernels: Philox uniforms and Bernoulli(σ) unit
 * sampling, bitwise equal to their scalar references (see kernels.h).
 *
 * The vector path is written with AVX-512F/DQ intrinsics in functions
 * compiled for that target only, and taken when the CPU reports both
 * extensions; anywhere else the kernels call the scalar references
 * (Random123's philox4x64 through flexcl_stream_uniform, libm's exp), so
 * every machine computes the same bits.
 *
 * Why the sampling decision equals libm's (flexcl_kern_sample). Write
 * E = e^(-x) and σ = 1/(1 + E), so σ >= u  <=>  u (1 + E) <= 1.
 *  - The fast Ê (Cody-Waite reduction −x = k ln2 + r, |r| <= ln2/2 + 2^-40,
 *    Taylor polynomial of degree 10, 2^k in the exponent bits) has relative
 *    error below 4e-13 (truncation r^11/11! e^|r| <= 3.2e-13, plus a few
 *    roundings), so q̂ = fl(u fl(1 + Ê)) is within δ = 4e-13 + 2^-52 of
 *    u (1 + E), relatively.
 *  - libm's σ_l = fl(1 / fl(1 + exp(-x))) is within ε = 2^-51 of σ,
 *    relatively (exp < 1 ulp, two roundings).
 *  - If q̂ <= 1 − M then u <= σ (1 − M)(1 + δ) < σ_l: libm says 1. If
 *    q̂ >= 1 + M then u >= σ (1 + M)(1 − δ) > σ_l: libm says 0. Both hold
 *    because M = 1e-10 exceeds δ + ε by orders of magnitude. Every other
 *    unit (and NaN, where both comparisons are false) is decided with libm.
 *  - The argument is clamped to |x| <= 708 so 2^k stays normal: for
 *    x < −708, q̂ >= u e^708 > 1 + M (u >= 2^-54) and σ_l < 2^-1000 < u;
 *    for x > 708, q̂ = u and libm's σ is 1: both agree (u = 1 goes to libm).
 *  - Uniforms below 2^-54, which no stream produces (the smallest is
 *    2^-54), go to libm: there σ_l underflows to 0 while the true σ and the
 *    fast one do not. Uniforms <= 0 or > 1 decide as libm does (1 and 0).
 * A test that compares in the (u E, 1 − u) plane with a relative margin
 * instead is wrong where 1 − u is a few ulps (σ near 1): there libm's
 * rounding of 1 + E is large compared with 1 − u. tests/kernels probes that
 * corner. */
#include "kernels.h"

#include <Random123/philox.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define FLEXCL_HAVE_AVX512_PATH 1
#include <immintrin.h>
#else
#define FLEXCL_HAVE_AVX512_PATH 0
#endif

/* Philox4x64-10 constants (Random123, philox.h). */
#define PHILOX_M0 0xD2E7470EE14C6C93ULL
#define PHILOX_M1 0xCA5A826395121157ULL
#define PHILOX_W0 0x9E3779B97F4A7C15ULL
#define PHILOX_W1 0xBB67AE8584CAA73BULL

/* Relative decision margin of flexcl_kern_sample (see above). */
#define MARGIN 1e-10

static int simd_wanted = 1;

int flexcl_kern_set_simd(int on)
{
    int old = simd_wanted;
    simd_wanted = on != 0;
    return old;
}

static int use_avx512(void)
{
#if FLEXCL_HAVE_AVX512_PATH
    return simd_wanted && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

const char *flexcl_kern_path(void) { return use_avx512() ? "avx512" : "scalar"; }

/* ---- scalar references ------------------------------------------------- */

static void philox_scalar(uint64_t k0, uint64_t k1, uint64_t c0, uint64_t c1,
                          uint64_t c2, uint64_t c3, size_t n_blocks, uint64_t *out)
{
    philox4x64_key_t k = {{k0, k1}};
    for (size_t b = 0; b < n_blocks; ++b) {
        philox4x64_ctr_t c = {{c0, c1, c2 + (uint64_t)b, c3}};
        philox4x64_ctr_t r = philox4x64(c, k);
        for (int w = 0; w < 4; ++w) out[4 * b + (size_t)w] = r.v[w];
    }
}

static void sample_scalar(const double *act, const double *u, size_t n, double *out)
{
    for (size_t k = 0; k < n; ++k) out[k] = 1.0 / (1.0 + exp(-act[k])) >= u[k] ? 1.0 : 0.0;
}

static void affine_scalar(const double *M, const double *bias, const double *x,
                          size_t n_chains, size_t n_in, size_t n_out, double *out)
{
    for (size_t b = 0; b < n_chains; ++b) {
        double *y = out + b * n_out;
        const double *xb = x + b * n_in;
        for (size_t o = 0; o < n_out; ++o) y[o] = bias ? bias[o] : 0.0;
        for (size_t k = 0; k < n_in; ++k) {
            const double *m = M + k * n_out;
            double xk = xb[k];
            for (size_t o = 0; o < n_out; ++o) y[o] += m[o] * xk;
        }
    }
}

static inline double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* The fast e^(-x) of the vector path, written out as scalar code (same
 * constants, same clamp; plain multiplies and adds). */
static double exp_minus_scalar(double x)
{
    double z = -x;
    z = z > 708.0 ? 708.0 : z;
    z = z < -708.0 ? -708.0 : z;
    const double shift = 0x1.8p52;
    double t = z * 0x1.71547652b82fep0 + shift;
    double kf = t - shift;
    uint64_t k = double_to_bits(t) - double_to_bits(shift);
    double r = (z - kf * 0x1.62e42fee00000p-1) - kf * 0x1.a39ef35793c76p-33;
    static const double c[11] = {1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
                                 1.0 / 5040.0,    1.0 / 720.0,    1.0 / 120.0,
                                 1.0 / 24.0,      1.0 / 6.0,      0.5,
                                 1.0,             1.0};
    double p = c[0];
    for (int i = 1; i < 11; ++i) p = p * r + c[i];
    return p * bits_to_double((k + 1023u) << 52);
}

double flexcl_kern_sigmoid(double x) { return 1.0 / (1.0 + exp_minus_scalar(x)); }

/* The averaging kernels' two parts over the elements [q0, q1), shared by
 * the whole-vector kernels and the tiled one (the same operations in the
 * same order, so the same bits): mean[q] of G = R·L rows, and the squared
 * distances of one row to it accumulated into eight lanes (q in lane q mod
 * 8). */
static void mean_range_scalar(const double *all, size_t R, size_t L, size_t stride, size_t P,
                              size_t q0, size_t q1, double *mean)
{
    const size_t G = R * L;
    for (size_t q = q0; q < q1; ++q) mean[q] = 0.0;
    for (size_t k = 0; k < G; ++k) {
        const double *row = all + (k / L) * stride + (k % L) * P;
        for (size_t q = q0; q < q1; ++q) mean[q] += row[q];
    }
    for (size_t q = q0; q < q1; ++q) mean[q] /= (double)G;
}

static void sq_lanes_scalar(const double *row, const double *mean, size_t q0, size_t q1,
                            double *lane)
{
    for (size_t q = q0; q < q1; ++q) {
        double d = row[q] - mean[q];
        lane[q % 8] += d * d;
    }
}

static double lanes_sum(const double *l)
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

static double sqdist_scalar(const double *row, const double *mean, size_t P)
{
    double lane[8] = {0};
    sq_lanes_scalar(row, mean, 0, P, lane);
    return lanes_sum(lane);
}

static void mean_spread_scalar(const double *all, size_t R, size_t L, size_t stride, size_t P,
                               double *mean, double *sq)
{
    const size_t G = R * L, T = FLEXCL_KERN_TILE(G);
    for (size_t j = 0; j < 8 * G; ++j) sq[j] = 0.0;
    for (size_t q0 = 0; q0 < P; q0 += T) {
        const size_t q1 = P - q0 < T ? P : q0 + T;
        mean_range_scalar(all, R, L, stride, P, q0, q1, mean);
        for (size_t k = 0; k < G; ++k)
            sq_lanes_scalar(all + (k / L) * stride + (k % L) * P, mean, q0, q1, sq + 8 * k);
    }
    /* sq[k] is written after lanes 8k..8k+7 were read, and k <= 8k. */
    for (size_t k = 0; k < G; ++k) sq[k] = lanes_sum(sq + 8 * k);
}

static void correct_scalar(double *th, const double *mu, const double *si, size_t P)
{
    for (size_t q = 0; q < P; ++q) th[q] += mu[q] - si[q];
}

/* ---- AVX-512 path ------------------------------------------------------ */

#if FLEXCL_HAVE_AVX512_PATH
#define AVX512 __attribute__((target("avx512f,avx512dq")))

/* 128-bit product a·m = (hi, lo) per lane from four 32x32 -> 64 products;
 * m is given as its halves (m_lo, m_hi) broadcast. No intermediate sum
 * overflows: t <= (2^32−1)^2 + 2^32 − 1 and w <= (2^32−1)^2 + 2^32 − 1. */
AVX512 static inline void mulhilo8(__m512i a, __m512i m_lo, __m512i m_hi, __m512i *hi,
                                   __m512i *lo)
{
    const __m512i mask = _mm512_set1_epi64(0xffffffffLL);
    __m512i a_hi = _mm512_srli_epi64(a, 32);
    __m512i p00 = _mm512_mul_epu32(a, m_lo), p01 = _mm512_mul_epu32(a, m_hi);
    __m512i p10 = _mm512_mul_epu32(a_hi, m_lo), p11 = _mm512_mul_epu32(a_hi, m_hi);
    __m512i t = _mm512_add_epi64(p10, _mm512_srli_epi64(p00, 32));
    __m512i w = _mm512_add_epi64(_mm512_and_si512(t, mask), p01);
    *hi = _mm512_add_epi64(_mm512_add_epi64(p11, _mm512_srli_epi64(t, 32)),
                           _mm512_srli_epi64(w, 32));
    /* 0xf8: a | (b & c) */
    *lo = _mm512_ternarylogic_epi64(_mm512_slli_epi64(w, 32), p00, mask, 0xf8);
}

/* Philox4x64-10 on nvec (1 to 4, a constant at each call) vectors of eight
 * counters each (lanes are blocks c2 + 8 v + l), in the round order of
 * Random123's philox4x64_R: round, then key bump, ten times (the last bump
 * unused). Several vectors interleave independent dependency chains. */
AVX512 static inline void philox_vec(uint64_t k0, uint64_t k1, uint64_t c0, uint64_t c1,
                                     uint64_t c2, uint64_t c3, int nvec, __m512i x[4][4])
{
    const __m512i m0_lo = _mm512_set1_epi64((long long)(PHILOX_M0 & 0xffffffffu));
    const __m512i m0_hi = _mm512_set1_epi64((long long)(PHILOX_M0 >> 32));
    const __m512i m1_lo = _mm512_set1_epi64((long long)(PHILOX_M1 & 0xffffffffu));
    const __m512i m1_hi = _mm512_set1_epi64((long long)(PHILOX_M1 >> 32));
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    for (int v = 0; v < nvec; ++v) {
        x[v][0] = _mm512_set1_epi64((long long)c0);
        x[v][1] = _mm512_set1_epi64((long long)c1);
        x[v][2] = _mm512_add_epi64(_mm512_set1_epi64((long long)(c2 + 8u * (uint64_t)v)), lane);
        x[v][3] = _mm512_set1_epi64((long long)c3);
    }
    uint64_t key0 = k0, key1 = k1;
    for (int r = 0; r < 10; ++r) {
        __m512i kk0 = _mm512_set1_epi64((long long)key0);
        __m512i kk1 = _mm512_set1_epi64((long long)key1);
        for (int v = 0; v < nvec; ++v) {
            __m512i hi0, lo0, hi1, lo1;
            mulhilo8(x[v][0], m0_lo, m0_hi, &hi0, &lo0);
            mulhilo8(x[v][2], m1_lo, m1_hi, &hi1, &lo1);
            /* 0x96: a ^ b ^ c */
            __m512i n0 = _mm512_ternarylogic_epi64(hi1, x[v][1], kk0, 0x96);
            __m512i n2 = _mm512_ternarylogic_epi64(hi0, x[v][3], kk1, 0x96);
            x[v][0] = n0;
            x[v][1] = lo1;
            x[v][2] = n2;
            x[v][3] = lo0;
        }
        key0 += PHILOX_W0;
        key1 += PHILOX_W1;
    }
}

/* Transpose four word vectors (lane = block) into block-major order:
 * out[k] holds blocks 2k and 2k + 1, four words each. */
AVX512 static inline void to_block_major(const __m512d w[4], __m512d out[4])
{
    __m512d a = _mm512_unpacklo_pd(w[0], w[1]); /* b0w0 b0w1 b2w0 b2w1 ... */
    __m512d b = _mm512_unpackhi_pd(w[0], w[1]); /* b1w0 b1w1 b3w0 b3w1 ... */
    __m512d c = _mm512_unpacklo_pd(w[2], w[3]); /* b0w2 b0w3 b2w2 b2w3 ... */
    __m512d d = _mm512_unpackhi_pd(w[2], w[3]); /* b1w2 b1w3 b3w2 b3w3 ... */
    /* 128-bit lanes: p = [a0 a2 c0 c2], q = [b0 b2 d0 d2], p' = [a1 a3 c1 c3] ... */
    __m512d p = _mm512_shuffle_f64x2(a, c, 0x88), q = _mm512_shuffle_f64x2(b, d, 0x88);
    __m512d p2 = _mm512_shuffle_f64x2(a, c, 0xdd), q2 = _mm512_shuffle_f64x2(b, d, 0xdd);
    out[0] = _mm512_shuffle_f64x2(p, q, 0x88);  /* [a0 c0 b0 d0]: blocks 0, 1 */
    out[2] = _mm512_shuffle_f64x2(p, q, 0xdd);  /* [a2 c2 b2 d2]: blocks 4, 5 */
    out[1] = _mm512_shuffle_f64x2(p2, q2, 0x88); /* blocks 2, 3 */
    out[3] = _mm512_shuffle_f64x2(p2, q2, 0xdd); /* blocks 6, 7 */
}

/* rng.c's to_open01: ((double)(x >> 11) + 0.5) * 2^-53; the conversion of a
 * 53-bit integer is exact, the add rounds as the scalar one does and the
 * multiply by a power of two is exact. */
AVX512 static inline __m512d open01(__m512i x)
{
    __m512d d = _mm512_cvtepu64_pd(_mm512_srli_epi64(x, 11));
    return _mm512_mul_pd(_mm512_add_pd(d, _mm512_set1_pd(0.5)), _mm512_set1_pd(0x1.0p-53));
}

AVX512 static void uniform_blocks_avx512(uint64_t k0, uint64_t k1, uint64_t step,
                                         uint64_t purpose, uint64_t first, size_t n_blocks,
                                         double *u)
{
    for (size_t g = 0; g < n_blocks; g += 32) {
        __m512i x[4][4];
        size_t left = n_blocks - g;
        int nvec = left > 24 ? 4 : left > 16 ? 3 : left > 8 ? 2 : 1;
        switch (nvec) {
        case 4: philox_vec(k0, k1, step, purpose, first + g, 0, 4, x); break;
        case 3: philox_vec(k0, k1, step, purpose, first + g, 0, 3, x); break;
        case 2: philox_vec(k0, k1, step, purpose, first + g, 0, 2, x); break;
        default: philox_vec(k0, k1, step, purpose, first + g, 0, 1, x); break;
        }
        for (int v = 0; v < nvec; ++v) {
                __m512d w[4], o[4];
            for (int i = 0; i < 4; ++i) w[i] = open01(x[v][i]);
            to_block_major(w, o);
            double *dst = u + 4 * (g + 8u * (size_t)v);
            size_t nb = left - 8u * (size_t)v; /* blocks of this vector to store */
            if (nb >= 8) {
                for (int i = 0; i < 4; ++i) _mm512_storeu_pd(dst + 8 * i, o[i]);
            } else {
                double tmp[32];
                for (int i = 0; i < 4; ++i) _mm512_storeu_pd(tmp + 8 * i, o[i]);
                memcpy(dst, tmp, 4 * nb * sizeof *dst);
            }
        }
    }
}

AVX512 static void philox_avx512(uint64_t k0, uint64_t k1, uint64_t c0, uint64_t c1,
                                 uint64_t c2, uint64_t c3, size_t n_blocks, uint64_t *out)
{
    for (size_t g = 0; g < n_blocks; g += 32) {
        __m512i x[4][4];
        philox_vec(k0, k1, c0, c1, c2 + (uint64_t)g, c3, 4, x);
        uint64_t tmp[4][4][8];
        for (int v = 0; v < 4; ++v)
            for (int i = 0; i < 4; ++i) _mm512_storeu_si512((void *)tmp[v][i], x[v][i]);
        size_t nb = n_blocks - g < 32 ? n_blocks - g : 32;
        for (size_t b = 0; b < nb; ++b)
            for (int w = 0; w < 4; ++w) out[4 * (g + b) + (size_t)w] = tmp[b / 8][w][b % 8];
    }
}

/* Fast u (1 + e^(-x)) for eight lanes (see the proof at the top). */
AVX512 static inline __m512d q_fast(__m512d x, __m512d u)
{
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    __m512d z = _mm512_sub_pd(_mm512_setzero_pd(), x);
    /* MAXPD/MINPD return their second operand when either is NaN: with the
     * argument second, a NaN activation stays NaN and goes to libm. */
    z = _mm512_min_pd(_mm512_set1_pd(708.0), _mm512_max_pd(_mm512_set1_pd(-708.0), z));
    __m512d t = _mm512_fmadd_pd(z, _mm512_set1_pd(0x1.71547652b82fep0), shift);
    __m512d kf = _mm512_sub_pd(t, shift);
    __m512i k = _mm512_sub_epi64(_mm512_castpd_si512(t), _mm512_castpd_si512(shift));
    __m512d r = _mm512_fnmadd_pd(kf, _mm512_set1_pd(0x1.62e42fee00000p-1), z);
    r = _mm512_fnmadd_pd(kf, _mm512_set1_pd(0x1.a39ef35793c76p-33), r);
    __m512d p = _mm512_set1_pd(1.0 / 3628800.0);
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 362880.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 40320.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 5040.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 720.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    __m512d scale = _mm512_castsi512_pd(
        _mm512_slli_epi64(_mm512_add_epi64(k, _mm512_set1_epi64(1023)), 52));
    __m512d e = _mm512_mul_pd(p, scale);
    return _mm512_mul_pd(u, _mm512_add_pd(_mm512_set1_pd(1.0), e));
}

AVX512 static void sample_avx512(const double *act, const double *u, size_t n, double *out)
{
    const __m512d lo = _mm512_set1_pd(1.0 - MARGIN), hi = _mm512_set1_pd(1.0 + MARGIN);
    const __m512d one = _mm512_set1_pd(1.0);
    for (size_t k = 0; k < n; k += 8) {
        size_t m = n - k < 8 ? n - k : 8;
        __mmask8 live = (__mmask8)((1u << m) - 1u);
        __m512d x = _mm512_maskz_loadu_pd(live, act + k);
        __m512d uu = _mm512_maskz_loadu_pd(live, u + k);
        __m512d q = q_fast(x, uu);
        __mmask8 is1 = _mm512_cmp_pd_mask(q, lo, _CMP_LE_OQ);
        __mmask8 is0 = _mm512_cmp_pd_mask(q, hi, _CMP_GE_OQ);
        /* Uniforms below 2^-54 (never drawn by a stream) go to libm too:
         * there libm's σ underflows where the fast one does not. */
        __mmask8 tiny = _mm512_cmp_pd_mask(uu, _mm512_set1_pd(0x1.0p-54), _CMP_LT_OQ);
        __mmask8 unsure = (__mmask8)((~(is1 | is0) | tiny) & live);
        /* Read every input of the lanes to redo before the store: out may
         * alias act or u. */
        double ax[8], ux[8];
        if (unsure) {
            _mm512_storeu_pd(ax, x);
            _mm512_storeu_pd(ux, uu);
        }
        _mm512_mask_storeu_pd(out + k, live, _mm512_maskz_mov_pd(is1, one));
        for (unsigned l = 0; unsure; ++l, unsure >>= 1)
            if (unsure & 1u) out[k + l] = 1.0 / (1.0 + exp(-ax[l])) >= ux[l] ? 1.0 : 0.0;
    }
}
/* Chains c < CH of one output tile [o0, o0 + 16) (lanes past n_out masked
 * off): two accumulators per chain, kept in registers over the whole sum. */
#define AFFINE_TILE(CH)                                                                     \
    do {                                                                                    \
        __m512d acc[CH][2];                                                                 \
        for (int c = 0; c < (CH); ++c) {                                                    \
            acc[c][0] = bias ? _mm512_maskz_loadu_pd(k0, bias + o0) : _mm512_setzero_pd();  \
            acc[c][1] = bias ? _mm512_maskz_loadu_pd(k1, bias + o0 + 8) : _mm512_setzero_pd(); \
        }                                                                                   \
        for (size_t k = 0; k < n_in; ++k) {                                                 \
            __m512d m0 = _mm512_maskz_loadu_pd(k0, M + k * n_out + o0);                     \
            __m512d m1 = _mm512_maskz_loadu_pd(k1, M + k * n_out + o0 + 8);                 \
            for (int c = 0; c < (CH); ++c) {                                                \
                __m512d xk = _mm512_set1_pd(x[(b + (size_t)c) * n_in + k]);                 \
                acc[c][0] = _mm512_add_pd(acc[c][0], _mm512_mul_pd(m0, xk));                \
                acc[c][1] = _mm512_add_pd(acc[c][1], _mm512_mul_pd(m1, xk));                \
            }                                                                               \
        }                                                                                   \
        for (int c = 0; c < (CH); ++c) {                                                    \
            _mm512_mask_storeu_pd(out + (b + (size_t)c) * n_out + o0, k0, acc[c][0]);       \
            _mm512_mask_storeu_pd(out + (b + (size_t)c) * n_out + o0 + 8, k1, acc[c][1]);   \
        }                                                                                   \
    } while (0)

AVX512 static void affine_avx512(const double *M, const double *bias, const double *x,
                                 size_t n_chains, size_t n_in, size_t n_out, double *out)
{
    for (size_t o0 = 0; o0 < n_out; o0 += 16) {
        size_t w = n_out - o0 < 16 ? n_out - o0 : 16;
        __mmask8 k0 = (__mmask8)(w >= 8 ? 0xffu : (1u << w) - 1u);
        __mmask8 k1 = (__mmask8)(w >= 16 ? 0xffu : w > 8 ? (1u << (w - 8)) - 1u : 0u);
        size_t b = 0;
        for (; b + 8 <= n_chains; b += 8) AFFINE_TILE(8);
        for (; b + 4 <= n_chains; b += 4) AFFINE_TILE(4);
        for (; b < n_chains; ++b) AFFINE_TILE(1);
    }
}
#undef AFFINE_TILE

AVX512 static inline __mmask8 tail_mask(size_t left)
{
    return (__mmask8)(left >= 8 ? 0xffu : (1u << left) - 1u);
}

AVX512 static void mean_range_avx512(const double *all, size_t R, size_t L, size_t stride,
                                     size_t P, size_t q0, size_t q1, double *mean)
{
    const __m512d g = _mm512_set1_pd((double)(R * L));
    for (size_t q = q0; q < q1; q += 8) {
        __mmask8 m = tail_mask(P - q);
        __m512d acc = _mm512_setzero_pd();
        for (size_t r = 0; r < R; ++r)
            for (size_t i = 0; i < L; ++i)
                acc = _mm512_add_pd(acc, _mm512_maskz_loadu_pd(m, all + r * stride + i * P + q));
        _mm512_mask_storeu_pd(mean + q, m, _mm512_div_pd(acc, g));
    }
}

/* q0 a multiple of 8; q1 one too, or P. */
AVX512 static __m512d sq_lanes_avx512(__m512d lane, const double *row, const double *mean,
                                      size_t P, size_t q0, size_t q1)
{
    for (size_t q = q0; q < q1; q += 8) {
        __mmask8 m = tail_mask(P - q);
        __m512d d = _mm512_sub_pd(_mm512_maskz_loadu_pd(m, row + q), _mm512_maskz_loadu_pd(m, mean + q));
        lane = _mm512_add_pd(lane, _mm512_mul_pd(d, d));
    }
    return lane;
}

AVX512 static double sqdist_avx512(const double *row, const double *mean, size_t P)
{
    double l[8];
    _mm512_storeu_pd(l, sq_lanes_avx512(_mm512_setzero_pd(), row, mean, P, 0, P));
    return lanes_sum(l);
}

AVX512 static void mean_spread_avx512(const double *all, size_t R, size_t L, size_t stride,
                                      size_t P, double *mean, double *sq)
{
    const size_t G = R * L, T = FLEXCL_KERN_TILE(G);
    for (size_t k = 0; k < G; ++k) _mm512_storeu_pd(sq + 8 * k, _mm512_setzero_pd());
    for (size_t q0 = 0; q0 < P; q0 += T) {
        const size_t q1 = P - q0 < T ? P : q0 + T;
        mean_range_avx512(all, R, L, stride, P, q0, q1, mean);
        for (size_t k = 0; k < G; ++k) {
            const double *row = all + (k / L) * stride + (k % L) * P;
            _mm512_storeu_pd(sq + 8 * k,
                             sq_lanes_avx512(_mm512_loadu_pd(sq + 8 * k), row, mean, P, q0, q1));
        }
    }
    for (size_t k = 0; k < G; ++k) sq[k] = lanes_sum(sq + 8 * k);
}

AVX512 static void correct_avx512(double *th, const double *mu, const double *si, size_t P)
{
    for (size_t q = 0; q < P; q += 8) {
        __mmask8 m = tail_mask(P - q);
        __m512d d = _mm512_sub_pd(_mm512_maskz_loadu_pd(m, mu + q), _mm512_maskz_loadu_pd(m, si + q));
        _mm512_mask_storeu_pd(th + q, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, th + q), d));
    }
}
#endif

/* ---- public entry points ------------------------------------------------ */

void flexcl_kern_philox(uint64_t k0, uint64_t k1, uint64_t c0, uint64_t c1,
                        uint64_t c2, uint64_t c3, size_t n_blocks, uint64_t *out)
{
#if FLEXCL_HAVE_AVX512_PATH
    if (use_avx512()) {
        philox_avx512(k0, k1, c0, c1, c2, c3, n_blocks, out);
        return;
    }
#endif
    philox_scalar(k0, k1, c0, c1, c2, c3, n_blocks, out);
}

void flexcl_kern_uniform(const flexcl_stream *s, uint64_t step, uint32_t purpose,
                         uint64_t first_unit, size_t n, double *u)
{
#if FLEXCL_HAVE_AVX512_PATH
    /* Units wrap modulo 2^64 in the scalar generator; a run that wraps (never
     * met in practice) stays scalar. */
    if (n >= 16 && first_unit + n > first_unit && use_avx512()) {
        /* A partial first and last block come from the scalar generator; the
         * whole blocks between them from the vector one. */
        size_t head = (size_t)((4 - (first_unit & 3u)) & 3u);
        if (head) flexcl_stream_uniform(s, step, purpose, first_unit, head, u);
        size_t body = (n - head) / 4;
        uniform_blocks_avx512(s->key[0], s->key[1], step, purpose,
                              (first_unit + head) >> 2, body, u + head);
        size_t done = head + 4 * body;
        if (done < n)
            flexcl_stream_uniform(s, step, purpose, first_unit + done, n - done, u + done);
        return;
    }
#endif
    flexcl_stream_uniform(s, step, purpose, first_unit, n, u);
}

void flexcl_kern_sample(const double *act, const double *u, size_t n, double *out)
{
#if FLEXCL_HAVE_AVX512_PATH
    if (use_avx512()) {
        sample_avx512(act, u, n, out);
        return;
    }
#endif
    sample_scalar(act, u, n, out);
}

void flexcl_kern_affine(const double *M, const double *bias, const double *x, size_t n_chains,
                        size_t n_in, size_t n_out, double *out)
{
#if FLEXCL_HAVE_AVX512_PATH
    if (use_avx512()) {
        affine_avx512(M, bias, x, n_chains, n_in, n_out, out);
        return;
    }
#endif
    affine_scalar(M, bias, x, n_chains, n_in, n_out, out);
}

void flexcl_kern_mean_spread(const double *all, size_t R, size_t L, size_t stride, size_t P,
                             double *mean, double *sq)
{
#if FLEXCL_HAVE_AVX512_PATH
    if (use_avx512()) {
        mean_spread_avx512(all, R, L, stride, P, mean, sq);
        return;
    }
#endif
    mean_spread_scalar(all, R, L, stride, P, mean, sq);
}

void flexcl_kern_mean(const double *all, size_t R, size_t L, size_t stride, size_t P,
                      double *mean)
{
#if FLEXCL_HAVE_AVX512_PATH
    if (use_avx512()) {
        mean_range_avx512(all, R, L, stride, P, 0, P, mean);
        return;
    }
#endif
    mean_range_scalar(all, R, L, stride, P, 0, P, mean);
}

double flexcl_kern_sqdist(const double *row, const double *mean, size_t P)
{
#if FLEXCL_HAVE_AVX512_PATH
    if (use_avx512()) return sqdist_avx512(row, mean, P);
#endif
    return sqdist_scalar(row, mean, P);
}

void flexcl_kern_correct(double *th, const double *mu, const double *si, size_t P)
{
#if FLEXCL_HAVE_AVX512_PATH
    if (use_avx512()) {
        correct_avx512(th, mu, si, P);
        return;
    }
#endif
    correct_scalar(th, mu, si, P);
}
