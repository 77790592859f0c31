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

flexcl_code flexcl_moments_allmerge_blocks(const flexcl_moments *blocks, int n_local,
                                           MPI_Comm comm, flexcl_moments *out)
{
    flexcl_code err = FLEXCL_OK;
    int size = 1;
    int *n_of = NULL, *cnt = NULL, *disp = NULL, *cnt_c = NULL, *disp_c = NULL;
    double *mine = NULL, *all = NULL;
    uint64_t *my_counts = NULL, *counts = NULL;
    size_t d = out->dim;
    FLEXCL_MPI(MPI_Comm_size(comm, &size));
    FLEXCL_ALLOC(n_of, (size_t)size);
    FLEXCL_MPI(MPI_Allgather(&n_local, 1, MPI_INT, n_of, 1, MPI_INT, comm));
    FLEXCL_ALLOC(cnt, (size_t)size);
    FLEXCL_ALLOC(disp, (size_t)size);
    FLEXCL_ALLOC(cnt_c, (size_t)size);
    FLEXCL_ALLOC(disp_c, (size_t)size);
    size_t total = 0;
    for (int r = 0; r < size; ++r) {
        FLEXCL_CHECK((double)n_of[r] * 2.0 * (double)d < 2147483647.0, FLEXCL_ERR_ARG,
                     "moments: %d blocks of dimension %zu are too many to gather", n_of[r], d);
        cnt[r] = (int)(2 * d * (size_t)n_of[r]);
        disp[r] = (int)(2 * d * total);
        cnt_c[r] = n_of[r];
        disp_c[r] = (int)total;
        total += (size_t)n_of[r];
    }
    FLEXCL_CHECK(2.0 * (double)d * (double)total < 2147483647.0, FLEXCL_ERR_ARG,
                 "moments: %zu blocks of dimension %zu are too many to gather", total, d);
    FLEXCL_ALLOC(mine, 2 * d * (size_t)(n_local > 0 ? n_local : 1));
    FLEXCL_ALLOC(my_counts, (size_t)(n_local > 0 ? n_local : 1));
    for (int b = 0; b < n_local; ++b) {
        FLEXCL_CHECK(blocks[b].dim == d, FLEXCL_ERR_ARG,
                     "moments: block %d has dimension %zu, expected %zu", b, blocks[b].dim, d);
        memcpy(mine + 2 * d * (size_t)b, blocks[b].mean, d * sizeof *mine);
        memcpy(mine + 2 * d * (size_t)b + d, blocks[b].m2, d * sizeof *mine);
        my_counts[b] = blocks[b].count;
    }
    FLEXCL_ALLOC(all, 2 * d * (total > 0 ? total : 1));
    FLEXCL_ALLOC(counts, total > 0 ? total : 1);
    FLEXCL_MPI(MPI_Allgatherv(mine, (int)(2 * d * (size_t)n_local), MPI_DOUBLE, all, cnt, disp,
                              MPI_DOUBLE, comm));
    FLEXCL_MPI(MPI_Allgatherv(my_counts, n_local, MPI_UINT64_T, counts, cnt_c, disp_c,
                              MPI_UINT64_T, comm));
    flexcl_moments_reset(out);
    for (size_t b = 0; b < total; ++b) {
        flexcl_moments part = {d, counts[b], all + 2 * d * b, all + 2 * d * b + d};
        flexcl_moments_merge(out, &part);
    }
done:
    free(n_of);
    free(cnt);
    free(disp);
    free(cnt_c);
    free(disp_c);
    free(mine);
    free(all);
    free(my_counts);
    free(counts);
    return err;
}
