/* SGD and Adam on a flat parameter vector (ascent; see flexcl/optim.h). */
#include "flexcl/optim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

struct flexcl_optim {
    flexcl_optim_settings s;
    size_t n;
    unsigned char *learnable;
    double *m, *v; /* Adam moments (NULL for SGD) */
    unsigned long long t;
};

void flexcl_optim_settings_default(flexcl_optim_settings *s)
{
    s->kind = FLEXCL_OPTIM_SGD;
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    s->epsilon = 1e-8;
}

flexcl_code flexcl_optim_create(const flexcl_optim_settings *s, size_t n,
                                const unsigned char *learnable, flexcl_optim **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_optim *o = NULL;
    FLEXCL_ALLOC(o, 1);
    o->s = *s;
    o->n = n;
    FLEXCL_ALLOC(o->learnable, n);
    if (learnable) memcpy(o->learnable, learnable, n);
    else memset(o->learnable, 1, n);
    if (s->kind == FLEXCL_OPTIM_ADAM) {
        FLEXCL_ALLOC(o->m, n);
        FLEXCL_ALLOC(o->v, n);
    }
    *out = o;
    o = NULL;
done:
    flexcl_optim_destroy(&o);
    return err;
}

void flexcl_optim_destroy(flexcl_optim **o)
{
    if (!o || !*o) return;
    free((*o)->learnable);
    free((*o)->m);
    free((*o)->v);
    free(*o);
    *o = NULL;
}

/* Vectors at least this long are updated by an OpenMP team (outside other
 * parallel regions): every element's update is independent of the others,
 * so the result is bitwise the same at any thread count. Shorter ones (the
 * small models, updated as often as every step) never enter an OpenMP
 * construct. */
enum { PARALLEL_MIN = 1 << 16 };

static void sgd_range(double *theta, const double *g, const unsigned char *mask, double lr,
                      size_t lo, size_t hi)
{
    for (size_t k = lo; k < hi; ++k)
        if (mask[k]) theta[k] += lr * g[k];
}

typedef struct {
    double b1, b2, eps, c1, c2;
} adam_coef;

static void adam_range(double *theta, const double *g, const unsigned char *mask, double lr,
                       double *m, double *v, const adam_coef *a, size_t lo, size_t hi)
{
    for (size_t k = lo; k < hi; ++k) {
        if (!mask[k]) continue;
        m[k] = a->b1 * m[k] + (1.0 - a->b1) * g[k];
        v[k] = a->b2 * v[k] + (1.0 - a->b2) * g[k] * g[k];
        theta[k] += lr * (m[k] / a->c1) / (sqrt(v[k] / a->c2) + a->eps);
    }
}

/* Thread t of a team of nt updates elements [cut(t), cut(t + 1)): θ split
 * evenly and contiguously, cuts on whole cache lines (8 doubles). A model
 * whose own parallel loops hand contiguous runs of θ to threads in the same
 * way (the RBM's row tiles of W) finds its θ and gradient lines in the
 * cache of the core that updates them. */
static size_t cut(size_t n, int t, int nt)
{
    size_t x = (n * (size_t)t / (size_t)nt + 7) / 8 * 8;
    return x < n ? x : n;
}

void flexcl_optim_zero(const flexcl_optim *o, double *g)
{
    const size_t n = o->n;
    if (n < PARALLEL_MIN || omp_in_parallel()) {
        memset(g, 0, n * sizeof *g);
        return;
    }
#pragma omp parallel default(none) shared(g, n)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        size_t a = cut(n, t, nt), b = cut(n, t + 1, nt);
        memset(g + a, 0, (b - a) * sizeof *g);
    }
}

void flexcl_optim_apply(flexcl_optim *o, double *theta, const double *g, double lr)
{
    const unsigned char *mask = o->learnable;
    const size_t n = o->n;
    const int team = n >= PARALLEL_MIN && !omp_in_parallel();
    o->t++;
    if (o->s.kind == FLEXCL_OPTIM_SGD) {
        if (!team) {
            sgd_range(theta, g, mask, lr, 0, n);
            return;
        }
#pragma omp parallel default(none) shared(theta, g, mask, lr, n)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            sgd_range(theta, g, mask, lr, cut(n, t, nt), cut(n, t + 1, nt));
        }
        return;
    }
    adam_coef a = {o->s.beta1, o->s.beta2, o->s.epsilon, 0.0, 0.0};
    a.c1 = 1.0 - pow(a.b1, (double)o->t);
    a.c2 = 1.0 - pow(a.b2, (double)o->t);
    double *m = o->m, *v = o->v;
    if (!team) {
        adam_range(theta, g, mask, lr, m, v, &a, 0, n);
        return;
    }
#pragma omp parallel default(none) shared(theta, g, mask, lr, n, m, v, a)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        adam_range(theta, g, mask, lr, m, v, &a, cut(n, t, nt), cut(n, t + 1, nt));
    }
}

unsigned long long flexcl_optim_count(const flexcl_optim *o) { return o->t; }

size_t flexcl_optim_state_size(const flexcl_optim *o)
{
    return o->s.kind == FLEXCL_OPTIM_ADAM ? 2 * o->n : 0;
}

void flexcl_optim_state_get(const flexcl_optim *o, double *state)
{
    if (o->s.kind != FLEXCL_OPTIM_ADAM) return;
    memcpy(state, o->m, o->n * sizeof *state);
    memcpy(state + o->n, o->v, o->n * sizeof *state);
}

void flexcl_optim_state_set(flexcl_optim *o, const double *state, unsigned long long count)
{
    o->t = count;
    if (o->s.kind != FLEXCL_OPTIM_ADAM) return;
    memcpy(o->m, state, o->n * sizeof *state);
    memcpy(o->v, state + o->n, o->n * sizeof *state);
}
