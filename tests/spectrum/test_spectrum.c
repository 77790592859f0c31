/* MPI tests of flexcl_spectrum: the distributed covariance spectrum against
 * LAPACK's dsyevd on one rank, its trace against the streaming moments, the
 * same spectrum from sub-communicators of 1, 2, 3 and 4 ranks on every grid
 * shape and several block sizes, and the failures every rank must see.
 *
 * Run under mpiexec at 1, 2 and 4 ranks (the 4-rank run computes on groups
 * of 1, 2, 3 and 4 ranks in one go); exits non-zero if any rank failed.
 * Synthetic results files are written by the test itself with the results
 * writer: grid point 0 holds M0 x P0 samples of a rank-6 signal plus noise,
 * generated from a hash of the indices so that every rank and every
 * sub-communicator writes the same numbers. */
#include <CUnit/Basic.h>
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../mpi_test_util.h"
#include "flexcl/flexcl.h"

/* LAPACK (OpenBLAS's), Fortran: hidden character lengths at the end. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork,
             int *info, size_t jobz_len, size_t uplo_len);

static int rank = 0, size = 1;
static char tmpdir[256];

enum {
    P0 = 70,  /* point 0: parameters */
    M0 = 120, /* point 0: samples */
    P3 = 5,   /* point 3: a tiny case, fewer samples than ranks */
    M3 = 3,
    K0 = 4,   /* eigenvectors stored */
    SIGNAL = 6,
};

static const double TOL = 1e-10;

/* --- synthetic data -------------------------------------------------------- */

static double hash_uniform(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0xD1B54A32D192ED03ULL);
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return (double)(x >> 11) * 0x1.0p-52 - 1.0;
}

/* Sample i, parameter j of a point (salt tells the points apart): a rank-6
 * signal with well separated strengths, an offset (the mean must be taken
 * out) and noise. */
static double sample(uint64_t salt, uint64_t i, uint64_t j)
{
    double v = 3.0 + 0.5 * hash_uniform(salt, j) + 0.05 * hash_uniform(i + 1000 * salt, j + 99991);
    for (int r = 0; r < SIGNAL; r++)
        v += (4.0 / ((r + 1) * (r + 1))) * hash_uniform(salt * 7 + i, 500000 + (uint64_t)r) *
             hash_uniform(900000 + salt * 31 + (uint64_t)r, j);
    return v;
}

static double *make_samples(uint64_t salt, int m, int p)
{
    double *x = malloc((size_t)m * (size_t)p * sizeof *x);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < p; j++) x[(size_t)i * p + j] = sample(salt, (uint64_t)i, (uint64_t)j);
    return x;
}

/* The sample covariance of x (m x p), column-major p x p into a. */
static void covariance(const double *x, int m, int p, double *a)
{
    double *mean = calloc((size_t)p, sizeof *mean);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < p; j++) mean[j] += x[(size_t)i * p + j];
    for (int j = 0; j < p; j++) mean[j] /= m;
    for (int k = 0; k < p; k++)
        for (int l = 0; l < p; l++) {
            double s = 0.0;
            for (int i = 0; i < m; i++)
                s += (x[(size_t)i * p + k] - mean[k]) * (x[(size_t)i * p + l] - mean[l]);
            a[(size_t)l * p + k] = s / (m - 1);
        }
    free(mean);
}

/* Serial reference: the covariance of x (m x p) with dsyevd; w ascending,
 * a (column-major p x p) the eigenvectors. Returns LAPACK's info. */
