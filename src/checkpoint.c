/* Within-grid-point checkpoints (see include/flexcl/checkpoint.h and
 * docs/checkpoint.md). Writing goes through flexcl_results (parallel HDF5,
 * "<path>.partial" renamed when complete); reading opens the file read-only
 * on every rank with HDF5's default (POSIX) driver. */
#include "flexcl/checkpoint.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "flexcl/results.h"

#define FORMAT_NAME "flexcl checkpoint"

struct flexcl_checkpoint {
    MPI_Comm comm;        /* our duplicate */
    char *path;
    flexcl_results *out;  /* writing */
    hid_t file;           /* reading */
};

void flexcl_checkpoint_path(const char *parts_dir, uint64_t point, char *buf, size_t n)
{
    snprintf(buf, n, "%s/point_%06llu.ckpt.h5", parts_dir, (unsigned long long)point);
}

flexcl_code flexcl_checkpoint_exists(MPI_Comm comm, const char *path, int *exists)
{
    flexcl_code err = FLEXCL_OK;
    int rank = 0, have = 0;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) have = access(path, F_OK) == 0;
    FLEXCL_MPI(MPI_Bcast(&have, 1, MPI_INT, 0, comm));
    *exists = have;
done:
    return err;
}

/* All ranks learn whether any failed; the ones that did not report it. */
static flexcl_code agree(MPI_Comm comm, flexcl_code local)
{
    int bad = local != FLEXCL_OK, any = 0;
    if (MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                                "MPI_Allreduce failed while agreeing on a checkpoint");
    if (any && !bad)
        return flexcl_error_set(FLEXCL_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                                "another rank failed to read or write the checkpoint");
    return local;
}

static flexcl_code new_handle(MPI_Comm comm, const char *path, flexcl_checkpoint **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_checkpoint *ck = NULL;
    FLEXCL_ALLOC(ck, 1);
    ck->comm = MPI_COMM_NULL;
    ck->file = H5I_INVALID_HID;
    FLEXCL_ALLOC(ck->path, strlen(path) + 1);
    strcpy(ck->path, path);
    FLEXCL_MPI(MPI_Comm_dup(comm, &ck->comm));
    *out = ck;
    ck = NULL;
done:
    if (ck) {
        free(ck->path);
        free(ck);
    }
    return err;
}

flexcl_code flexcl_checkpoint_create(MPI_Comm comm, const char *path, const char *job_hash,
                                     uint64_t point, const char *experiment,
                                     flexcl_checkpoint **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_checkpoint *ck = NULL;
    *out = NULL;
    FLEXCL_CALL(new_handle(comm, path, &ck));
    FLEXCL_CALL(flexcl_results_create(ck->comm, path, &ck->out));
    FLEXCL_CALL(flexcl_results_attr_string(ck->out, "/", "format", FORMAT_NAME));
    FLEXCL_CALL(flexcl_results_attr_int(ck->out, "/", "version", FLEXCL_CHECKPOINT_VERSION));
    FLEXCL_CALL(flexcl_results_attr_string(ck->out, "/", "job_hash", job_hash));
    FLEXCL_CALL(flexcl_results_attr_int(ck->out, "/", "point", (long long)point));
    FLEXCL_CALL(flexcl_results_attr_string(ck->out, "/", "experiment", experiment));
    *out = ck;
    ck = NULL;
done:
    flexcl_checkpoint_destroy(&ck);
    return err;
}

static flexcl_code check_writing(const flexcl_checkpoint *ck, const char *func)
{
    if (!ck || !ck->out)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                                "checkpoint handle is not open for writing");
    return FLEXCL_OK;
}

flexcl_code flexcl_checkpoint_write(flexcl_checkpoint *ck, const char *name, size_t rows,
                                    size_t cols, size_t first_row, size_t n_rows,
                                    const double *data)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_writing(ck, __func__));
    FLEXCL_CALL(flexcl_results_write_rows(ck->out, name, rows, cols, first_row, n_rows, data));
done:
    return err;
}

flexcl_code flexcl_checkpoint_write_u64(flexcl_checkpoint *ck, const char *name, size_t rows,
                                        size_t cols, size_t first_row, size_t n_rows,
                                        const uint64_t *data)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_writing(ck, __func__));
    FLEXCL_CALL(flexcl_results_write_rows_u64(ck->out, name, rows, cols, first_row, n_rows,
                                              data));
