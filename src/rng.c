/* Philox4x64-10 streams; see flexcl/rng.h for the counter layout. */
#include "flexcl/rng.h"

#include <Random123/philox.h>
#include <math.h>

flexcl_stream flexcl_stream_make(uint64_t seed, uint64_t point,
                                 uint64_t learner)
{
    flexcl_stream s;
    s.key[0] = seed;
    s.key[1] = (point << 32) ^ (learner & 0xffffffffu);
    return s;
}

/* 53 random bits mapped to the open interval (0, 1). */
static inline double to_open01(uint64_t x)
{
    return ((double)(x >> 11) + 0.5) * 0x1.0p-53;
}

void flexcl_stream_uniform(const flexcl_stream *s, uint64_t step,
                           uint32_t purpose, uint64_t first_unit, size_t n,
                           double *u)
{
    philox4x64_key_t k = {{s->key[0], s->key[1]}};
    size_t k_out = 0;
    uint64_t unit = first_unit;
    while (k_out < n) {
        uint64_t block = unit >> 2;
        unsigned lane = (unsigned)(unit & 3u);
        philox4x64_ctr_t c = {{step, (uint64_t)purpose, block, 0}};
        philox4x64_ctr_t r = philox4x64(c, k);
        for (; lane < 4 && k_out < n; ++lane, ++unit) u[k_out++] = to_open01(r.v[lane]);
    }
}

double flexcl_stream_uniform1(const flexcl_stream *s, uint64_t step,
                              uint32_t purpose, uint64_t unit)
{
    double u;
    flexcl_stream_uniform(s, step, purpose, unit, 1, &u);
    return u;
}

void flexcl_stream_normal(const flexcl_stream *s, uint64_t step,
                          uint32_t purpose, uint64_t first_unit, size_t n,
                          double *z)
{
    /* Pairs (2m, 2m+1) of uniforms give the pair of normals of index m. */
    for (size_t k = 0; k < n; ++k) {
        uint64_t unit = first_unit + k;
        uint64_t pair = unit >> 1;
        double u[2];
        flexcl_stream_uniform(s, step, purpose, 2 * pair, 2, u);
        double r = sqrt(-2.0 * log(u[0]));
        double a = 6.283185307179586 * u[1];
        z[k] = (unit & 1u) ? r * sin(a) : r * cos(a);
    }
}
