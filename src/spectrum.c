/* Eigen-spectra of the sample covariance of raw gradient samples, with
 * ScaLAPACK on a BLACS grid made from the caller's communicator.
 *
 * Distribution (see flexcl/spectrum.h for the whole story). Two layouts of
 * ScaLAPACK matrices are used, both over the same processes:
 *
 *   line   a 1 x R grid. Y = X^T (P x M) in column blocks of ceil(M / R):
 *          rank r holds samples [r * ceil(M/R), ...) — exactly the row-major
 *          rows it read from the file, so no transposition is ever done.
 *          The K leading eigenvectors come back into this layout too, one
 *          block of whole vectors per rank, to be written as rows.
 *   grid   grid_rows x grid_cols, NB x NB blocks cyclic in both directions:
 *          Y again (after pdgemr2d), C = Y Y^T / (M - 1) from pdsyrk, and
 *          pdsyevd's eigenvectors Z.
 *
 * Collective discipline: every local step that can fail on one rank only
 * (allocation, a local check) is followed by agree() before the next
 * collective call, so no rank is ever left waiting in ScaLAPACK, MPI or
 * HDF5. HDF5 metadata operations (creating groups, datasets, attributes,
 * deleting and moving links) are made by every rank with identical
 * arguments; dataset writes are collective, ranks without data selecting
 * nothing. */
#include "flexcl/spectrum.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "flexcl/provenance.h"

/* --- BLACS, PBLAS and ScaLAPACK --------------------------------------------
 * Debian's libscalapack-openmpi-dev ships no C header. The C interface of
 * BLACS takes an MPI_Comm; PBLAS and REDIST are written in C (character
 * arguments without hidden lengths); TOOLS and the drivers are Fortran, so
 * pdsyevd_ gets gfortran's hidden character lengths. Integers are 32-bit
 * (the LP64 build). */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int context);

int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc,
            const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld,
               int *info);
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia,
               const int *ja, const int *desca, double *b, const int *ib,
               const int *jb, const int *descb, const int *ictxt);
void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
             const double *alpha, const double *a, const int *ia, const int *ja,
             const int *desca, const double *beta, double *c, const int *ic,
             const int *jc, const int *descc);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
              const int *ia, const int *ja, const int *desca, double *w, double *z,
              const int *iz, const int *jz, const int *descz, double *work,
              const int *lwork, int *iwork, const int *liwork, int *info,
              size_t jobz_len, size_t uplo_len);
void pdormtr_(const char *side, const char *uplo, const char *trans, const int *m,
              const int *n, const double *a, const int *ia, const int *ja,
              const int *desca, const double *tau, double *c, const int *ic,
              const int *jc, const int *descc, double *work, const int *lwork, int *info,
              size_t side_len, size_t uplo_len, size_t trans_len);

enum {
    DLEN = 9,               /* ScaLAPACK descriptor length */
    MESSAGE_MAX = 1024,
    CHUNK_BYTES = 1 << 20,  /* target size of one uncompressed chunk */
    DEFAULT_BLOCK = 64,
};

struct flexcl_spectrum {
    MPI_Comm comm;        /* our duplicate of the caller's communicator */
    int rank, size;
    hid_t file;           /* open read-write; H5I_INVALID_HID when closed */
    char *path;
    char *command_line;   /* rank 0's, on every rank */
    int grid_rows, grid_cols, block, vectors, replace;
    int handle;           /* BLACS system handle of comm */
    int have_handle, have_grid, have_line;
    int ctx_grid;         /* grid_rows x grid_cols */
    int my_row, my_col;   /* this rank in ctx_grid */
    int ctx_line;         /* 1 x size */
    int line_col;         /* this rank in ctx_line */
    double *lambda;       /* last eigenvalues, descending */
    size_t n_lambda;
};

/* --- HDF5 error reporting (as in results.c) -------------------------------- */

static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n == 0 && e->desc != NULL) snprintf(buf, MESSAGE_MAX, "%s", e->desc);
    return 0;
}

/* HDF5's innermost reason for the last failure ("" if none); clears the
 * stack. */
static void h5_reason(char why[MESSAGE_MAX])
{
    why[0] = '\0';
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, why);
    (void)H5Eclear2(H5E_DEFAULT);
}

static flexcl_code h5_fail(const char *file, int line, const char *func,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static flexcl_code h5_fail(const char *file, int line, const char *func,
                           const char *fmt, ...)
{
    char what[MESSAGE_MAX], why[MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    h5_reason(why);
    if (why[0] != '\0')
        return flexcl_error_set(FLEXCL_ERR_HDF5, file, line, func, "%s (HDF5: %s)",
                                what, why);
    return flexcl_error_set(FLEXCL_ERR_HDF5, file, line, func, "%s", what);
}

/* FLEXCL_H5 with HDF5's own reason appended. */
#define SPECTRUM_H5(call, ...)                                                 \
    do {                                                                       \
        if ((long long)(call) < 0) {                                           \
            err = h5_fail(__FILE__, __LINE__, __func__, __VA_ARGS__);          \
            goto done;                                                         \
        }                                                                      \
    } while (0)

static void close_id(hid_t *id, herr_t (*closer)(hid_t), const char *what,
                     flexcl_code *err)
{
    if (*id < 0) return;
    if (closer(*id) < 0 && *err == FLEXCL_OK)
        *err = h5_fail(__FILE__, __LINE__, __func__, "cannot close %s", what);
    *id = H5I_INVALID_HID;
}

/* --- agreement between ranks ----------------------------------------------- */

/* Every rank learns whether any rank failed; the ranks that did not adopt
 * the failing rank's code and message ("rank R: ..."). Collective. */
static flexcl_code agree(MPI_Comm comm, flexcl_code local)
{
    flexcl_code err = FLEXCL_OK;
    int rank = 0;
    struct {
        int code;
        int rank;
    } mine, worst;
    char msg[MESSAGE_MAX];

    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    mine.code = (int)local;
    mine.rank = rank;
    FLEXCL_MPI(MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, comm));
    if (worst.code == FLEXCL_OK) return FLEXCL_OK;
    if (rank == worst.rank) snprintf(msg, sizeof msg, "%s", flexcl_error_message());
    FLEXCL_MPI(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, worst.rank, comm));
    msg[sizeof msg - 1] = '\0';
    if (local != FLEXCL_OK) return local;
    err = flexcl_error_set((flexcl_code)worst.code, __FILE__, __LINE__, __func__,
                           "rank %d: %s", worst.rank, msg);
done:
    return err;
}

/* --- small helpers ----------------------------------------------------------- */

