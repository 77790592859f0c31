/* Vectorised element-wise kernels: Philox uniforms and Bernoulli(σ) unit
 * sampling, bitwise equal to their scalar references (see kernels.h).
 *
 * The loops are written for the auto-vectoriser (`omp simd` over lanes of
 * structure-of-arrays state) and compiled three times with GCC's
 * target_clones (x86-64-v4 = AVX-512, x86-64-v3 = AVX2, baseline); the
 * dynamic loader picks the best one for the CPU. Only integer arithmetic
 * and correctly rounded IEEE operations appear, in a fixed order, and the
 * library is compiled as ISO C (-std=c17, which in GCC means
 * -ffp-contract=off: no fused multiply-adds are formed), so every clone
 * computes the same bits. */
#include "kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    defined(__linux__)
#define KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL_CLONES
#endif

/* Philox4x64-10 constants (Random123, philox.h). */
#define PHILOX_M0 0xD2E7470EE14C6C93ULL
#define PHILOX_M1 0xCA5A826395121157ULL
#define PHILOX_W0 0x9E3779B97F4A7C15ULL
#define PHILOX_W1 0xBB67AE8584CAA73BULL

enum {
    LANES = 8,      /* Philox counters per vector step (8 x 64 bit = AVX-512) */
    SAMPLE_CHUNK = 256 /* units per ambiguity check of flexcl_kern_sample */
};

/* The 128-bit product a·m as (hi, lo) from four 32x32->64 products, which
 * vectorise (vpmuludq) where a 64x64->128 multiply does not. */