static int reference(const double *x, int m, int p, double *w, double *a)
{
    covariance(x, m, p, a);
    int lwork = 1 + 6 * p + 2 * p * p, liwork = 3 + 5 * p, info = 0;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    dsyevd_("V", "L", &p, a, &p, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    return info;
}

/* Rows [first, first + n) of m rows for rank r of s. */
static void split(int m, int r, int s, size_t *first, size_t *n)
{
    *first = (size_t)m * (size_t)r / (size_t)s;
    *n = (size_t)m * (size_t)(r + 1) / (size_t)s - *first;
}

/* One isd_variance-like point with samples and their streaming moments
 * (flexcl_moments, the driver's own code: Welford per rank, Chan merges in
 * rank order). Collective on comm. */
static flexcl_code write_point(MPI_Comm comm, flexcl_results *r, int point, uint64_t salt,
                               int m, int p, double b)
{
    flexcl_code e = FLEXCL_OK;
    char g[64], path[128];
    int cr = 0, cs = 1;
    size_t first, n;
    flexcl_moments mo = {0};
    MPI_Comm_rank(comm, &cr);
    MPI_Comm_size(comm, &cs);
    split(m, cr, cs, &first, &n);
    double *x = malloc((n ? n : 1) * (size_t)p * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < p; j++) x[i * (size_t)p + j] = sample(salt, first + i, (uint64_t)j);
    snprintf(g, sizeof g, "points/%06d", point);
    if ((e = flexcl_results_group(r, g)) != FLEXCL_OK) goto out;
    if ((e = flexcl_results_attr_string(r, g, "experiment", "isd_variance")) != FLEXCL_OK) goto out;
    if ((e = flexcl_results_attr_double(r, g, "b", b)) != FLEXCL_OK) goto out;
    snprintf(path, sizeof path, "%s/samples/ghat", g);
    if ((e = flexcl_results_write_rows(r, path, (size_t)m, (size_t)p, first, n, x)) != FLEXCL_OK)
        goto out;
    if ((e = flexcl_moments_init(&mo, (size_t)p)) != FLEXCL_OK) goto out;
    for (size_t i = 0; i < n; i++) flexcl_moments_add(&mo, x + i * (size_t)p);
    if ((e = flexcl_moments_allmerge(&mo, comm)) != FLEXCL_OK) goto out;
    snprintf(path, sizeof path, "%s/moments/ghat", g);
    if ((e = flexcl_results_group(r, path)) != FLEXCL_OK) goto out;
    if ((e = flexcl_results_attr_int(r, path, "count", (long long)mo.count)) != FLEXCL_OK) goto out;
    snprintf(path, sizeof path, "%s/moments/ghat/mean", g);
    if ((e = flexcl_results_write_rows(r, path, (size_t)p, 1, 0, cr == 0 ? (size_t)p : 0,
                                       mo.mean)) != FLEXCL_OK)
        goto out;
    snprintf(path, sizeof path, "%s/moments/ghat/m2", g);
    e = flexcl_results_write_rows(r, path, (size_t)p, 1, 0, cr == 0 ? (size_t)p : 0, mo.m2);
out:
    flexcl_moments_free(&mo);
    free(x);
    return e;
}

/* The synthetic results file: point 0 (P0 x M0), point 1 (a train point,
 * no samples), point 2 (a single sample), point 3 (P3 x M3). Collective. */
static flexcl_code make_file(MPI_Comm comm, const char *path)
{
    flexcl_code e = FLEXCL_OK;
    flexcl_results *r = NULL;
    static const double theta[3] = {0.1, 0.2, 0.3};
    int cr = 0;
    MPI_Comm_rank(comm, &cr);
    if ((e = flexcl_results_create(comm, path, &r)) != FLEXCL_OK) return e;
    if ((e = write_point(comm, r, 0, 1, M0, P0, 0.5)) != FLEXCL_OK) goto out;
    if ((e = flexcl_results_group(r, "points/000001")) != FLEXCL_OK) goto out;
    if ((e = flexcl_results_attr_string(r, "points/000001", "experiment", "train")) != FLEXCL_OK)
        goto out;
    if ((e = flexcl_results_write_rows(r, "points/000001/params/theta", 1, 3, 0, cr == 0, theta)) !=
        FLEXCL_OK)
        goto out;
    if ((e = write_point(comm, r, 2, 2, 1, 4, 0.3)) != FLEXCL_OK) goto out;
    if ((e = write_point(comm, r, 3, 3, M3, P3, 0.7)) != FLEXCL_OK) goto out;
    e = flexcl_results_finish(r);
out:
    flexcl_results_destroy(&r);
    return e;
}

static char *join(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* --- serial reading (one rank, file closed by the library) ----------------- */

static double *read_doubles(hid_t f, const char *name, size_t expect)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    double *v = NULL;
    if (n == (hssize_t)expect) {
        v = malloc((size_t)n * sizeof *v);
        if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            v = NULL;
        }
    }
    H5Sclose(s);
    H5Dclose(d);
    return v;
}