/* Rank 0's string, malloc'd on every rank into *out. Collective. */
static flexcl_code bcast_string(MPI_Comm comm, int rank, const char *s, char **out)
{
    flexcl_code err = FLEXCL_OK;
    unsigned long long n = rank == 0 ? strlen(s) + 1 : 0;
    char *buf = NULL;

    FLEXCL_MPI(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, comm));
    FLEXCL_CHECK(n <= INT_MAX, FLEXCL_ERR_ARG, "string of %llu bytes is too long", n);
    buf = malloc(n);
    FLEXCL_CALL(agree(comm, buf != NULL ? FLEXCL_OK
                                        : flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__,
                                                           __LINE__, __func__,
                                                           "cannot allocate %llu bytes",
                                                           n)));
    if (rank == 0) memcpy(buf, s, n);
    FLEXCL_MPI(MPI_Bcast(buf, (int)n, MPI_CHAR, 0, comm));
    buf[n - 1] = '\0';
    *out = buf;
    buf = NULL;
done:
    free(buf);
    return err;
}

/* Does every component of the HDF5 path name exist? Component by component,
 * because H5Lexists fails when a parent is missing. Not collective (metadata
 * reads give every rank the same answer). */
static flexcl_code object_exists(hid_t file, const char *name, int *exists)
{
    flexcl_code err = FLEXCL_OK;
    char buf[256];
    size_t n = strlen(name);

    *exists = 1;
    FLEXCL_CHECK(n < sizeof buf, FLEXCL_ERR_INTERNAL, "%s: object name too long", name);
    for (size_t i = 1; i <= n && *exists; i++) {
        if (i < n && name[i] != '/') continue;
        if (name[i - 1] == '/') continue;
        memcpy(buf, name, i);
        buf[i] = '\0';
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        SPECTRUM_H5(e, "%s: cannot check whether it exists", buf);
        *exists = e > 0;
    }
done:
    return err;
}

/* The squarest rows x cols = size with rows <= cols. */
static void squarest_grid(int size, int *rows, int *cols)
{
    int r = (int)floor(sqrt((double)size));
    while (r > 1 && size % r != 0) r--;
    if (r < 1) r = 1;
    *rows = r;
    *cols = size / r;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

static int numroc(int n, int nb, int iproc, int nprocs)
{
    const int zero = 0;
    return numroc_(&n, &nb, &iproc, &zero, &nprocs);
}

/* descinit_ with the leading dimension guarded (at least 1). */
static flexcl_code descriptor(int desc[DLEN], int m, int n, int mb, int nb, int ctxt,
                              int lld, const char *what)
{
    flexcl_code err = FLEXCL_OK;
    const int zero = 0;
    int info = 0;
    if (lld < 1) lld = 1;
    descinit_(desc, &m, &n, &mb, &nb, &zero, &zero, &ctxt, &lld, &info);
    FLEXCL_CHECK(info == 0, FLEXCL_ERR_INTERNAL,
                 "descinit of %s (%d x %d, blocks %d x %d, lld %d) failed: info %d",
                 what, m, n, mb, nb, lld, info);
done:
    return err;
}

/* calloc of rows x cols doubles (at least one), failing cleanly. */
static flexcl_code alloc_matrix(double **out, size_t rows, size_t cols, const char *what)
{
    size_t n = rows * cols;
    if (cols != 0 && n / cols != rows)
        return flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__, __func__,
                                "%s: %zu x %zu doubles overflow", what, rows, cols);
    *out = calloc(n ? n : 1, sizeof **out);
    if (*out == NULL)
        return flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__, __func__,
                                "cannot allocate %s (%zu x %zu doubles, %.1f MiB)", what,
                                rows, cols, (double)n * 8.0 / 1048576.0);
    return FLEXCL_OK;
}

/* UTC ISO 8601 of t. */
static void iso_time(time_t t, char out[32])
{
    struct tm tm;
    out[0] = '\0';
    if (gmtime_r(&t, &tm) != NULL) strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- HDF5 writers on an open parent (every rank, identical arguments) ------ */

static flexcl_code attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                              const void *value)
{
    flexcl_code err = FLEXCL_OK;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    SPECTRUM_H5(space = H5Screate(H5S_SCALAR), "attribute %s: cannot create dataspace",
                name);
    SPECTRUM_H5(attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT),
                "cannot create attribute %s", name);
    SPECTRUM_H5(H5Awrite(attr, mtype, value), "cannot write attribute %s", name);
done:
    close_id(&attr, H5Aclose, "attribute", &err);
    close_id(&space, H5Sclose, "dataspace", &err);
    return err;
}

