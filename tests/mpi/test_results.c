/* MPI tests of the results file and provenance: a parallel round trip read
 * back serially and compared exactly, the ".partial" -> final protocol,
 * failures that every rank must see, and the provenance attributes.
 * Run under mpiexec at any rank count; exits non-zero if any rank failed. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../mpi_test_util.h"
#include "flexcl/error.h"
#include "flexcl/provenance.h"
#include "flexcl/results.h"

static int rank = 0, size = 1;
static char tmpdir[256];

/* --- helpers --------------------------------------------------------------- */

static char *join(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* 1 if path exists, as seen by rank 0 and broadcast. */
static int exists_everywhere(const char *path)
{
    int e = 0;
    if (rank == 0) e = access(path, F_OK) == 0;
    MPI_Bcast(&e, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return e;
}

/* Rows [first, first + n) of a rows-long dataset for this rank, with weights
 * w[i] per rank (uneven splits, zeros allowed). */
static void split(size_t rows, const int *w, size_t *first, size_t *n)
{
    long total = 0, before = 0;
    for (int i = 0; i < size; i++) total += w[i];
    for (int i = 0; i < rank; i++) before += w[i];
    size_t lo = total ? (size_t)((double)rows * before / total) : 0;
    size_t hi = total ? (size_t)((double)rows * (before + w[rank]) / total) : 0;
    if (rank == size - 1 || before + w[rank] == total) hi = rows;
    if (w[rank] == 0) hi = lo;
    *first = lo;
    *n = hi - lo;
}

static double value_2d(size_t i, size_t j) { return sin((double)(i * 1000 + j)) * 1e3 + (double)i; }
static double value_1d(size_t i) { return 1.0 / (double)(i + 1) - 0.25 * (double)i; }
static uint64_t value_u64(size_t i, size_t j) { return UINT64_MAX - (uint64_t)(i * 7 + j); }

static char *big_string(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) s[i] = (char)('a' + (i * 31 + i / 97) % 26);
    /* A multi-byte UTF-8 character in the middle ("é"). */
    s[n / 2] = (char)0xC3;
    s[n / 2 + 1] = (char)0xA9;
    s[n] = '\0';
    return s;
}

/* A string attribute read serially (NULL if missing); free() the result. */
static char *read_string_attr(hid_t file, const char *obj, const char *name)
{
    char *out = NULL;
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t ft = H5Aget_type(a);
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v != NULL) {
                out = strdup(v);
                H5free_memory(v);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            out = calloc(n + 1, 1);
            hid_t mt = H5Tcopy(ft);
            if (H5Aread(a, mt, out) < 0) {
                free(out);
                out = NULL;
            }
            H5Tclose(mt);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return out;
}

static int read_int_attr(hid_t file, const char *obj, const char *name, long long *v)
{
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return -1;
    int64_t x = 0;
    herr_t rc = H5Aread(a, H5T_NATIVE_INT64, &x);
    H5Aclose(a);
    *v = x;
    return rc < 0 ? -1 : 0;
}

static int read_double_attr(hid_t file, const char *obj, const char *name, double *v)
{
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

/* Read a whole dataset; checks its rank and shape. */
static void *read_dataset(hid_t file, const char *name, hid_t mtype, size_t elem,
                          int want_ndims, size_t rows, size_t cols)
{
    void *buf = NULL;
    /* No _FATAL asserts on one rank: the others would wait in a collective. */
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    CU_ASSERT(d >= 0);
    if (d < 0) return NULL;
    hid_t s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_dims(s, dims, NULL);
    CU_ASSERT_EQUAL(nd, want_ndims);
    CU_ASSERT_EQUAL(dims[0], rows);
    if (want_ndims == 2) CU_ASSERT_EQUAL(dims[1], cols);
    if (nd == want_ndims && dims[0] == rows && (nd == 1 || dims[1] == cols)) {
        buf = calloc(rows * cols + 1, elem);
        if (rows > 0) CU_ASSERT(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    }
    H5Sclose(s);
    H5Dclose(d);
    return buf;
}

/* --- the round trip -------------------------------------------------------- */

enum { R2 = 37, C2 = 5, R1 = 1000, RB = 3001, CB = 100, RU = 23, CU = 2 };

static void test_round_trip(void)
{
    char path[512];
    flexcl_results *r = NULL;
    size_t first, n;
    int *w = calloc((size_t)size, sizeof *w);
    char *big = big_string(200 * 1024);
    const double odd_double = -1.2345678901234567e-300;

    snprintf(path, sizeof path, "%s", join("round.h5"));
    CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_OK);
    CU_ASSERT_STRING_EQUAL(flexcl_results_path(r), path);

    /* 2-D, uneven: rank i has weight i + 1. */
    for (int i = 0; i < size; i++) w[i] = i + 1;
    split(R2, w, &first, &n);
    double *a = malloc((n * C2 + 1) * sizeof *a);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < C2; j++) a[i * C2 + j] = value_2d(first + i, j);
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "uneven", R2, C2, first, n, a), FLEXCL_OK);
    free(a);

    /* 1-D (cols = 1), in a nested path; rank 0 has no rows when size > 1. */
    for (int i = 0; i < size; i++) w[i] = size > 1 && i == 0 ? 0 : 2 + i % 2;
    split(R1, w, &first, &n);
    if (size > 1 && rank == 0) CU_ASSERT_EQUAL(n, 0);
    a = malloc((n + 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = value_1d(first + i);
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "series/loss", R1, 1, first, n,
                                              n ? a : NULL),
                    FLEXCL_OK);
    free(a);

    /* Several chunks (rows of 800 bytes: 1310 rows a chunk); last rank has
     * no rows when size > 1. */
    for (int i = 0; i < size; i++) w[i] = size > 1 && i == size - 1 ? 0 : 3 * i + 1;
    split(RB, w, &first, &n);
    a = malloc((n * CB + 1) * sizeof *a);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < CB; j++) a[i * CB + j] = value_2d(first + i, j) * 0.5;
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "big", RB, CB, first, n, a), FLEXCL_OK);
    free(a);

    /* uint64 step counters, full 64-bit range. */
    for (int i = 0; i < size; i++) w[i] = size - i;
    split(RU, w, &first, &n);
    uint64_t *u = malloc((n * CU + 1) * sizeof *u);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < CU; j++) u[i * CU + j] = value_u64(first + i, j);
    CU_ASSERT_EQUAL(flexcl_results_write_rows_u64(r, "steps", RU, CU, first, n, u),
                    FLEXCL_OK);
    free(u);

    /* An empty dataset: nobody has rows. */
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "empty", 0, 4, 0, 0, NULL), FLEXCL_OK);

    /* Groups and attributes. */
    CU_ASSERT_EQUAL(flexcl_results_group(r, "points/000003"), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_group(r, "points/000003"), FLEXCL_OK); /* exists */
    CU_ASSERT_EQUAL(flexcl_results_group(r, "points"), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_string(r, "/", "title", "round trip ü"), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_string(r, "/", "empty", ""), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_string(r, "/", "big", big), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_double(r, "/", "eta", odd_double), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_double(r, "/", "inf", -INFINITY), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_int(r, "/", "min", LLONG_MIN), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_int(r, "points/000003", "b", 7), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_int(r, "points/000003", "b", 8), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_double(r, "points/000003", "tau", 0.1), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_string(r, "/points/000003", "big", big), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_string(r, "series/loss", "unit", "nats"), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_int(r, "big", "rows", RB), FLEXCL_OK);
    /* Datasets in a new group's subtree go through intermediate groups. */
    for (int i = 0; i < size; i++) w[i] = 1;
    split(3, w, &first, &n);
    a = malloc((n + 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = (double)(first + i);
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "points/000003/x", 3, 1, first, n, a),
                    FLEXCL_OK);
    free(a);

    /* Before finish only the partial file exists. */
    char partial[600];
    snprintf(partial, sizeof partial, "%s.partial", path);
    CU_ASSERT_FALSE(exists_everywhere(path));
    CU_ASSERT_TRUE(exists_everywhere(partial));

    CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_OK);
    CU_ASSERT_TRUE(exists_everywhere(path));
    CU_ASSERT_FALSE(exists_everywhere(partial));
    /* After finish the handle refuses further writes. */
    CU_ASSERT_EQUAL(flexcl_results_attr_int(r, "/", "late", 1), FLEXCL_ERR_ARG);
    flexcl_results_destroy(&r);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_TRUE(exists_everywhere(path)); /* destroy keeps a finished file */
    flexcl_results_destroy(&r);              /* NULL-safe */

    /* Rank 0 reads it back serially and compares every value exactly. */
    hid_t f = rank == 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
    if (rank == 0) CU_ASSERT(f >= 0);
    if (f >= 0) {

        double *d = read_dataset(f, "uneven", H5T_NATIVE_DOUBLE, sizeof(double), 2, R2, C2);
        int bad = d == NULL;
        for (size_t i = 0; d && i < R2; i++)
            for (size_t j = 0; j < C2; j++) bad += d[i * C2 + j] != value_2d(i, j);
        CU_ASSERT_EQUAL(bad, 0);
        free(d);

        d = read_dataset(f, "series/loss", H5T_NATIVE_DOUBLE, sizeof(double), 1, R1, 1);
        bad = d == NULL;
        for (size_t i = 0; d && i < R1; i++) bad += d[i] != value_1d(i);
        CU_ASSERT_EQUAL(bad, 0);
        free(d);

        d = read_dataset(f, "big", H5T_NATIVE_DOUBLE, sizeof(double), 2, RB, CB);
        bad = d == NULL;
        for (size_t i = 0; d && i < RB; i++)
            for (size_t j = 0; j < CB; j++) bad += d[i * CB + j] != value_2d(i, j) * 0.5;
        CU_ASSERT_EQUAL(bad, 0);
        free(d);

        uint64_t *v = read_dataset(f, "steps", H5T_NATIVE_UINT64, sizeof(uint64_t), 2, RU, CU);
        bad = v == NULL;
        for (size_t i = 0; v && i < RU; i++)
            for (size_t j = 0; j < CU; j++) bad += v[i * CU + j] != value_u64(i, j);
        CU_ASSERT_EQUAL(bad, 0);
        free(v);

        d = read_dataset(f, "empty", H5T_NATIVE_DOUBLE, sizeof(double), 2, 0, 4);
        CU_ASSERT_PTR_NOT_NULL(d);
        free(d);

        d = read_dataset(f, "points/000003/x", H5T_NATIVE_DOUBLE, sizeof(double), 1, 3, 1);
        CU_ASSERT(d != NULL && d[0] == 0.0 && d[1] == 1.0 && d[2] == 2.0);
        free(d);

        /* The stored types are the portable little-endian ones. */
        hid_t ds = H5Dopen2(f, "steps", H5P_DEFAULT);
        hid_t t = H5Dget_type(ds);
        CU_ASSERT(H5Tequal(t, H5T_STD_U64LE) > 0);
        H5Tclose(t);
        H5Dclose(ds);
        ds = H5Dopen2(f, "big", H5P_DEFAULT);
        hid_t dcpl = H5Dget_create_plist(ds);
        CU_ASSERT_EQUAL(H5Pget_layout(dcpl), H5D_CHUNKED);
        int deflate = 0;
        for (int i = 0; i < H5Pget_nfilters(dcpl); i++) {
            unsigned flags = 0;
            size_t nelem = 0;
            deflate |= H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, NULL, 0, NULL,
                                      NULL) == H5Z_FILTER_DEFLATE;
        }
        CU_ASSERT_TRUE(deflate);
        H5Pclose(dcpl);
        H5Dclose(ds);

        char *s = read_string_attr(f, "/", "title");
        CU_ASSERT(s != NULL && strcmp(s, "round trip ü") == 0);
        free(s);
        s = read_string_attr(f, "/", "empty");
        CU_ASSERT(s != NULL && s[0] == '\0');
        free(s);
        s = read_string_attr(f, "/", "big");
        CU_ASSERT(s != NULL && strcmp(s, big) == 0);
        free(s);
        s = read_string_attr(f, "points/000003", "big");
        CU_ASSERT(s != NULL && strcmp(s, big) == 0);
        free(s);
        s = read_string_attr(f, "series/loss", "unit");
        CU_ASSERT(s != NULL && strcmp(s, "nats") == 0);
        free(s);

        double x = 0;
        CU_ASSERT(read_double_attr(f, "/", "eta", &x) == 0 &&
                  memcmp(&x, &odd_double, sizeof x) == 0);
        CU_ASSERT(read_double_attr(f, "/", "inf", &x) == 0 && isinf(x) && x < 0);
        CU_ASSERT(read_double_attr(f, "points/000003", "tau", &x) == 0 && x == 0.1);
        long long k = 0;
        CU_ASSERT(read_int_attr(f, "/", "min", &k) == 0 && k == LLONG_MIN);
        CU_ASSERT(read_int_attr(f, "points/000003", "b", &k) == 0 && k == 8);
        CU_ASSERT(read_int_attr(f, "big", "rows", &k) == 0 && k == RB);
        CU_ASSERT(H5Aexists_by_name(f, "/", "late", H5P_DEFAULT) == 0);

        CU_ASSERT(H5Fclose(f) >= 0);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    free(big);
    free(w);
}