static int read_attr_i64(hid_t f, const char *obj, const char *name, long long *v)
{
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return -1;
    int64_t x = 0;
    herr_t rc = H5Aread(a, H5T_NATIVE_INT64, &x);
    H5Aclose(a);
    *v = x;
    return rc < 0 ? -1 : 0;
}

static int read_attr_double(hid_t f, const char *obj, const char *name, double *v)
{
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

/* A variable-length string attribute (malloc'd) or NULL. */
static char *read_attr_string(hid_t f, const char *obj, const char *name)
{
    char *out = NULL, *v = NULL;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    if (H5Aread(a, mt, &v) >= 0 && v != NULL) {
        out = strdup(v);
        H5free_memory(v);
    }
    H5Tclose(mt);
    H5Aclose(a);
    return out;
}

static int link_exists(hid_t f, const char *name)
{
    return H5Lexists(f, name, H5P_DEFAULT) > 0;
}

/* Largest |a_i - b_i| / scale. */
static double max_rel(const double *a, const double *b, int n, double scale)
{
    double d = 0.0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]) / scale);
    return d;
}

/* --- the tests --------------------------------------------------------------- */

/* Eigenvalues computed on all ranks of MPI_COMM_WORLD (test_lapack), used
 * by the later tests as the cross-rank-count reference. */
static double world_lambda[P0];
static double world_vectors[K0 * P0];

/* Serial reference (descending eigenvalues, eigenvectors as rows) of point
 * salt, m x p. */
static void reference_desc(uint64_t salt, int m, int p, double *lambda, double *rows, int k)
{
    double *x = make_samples(salt, m, p);
    double *w = malloc((size_t)p * sizeof *w), *a = malloc((size_t)p * p * sizeof *a);
    CU_ASSERT_EQUAL(reference(x, m, p, w, a), 0);
    for (int i = 0; i < p; i++) lambda[i] = w[p - 1 - i];
    for (int r = 0; r < k; r++)
        for (int j = 0; j < p; j++) rows[(size_t)r * p + j] = a[(size_t)(p - 1 - r) * p + j];
    free(x);
    free(w);
    free(a);
}

/* |<u, v>| = 1 and v's largest component positive, for each of k rows. */
static void check_vectors(const double *got, const double *ref, int k, int p)
{
    for (int r = 0; r < k; r++) {
        const double *g = got + (size_t)r * p, *f = ref + (size_t)r * p;
        double dot = 0.0, norm = 0.0;
        int best = 0;
        for (int j = 0; j < p; j++) {
            dot += g[j] * f[j];
            norm += g[j] * g[j];
            if (fabs(g[j]) > fabs(g[best])) best = j;
        }
        CU_ASSERT(fabs(norm - 1.0) < TOL);
        CU_ASSERT(fabs(fabs(dot) - 1.0) < TOL);
        CU_ASSERT(g[best] > 0.0);
    }
}