static flexcl_code attr_int(hid_t obj, const char *name, long long value)
{
    int64_t v = (int64_t)value;
    return attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static flexcl_code attr_double(hid_t obj, const char *name, double value)
{
    return attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

/* Variable-length UTF-8, like every string attribute of the results file. */
static flexcl_code attr_string(hid_t obj, const char *name, const char *value)
{
    flexcl_code err = FLEXCL_OK;
    hid_t type = H5I_INVALID_HID;
    SPECTRUM_H5(type = H5Tcopy(H5T_C_S1), "cannot create string type");
    SPECTRUM_H5(H5Tset_size(type, H5T_VARIABLE), "cannot size string type");
    SPECTRUM_H5(H5Tset_cset(type, H5T_CSET_UTF8), "cannot set UTF-8");
    FLEXCL_CALL(attr_write(obj, name, type, type, &value));
done:
    close_id(&type, H5Tclose, "string type", &err);
    return err;
}

/* A rows x cols double dataset under parent (1-D when cols = 1), chunked
 * and deflate-compressed as every dataset of the results file; this rank
 * writes rows [first, first + n). One collective write, which parallel HDF5
 * needs for filtered datasets. */
static flexcl_code write_rows(hid_t parent, const char *name, size_t rows, size_t cols,
                              size_t first, size_t n, const double *data)
{
    flexcl_code err = FLEXCL_OK;
    hid_t dcpl = H5I_INVALID_HID, dxpl = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
    hid_t mspace = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    int ndims = cols == 1 ? 1 : 2;
    hsize_t dims[2] = {rows, cols}, chunk[2], start[2] = {first, 0};
    hsize_t count[2] = {n, cols}, one[2] = {1, 1};
    static const double dummy = 0.0;
    size_t row_bytes = cols * sizeof(double);

    SPECTRUM_H5(fspace = H5Screate_simple(ndims, dims, NULL),
                "%s: cannot create file dataspace", name);
    SPECTRUM_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE), "%s: cannot create property list",
                name);
    if (ndims == 1) {
        chunk[0] = rows < CHUNK_BYTES / sizeof(double) ? rows : CHUNK_BYTES / sizeof(double);
    } else if (row_bytes <= CHUNK_BYTES) {
        size_t per = CHUNK_BYTES / row_bytes;
        chunk[0] = per < rows ? per : rows;
        chunk[1] = cols;
    } else {
        chunk[0] = 1;
        chunk[1] = CHUNK_BYTES / sizeof(double);
    }
    SPECTRUM_H5(H5Pset_chunk(dcpl, ndims, chunk), "%s: cannot set chunking", name);
    SPECTRUM_H5(H5Pset_shuffle(dcpl), "%s: cannot set shuffle filter", name);
    SPECTRUM_H5(H5Pset_deflate(dcpl, 1), "%s: cannot set deflate filter", name);
    SPECTRUM_H5(dset = H5Dcreate2(parent, name, H5T_IEEE_F64LE, fspace, H5P_DEFAULT, dcpl,
                                  H5P_DEFAULT),
                "%s: cannot create %zu x %zu dataset", name, rows, cols);
    if (n > 0) {
        SPECTRUM_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL),
                    "%s: cannot select rows [%zu, %zu)", name, first, first + n);
        SPECTRUM_H5(mspace = H5Screate_simple(ndims, count, NULL),
                    "%s: cannot create memory dataspace", name);
    } else {
        SPECTRUM_H5(H5Sselect_none(fspace), "%s: cannot select nothing", name);
        SPECTRUM_H5(mspace = H5Screate_simple(ndims, one, NULL),
                    "%s: cannot create memory dataspace", name);
        SPECTRUM_H5(H5Sselect_none(mspace), "%s: cannot select nothing", name);
        data = &dummy;
    }
    SPECTRUM_H5(dxpl = H5Pcreate(H5P_DATASET_XFER), "%s: cannot create transfer list",
                name);
    SPECTRUM_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE),
                "%s: cannot ask for collective I/O", name);
    SPECTRUM_H5(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, data),
                "%s: cannot write rows [%zu, %zu)", name, first, first + n);
done:
    close_id(&dset, H5Dclose, "dataset", &err);
    close_id(&dxpl, H5Pclose, "transfer list", &err);
    close_id(&mspace, H5Sclose, "memory dataspace", &err);
    close_id(&fspace, H5Sclose, "file dataspace", &err);
    close_id(&dcpl, H5Pclose, "dataset creation list", &err);
    return err;
}

/* --- settings, create, destroy --------------------------------------------- */

void flexcl_spectrum_settings_default(flexcl_spectrum_settings *s)
{
    if (s == NULL) return;
    memset(s, 0, sizeof *s);
    s->grid_rows = 0;
    s->grid_cols = 0;
    s->block = DEFAULT_BLOCK;
    s->vectors = 0;
    s->replace = 0;
    s->command_line = NULL;
}

/* Validation at the door: names the field and its value. Not collective. */
static flexcl_code check_settings(const flexcl_spectrum_settings *s, int size)
{
    if (s->block < 1)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "settings.block = %d: the block size must be at least 1",
                                s->block);
    if (s->vectors < 0)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "settings.vectors = %d: must be 0 or more", s->vectors);
    if ((s->grid_rows == 0) != (s->grid_cols == 0) || s->grid_rows < 0 ||
        s->grid_cols < 0)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "settings.grid = %dx%d: both must be positive, or both "
                                "0 for the default",
                                s->grid_rows, s->grid_cols);
    if (s->grid_rows > 0 && (long long)s->grid_rows * s->grid_cols != size)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "settings.grid = %dx%d needs %lld ranks, the "
                                "communicator has %d",
                                s->grid_rows, s->grid_cols,
                                (long long)s->grid_rows * s->grid_cols, size);
    return FLEXCL_OK;
}

flexcl_code flexcl_spectrum_create(MPI_Comm comm, const char *path,
                                   const flexcl_spectrum_settings *settings,
                                   flexcl_spectrum **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_spectrum *sp = NULL;
    flexcl_spectrum_settings s;
    hid_t fapl = H5I_INVALID_HID;
    int problem = 0, nr = 0, nc = 0;
    char why[MESSAGE_MAX];

    if (out == NULL)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "out is NULL");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "results path is %s", path ? "empty" : "NULL");
    if (settings != NULL)
        s = *settings;
    else
        flexcl_spectrum_settings_default(&s);

    FLEXCL_ALLOC(sp, 1);
    sp->comm = MPI_COMM_NULL;
    sp->file = H5I_INVALID_HID;
    FLEXCL_MPI(MPI_Comm_dup(comm, &sp->comm));
    FLEXCL_MPI(MPI_Comm_rank(sp->comm, &sp->rank));
    FLEXCL_MPI(MPI_Comm_size(sp->comm, &sp->size));
    FLEXCL_CALL(agree(sp->comm, check_settings(&s, sp->size)));
    if (s.grid_rows == 0) squarest_grid(sp->size, &s.grid_rows, &s.grid_cols);
    sp->grid_rows = s.grid_rows;
    sp->grid_cols = s.grid_cols;
    sp->block = s.block;
    sp->vectors = s.vectors;
    sp->replace = s.replace != 0;
    FLEXCL_CALL(bcast_string(sp->comm, sp->rank, s.command_line ? s.command_line : "",
                             &sp->command_line));
    FLEXCL_CALL(bcast_string(sp->comm, sp->rank, path, &sp->path));

    /* One rank looks at the file system; everybody gets the answer. */
    if (sp->rank == 0 && access(sp->path, R_OK | W_OK) != 0) problem = errno;
    FLEXCL_MPI(MPI_Bcast(&problem, 1, MPI_INT, 0, sp->comm));
    FLEXCL_CHECK(problem == 0, FLEXCL_ERR_IO, "%s: cannot open results file: %s",
                 sp->path, strerror(problem));

    /* Our own report once, never HDF5's automatic printing. */
    SPECTRUM_H5(H5Eset_auto2(H5E_DEFAULT, NULL, NULL), "cannot turn off HDF5 printing");
    SPECTRUM_H5(fapl = H5Pcreate(H5P_FILE_ACCESS), "cannot create file access list");
    SPECTRUM_H5(H5Pset_fapl_mpio(fapl, sp->comm, MPI_INFO_NULL),
                "%s: cannot select the MPI-IO driver", sp->path);
    SPECTRUM_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST),
                "%s: cannot set the file format version", sp->path);
    sp->file = H5Fopen(sp->path, H5F_ACC_RDWR, fapl);
    if (sp->file < 0) {
        h5_reason(why);
        FLEXCL_FAIL(FLEXCL_ERR_IO, "%s: cannot open results file: %s", sp->path,
                    why[0] ? why : "H5Fopen failed (not an HDF5 file?)");
    }

    /* Two grids on the same processes: BLACS contexts made from our
     * communicator (Csys2blacs_handle), never from the world communicator. */
    sp->handle = Csys2blacs_handle(sp->comm);
    sp->have_handle = 1;
    sp->ctx_grid = sp->handle;
    Cblacs_gridinit(&sp->ctx_grid, "Row-major", sp->grid_rows, sp->grid_cols);
    sp->have_grid = 1;
    Cblacs_gridinfo(sp->ctx_grid, &nr, &nc, &sp->my_row, &sp->my_col);
    FLEXCL_CHECK(nr == sp->grid_rows && nc == sp->grid_cols && sp->my_row >= 0,
                 FLEXCL_ERR_INTERNAL, "BLACS grid %dx%d came out as %dx%d", sp->grid_rows,
                 sp->grid_cols, nr, nc);
    sp->ctx_line = sp->handle;
    Cblacs_gridinit(&sp->ctx_line, "Row-major", 1, sp->size);
    sp->have_line = 1;
    Cblacs_gridinfo(sp->ctx_line, &nr, &nc, &problem, &sp->line_col);
    FLEXCL_CHECK(nr == 1 && nc == sp->size && sp->line_col >= 0, FLEXCL_ERR_INTERNAL,
                 "BLACS grid 1x%d came out as %dx%d", sp->size, nr, nc);