/* --- compression modes ----------------------------------------------------- */

/* Number of filters of a dataset (-1 if it is not chunked or cannot be read). */
static int n_filters(hid_t f, const char *name)
{
    int n = -1;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t dcpl = H5Dget_create_plist(ds);
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) n = H5Pget_nfilters(dcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Dclose(ds);
    return n;
}

/* The same values written deflated and unfiltered (several chunks, an
 * uneven split with a rank that has no rows) read back bitwise equal; a
 * copy (flexcl merge's path) keeps each dataset's storage. */
static void test_compression_modes(void)
{
    enum { RC = 2501, CC = 150 }; /* rows of 1200 bytes: 873 rows a chunk */
    char path[512], copy[512];
    flexcl_results *r = NULL;
    size_t first, n;
    int *w = calloc((size_t)size, sizeof *w);
    snprintf(path, sizeof path, "%s", join("compress.h5"));
    snprintf(copy, sizeof copy, "%s", join("compress_copy.h5"));

    for (int i = 0; i < size; i++) w[i] = size > 1 && i == 0 ? 0 : i + 2;
    split(RC, w, &first, &n);
    double *a = malloc((n * CC + 1) * sizeof *a);
    uint64_t *u = malloc((n + 1) * sizeof *u);
    for (size_t i = 0; i < n; i++) {
        u[i] = value_u64(first + i, 3);
        /* Gradient-sample-like values: many exact zeros and repeats, some
         * arbitrary doubles, a NaN and a negative zero. */
        for (size_t j = 0; j < CC; j++)
            a[i * CC + j] = (first + i + j) % 3 == 0 ? 0.0 : (j % 7 == 0 ? 2.0 : value_2d(first + i, j));
        if (first + i == 1000) a[i * CC + 5] = NAN;
        if (first + i == 1001) a[i * CC + 6] = -0.0;
    }
    CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_write_rows_as(r, "g/deflate", RC, CC, first, n, a,
                                                 FLEXCL_COMPRESSION_DEFLATE),
                    FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_write_rows_as(r, "g/none", RC, CC, first, n, a,
                                                 FLEXCL_COMPRESSION_NONE),
                    FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_write_rows_u64_as(r, "g/z_none", RC, 1, first, n, u,
                                                     FLEXCL_COMPRESSION_NONE),
                    FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "g/default", RC, CC, first, n, a), FLEXCL_OK);
    /* An unknown mode is refused on every rank. */
    CU_ASSERT_EQUAL(flexcl_results_write_rows_as(r, "g/bad", RC, CC, first, n, a,
                                                 (flexcl_compression)7),
                    FLEXCL_ERR_ARG);
    CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_OK);
    flexcl_results_destroy(&r);

    CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, copy, &r), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_copy_tree(r, path, "/g", "h"), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_OK);
    flexcl_results_destroy(&r);

    if (rank == 0) {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t g = H5Fopen(copy, H5F_ACC_RDONLY, H5P_DEFAULT);
        CU_ASSERT(f >= 0 && g >= 0);
        if (f >= 0 && g >= 0) {
            double *want = malloc(RC * CC * sizeof *want);
            for (size_t i = 0; i < RC; i++)
                for (size_t j = 0; j < CC; j++)
                    want[i * CC + j] =
                        (i + j) % 3 == 0 ? 0.0 : (j % 7 == 0 ? 2.0 : value_2d(i, j));
            want[1000 * CC + 5] = NAN;
            want[1001 * CC + 6] = -0.0;
            const char *names[] = {"g/deflate", "g/none", "g/default",
                                   "h/deflate", "h/none", "h/default"};
            for (size_t k = 0; k < sizeof names / sizeof names[0]; ++k) {
                double *d = read_dataset(names[k][0] == 'g' ? f : g, names[k],
                                         H5T_NATIVE_DOUBLE, sizeof(double), 2, RC, CC);
                CU_ASSERT(d != NULL && memcmp(d, want, RC * CC * sizeof *d) == 0);
                free(d);
            }
            for (int c = 0; c < 2; ++c) {
                uint64_t *v = read_dataset(c ? g : f, c ? "h/z_none" : "g/z_none",
                                           H5T_NATIVE_UINT64, sizeof(uint64_t), 1, RC, 1);
                int bad = v == NULL;
                for (size_t i = 0; v && i < RC; i++) bad += v[i] != value_u64(i, 3);
                CU_ASSERT_EQUAL(bad, 0);
                free(v);
            }
            /* Storage: shuffle + deflate, or chunked without filters; kept by the copy. */
            CU_ASSERT_EQUAL(n_filters(f, "g/deflate"), 2);
            CU_ASSERT_EQUAL(n_filters(f, "g/default"), 2);
            CU_ASSERT_EQUAL(n_filters(f, "g/none"), 0);
            CU_ASSERT_EQUAL(n_filters(f, "g/z_none"), 0);
            CU_ASSERT_EQUAL(n_filters(g, "h/deflate"), 2);
            CU_ASSERT_EQUAL(n_filters(g, "h/none"), 0);
            CU_ASSERT_EQUAL(n_filters(g, "h/z_none"), 0);
            CU_ASSERT(H5Lexists(f, "g/bad", H5P_DEFAULT) == 0);
            free(want);
        }
        if (f >= 0) H5Fclose(f);
        if (g >= 0) H5Fclose(g);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    free(a);
    free(u);
    free(w);
}