static inline void mulhilo(uint64_t a, uint64_t m, uint64_t *hi, uint64_t *lo)
{
    uint32_t a0 = (uint32_t)a, a1 = (uint32_t)(a >> 32);
    uint32_t m0 = (uint32_t)m, m1 = (uint32_t)(m >> 32);
    /* Widening 32x32 products: the vectoriser emits vpmuludq for these. */
    uint64_t p00 = (uint64_t)a0 * m0, p01 = (uint64_t)a0 * m1;
    uint64_t p10 = (uint64_t)a1 * m0, p11 = (uint64_t)a1 * m1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    *lo = (mid << 32) | (p00 & 0xffffffffu);
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

/* rng.c's to_open01: ((double)(x >> 11) + 0.5) * 2^-53. The 53-bit integer
 * is converted exactly without a 64-bit integer conversion instruction
 * (absent before AVX-512): its low 52 bits through the 2^52 exponent trick,
 * plus 2^52 when bit 52 is set; both parts and their sum are exact. */
static inline double to_open01(uint64_t x)
{
    uint64_t y = x >> 11;
    double low = bits_to_double(0x4330000000000000ULL | (y & 0xfffffffffffffULL)) - 0x1.0p52;
    double high = (y >> 52) ? 0x1.0p52 : 0.0;
    return ((low + high) + 0.5) * 0x1.0p-53;
}

/* n_blocks whole Philox blocks (4 uniforms each) starting at block first,
 * written to u[0 .. 4 n_blocks). The counter of block b is (step, purpose,
 * b, 0), so in the first round only the third word differs between lanes and
 * the products of the others are computed once (and once more in round 2). */
KERNEL_CLONES
static void philox_blocks(uint64_t k0, uint64_t k1, uint64_t step, uint64_t purpose,
                          uint64_t first, size_t n_blocks, double *u)
{
    for (size_t g = 0; g < n_blocks; g += LANES) {
        size_t nl = n_blocks - g < LANES ? n_blocks - g : LANES;
        uint64_t x0[LANES], x1[LANES], x2[LANES], x3[LANES];
        uint64_t key0 = k0, key1 = k1;
        /* Round 1: ctr = (step, purpose, block, 0). */
        uint64_t hs, ls;
        mulhilo(step, PHILOX_M0, &hs, &ls);
        uint64_t c2 = hs ^ 0 ^ key1, c3 = ls;
#pragma omp simd
        for (size_t l = 0; l < LANES; ++l) {
            uint64_t hb, lb;
            mulhilo(first + g + l, PHILOX_M1, &hb, &lb);
            x0[l] = hb ^ purpose ^ key0;
            x1[l] = lb;
        }
        /* Round 2: the third and fourth words are still the same in every lane. */
        key0 += PHILOX_W0;
        key1 += PHILOX_W1;
        uint64_t h2, l2;
        mulhilo(c2, PHILOX_M1, &h2, &l2);
#pragma omp simd
        for (size_t l = 0; l < LANES; ++l) {
            uint64_t ha, la;
            mulhilo(x0[l], PHILOX_M0, &ha, &la);
            uint64_t n0 = h2 ^ x1[l] ^ key0;
            x2[l] = ha ^ c3 ^ key1;
            x3[l] = la;
            x0[l] = n0;
            x1[l] = l2;
        }
        /* Rounds 3 to 10. */
        for (int r = 2; r < 10; ++r) {
            key0 += PHILOX_W0;
            key1 += PHILOX_W1;
#pragma omp simd
            for (size_t l = 0; l < LANES; ++l) {
                uint64_t ha, la, hb, lb;
                mulhilo(x0[l], PHILOX_M0, &ha, &la);
                mulhilo(x2[l], PHILOX_M1, &hb, &lb);
                uint64_t n0 = hb ^ x1[l] ^ key0, n2 = ha ^ x3[l] ^ key1;
                x0[l] = n0;
                x1[l] = lb;
                x2[l] = n2;
                x3[l] = la;
            }
        }
        double *out = u + 4 * g;
        if (nl == LANES) {
#pragma omp simd
            for (size_t l = 0; l < LANES; ++l) {
                out[4 * l + 0] = to_open01(x0[l]);
                out[4 * l + 1] = to_open01(x1[l]);
                out[4 * l + 2] = to_open01(x2[l]);
                out[4 * l + 3] = to_open01(x3[l]);
            }
        } else {
            for (size_t l = 0; l < nl; ++l) {
                out[4 * l + 0] = to_open01(x0[l]);
                out[4 * l + 1] = to_open01(x1[l]);
                out[4 * l + 2] = to_open01(x2[l]);
                out[4 * l + 3] = to_open01(x3[l]);
            }
        }
    }
}

void flexcl_kern_uniform(const flexcl_stream *s, uint64_t step, uint32_t purpose,
                         uint64_t first_unit, size_t n, double *u)
{
    /* A partial first block and a partial last block come from the scalar
     * generator; the whole blocks between them from the vector one. */
    size_t head = (size_t)((4 - (first_unit & 3u)) & 3u);
    if (head > n) head = n;
    if (head) flexcl_stream_uniform(s, step, purpose, first_unit, head, u);
    size_t body = (n - head) / 4;
    if (body)
        philox_blocks(s->key[0], s->key[1], step, purpose, (first_unit + head) >> 2, body,
                      u + head);
    size_t done = head + 4 * body;
    if (done < n) flexcl_stream_uniform(s, step, purpose, first_unit + done, n - done, u + done);
}

/* e^(−x) = 2^k e^r with −x = k ln2 + r, |r| <= ln2/2 (Cody-Waite split of
 * ln2), e^r by its Taylor polynomial of degree 10 (truncation < 3e-13
 * relative, far inside the decision margin below) and 2^k built in the
 * exponent bits. The argument is clamped to |x| <= 708 so 2^k stays a
 * normal number; beyond that σ is 1 or below 1e-307 either way. */
static inline double exp_minus(double x)
{
    double z = -x;
    z = z > 708.0 ? 708.0 : z;
    z = z < -708.0 ? -708.0 : z;
    const double shift = 0x1.8p52;
    double t = z * 0x1.71547652b82fep0 + shift; /* z / ln2 + shift */
    double kf = t - shift;                      /* nearest integer k */
    uint64_t k = double_to_bits(t) - double_to_bits(shift);
    double r = (z - kf * 0x1.62e42fee00000p-1) - kf * 0x1.a39ef35793c76p-33;
    double p = 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    return p * bits_to_double((k + 1023u) << 52);
}

double flexcl_kern_sigmoid(double x) { return 1.0 / (1.0 + exp_minus(x)); }

/* Decision margin: relative distance below which the fast test defers to
 * libm. σ(x) >= u  <=>  u (1 + e^(−x)) <= 1  <=>  u e^(−x) <= 1 − u, and the
 * fast e^(−x) is within 1e-12 (relative) of the true one, as is libm's
 * 1/(1 + exp(−x)) of the true σ, so outside the margin both agree. */
#define MARGIN 1e-10

KERNEL_CLONES
void flexcl_kern_sample(const double *act, const double *u, size_t n, double *out)
{
    for (size_t k0 = 0; k0 < n; k0 += SAMPLE_CHUNK) {
        size_t m = n - k0 < SAMPLE_CHUNK ? n - k0 : SAMPLE_CHUNK;
        const double *a = act + k0, *uu = u + k0;
        double *o = out + k0;
        int any = 0;
#pragma omp simd reduction(| : any)
        for (size_t k = 0; k < m; ++k) {
            double lhs = uu[k] * exp_minus(a[k]), rhs = 1.0 - uu[k];
            int one = lhs <= rhs * (1.0 - MARGIN);
            int zero = lhs >= rhs * (1.0 + MARGIN);
            o[k] = one ? 1.0 : 0.0;
            any |= !(one | zero); /* ambiguous, or NaN */
        }
        if (!any) continue;
        for (size_t k = 0; k < m; ++k) {
            double lhs = uu[k] * exp_minus(a[k]), rhs = 1.0 - uu[k];
            if (!(lhs <= rhs * (1.0 - MARGIN)) && !(lhs >= rhs * (1.0 + MARGIN)))
                o[k] = 1.0 / (1.0 + exp(-a[k])) >= uu[k] ? 1.0 : 0.0;
        }
    }
}