done:
    close_id(&fapl, H5Pclose, "file access list", &err);
    if (sp != NULL && sp->comm != MPI_COMM_NULL) err = agree(sp->comm, err);
    if (err != FLEXCL_OK) {
        flexcl_spectrum_destroy(&sp);
        return err;
    }
    *out = sp;
    return FLEXCL_OK;
}

void flexcl_spectrum_destroy(flexcl_spectrum **spp)
{
    if (spp == NULL || *spp == NULL) return;
    flexcl_spectrum *sp = *spp;

    /* The grids' communicators are made from ours: release them first. */
    if (sp->have_line) Cblacs_gridexit(sp->ctx_line);
    if (sp->have_grid) Cblacs_gridexit(sp->ctx_grid);
    if (sp->have_handle) Cfree_blacs_system_handle(sp->handle);
    if (sp->file >= 0) {
        /* Collective; nowhere to report a failure but it is still cleared. */
        if (H5Fclose(sp->file) < 0) (void)H5Eclear2(H5E_DEFAULT);
    }
    if (sp->comm != MPI_COMM_NULL) (void)MPI_Comm_free(&sp->comm);
    free(sp->path);
    free(sp->command_line);
    free(sp->lambda);
    free(sp);
    *spp = NULL;
}

const double *flexcl_spectrum_eigenvalues(const flexcl_spectrum *sp, size_t *n)
{
    if (n != NULL) *n = sp != NULL ? sp->n_lambda : 0;
    return sp != NULL && sp->n_lambda > 0 ? sp->lambda : NULL;
}

void flexcl_spectrum_grid(const flexcl_spectrum *sp, int *grid_rows, int *grid_cols)
{
    if (grid_rows != NULL) *grid_rows = sp != NULL ? sp->grid_rows : 0;
    if (grid_cols != NULL) *grid_cols = sp != NULL ? sp->grid_cols : 0;
}

/* --- which points have samples ----------------------------------------------- */

/* Is name six decimal digits? Then *index is their value. */
static int point_name(const char *name, size_t *index)
{
    size_t v = 0;
    if (strlen(name) != 6) return 0;
    for (int i = 0; i < 6; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        v = v * 10 + (size_t)(name[i] - '0');
    }
    *index = v;
    return 1;
}

/* The list, read by every rank from the same metadata. Not collective. */
static flexcl_code list_points(flexcl_spectrum *sp, size_t **points, size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    hid_t g = H5I_INVALID_HID;
    H5G_info_t gi;
    size_t *list = NULL, count = 0;
    int exists = 0;
    char name[64], full[128];

    FLEXCL_CALL(object_exists(sp->file, "points", &exists));
    FLEXCL_CHECK(exists, FLEXCL_ERR_DATA, "%s: not a flexcl results file (no /points group)",
                 sp->path);
    SPECTRUM_H5(g = H5Gopen2(sp->file, "points", H5P_DEFAULT), "%s: cannot open /points",
                sp->path);
    SPECTRUM_H5(H5Gget_info(g, &gi), "%s: cannot inspect /points", sp->path);
    FLEXCL_ALLOC(list, gi.nlinks);
    for (hsize_t k = 0; k < gi.nlinks; k++) {
        size_t index = 0;
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, name,
                                         sizeof name, H5P_DEFAULT);
        SPECTRUM_H5(len, "%s: cannot read the name of link %llu of /points", sp->path,
                    (unsigned long long)k);
        if ((size_t)len >= sizeof name || !point_name(name, &index)) continue;
        snprintf(full, sizeof full, "points/%s/samples/ghat", name);
        FLEXCL_CALL(object_exists(sp->file, full, &exists));
        if (exists) list[count++] = index;
    }
    *points = list;
    *n = count;
    list = NULL;
done:
    free(list);
    close_id(&g, H5Gclose, "group /points", &err);
    return err;
}

flexcl_code flexcl_spectrum_points(flexcl_spectrum *sp, size_t **points, size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    size_t *list = NULL, count = 0;

    if (sp == NULL || points == NULL || n == NULL)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "spectrum handle or output is NULL");
    *points = NULL;
    *n = 0;
    FLEXCL_CALL(agree(sp->comm, list_points(sp, &list, &count)));
    if (count == 0) {
        free(list);
        list = NULL;
    }
    *points = list;
    *n = count;
    list = NULL;
done:
    free(list);
    return err;
}

/* --- compute ----------------------------------------------------------------- */

typedef struct {
    int M, P;        /* samples, parameters */
    double b;        /* point attribute b, NaN when absent */
    int has_spectrum;
} point_shape;

/* Read a string attribute of obj into buf ("" when absent or not a string). */
static void read_string_attr(hid_t obj, const char *name, char *buf, size_t n)
{
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    char *v = NULL;
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) goto out;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0) goto out;
    if ((ft = H5Aget_type(a)) < 0 || H5Tget_class(ft) != H5T_STRING ||
        H5Tis_variable_str(ft) <= 0)
        goto out;
    /* The memory type carries the file's character set: HDF5 has no
     * conversion between ASCII and UTF-8 strings. */
    if ((mt = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
        H5Tset_cset(mt, H5Tget_cset(ft)) < 0)
        goto out;
    if (H5Aread(a, mt, &v) >= 0 && v != NULL) {
        snprintf(buf, n, "%s", v);
        H5free_memory(v);
    }
out:
    /* A description only: failures here are not errors. */
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    (void)H5Eclear2(H5E_DEFAULT);
}