/* --- failures -------------------------------------------------------------- */

static void test_missing_directory(void)
{
    flexcl_results *r = (flexcl_results *)&r; /* must be reset to NULL */
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/out.h5", tmpdir);

    CU_ASSERT_EQUAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_ERR_IO);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), path));
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), "cannot create results file"));

    /* A regular file where a directory should be. */
    snprintf(path, sizeof path, "%s", join("plain"));
    if (rank == 0) {
        FILE *fp = fopen(path, "w");
        if (fp) fclose(fp);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    strcat(path, "/out.h5");
    CU_ASSERT_EQUAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), path));
    CU_ASSERT_FALSE(exists_everywhere(join("plain/out.h5.partial")));
}

static void test_destroy_unfinished(void)
{
    flexcl_results *r = NULL;
    char path[512], partial[600];
    snprintf(path, sizeof path, "%s", join("killed.h5"));
    snprintf(partial, sizeof partial, "%s.partial", path);

    CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_OK);
    double row[2] = {1.0, 2.0};
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "x", (size_t)size, 2, (size_t)rank, 1, row),
                    FLEXCL_OK);
    CU_ASSERT_TRUE(exists_everywhere(partial));
    flexcl_results_destroy(&r);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_FALSE(exists_everywhere(partial));
    CU_ASSERT_FALSE(exists_everywhere(path));
}