static void test_lapack(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s", join("world.h5"));
    flexcl_spectrum *sp = NULL;
    flexcl_spectrum_settings s;
    flexcl_spectrum_info info;
    double lambda[P0], rows[K0 * P0];

    CU_ASSERT_EQUAL_FATAL(make_file(MPI_COMM_WORLD, path), FLEXCL_OK);
    flexcl_spectrum_settings_default(&s);
    s.block = 8;
    s.vectors = K0;
    s.command_line = "test_spectrum lapack";
    CU_ASSERT_EQUAL_FATAL(flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 0, &info), FLEXCL_OK);
    CU_ASSERT_EQUAL(info.parameters, P0);
    CU_ASSERT_EQUAL(info.samples, M0);
    CU_ASSERT_EQUAL(info.grid_rows * info.grid_cols, size);
    CU_ASSERT(info.grid_rows <= info.grid_cols);
    CU_ASSERT_DOUBLE_EQUAL(info.b, 0.5, 0.0);
    size_t n = 0;
    const double *l = flexcl_spectrum_eigenvalues(sp, &n);
    CU_ASSERT_EQUAL_FATAL(n, P0);
    memcpy(world_lambda, l, sizeof world_lambda);
    /* The tiny point, fewer samples than ranks, blocks larger than P. */
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 3, &info), FLEXCL_OK);
    flexcl_spectrum_destroy(&sp);
    CU_ASSERT_PTR_NULL(sp);

    /* Every rank checks against its own serial dsyevd. */
    reference_desc(1, M0, P0, lambda, rows, K0);
    for (int i = 1; i < P0; i++) CU_ASSERT(world_lambda[i] <= world_lambda[i - 1]);
    double d = max_rel(world_lambda, lambda, P0, lambda[0]);
    CU_ASSERT(d < TOL);
    if (rank == 0) printf("\n    eigenvalues vs LAPACK dsyevd: max |diff| / lambda_1 = %.2e ", d);

    /* No _FATAL asserts on one rank: the others would wait in the Bcast. */
    hid_t f = rank == 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
    if (rank == 0) CU_ASSERT(f >= 0);
    if (f >= 0) {
        double *ev = read_doubles(f, "points/000000/spectrum/eigenvalues", P0);
        double *vec = read_doubles(f, "points/000000/spectrum/eigenvectors", (size_t)K0 * P0);
        CU_ASSERT_PTR_NOT_NULL(ev);
        CU_ASSERT_PTR_NOT_NULL(vec);
        if (ev) CU_ASSERT(max_rel(ev, world_lambda, P0, 1.0) == 0.0);
        if (vec) {
            check_vectors(vec, rows, K0, P0);
            memcpy(world_vectors, vec, sizeof world_vectors);
        }
        long long k = 0;
        double t = 0.0, pr = 0.0, sum = 0.0, sq = 0.0;
        const char *o = "points/000000/spectrum";
        CU_ASSERT(read_attr_i64(f, o, "samples", &k) == 0 && k == M0);
        CU_ASSERT(read_attr_i64(f, o, "parameters", &k) == 0 && k == P0);
        CU_ASSERT(read_attr_i64(f, o, "vectors", &k) == 0 && k == K0);
        CU_ASSERT(read_attr_i64(f, o, "ranks", &k) == 0 && k == size);
        CU_ASSERT(read_attr_i64(f, o, "block", &k) == 0 && k == 8);
        for (int i = 0; i < P0; i++) {
            sum += world_lambda[i];
            sq += world_lambda[i] * world_lambda[i];
        }
        CU_ASSERT(read_attr_double(f, o, "trace", &t) == 0 && fabs(t - sum) <= 1e-12 * sum);
        CU_ASSERT(read_attr_double(f, o, "participation_ratio", &pr) == 0 &&
                  fabs(pr - sum * sum / sq) <= 1e-12 * pr);
        char *v = read_attr_string(f, o, "flexcl_version");
        CU_ASSERT(v != NULL && strcmp(v, flexcl_version()) == 0);
        free(v);
        v = read_attr_string(f, o, "git_describe");
        CU_ASSERT(v != NULL && strcmp(v, flexcl_git_describe()) == 0);
        free(v);
        v = read_attr_string(f, o, "command_line");
        CU_ASSERT(v != NULL && strcmp(v, "test_spectrum lapack") == 0);
        free(v);
        v = read_attr_string(f, o, "grid");
        CU_ASSERT(v != NULL && strchr(v, 'x') != NULL);
        free(v);
        v = read_attr_string(f, o, "time");
        CU_ASSERT(v != NULL && strlen(v) == 20 && v[19] == 'Z');
        free(v);
        CU_ASSERT(!link_exists(f, "points/000000/spectrum.partial"));
        /* The tiny point against its own reference. Its covariance has rank
         * M3 - 1 = 2, so only the first two eigenvectors are unique; every
         * stored vector must still be a unit eigenvector (C v = lambda v),
         * orthogonal to the others. This is the case whose back-
         * transformation ScaLAPACK's own workspace minimum left undone. */
        double l3[P3], r3[P3 * K0], c3[P3 * P3];
        reference_desc(3, M3, P3, l3, r3, K0);
        double *x3 = make_samples(3, M3, P3);
        covariance(x3, M3, P3, c3);
        free(x3);
        double *e3 = read_doubles(f, "points/000003/spectrum/eigenvalues", P3);
        double *v3 = read_doubles(f, "points/000003/spectrum/eigenvectors", (size_t)K0 * P3);
        CU_ASSERT_PTR_NOT_NULL(e3);
        CU_ASSERT_PTR_NOT_NULL(v3);
        if (e3) CU_ASSERT(max_rel(e3, l3, P3, l3[0]) < TOL);
        if (e3 && v3) {
            check_vectors(v3, r3, M3 - 1, P3);
            double worst = 0.0;
            for (int k = 0; k < K0; k++) {
                const double *v = v3 + (size_t)k * P3;
                for (int i = 0; i < P3; i++) {
                    double cv = 0.0;
                    for (int j = 0; j < P3; j++) cv += c3[(size_t)j * P3 + i] * v[j];
                    worst = fmax(worst, fabs(cv - e3[k] * v[i]) / l3[0]);
                }
                for (int l = 0; l < K0; l++) {
                    double dot = 0.0;
                    for (int j = 0; j < P3; j++) dot += v[j] * v3[(size_t)l * P3 + j];
                    worst = fmax(worst, fabs(dot - (k == l ? 1.0 : 0.0)));
                }
            }
            CU_ASSERT(worst < TOL);
        }
        free(e3);
        free(v3);
        free(ev);
        free(vec);
        H5Fclose(f);
    }
    MPI_Bcast(world_vectors, K0 * P0, MPI_DOUBLE, 0, MPI_COMM_WORLD);
}