/* The point's samples shape and what is already there. Same answer on every
 * rank (metadata reads). Not collective. */
static flexcl_code inspect_point(flexcl_spectrum *sp, size_t point, const char *group,
                                 point_shape *ps)
{
    flexcl_code err = FLEXCL_OK;
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hid_t type = H5I_INVALID_HID, a = H5I_INVALID_HID;
    hsize_t dims[2] = {0, 0};
    int exists = 0, ndims = 0;
    char name[128], experiment[64];

    ps->b = NAN;
    FLEXCL_CALL(object_exists(sp->file, "points", &exists));
    FLEXCL_CHECK(exists, FLEXCL_ERR_DATA, "%s: not a flexcl results file (no /points group)",
                 sp->path);
    FLEXCL_CALL(object_exists(sp->file, group, &exists));
    FLEXCL_CHECK(exists, FLEXCL_ERR_ARG, "%s: no grid point %zu (no group /%s)", sp->path,
                 point, group);
    SPECTRUM_H5(g = H5Gopen2(sp->file, group, H5P_DEFAULT), "%s: cannot open /%s",
                sp->path, group);
    snprintf(name, sizeof name, "%s/samples/ghat", group);
    FLEXCL_CALL(object_exists(sp->file, name, &exists));
    if (!exists) {
        read_string_attr(g, "experiment", experiment, sizeof experiment);
        FLEXCL_FAIL(FLEXCL_ERR_DATA,
                    "%s: grid point %zu has no raw samples (no /%s%s%s%s)", sp->path, point,
                    name, experiment[0] ? "; its experiment is " : "",
                    experiment[0] ? experiment : "",
                    experiment[0] ? ", spectra need isd_variance" : "");
    }
    SPECTRUM_H5(d = H5Dopen2(sp->file, name, H5P_DEFAULT), "%s: cannot open /%s",
                sp->path, name);
    SPECTRUM_H5(type = H5Dget_type(d), "/%s: cannot read its type", name);
    FLEXCL_CHECK(H5Tget_class(type) == H5T_FLOAT, FLEXCL_ERR_DATA,
                 "%s: /%s is not a floating-point dataset", sp->path, name);
    SPECTRUM_H5(space = H5Dget_space(d), "/%s: cannot read its shape", name);
    SPECTRUM_H5(ndims = H5Sget_simple_extent_ndims(space), "/%s: cannot read its rank",
                name);
    FLEXCL_CHECK(ndims == 2, FLEXCL_ERR_DATA, "%s: /%s has %d dimensions, expected [M, P]",
                 sp->path, name, ndims);
    SPECTRUM_H5(H5Sget_simple_extent_dims(space, dims, NULL), "/%s: cannot read its shape",
                name);
    FLEXCL_CHECK(dims[0] >= 2, FLEXCL_ERR_DATA,
                 "%s: /%s has %llu sample(s); a covariance needs at least 2", sp->path,
                 name, (unsigned long long)dims[0]);
    FLEXCL_CHECK(dims[1] >= 1, FLEXCL_ERR_DATA, "%s: /%s has no parameters", sp->path,
                 name);
    FLEXCL_CHECK(dims[0] <= INT_MAX && dims[1] <= INT_MAX, FLEXCL_ERR_DATA,
                 "%s: /%s is %llu x %llu; ScaLAPACK's 32-bit indices allow at most %d",
                 sp->path, name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                 INT_MAX);
    ps->M = (int)dims[0];
    ps->P = (int)dims[1];

    htri_t has_b = H5Aexists(g, "b");
    SPECTRUM_H5(has_b, "/%s: cannot look up attribute b", group);
    if (has_b) {
        SPECTRUM_H5(a = H5Aopen(g, "b", H5P_DEFAULT), "/%s: cannot open attribute b", group);
        SPECTRUM_H5(H5Aread(a, H5T_NATIVE_DOUBLE, &ps->b), "/%s: cannot read attribute b",
                    group);
    }
    snprintf(name, sizeof name, "%s/spectrum", group);
    FLEXCL_CALL(object_exists(sp->file, name, &ps->has_spectrum));
done:
    close_id(&a, H5Aclose, "attribute b", &err);
    close_id(&type, H5Tclose, "datatype", &err);
    close_id(&space, H5Sclose, "dataspace", &err);
    close_id(&d, H5Dclose, "samples dataset", &err);
    close_id(&g, H5Gclose, "point group", &err);
    return err;
}

/* Checks that need the point's shape; the same on every rank except the
 * local-size limits, which agree() then shares. Not collective. */
static flexcl_code check_point(const flexcl_spectrum *sp, size_t point,
                               const point_shape *ps)
{
    int mp = numroc(ps->P, sp->block, sp->my_row, sp->grid_rows);
    int nq = numroc(ps->P, sp->block, sp->my_col, sp->grid_cols);
    if (ps->has_spectrum && !sp->replace)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "%s: grid point %zu already has a spectrum (replace it "
                                "with --replace, settings.replace = 1)",
                                sp->path, point);
    if (sp->vectors > ps->P)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "settings.vectors = %d exceeds the %d parameters of grid "
                                "point %zu",
                                sp->vectors, ps->P, point);
    /* ScaLAPACK addresses local arrays with int; pdsyevd's workspace is
     * about twice the local share of C. */
    if ((double)(mp > 1 ? mp : 1) * (double)nq * 2.0 + 8.0 * ps->P > (double)INT_MAX)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "grid point %zu: P = %d on a %dx%d grid leaves %d x %d of "
                                "the covariance on one rank, beyond ScaLAPACK's 32-bit "
                                "local indices; use more ranks",
                                point, ps->P, sp->grid_rows, sp->grid_cols, mp, nq);
    /* The same for this rank's share of the samples, in both layouts. */
    int rows_line = (ps->M + sp->size - 1) / sp->size;
    int nq_m = numroc(ps->M, sp->block, sp->my_col, sp->grid_cols);
    if ((double)ps->P * rows_line > (double)INT_MAX ||
        (double)(mp > 1 ? mp : 1) * (double)nq_m > (double)INT_MAX)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "grid point %zu: %d samples of %d parameters leave more than "
                                "2^31 values on one rank, beyond ScaLAPACK's 32-bit local "
                                "indices; use more ranks",
                                point, ps->M, ps->P);
    return FLEXCL_OK;
}