done:
    return err;
}

flexcl_code flexcl_checkpoint_set(flexcl_checkpoint *ck, const char *name, uint64_t value)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_writing(ck, __func__));
    FLEXCL_CHECK(value < (UINT64_C(1) << 63), FLEXCL_ERR_ARG,
                 "checkpoint attribute %s = %llu is too large", name, (unsigned long long)value);
    FLEXCL_CALL(flexcl_results_attr_int(ck->out, "/", name, (long long)value));
done:
    return err;
}

flexcl_code flexcl_checkpoint_commit(flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(check_writing(ck, __func__));
    FLEXCL_CALL(flexcl_results_finish(ck->out));
done:
    return err;
}

/* ---- reading -------------------------------------------------------------- */

/* A string attribute of the root into buf ("" when absent or not a string). */
static void root_string(hid_t file, const char *name, char *buf, size_t n)
{
    hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    buf[0] = '\0';
    if (H5Aexists(file, name) <= 0) return;
    a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0) return;
    t = H5Aget_type(a);
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        if (H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, n, "%s", s);
            H5free_memory(s);
        }
    }
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
}

static int root_int(hid_t file, const char *name, int64_t *v)
{
    if (H5Aexists(file, name) <= 0) return 0;
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0) return 0;
    int ok = H5Aread(a, H5T_NATIVE_INT64, v) >= 0;
    H5Aclose(a);
    return ok;
}

/* Open and check the identity of the file on this rank. */
static flexcl_code open_local(flexcl_checkpoint *ck, const char *job_hash, uint64_t point,
                              const char *experiment)
{
    flexcl_code err = FLEXCL_OK;
    char format[64], hash[64], exp[64];
    int64_t version = -1, pt = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    ck->file = H5Fopen(ck->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    FLEXCL_CHECK(ck->file >= 0, FLEXCL_ERR_DATA, "%s: cannot open the checkpoint as HDF5; remove "
                 "it to start the grid point over", ck->path);
    root_string(ck->file, "format", format, sizeof format);
    FLEXCL_CHECK(strcmp(format, FORMAT_NAME) == 0 && root_int(ck->file, "version", &version),
                 FLEXCL_ERR_DATA, "%s: not a flexcl checkpoint; remove it to start the grid point "
                 "over", ck->path);
    FLEXCL_CHECK(version == FLEXCL_CHECKPOINT_VERSION, FLEXCL_ERR_DATA,
                 "%s: checkpoint version %lld, this flexcl reads version %d; remove it to start "
                 "the grid point over", ck->path, (long long)version, FLEXCL_CHECKPOINT_VERSION);
    root_string(ck->file, "job_hash", hash, sizeof hash);
    FLEXCL_CHECK(strcmp(hash, job_hash) == 0, FLEXCL_ERR_JOB,
                 "%s: checkpoint of another job (job_hash %s, this run %s): the job file or --set "
                 "options changed since it was written; remove it to start the grid point over",
                 ck->path, hash[0] ? hash : "missing", job_hash);
    root_string(ck->file, "experiment", exp, sizeof exp);
    FLEXCL_CHECK(root_int(ck->file, "point", &pt) && pt == (int64_t)point &&
                     strcmp(exp, experiment) == 0,
                 FLEXCL_ERR_JOB, "%s: checkpoint of grid point %lld (%s), expected point %llu (%s); "
                 "remove it to start the grid point over", ck->path, (long long)pt, exp,
                 (unsigned long long)point, experiment);
done:
    return err;
}

flexcl_code flexcl_checkpoint_open(MPI_Comm comm, const char *path, const char *job_hash,
                                   uint64_t point, const char *experiment,
                                   flexcl_checkpoint **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_checkpoint *ck = NULL;
    *out = NULL;
    FLEXCL_CALL(new_handle(comm, path, &ck));
    FLEXCL_CALL(agree(ck->comm, open_local(ck, job_hash, point, experiment)));
    *out = ck;
    ck = NULL;
done:
    flexcl_checkpoint_destroy(&ck);
    return err;
}

static flexcl_code read_rows(flexcl_checkpoint *ck, const char *name, size_t cols,
                             size_t first_row, size_t n_rows, hid_t mtype, void *out)
{
    flexcl_code err = FLEXCL_OK;
    hid_t ds = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    FLEXCL_CHECK(ck && ck->file >= 0, FLEXCL_ERR_ARG, "checkpoint handle is not open for reading");
    if (n_rows == 0) goto done;
    ds = H5Dopen2(ck->file, name, H5P_DEFAULT);
    FLEXCL_CHECK(ds >= 0, FLEXCL_ERR_DATA, "%s: checkpoint has no dataset %s", ck->path, name);
    fs = H5Dget_space(ds);
    FLEXCL_H5(fs, "%s: cannot read the shape of %s", ck->path, name);
    hsize_t dims[2] = {0, 1};
    int nd = H5Sget_simple_extent_ndims(fs);
    FLEXCL_CHECK(nd == 1 || nd == 2, FLEXCL_ERR_DATA, "%s: %s is not a table", ck->path, name);
    H5Sget_simple_extent_dims(fs, dims, NULL);
    if (nd == 1) dims[1] = 1;
    FLEXCL_CHECK(dims[1] == cols && dims[0] >= first_row + n_rows, FLEXCL_ERR_DATA,
                 "%s: %s has shape %llux%llu, expected rows [%zu, %zu) of width %zu", ck->path,
                 name, (unsigned long long)dims[0], (unsigned long long)dims[1], first_row,
                 first_row + n_rows, cols);
    hsize_t start[2] = {first_row, 0}, count[2] = {n_rows, cols};
    FLEXCL_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL),
              "%s: cannot select rows of %s", ck->path, name);
    ms = H5Screate_simple(nd, count, NULL);
    FLEXCL_H5(ms, "%s: cannot make a memory space for %s", ck->path, name);
    FLEXCL_H5(H5Dread(ds, mtype, ms, fs, H5P_DEFAULT, out), "%s: cannot read %s", ck->path, name);
