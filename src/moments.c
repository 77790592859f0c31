/* Welford updates and Chan merges (see flexcl/moments.h). */
#include "flexcl/moments.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

flexcl_code flexcl_moments_init(flexcl_moments *m, size_t dim)
{
    flexcl_code err = FLEXCL_OK;
    memset(m, 0, sizeof *m);
    m->dim = dim;
    FLEXCL_ALLOC(m->mean, dim);
    FLEXCL_ALLOC(m->m2, dim);
done:
    if (err != FLEXCL_OK) flexcl_moments_free(m);
    return err;
}

void flexcl_moments_free(flexcl_moments *m)
{
    free(m->mean);
    free(m->m2);
    memset(m, 0, sizeof *m);
}

void flexcl_moments_reset(flexcl_moments *m)
{
    m->count = 0;
    memset(m->mean, 0, m->dim * sizeof *m->mean);
    memset(m->m2, 0, m->dim * sizeof *m->m2);
}

void flexcl_moments_add(flexcl_moments *m, const double *x)
{
    m->count++;
    double inv = 1.0 / (double)m->count;
    for (size_t k = 0; k < m->dim; ++k) {
        double d = x[k] - m->mean[k];
        m->mean[k] += d * inv;
        m->m2[k] += d * (x[k] - m->mean[k]);
    }
}

void flexcl_moments_merge(flexcl_moments *a, const flexcl_moments *b)
{
    if (b->count == 0) return;
    if (a->count == 0) {
        a->count = b->count;
        memcpy(a->mean, b->mean, a->dim * sizeof *a->mean);
        memcpy(a->m2, b->m2, a->dim * sizeof *a->m2);
        return;
    }
    double na = (double)a->count, nb = (double)b->count, n = na + nb;
    for (size_t k = 0; k < a->dim; ++k) {
        double d = b->mean[k] - a->mean[k];
        a->mean[k] += d * nb / n;
        a->m2[k] += b->m2[k] + d * d * na * nb / n;
    }
    a->count += b->count;
}

double flexcl_moments_trace_cov(const flexcl_moments *m)
{
    if (m->count < 2) return 0.0;
    double t = 0;
    for (size_t k = 0; k < m->dim; ++k) t += m->m2[k];
    return t / (double)(m->count - 1);
}

double flexcl_moments_second_moment(const flexcl_moments *m)
{
    if (m->count == 0) return 0.0;
    double s = 0;
    for (size_t k = 0; k < m->dim; ++k)
        s += m->mean[k] * m->mean[k] + m->m2[k] / (double)m->count;
    return s;
}

flexcl_code flexcl_moments_allmerge(flexcl_moments *m, MPI_Comm comm)
{
    flexcl_code err = FLEXCL_OK;
    int size = 1;
    double *all = NULL;
    uint64_t *counts = NULL;
    flexcl_moments part = {0}, acc = {0};
    FLEXCL_MPI(MPI_Comm_size(comm, &size));
    size_t d = m->dim;
    FLEXCL_ALLOC(all, 2 * d * (size_t)size);
    FLEXCL_ALLOC(counts, (size_t)size);
    {
        double *buf = NULL;
        FLEXCL_ALLOC(buf, 2 * d);
        memcpy(buf, m->mean, d * sizeof *buf);
        memcpy(buf + d, m->m2, d * sizeof *buf);
        int rc = MPI_Allgather(buf, (int)(2 * d), MPI_DOUBLE, all, (int)(2 * d), MPI_DOUBLE, comm);
        free(buf);
        FLEXCL_CHECK(rc == MPI_SUCCESS, FLEXCL_ERR_MPI, "MPI_Allgather of moments failed");
    }
    FLEXCL_MPI(MPI_Allgather(&m->count, 1, MPI_UINT64_T, counts, 1, MPI_UINT64_T, comm));
    FLEXCL_CALL(flexcl_moments_init(&acc, d));
    part.dim = d;
    for (int r = 0; r < size; ++r) {
        part.count = counts[r];
        part.mean = all + 2 * d * (size_t)r;
        part.m2 = part.mean + d;
        flexcl_moments_merge(&acc, &part);
    }
    m->count = acc.count;
    memcpy(m->mean, acc.mean, d * sizeof *m->mean);
    memcpy(m->m2, acc.m2, d * sizeof *m->m2);
done:
    flexcl_moments_free(&acc);
    free(all);
    free(counts);
    return err;
}