/* Read rows [first, first + n) of the samples into y (row-major n x P,
 * i.e. column-major P x n). Collective (ranks with n = 0 select nothing). */
static flexcl_code read_rows(flexcl_spectrum *sp, const char *name, int first, int n,
                             int P, double *y)
{
    flexcl_code err = FLEXCL_OK;
    hid_t d = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hid_t dxpl = H5I_INVALID_HID;
    hsize_t start[2] = {(hsize_t)first, 0}, count[2] = {(hsize_t)n, (hsize_t)P};
    hsize_t one[1] = {1};

    SPECTRUM_H5(d = H5Dopen2(sp->file, name, H5P_DEFAULT), "%s: cannot open /%s",
                sp->path, name);
    SPECTRUM_H5(fspace = H5Dget_space(d), "/%s: cannot get its dataspace", name);
    if (n > 0) {
        SPECTRUM_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL),
                    "/%s: cannot select rows [%d, %d)", name, first, first + n);
        SPECTRUM_H5(mspace = H5Screate_simple(2, count, NULL),
                    "/%s: cannot create memory dataspace", name);
    } else {
        SPECTRUM_H5(H5Sselect_none(fspace), "/%s: cannot select nothing", name);
        SPECTRUM_H5(mspace = H5Screate_simple(1, one, NULL),
                    "/%s: cannot create memory dataspace", name);
        SPECTRUM_H5(H5Sselect_none(mspace), "/%s: cannot select nothing", name);
    }
    SPECTRUM_H5(dxpl = H5Pcreate(H5P_DATASET_XFER), "cannot create transfer list");
    SPECTRUM_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE),
                "cannot ask for collective I/O");
    SPECTRUM_H5(H5Dread(d, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, y),
                "%s: cannot read rows [%d, %d) of /%s", sp->path, first, first + n, name);
done:
    close_id(&dxpl, H5Pclose, "transfer list", &err);
    close_id(&mspace, H5Sclose, "memory dataspace", &err);
    close_id(&fspace, H5Sclose, "file dataspace", &err);
    close_id(&d, H5Dclose, "samples dataset", &err);
    return err;
}

/* Flip v so that its largest-magnitude component (the first of equals) is
 * positive: a convention that makes stored eigenvectors comparable between
 * runs and rank counts. */
static void fix_sign(double *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (fabs(v[i]) > fabs(v[best])) best = i;
    if (v[best] < 0)
        for (int i = 0; i < n; i++) v[i] = -v[i];
}

/* Everything written under the point, built as spectrum.partial and renamed.
 * Every rank calls with the same metadata; vectors holds this rank's rows
 * [v_first, v_first + v_n) of the K x P eigenvector matrix. Collective. */
typedef struct {
    const double *lambda;
    int P, M, K;
    const double *vectors;
    int v_first, v_n;
    double trace, participation_ratio, seconds;
    const char *time;
} spectrum_record;