/* Disk space is reserved ahead of the writes (so that a full disk fails on
 * every rank before a collective write; tests/faults fills a disk) and the
 * part past the file's end is given back when the file is finished. */
static void test_reservation(void)
{
    flexcl_results *r = NULL;
    char path[512], partial[600];
    struct stat st;
    long long held = -1, size_after = -1, blocks_after = -1;
    int can = 0;
    double rows[3 * 100];
    snprintf(path, sizeof path, "%s", join("reserve.h5"));
    snprintf(partial, sizeof partial, "%s.partial", path);
    for (size_t i = 0; i < 300; i++) rows[i] = value_1d(i + (size_t)rank * 300);
    /* Whether this file system can reserve at all (without fallocate,
     * flexcl only checks the free space). */
    if (rank == 0) {
        int fd = open(join("probe"), O_CREAT | O_WRONLY, 0600);
        can = fd >= 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
        if (fd >= 0) close(fd);
    }
    MPI_Bcast(&can, 1, MPI_INT, 0, MPI_COMM_WORLD);

    CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "x", 100 * (size_t)size, 3, 100 * (size_t)rank,
                                              100, rows),
                    FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_attr_string(r, "/", "note", "reserved"), FLEXCL_OK);
    if (rank == 0 && stat(partial, &st) == 0)
        held = (long long)st.st_blocks * 512 - (long long)st.st_size;
    CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_OK);
    flexcl_results_destroy(&r);
    if (rank == 0 && stat(path, &st) == 0) {
        size_after = (long long)st.st_size;
        blocks_after = (long long)st.st_blocks * 512;
    }
    if (rank == 0) {
        /* At least the 64 KiB margin past the end while the file is open... */
        if (can) CU_ASSERT(held >= 65536);
        /* ...and none of it after the finish (file system blocks aside). */
        CU_ASSERT(size_after > 0);
        CU_ASSERT(blocks_after <= size_after + 16384);
    }
}