done:
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (ds >= 0) H5Dclose(ds);
    return err;
}

flexcl_code flexcl_checkpoint_read(flexcl_checkpoint *ck, const char *name, size_t cols,
                                   size_t first_row, size_t n_rows, double *out)
{
    return read_rows(ck, name, cols, first_row, n_rows, H5T_NATIVE_DOUBLE, out);
}

flexcl_code flexcl_checkpoint_read_u64(flexcl_checkpoint *ck, const char *name, size_t cols,
                                       size_t first_row, size_t n_rows, uint64_t *out)
{
    return read_rows(ck, name, cols, first_row, n_rows, H5T_NATIVE_UINT64, out);
}

flexcl_code flexcl_checkpoint_get(flexcl_checkpoint *ck, const char *name, uint64_t *value)
{
    flexcl_code err = FLEXCL_OK;
    int64_t v = 0;
    FLEXCL_CHECK(ck && ck->file >= 0, FLEXCL_ERR_ARG, "checkpoint handle is not open for reading");
    FLEXCL_CHECK(root_int(ck->file, name, &v) && v >= 0, FLEXCL_ERR_DATA,
                 "%s: checkpoint has no attribute %s", ck->path, name);
    *value = (uint64_t)v;
done:
    return err;
}

const char *flexcl_checkpoint_file(const flexcl_checkpoint *ck) { return ck ? ck->path : NULL; }

void flexcl_checkpoint_destroy(flexcl_checkpoint **ckp)
{
    if (!ckp || !*ckp) return;
    flexcl_checkpoint *ck = *ckp;
    flexcl_results_destroy(&ck->out); /* removes an uncommitted partial file */
    if (ck->file >= 0) H5Fclose(ck->file);
    if (ck->comm != MPI_COMM_NULL) MPI_Comm_free(&ck->comm);
    free(ck->path);
    free(ck);
    *ckp = NULL;
}

flexcl_code flexcl_checkpoint_remove(MPI_Comm comm, const char *path)
{
    flexcl_code err = FLEXCL_OK;
    int rank = 0, problem = 0;
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0 && unlink(path) != 0 && errno != ENOENT) problem = errno;
    FLEXCL_MPI(MPI_Bcast(&problem, 1, MPI_INT, 0, comm));
    FLEXCL_CHECK(problem == 0, FLEXCL_ERR_IO, "%s: cannot remove the checkpoint: %s", path,
                 strerror(problem));
done:
    return err;
}