static flexcl_code write_spectrum(flexcl_spectrum *sp, const char *group,
                                  const spectrum_record *rec)
{
    flexcl_code err = FLEXCL_OK;
    hid_t g = H5I_INVALID_HID;
    char partial[128], final[128], grid[64];
    int exists = 0;

    snprintf(partial, sizeof partial, "%s/spectrum.partial", group);
    snprintf(final, sizeof final, "%s/spectrum", group);
    snprintf(grid, sizeof grid, "%dx%d", sp->grid_rows, sp->grid_cols);

    /* A leftover of an interrupted run is never shown as a result. */
    FLEXCL_CALL(object_exists(sp->file, partial, &exists));
    if (exists)
        SPECTRUM_H5(H5Ldelete(sp->file, partial, H5P_DEFAULT),
                    "%s: cannot remove leftover /%s", sp->path, partial);
    SPECTRUM_H5(g = H5Gcreate2(sp->file, partial, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                "%s: cannot create group /%s", sp->path, partial);
    FLEXCL_CALL(write_rows(g, "eigenvalues", (size_t)rec->P, 1, 0,
                           sp->rank == 0 ? (size_t)rec->P : 0, rec->lambda));
    if (rec->K > 0)
        FLEXCL_CALL(write_rows(g, "eigenvectors", (size_t)rec->K, (size_t)rec->P,
                               (size_t)rec->v_first, (size_t)rec->v_n, rec->vectors));
    FLEXCL_CALL(attr_int(g, "samples", rec->M));
    FLEXCL_CALL(attr_int(g, "parameters", rec->P));
    FLEXCL_CALL(attr_string(g, "source", "samples/ghat"));
    FLEXCL_CALL(attr_string(g, "covariance",
                            "(X - mean)^T (X - mean) / (M - 1) of the M rows of X"));
    FLEXCL_CALL(attr_string(g, "grid", grid));
    FLEXCL_CALL(attr_int(g, "grid_rows", sp->grid_rows));
    FLEXCL_CALL(attr_int(g, "grid_cols", sp->grid_cols));
    FLEXCL_CALL(attr_int(g, "block", sp->block));
    FLEXCL_CALL(attr_int(g, "ranks", sp->size));
    FLEXCL_CALL(attr_int(g, "vectors", rec->K));
    FLEXCL_CALL(attr_string(g, "solver", "ScaLAPACK pdgemr2d + pdsyrk + pdsyevd"));
    FLEXCL_CALL(attr_double(g, "trace", rec->trace));
    FLEXCL_CALL(attr_double(g, "participation_ratio", rec->participation_ratio));
    FLEXCL_CALL(attr_string(g, "flexcl_version", flexcl_version()));
    FLEXCL_CALL(attr_string(g, "git_describe", flexcl_git_describe()));
    FLEXCL_CALL(attr_string(g, "time", rec->time));
    FLEXCL_CALL(attr_double(g, "seconds", rec->seconds));
    FLEXCL_CALL(attr_string(g, "command_line", sp->command_line));
    close_id(&g, H5Gclose, "spectrum group", &err);
    if (err != FLEXCL_OK) goto done;

    FLEXCL_CALL(object_exists(sp->file, final, &exists));
    if (exists)
        SPECTRUM_H5(H5Ldelete(sp->file, final, H5P_DEFAULT), "%s: cannot replace /%s",
                    sp->path, final);
    SPECTRUM_H5(H5Lmove(sp->file, partial, sp->file, final, H5P_DEFAULT, H5P_DEFAULT),
                "%s: cannot rename /%s to /%s", sp->path, partial, final);
    SPECTRUM_H5(H5Fflush(sp->file, H5F_SCOPE_GLOBAL), "%s: cannot flush", sp->path);
done:
    close_id(&g, H5Gclose, "spectrum group", &err);
    return err;
}

/* Shorthand: a local outcome all ranks agree on before the next collective. */
#define AGREE(local) FLEXCL_CALL(agree(sp->comm, (local)))

flexcl_code flexcl_spectrum_compute(flexcl_spectrum *sp, size_t point,
                                    flexcl_spectrum_info *info)
{
    flexcl_code err = FLEXCL_OK;
    const int one = 1;
    point_shape ps = {0, 0, NAN, 0};
    char group[64], samples[96], when[32] = "";
    double *y_line = NULL, *y_grid = NULL, *c = NULL, *z = NULL, *w = NULL;
    double *mean = NULL, *work = NULL, *v_line = NULL, *v_rows = NULL;
    int *iwork = NULL;
    int desc_yl[DLEN], desc_yg[DLEN], desc_c[DLEN], desc_z[DLEN], desc_vl[DLEN];
    double t[5] = {0, 0, 0, 0, 0}, tmax[5];
    double t0 = MPI_Wtime(), tick;

    if (sp == NULL)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "spectrum handle is NULL");
    if (info != NULL) memset(info, 0, sizeof *info);
    snprintf(group, sizeof group, "points/%06zu", point);
    snprintf(samples, sizeof samples, "%s/samples/ghat", group);

    AGREE(inspect_point(sp, point, group, &ps));
    AGREE(check_point(sp, point, &ps));
    const int P = ps.P, M = ps.M, K = sp->vectors, NB = sp->block;
    const int R = sp->size;

    /* 1. This rank's contiguous block of samples: column block line_col of
     *    the 1 x R layout of Y = X^T. */
    tick = MPI_Wtime();
    const int mb_line = ceil_div(M, R);
    const int m_loc = numroc(M, mb_line, sp->line_col, R);
    const int m_first = sp->line_col * mb_line;
    AGREE(alloc_matrix(&y_line, (size_t)P, (size_t)(m_loc > 0 ? m_loc : 1),
                       "the samples of this rank"));
    FLEXCL_CALL(agree(sp->comm, read_rows(sp, samples, m_first, m_loc, P, y_line)));
    /* Centre by the mean over all M samples (summed over ranks). */
    AGREE(alloc_matrix(&mean, (size_t)P, 1, "the column means"));
    for (int j = 0; j < m_loc; j++) {
        const double *row = y_line + (size_t)j * (size_t)P;
        for (int i = 0; i < P; i++) mean[i] += row[i];
    }
    FLEXCL_MPI(MPI_Allreduce(MPI_IN_PLACE, mean, P, MPI_DOUBLE, MPI_SUM, sp->comm));
    for (int i = 0; i < P; i++) mean[i] /= (double)M;
    for (int j = 0; j < m_loc; j++) {
        double *row = y_line + (size_t)j * (size_t)P;
        for (int i = 0; i < P; i++) row[i] -= mean[i];
    }
    free(mean);
    mean = NULL;
    t[0] = MPI_Wtime() - tick;

    /* 2. Block-cyclic Y on the grid, then C = Y Y^T / (M - 1) (lower). */
    tick = MPI_Wtime();
    const int mp = numroc(P, NB, sp->my_row, sp->grid_rows);
    const int nq_m = numroc(M, NB, sp->my_col, sp->grid_cols);
    const int nq_p = numroc(P, NB, sp->my_col, sp->grid_cols);
    AGREE(descriptor(desc_yl, P, M, P, mb_line, sp->ctx_line, P, "Y (line)"));
    AGREE(descriptor(desc_yg, P, M, NB, NB, sp->ctx_grid, mp, "Y (grid)"));
    AGREE(descriptor(desc_c, P, P, NB, NB, sp->ctx_grid, mp, "C"));
    AGREE(descriptor(desc_z, P, P, NB, NB, sp->ctx_grid, mp, "Z"));
    AGREE(alloc_matrix(&y_grid, (size_t)(mp > 0 ? mp : 1), (size_t)(nq_m > 0 ? nq_m : 1),
                       "the block-cyclic samples"));
    pdgemr2d_(&P, &M, y_line, &one, &one, desc_yl, y_grid, &one, &one, desc_yg,
              &sp->ctx_grid);
    free(y_line);
    y_line = NULL;
    AGREE(alloc_matrix(&c, (size_t)(mp > 0 ? mp : 1), (size_t)(nq_p > 0 ? nq_p : 1),
                       "the covariance"));
    {
        const double alpha = 1.0 / (double)(M - 1), beta = 0.0;
        pdsyrk_("L", "N", &P, &M, &alpha, y_grid, &one, &one, desc_yg, &beta, c, &one,
                &one, desc_c);
    }
    free(y_grid);
    y_grid = NULL;
    t[1] = MPI_Wtime() - tick;

    /* 3. pdsyevd: all eigenvalues on every rank, eigenvectors distributed. */
    tick = MPI_Wtime();
    {
        double wq = 0.0;
        int iq = 0, lwork = -1, liwork = -1, info_q = 0, info_e = 0;
        AGREE(alloc_matrix(&z, (size_t)(mp > 0 ? mp : 1), (size_t)(nq_p > 0 ? nq_p : 1),
                           "the eigenvectors"));
        AGREE(alloc_matrix(&w, (size_t)P, 1, "the eigenvalues"));
        double wo = 0.0;
        int info_o = 0;
        pdsyevd_("V", "L", &P, c, &one, &one, desc_c, w, z, &one, &one, desc_z, &wq,
                 &lwork, &iq, &liwork, &info_q, 1, 1);
        /* pdsyevd hands the back-transformation PDORMTR its workspace minus
         * the 2P doubles in front of it (WORK(INDD:)), but its own minimum
         * does not cover PDORMTR's when the local share of the matrix is
         * small against NB (a block larger than P, or P about NB on one
         * rank): PDORMTR then rejects LWORK (argument 16), pdsyevd ignores
         * that and returns info = 0 with Z never back-transformed. So ask
         * PDORMTR too, with the very arguments pdsyevd will pass. */
        pdormtr_("L", "L", "N", &P, &P, c, &one, &one, desc_c, w, z, &one, &one, desc_z,
                 &wo, &lwork, &info_o, 1, 1, 1);
        /* The documented minima, corrected where they come out short: the
         * divide-and-conquer merge (PDLAED1) lays out its two local
         * matrices with leading dimension max(NP, 1), so a rank that holds
         * columns but no rows (NP = 0, e.g. P < grid rows) needs
         * 2 * NQ doubles that 2 * NP * NQ does not count, and writes past
         * the end without them. */
        double np = (double)mp, nq = (double)nq_p, n = (double)P;
        double tri = 3.0 * n + fmax(NB * (np + 1.0), 3.0 * NB);
        double stedc = 1.0 + 6.0 * n + 2.0 * fmax(np, 1.0) * nq;
        double need = fmax(fmax(stedc, tri) + 2.0 * n, wq);
        need = fmax(need, 2.0 * n + wo);
        double ineed = fmax(7.0 * n + 8.0 * sp->grid_cols + 2.0, (double)iq);
        flexcl_code local = FLEXCL_OK;
        if (info_q != 0 || info_o != 0)
            local = flexcl_error_set(FLEXCL_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                                     "pdsyevd workspace query failed: info %d (pdormtr "
                                     "%d)",
                                     info_q, info_o);
        else if (need > (double)INT_MAX || ineed > (double)INT_MAX)
            local = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                     "grid point %zu: pdsyevd needs %.0f doubles of "
                                     "workspace on one rank, beyond 32-bit indices; use "
                                     "more ranks",
                                     point, need);
        else {
            lwork = (int)need;
            liwork = (int)ineed;
            local = alloc_matrix(&work, (size_t)lwork, 1, "pdsyevd's workspace");
            if (local == FLEXCL_OK) {
                iwork = calloc((size_t)liwork, sizeof *iwork);
                if (iwork == NULL)
                    local = flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__,
                                             __func__, "cannot allocate %d ints", liwork);
            }
        }
        AGREE(local);
        pdsyevd_("V", "L", &P, c, &one, &one, desc_c, w, z, &one, &one, desc_z, work,
                 &lwork, iwork, &liwork, &info_e, 1, 1);
        AGREE(info_e == 0 ? FLEXCL_OK
                          : flexcl_error_set(FLEXCL_ERR_NUMERIC, __FILE__, __LINE__,
                                             __func__,
                                             "grid point %zu: pdsyevd failed (info %d)",
                                             point, info_e));
    }
    free(work);
    work = NULL;
    free(iwork);
    iwork = NULL;
    free(c);
    c = NULL;
    /* Every rank holds all eigenvalues; rank 0's copy makes them bitwise
     * identical everywhere (they become attribute values). */
    FLEXCL_MPI(MPI_Bcast(w, P, MPI_DOUBLE, 0, sp->comm));
    {
        double *lambda = realloc(sp->lambda, (size_t)P * sizeof *lambda);
        AGREE(lambda != NULL ? FLEXCL_OK
                             : flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__,
                                                __func__, "cannot keep %d eigenvalues", P));
        sp->lambda = lambda;
        sp->n_lambda = 0;
        for (int i = 0; i < P; i++) sp->lambda[i] = w[P - 1 - i];
        sp->n_lambda = (size_t)P;
    }

    /* The K leading eigenvectors (the last K columns of Z, ascending order)
     * into column blocks of the line layout: whole vectors per rank. */
    int kb = 1, k_loc = 0, k_first = 0, v_first = 0;
    if (K > 0) {
        const int ja = P - K + 1;
        kb = ceil_div(K, R);
        k_loc = numroc(K, kb, sp->line_col, R);
        k_first = sp->line_col * kb;
        AGREE(descriptor(desc_vl, P, K, P, kb, sp->ctx_line, P, "eigenvectors (line)"));
        AGREE(alloc_matrix(&v_line, (size_t)P, (size_t)(k_loc > 0 ? k_loc : 1),
                           "this rank's eigenvectors"));
        pdgemr2d_(&P, &K, z, &one, &ja, desc_z, v_line, &one, &one, desc_vl,
                  &sp->ctx_grid);
        /* Local column j is eigenvalue index P - K + k_first + j ascending,
         * i.e. row K - 1 - k_first - j of the descending K x P dataset. */
        AGREE(alloc_matrix(&v_rows, (size_t)(k_loc > 0 ? k_loc : 1), (size_t)P,
                           "the eigenvector rows"));
        for (int r = 0; r < k_loc; r++) {
            memcpy(v_rows + (size_t)r * (size_t)P,
                   v_line + (size_t)(k_loc - 1 - r) * (size_t)P, (size_t)P * sizeof(double));
            fix_sign(v_rows + (size_t)r * (size_t)P, P);
        }
        v_first = k_loc > 0 ? K - k_first - k_loc : 0;
        free(v_line);
        v_line = NULL;
    }
    free(z);
    z = NULL;
    t[2] = MPI_Wtime() - tick;

    /* 4. Summaries, the same on every rank, and the group. */
    double trace = 0.0, squares = 0.0;
    for (int i = 0; i < P; i++) {
        trace += sp->lambda[i];
        squares += sp->lambda[i] * sp->lambda[i];
    }
    double pr = squares > 0.0 ? trace * trace / squares : 0.0;
    t[4] = MPI_Wtime() - t0;
    FLEXCL_MPI(MPI_Allreduce(t, tmax, 5, MPI_DOUBLE, MPI_MAX, sp->comm));
    if (sp->rank == 0) iso_time(time(NULL), when);
    FLEXCL_MPI(MPI_Bcast(when, (int)sizeof when, MPI_CHAR, 0, sp->comm));
    tick = MPI_Wtime();
    {
        spectrum_record rec = {sp->lambda, P, M, K, v_rows, v_first, k_loc,
                               trace, pr, tmax[4], when};
        FLEXCL_CALL(agree(sp->comm, write_spectrum(sp, group, &rec)));
    }
    t[3] = MPI_Wtime() - tick;
    t[4] = MPI_Wtime() - t0;
    FLEXCL_MPI(MPI_Allreduce(t, tmax, 5, MPI_DOUBLE, MPI_MAX, sp->comm));

    if (info != NULL) {
        info->point = point;
        info->samples = (size_t)M;
        info->parameters = (size_t)P;
        info->grid_rows = sp->grid_rows;
        info->grid_cols = sp->grid_cols;
        info->block = NB;
        info->vectors = K;
        info->b = ps.b;
        info->lambda_max = sp->lambda[0];
        info->trace = trace;
        info->participation_ratio = pr;
        info->seconds_read = tmax[0];
        info->seconds_covariance = tmax[1];
        info->seconds_eigen = tmax[2];
        info->seconds_write = tmax[3];
        info->seconds = tmax[4];
    }
done:
    free(y_line);
    free(y_grid);
    free(c);
    free(z);
    free(w);
    free(mean);
    free(work);
    free(iwork);
    free(v_line);
    free(v_rows);
    return err;
}