/* Bad arguments on one rank must fail on every rank without a hang, and the
 * file must stay usable afterwards. */
static void test_agreement(void)
{
    flexcl_results *r = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s", join("agree.h5"));
    double row[3] = {1, 2, 3};

    CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "zero_cols", 4, 0, 0, 0, NULL),
                    FLEXCL_ERR_ARG);
    /* The last rank asks for rows past the end. */
    size_t first = rank == size - 1 ? (size_t)size : (size_t)rank;
    flexcl_code c = flexcl_results_write_rows(r, "past_end", (size_t)size, 3, first, 1, row);
    CU_ASSERT_EQUAL(c, FLEXCL_ERR_ARG);
    if (size > 1 && rank != size - 1) {
        char want[64];
        snprintf(want, sizeof want, "rank %d:", size - 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), want));
    }
    /* Different shapes on different ranks. */
    if (size > 1) {
        c = flexcl_results_write_rows(r, "shapes", 4, rank == 0 ? 2 : 3, 0, 0, NULL);
        CU_ASSERT_EQUAL(c, FLEXCL_ERR_ARG);
        c = flexcl_results_attr_string(r, "/", "differs", rank == 0 ? "a" : "b");
        CU_ASSERT_EQUAL(c, FLEXCL_ERR_ARG);
    }
    /* HDF5 failures name the object. */
    c = flexcl_results_attr_int(r, "no/such/group", "k", 1);
    CU_ASSERT_EQUAL(c, FLEXCL_ERR_HDF5);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), "no/such/group"));
    CU_ASSERT_EQUAL(flexcl_results_write_rows(r, "ok", (size_t)size, 3, (size_t)rank, 1, row),
                    FLEXCL_OK);
    c = flexcl_results_write_rows(r, "ok", (size_t)size, 3, (size_t)rank, 1, row);
    CU_ASSERT_EQUAL(c, FLEXCL_ERR_ARG); /* exists */
    c = flexcl_results_group(r, "ok");
    CU_ASSERT_EQUAL(c, FLEXCL_ERR_ARG); /* not a group */
    CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_ERR_ARG);
    flexcl_results_destroy(&r);
    CU_ASSERT_TRUE(exists_everywhere(path));
}