/* Sum of eigenvalues = trace of the covariance = sum of the per-coordinate
 * variances m2 / (count - 1) of the stored moments (M = N here). */
static void test_trace(void)
{
    if (rank == 0) {
        hid_t f = H5Fopen(join("world.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
        CU_ASSERT_FATAL(f >= 0);
        double *m2 = read_doubles(f, "points/000000/moments/ghat/m2", P0);
        long long count = 0;
        CU_ASSERT(read_attr_i64(f, "points/000000/moments/ghat", "count", &count) == 0);
        CU_ASSERT_EQUAL(count, M0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
        double var = 0.0, sum = 0.0;
        for (int i = 0; i < P0; i++) {
            var += m2[i] / (double)(count - 1);
            sum += world_lambda[i];
        }
        printf("\n    sum of eigenvalues %.15g, sum m2/(count-1) %.15g, rel. diff %.2e ", sum,
               var, fabs(sum - var) / var);
        CU_ASSERT(fabs(sum - var) <= TOL * var);
        free(m2);
        H5Fclose(f);
    }
}

/* Groups of 1, 2, 3 and 4 ranks (as many as fit), every grid shape of the
 * group and block sizes 3, 5 and 64, each on its own copy of the file: all
 * give the world's spectrum to 1e-10 relative. */
static void test_rank_counts(void)
{
    static const int blocks[] = {3, 5, 64};
    double worst = 0.0;
    for (int gs = 1; gs <= 4 && gs <= size; gs++) {
        int color = rank / gs < size / gs ? rank / gs : MPI_UNDEFINED;
        MPI_Comm g = MPI_COMM_NULL;
        MPI_Comm_split(MPI_COMM_WORLD, color, rank, &g);
        if (g == MPI_COMM_NULL) continue;
        char name[64], path[512];
        snprintf(name, sizeof name, "group%d_%d.h5", gs, color);
        snprintf(path, sizeof path, "%s", join(name));
        CU_ASSERT_EQUAL(make_file(g, path), FLEXCL_OK);
        int shape = 0;
        for (int rows = 1; rows <= gs; rows++) {
            if (gs % rows != 0) continue;
            flexcl_spectrum *sp = NULL;
            flexcl_spectrum_settings s;
            flexcl_spectrum_settings_default(&s);
            s.grid_rows = rows;
            s.grid_cols = gs / rows;
            s.block = blocks[shape++ % 3];
            s.vectors = K0;
            s.replace = 1;
            if (flexcl_spectrum_create(g, path, &s, &sp) != FLEXCL_OK) {
                CU_FAIL("create on a sub-communicator");
                continue;
            }
            int gr = 0, gc = 0;
            flexcl_spectrum_grid(sp, &gr, &gc);
            CU_ASSERT(gr == rows && gc == gs / rows);
            CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 0, NULL), FLEXCL_OK);
            size_t n = 0;
            const double *l = flexcl_spectrum_eigenvalues(sp, &n);
            CU_ASSERT_EQUAL(n, P0);
            if (n == P0) {
                double d = max_rel(l, world_lambda, P0, world_lambda[0]);
                worst = fmax(worst, d);
                CU_ASSERT(d < TOL);
            }
            flexcl_spectrum_destroy(&sp);
            /* The group's first rank reads the stored eigenvectors back. */
            int gr0 = 0;
            MPI_Comm_rank(g, &gr0);
            if (gr0 == 0) {
                hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
                CU_ASSERT(f >= 0);
                double *vec = f >= 0 ? read_doubles(f, "points/000000/spectrum/eigenvectors",
                                                    (size_t)K0 * P0)
                                     : NULL;
                CU_ASSERT_PTR_NOT_NULL(vec);
                if (vec) {
                    double d = max_rel(vec, world_vectors, K0 * P0, 1.0);
                    worst = fmax(worst, d);
                    CU_ASSERT(d < 1e-9);
                }
                free(vec);
                if (f >= 0) H5Fclose(f);
            }
        }
        MPI_Comm_free(&g);
    }
    double all = 0.0;
    MPI_Allreduce(&worst, &all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0)
        printf("\n    groups of 1..%d ranks, all grid shapes: max rel. difference %.2e ",
               size < 4 ? size : 4, all);
}

/* Small and awkward shapes — fewer samples or parameters than ranks,
 * blocks of 1 and blocks larger than P, every grid shape of the world, all
 * eigenvectors stored — against the serial reference: eigenvalues to TOL
 * relative to lambda_1, and every stored vector a unit eigenvector
 * (residual |C v - lambda v| / lambda_1 and orthonormality to TOL). */
static void test_shapes(void)
{
    static const int shapes[][2] = {{2, 2}, {2, 3}, {3, 2}, {7, 5}, {3, 17}, {40, 9}, {5, 33}};
    static const int blocks[] = {1, 2, 4, 64};
    enum { N_SHAPES = sizeof shapes / sizeof shapes[0], PMAX = 33 };
    char path[512];
    double worst = 0.0;
    snprintf(path, sizeof path, "%s", join("shapes.h5"));
    {
        flexcl_results *r = NULL;
        CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_OK);
        for (int k = 0; k < N_SHAPES; k++)
            CU_ASSERT_EQUAL(write_point(MPI_COMM_WORLD, r, k, 10 + (uint64_t)k, shapes[k][0],
                                        shapes[k][1], 0.5),
                            FLEXCL_OK);
        CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_OK);
        flexcl_results_destroy(&r);
    }
    int run = 0;
    for (int rows = 1; rows <= size; rows++) {
        if (size % rows != 0) continue;
        for (int ib = 0; ib < 4; ib++, run++) {
            flexcl_spectrum *sp = NULL;
            flexcl_spectrum_settings s;
            flexcl_spectrum_settings_default(&s);
            s.grid_rows = rows;
            s.grid_cols = size / rows;
            s.block = blocks[ib];
            s.replace = 1;
            for (int k = 0; k < N_SHAPES; k++) {
                const int m = shapes[k][0], p = shapes[k][1];
                /* All vectors, or all but one (K not a multiple of anything). */
                s.vectors = (run + k) % 2 == 0 ? p : p - 1;
                CU_ASSERT_EQUAL_FATAL(flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp),
                                      FLEXCL_OK);
                CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, (size_t)k, NULL), FLEXCL_OK);
                flexcl_spectrum_destroy(&sp);
                if (rank != 0) continue;
                double lref[PMAX], vref[PMAX * PMAX], c[PMAX * PMAX];
                double *x = make_samples(10 + (uint64_t)k, m, p);
                covariance(x, m, p, c);
                free(x);
                reference_desc(10 + (uint64_t)k, m, p, lref, vref, 0);
                hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
                CU_ASSERT(f >= 0);
                if (f < 0) continue;
                char name[96];
                snprintf(name, sizeof name, "points/%06d/spectrum/eigenvalues", k);
                double *e = read_doubles(f, name, (size_t)p);
                snprintf(name, sizeof name, "points/%06d/spectrum/eigenvectors", k);
                double *v = read_doubles(f, name, (size_t)s.vectors * (size_t)p);
                H5Fclose(f);
                CU_ASSERT_PTR_NOT_NULL(e);
                CU_ASSERT_PTR_NOT_NULL(v);
                if (e != NULL && v != NULL) {
                    double d = max_rel(e, lref, p, lref[0]);
                    for (int a = 0; a < s.vectors; a++) {
                        const double *va = v + (size_t)a * p;
                        for (int i = 0; i < p; i++) {
                            double cv = 0.0;
                            for (int j = 0; j < p; j++) cv += c[(size_t)j * p + i] * va[j];
                            d = fmax(d, fabs(cv - e[a] * va[i]) / lref[0]);
                        }
                        for (int b2 = 0; b2 < s.vectors; b2++) {
                            double dot = 0.0;
                            for (int j = 0; j < p; j++) dot += va[j] * v[(size_t)b2 * p + j];
                            d = fmax(d, fabs(dot - (a == b2 ? 1.0 : 0.0)));
                        }
                    }
                    if (!(d < TOL))
                        printf("\n    shape M=%d P=%d grid %dx%d NB=%d K=%d: error %.2e ", m, p,
                               rows, size / rows, blocks[ib], s.vectors, d);
                    CU_ASSERT(d < TOL);
                    worst = fmax(worst, d);
                }
                free(e);
                free(v);
            }
        }
    }
    if (rank == 0)
        printf("\n    %d shapes x every grid of %d rank(s) x 4 blocks: max error %.2e ", N_SHAPES,
               size, worst);
    MPI_Barrier(MPI_COMM_WORLD);
}