/* --- provenance ------------------------------------------------------------ */

static void test_provenance(void)
{
    static const char *const string_attrs[] = {
        "flexcl_version", "git_describe", "job_text", "job_file", "command_line",
        "mpi_library", "mpi_io", "hdf5_version", "blas_config", "hosts", "start_time", "end_time",
    };
    static const char *const int_attrs[] = {"git_dirty", "mpi_ranks", "omp_threads",
                                            "schema_version"};
    flexcl_results *r = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s", join("prov.h5"));

    CU_ASSERT_STRING_EQUAL(flexcl_version(), "0.1.0");
    CU_ASSERT_PTR_NOT_NULL(flexcl_git_describe());
    CU_ASSERT(strlen(flexcl_git_describe()) > 0);

    CU_ASSERT_EQUAL_FATAL(flexcl_results_create(MPI_COMM_WORLD, path, &r), FLEXCL_OK);
    flexcl_provenance p = {
        .job_text = "[model]\nkind = rbm\n",
        .job_file = "jobs/examples/tiny.ini",
        .command_line = "flexcl run jobs/examples/tiny.ini",
        .omp_threads = 3,
        .start_time = (time_t)1795428000, /* 2026-11-23T10:00:00Z */
        .end_time = (time_t)1795428000 + 3661,
    };
    CU_ASSERT_EQUAL(flexcl_provenance_write(MPI_COMM_WORLD, r, &p), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_results_finish(r), FLEXCL_OK);
    flexcl_results_destroy(&r);

    hid_t f = rank == 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
    if (rank == 0) CU_ASSERT(f >= 0);
    if (f >= 0) {
        for (size_t i = 0; i < sizeof string_attrs / sizeof *string_attrs; i++) {
            char *s = read_string_attr(f, "/", string_attrs[i]);
            if (s == NULL) fprintf(stderr, "missing string attribute %s\n", string_attrs[i]);
            CU_ASSERT_PTR_NOT_NULL(s);
            free(s);
        }
        long long k = -1;
        for (size_t i = 0; i < sizeof int_attrs / sizeof *int_attrs; i++) {
            int rc = read_int_attr(f, "/", int_attrs[i], &k);
            if (rc != 0) fprintf(stderr, "missing int attribute %s\n", int_attrs[i]);
            CU_ASSERT_EQUAL(rc, 0);
        }
        CU_ASSERT(read_int_attr(f, "/", "schema_version", &k) == 0 && k == FLEXCL_SCHEMA_VERSION);
        CU_ASSERT(read_int_attr(f, "/", "mpi_ranks", &k) == 0 && k == size);
        CU_ASSERT(read_int_attr(f, "/", "omp_threads", &k) == 0 && k == 3);
        CU_ASSERT(read_int_attr(f, "/", "git_dirty", &k) == 0 &&
                  k == (strstr(flexcl_git_describe(), "dirty") != NULL));

        char *s = read_string_attr(f, "/", "hosts");
        CU_ASSERT(s != NULL && s[0] != '\0' && s[strlen(s) - 1] != ',');
        free(s);
        s = read_string_attr(f, "/", "flexcl_version");
        CU_ASSERT(s != NULL && strcmp(s, "0.1.0") == 0);
        free(s);
        s = read_string_attr(f, "/", "git_describe");
        CU_ASSERT(s != NULL && strcmp(s, flexcl_git_describe()) == 0);
        free(s);
        s = read_string_attr(f, "/", "job_text");
        CU_ASSERT(s != NULL && strcmp(s, p.job_text) == 0);
        free(s);
        s = read_string_attr(f, "/", "start_time");
        CU_ASSERT(s != NULL && strcmp(s, "2026-11-23T10:00:00Z") == 0);
        free(s);
        s = read_string_attr(f, "/", "end_time");
        CU_ASSERT(s != NULL && strcmp(s, "2026-11-23T11:01:01Z") == 0);
        free(s);
        s = read_string_attr(f, "/", "hdf5_version");
        CU_ASSERT(s != NULL && strncmp(s, "1.", 2) == 0);
        free(s);
        s = read_string_attr(f, "/", "mpi_library");
        CU_ASSERT(s != NULL && s[0] != '\0' && strchr(s, '\n') == NULL);
        free(s);
        CU_ASSERT(H5Fclose(f) >= 0);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* --- main ------------------------------------------------------------------ */

static int suite_init(void) { return mpi_tmpdir_create(tmpdir, sizeof tmpdir, "flexcl_results"); }

static int suite_clean(void) { return mpi_tmpdir_remove(tmpdir); }

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    if (CU_initialize_registry() != CUE_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 2);
    CU_pSuite s = CU_add_suite("results", suite_init, suite_clean);
    if (s == NULL || !CU_add_test(s, "round trip", test_round_trip) ||
        !CU_add_test(s, "compression modes", test_compression_modes) ||
        !CU_add_test(s, "missing directory", test_missing_directory) ||
        !CU_add_test(s, "destroy unfinished", test_destroy_unfinished) ||
        !CU_add_test(s, "disk space reserved and given back", test_reservation) ||
        !CU_add_test(s, "ranks agree on failure", test_agreement) ||
        !CU_add_test(s, "provenance", test_provenance))
        MPI_Abort(MPI_COMM_WORLD, 2);

    return mpi_run_all("results");
}