/* Failures: the same code on every rank, and nothing half-written. */
static void test_errors(void)
{
    /* A copy: join() returns a static buffer that the next call rewrites. */
    char path[512];
    snprintf(path, sizeof path, "%s", join("world.h5"));
    flexcl_spectrum *sp = NULL;
    flexcl_spectrum_settings s;
    size_t *points = NULL, n = 0;

    /* Settings checked at the door. */
    flexcl_spectrum_settings_default(&s);
    s.grid_rows = size + 1;
    s.grid_cols = 1;
    CU_ASSERT_EQUAL(flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "settings.grid") != NULL);
    CU_ASSERT_PTR_NULL(sp);
    flexcl_spectrum_settings_default(&s);
    s.block = 0;
    CU_ASSERT_EQUAL(flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "settings.block = 0") != NULL);

    /* Missing file, not an HDF5 file. */
    CU_ASSERT_EQUAL(flexcl_spectrum_create(MPI_COMM_WORLD, join("missing.h5"), NULL, &sp),
                    FLEXCL_ERR_IO);
    CU_ASSERT(strstr(flexcl_error_message(), "missing.h5") != NULL);
    if (rank == 0) {
        FILE *t = fopen(join("text.h5"), "w");
        if (t) {
            fputs("not hdf5\n", t);
            fclose(t);
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    CU_ASSERT_EQUAL(flexcl_spectrum_create(MPI_COMM_WORLD, join("text.h5"), NULL, &sp),
                    FLEXCL_ERR_IO);

    /* Point-level failures. */
    flexcl_spectrum_settings_default(&s);
    CU_ASSERT_EQUAL_FATAL(flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_spectrum_points(sp, &points, &n), FLEXCL_OK);
    CU_ASSERT_EQUAL(n, 3);
    if (n == 3) CU_ASSERT(points[0] == 0 && points[1] == 2 && points[2] == 3);
    free(points);
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 1, NULL), FLEXCL_ERR_DATA);
    CU_ASSERT(strstr(flexcl_error_message(), "no raw samples") != NULL);
    CU_ASSERT(strstr(flexcl_error_message(), "train") != NULL);
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 2, NULL), FLEXCL_ERR_DATA);
    CU_ASSERT(strstr(flexcl_error_message(), "at least 2") != NULL);
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 99, NULL), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "no grid point 99") != NULL);
    /* Already there, and replace not asked for. */
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 0, NULL), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "already has a spectrum") != NULL);
    flexcl_spectrum_destroy(&sp);

    /* K > P. */
    s.vectors = P3 + 1;
    s.replace = 1;
    CU_ASSERT_EQUAL_FATAL(flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 3, NULL), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "settings.vectors") != NULL);
    flexcl_spectrum_destroy(&sp);

    /* A leftover partial group of an interrupted run goes; the replaced
     * spectrum drops its eigenvectors when none are asked for. */
    if (rank == 0) {
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        CU_ASSERT(f >= 0);
        hid_t g = H5Gcreate2(f, "points/000000/spectrum.partial", H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        CU_ASSERT(g >= 0);
        H5Gclose(g);
        H5Fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    flexcl_spectrum_settings_default(&s);
    s.replace = 1;
    CU_ASSERT_EQUAL_FATAL(flexcl_spectrum_create(MPI_COMM_WORLD, path, &s, &sp), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_spectrum_compute(sp, 0, NULL), FLEXCL_OK);
    flexcl_spectrum_destroy(&sp);
    if (rank == 0) {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        CU_ASSERT(f >= 0);
        CU_ASSERT(!link_exists(f, "points/000000/spectrum.partial"));
        CU_ASSERT(link_exists(f, "points/000000/spectrum"));
        CU_ASSERT(link_exists(f, "points/000000/spectrum/eigenvalues"));
        CU_ASSERT(!link_exists(f, "points/000000/spectrum/eigenvectors"));
        H5Fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* --- main -------------------------------------------------------------------- */

static int suite_init(void) { return mpi_tmpdir_create(tmpdir, sizeof tmpdir, "flexcl_spectrum"); }

static int suite_clean(void) { return mpi_tmpdir_remove(tmpdir); }

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    if (CU_initialize_registry() != CUE_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 2);
    CU_pSuite s = CU_add_suite("spectrum", suite_init, suite_clean);
    if (s == NULL || !CU_add_test(s, "eigenvalues match LAPACK dsyevd", test_lapack) ||
        !CU_add_test(s, "sum of eigenvalues = sum of moment variances", test_trace) ||
        !CU_add_test(s, "same spectrum on 1, 2, 3, 4 ranks and every grid", test_rank_counts) ||
        !CU_add_test(s, "small shapes, all eigenvectors, every grid and block", test_shapes) ||
        !CU_add_test(s, "failures seen by every rank", test_errors))
        MPI_Abort(MPI_COMM_WORLD, 2);

    return mpi_run_all("spectrum");
}
