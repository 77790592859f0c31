/* The HDF5 results file, written with parallel HDF5 (MPI-IO driver).
 *
 * Every public function here is collective on the handle's communicator.
 * Each one first checks its arguments locally, lets the ranks agree on the
 * outcome, and only then makes HDF5 calls, which are themselves collective;
 * before returning the ranks agree again, so a rank that failed never leaves
 * the others waiting in a later collective call. When ranks disagree, the
 * ranks that did not fail report the failing rank's message.
 *
 * A full disk is the one failure that agreement after a call cannot catch:
 * when a write fails on one rank inside a collective HDF5 call, the others
 * wait in that call for ever. So before every call that can write, rank 0
 * reserves the disk blocks the file can grow into (reserve()), and the ranks
 * agree on the outcome first: a full disk fails that reservation, on every
 * rank, before HDF5 writes anything. */
#include "flexcl/results.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "check.h"
#include "flexcl/provenance.h"

struct flexcl_results {
    MPI_Comm comm;  /* our duplicate of the caller's communicator */
    int rank;
    int size;
    hid_t file;     /* open while writing; H5I_INVALID_HID after close */
    char *path;     /* final path */
    char *partial;  /* path ".partial" */
    int created;    /* the partial file was created by this handle */
    int finished;   /* renamed to the final path */
    int fd;         /* rank 0: the partial file, to reserve disk space for it; else -1 */
    unsigned long long reserved; /* rank 0: bytes [0, reserved) of it have disk blocks */
    unsigned long long holes;    /* bytes allocated to unfiltered chunks and never written */
};

enum {
    MESSAGE_MAX = 1024,
    HINT_MAX = 4200, /* space_hint: a directory and a number */
    /* Target size of one uncompressed chunk. */
    CHUNK_BYTES = 1 << 20,
    /* What a call may add to the file besides its data (object headers,
     * B-tree nodes, heap blocks, HDF5's 2 KiB allocation blocks), and the
     * step in which disk space is reserved. */
    RESERVE_MARGIN = 1 << 16,
};

/* --- HDF5 error reporting ------------------------------------------------ */

/* H5Ewalk2 callback: keep the innermost description (walking upward, the
 * first frame is the innermost one). */
static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n == 0 && e->desc != NULL) snprintf(buf, MESSAGE_MAX, "%s", e->desc);
    return 0;
}

/* HDF5's innermost reason for the last failure on this thread ("" if none);
 * clears HDF5's error stack. */
static void h5_reason(char why[MESSAGE_MAX])
{
    why[0] = '\0';
    /* Best effort: failing to describe a failure must not hide it. */
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, why);
    (void)H5Eclear2(H5E_DEFAULT);
}

/* Record an HDF5 failure: our message, then HDF5's own innermost reason. */
static flexcl_code h5_fail(const char *file, int line, const char *func,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static flexcl_code h5_fail(const char *file, int line, const char *func,
                           const char *fmt, ...)
{
    char what[MESSAGE_MAX];
    char why[MESSAGE_MAX];
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

/* Like FLEXCL_H5, with HDF5's own reason appended to the message. */
#define RESULTS_H5(call, ...)                                                  \
    do {                                                                       \
        if ((long long)(call) < 0) {                                           \
            err = h5_fail(__FILE__, __LINE__, __func__, __VA_ARGS__);          \
            goto done;                                                         \
        }                                                                      \
    } while (0)

/* Close an HDF5 identifier if valid; remember the first failure in *err
 * without overwriting an earlier error. */
static void close_id(hid_t *id, herr_t (*closer)(hid_t), const char *what,
                     const char *name, flexcl_code *err)
{
    if (*id < 0) return;
    if (closer(*id) < 0 && *err == FLEXCL_OK)
        *err = h5_fail(__FILE__, __LINE__, __func__, "%s: cannot close %s",
                       name, what);
    *id = H5I_INVALID_HID;
}

/* --- agreement between ranks --------------------------------------------- */

/* All ranks learn whether any rank failed. The highest code wins (lowest rank
 * among equals); ranks that did not fail adopt that code and the failing
 * rank's message, so every rank reports the same thing. Collective. */
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

/* Is s the same on every rank (compared by length and FNV-1a hash)? Catches
 * callers that break the "every rank passes the same value" rule before the
 * file's metadata diverges between ranks. Collective. */
static flexcl_code same_everywhere(MPI_Comm comm, const char *s, int *same)
{
    flexcl_code err = FLEXCL_OK;
    unsigned long long len = strlen(s), h = 1469598103934665603ULL;
    unsigned long long mine[2], lo[2];
    unsigned long long hi[2];

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL; /* FNV-1a */
    mine[0] = len;
    mine[1] = h;
    FLEXCL_MPI(MPI_Allreduce(mine, lo, 2, MPI_UNSIGNED_LONG_LONG, MPI_MIN, comm));
    FLEXCL_MPI(MPI_Allreduce(mine, hi, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm));
    *same = lo[0] == hi[0] && lo[1] == hi[1];
done:
    return err;
}

/* --- paths ---------------------------------------------------------------- */

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

/* The directory part of path ("." when there is none). */
static void directory_of(const char *path, char *dir, size_t dir_size)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(dir, dir_size, ".");
    else if (slash == path)
        snprintf(dir, dir_size, "/");
    else
        snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);
}

/* errno-style reason why no file can be created in directory dir, 0 if one
 * can. */
static int directory_problem(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    if (access(dir, W_OK | X_OK) != 0) return errno;
    return 0;
}

/* Does every component of an absolute or relative HDF5 path exist? Checks
 * component by component because H5Lexists fails when a parent is missing. */
static flexcl_code object_exists(hid_t file, const char *name, int *exists)
{
    flexcl_code err = FLEXCL_OK;
    char *buf = NULL;
    size_t n = strlen(name);

    *exists = 1;
    FLEXCL_ALLOC(buf, n + 1);
    for (size_t i = 1; i <= n && *exists; i++) {
        if (i < n && name[i] != '/') continue;
        if (name[i - 1] == '/') continue; /* "/" itself or "a//b" */
        memcpy(buf, name, i);
        buf[i] = '\0';
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        RESULTS_H5(e, "%s: cannot check whether it exists", buf);
        *exists = e > 0;
    }
done:
    free(buf);
    return err;
}

static flexcl_code check_handle(const flexcl_results *r, const char *func)
{
    if (r == NULL)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                                "results handle is NULL");
    if (r->file < 0)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                                "%s: results file is already closed", r->path);
    return FLEXCL_OK;
}

/* --- create / finish / destroy --------------------------------------------- */

flexcl_code flexcl_results_create(MPI_Comm comm, const char *path,
                                  flexcl_results **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_results *r = NULL;
    hid_t fapl = H5I_INVALID_HID;
    int problem = 0, same = 0;
    char dir[4096], why[MESSAGE_MAX];

    if (out == NULL)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "out is NULL");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "results path is %s", path ? "empty" : "NULL");

    FLEXCL_ALLOC(r, 1);
    r->comm = MPI_COMM_NULL;
    r->file = H5I_INVALID_HID;
    r->fd = -1;
    FLEXCL_MPI(MPI_Comm_dup(comm, &r->comm));
    FLEXCL_MPI(MPI_Comm_rank(r->comm, &r->rank));
    FLEXCL_MPI(MPI_Comm_size(r->comm, &r->size));

    r->path = dup_string(path);
    r->partial = malloc(strlen(path) + sizeof ".partial");
    FLEXCL_CHECK(r->path != NULL && r->partial != NULL, FLEXCL_ERR_NOMEM,
                 "%s: cannot allocate the path", path);
    sprintf(r->partial, "%s.partial", path);

    FLEXCL_CALL(same_everywhere(r->comm, path, &same));
    FLEXCL_CHECK(same, FLEXCL_ERR_ARG, "%s: ranks passed different results paths",
                 path);
    /* One rank looks at the file system; everybody gets the answer. */
    directory_of(path, dir, sizeof dir);
    if (r->rank == 0) problem = directory_problem(dir);
    FLEXCL_MPI(MPI_Bcast(&problem, 1, MPI_INT, 0, r->comm));
    FLEXCL_CHECK(problem == 0, FLEXCL_ERR_IO,
                 "%s: cannot create results file: directory %s: %s", path, dir,
                 strerror(problem));

    /* The library's own error printing would bypass our reporting. */
    RESULTS_H5(H5Eset_auto2(H5E_DEFAULT, NULL, NULL),
               "%s: cannot turn off HDF5 error printing", path);

    RESULTS_H5(fapl = H5Pcreate(H5P_FILE_ACCESS), "%s: cannot create file access list",
               path);
    RESULTS_H5(H5Pset_fapl_mpio(fapl, r->comm, MPI_INFO_NULL),
               "%s: cannot select the MPI-IO driver", path);
    /* The 1.8 format or later. String attributes are variable-length and
     * live in the global heap, but any attribute over 64 KiB of fixed size
     * needs the dense attribute storage that only this format has. */
    RESULTS_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST),
               "%s: cannot set the file format version", path);
    r->file = H5Fcreate(r->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (r->file < 0) {
        h5_reason(why);
        FLEXCL_FAIL(FLEXCL_ERR_IO, "%s: cannot create results file: %s", path,
                    why[0] ? why : "H5Fcreate failed");
    }
    r->created = 1;
    /* Rank 0's own descriptor of the file, through which it reserves the
     * disk space the file grows into (reserve()). */
    if (r->rank == 0) {
        r->fd = open(r->partial, O_WRONLY | O_CLOEXEC);
        FLEXCL_CHECK(r->fd >= 0, FLEXCL_ERR_IO, "%s: cannot open results file: %s",
                     r->partial, strerror(errno));
    }

done:
    close_id(&fapl, H5Pclose, "file access list", path, &err);
    /* Creating the file is collective, so failures there are shared; the
     * agreement covers the local steps before it. */
    if (r != NULL && r->comm != MPI_COMM_NULL) err = agree(r->comm, err);
    if (err != FLEXCL_OK) {
        flexcl_results_destroy(&r);
        return err;
    }
    *out = r;
    return FLEXCL_OK;
}

/* When the file system that holds the results file is (nearly) full, say
 * so in hint (MPI-IO reports a full disk as a bare "I/O error"); else "". */
static void space_hint(const flexcl_results *r, char *hint, size_t n)
{
    char dir[4096];
    struct statvfs vfs;
    hint[0] = '\0';
    directory_of(r->path, dir, sizeof dir);
    if (statvfs(dir, &vfs) != 0) return;
    const unsigned long long free_bytes =
        (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize;
    if (free_bytes < (1ULL << 20))
        snprintf(hint, n, "; no space left on device: the file system of %s has %llu bytes free",
                 dir, free_bytes);
}

/* Rank 0's half of reserve(): allocate the disk blocks of [0, want) of the
 * file, want = a bound on HDF5's end of allocated space + more +
 * RESERVE_MARGIN, rounded up to RESERVE_MARGIN. fallocate with
 * FALLOC_FL_KEEP_SIZE leaves the file's size, and so what HDF5 sees and
 * writes, as it is. A file system that cannot reserve (no fallocate) gets
 * a check that the space is free instead, which another program can still
 * use up before the write. Not collective. */
static flexcl_code reserve_local(flexcl_results *r, unsigned long long more)
{
    size_t cache_max = 0, cache_min_clean = 0, cache_size = 0;
    int cache_entries = 0;
    struct stat st;
    struct statvfs vfs;
    char dir[4096];
    int e = EOPNOTSUPP;

    /* HDF5 writes below its end of allocated space, which it does not tell
     * (H5Fget_eoa refuses the MPI-IO driver, and H5Fget_filesize fails once
     * the driver has written). What lies beyond the end of the file's data
     * on disk is metadata not yet written, all of it in the metadata cache,
     * the parts of unfiltered chunks past their dataset's end (r->holes),
     * and a part of HDF5's 2 KiB allocation blocks (in RESERVE_MARGIN). */
    if (H5Fget_mdc_size(r->file, &cache_max, &cache_min_clean, &cache_size, &cache_entries) < 0)
        return h5_fail(__FILE__, __LINE__, __func__, "%s: cannot read the metadata cache's size",
                       r->partial);
    const off_t end = lseek(r->fd, 0, SEEK_END);
    if (end < 0)
        return flexcl_error_set(FLEXCL_ERR_IO, __FILE__, __LINE__, __func__,
                                "%s: cannot read the file's size: %s", r->partial, strerror(errno));
    const unsigned long long size = (unsigned long long)end + cache_size + r->holes;
    /* Beyond 2^62 bytes no file system goes: say so without overflowing. */
    const unsigned long long huge = 1ULL << 62;
    unsigned long long want = huge;
    if (size < huge && more < huge) {
        want = size + more + 2ULL * RESERVE_MARGIN - 1;
        want -= want % RESERVE_MARGIN;
        if (want <= r->reserved) return FLEXCL_OK;
#ifdef FALLOC_FL_KEEP_SIZE
        if (fallocate(r->fd, FALLOC_FL_KEEP_SIZE, (off_t)r->reserved,
                      (off_t)(want - r->reserved)) == 0) {
            r->reserved = want;
            return FLEXCL_OK;
        }
        e = errno;
#endif
    } else {
        e = EFBIG;
    }
    directory_of(r->path, dir, sizeof dir);
    const int have_stats = fstat(r->fd, &st) == 0 && statvfs(dir, &vfs) == 0;
    const unsigned long long used = have_stats ? (unsigned long long)st.st_blocks * 512ULL : 0;
    const unsigned long long free_bytes =
        have_stats ? (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize : 0;
    const unsigned long long missing = want > used ? want - used : 0;
    if (e != ENOSPC && e != EDQUOT && e != EFBIG) {
        /* No reservation on this file system: check the free space. */
        if (!have_stats || missing <= free_bytes) return FLEXCL_OK;
        e = ENOSPC;
    }
    if (!have_stats)
        return flexcl_error_set(FLEXCL_ERR_NOSPACE, __FILE__, __LINE__, __func__,
                                "%s: cannot write results file: %s", r->partial, strerror(e));
    return flexcl_error_set(FLEXCL_ERR_NOSPACE, __FILE__, __LINE__, __func__,
                            "%s: cannot write results file: %s (reserving %llu more bytes for "
                            "it failed; the file system of %s has %llu bytes free)",
                            r->partial, strerror(e), missing, dir, free_bytes);
}

/* Make sure that the disk has room for everything the next HDF5 call can
 * write into the file: the space HDF5 has allocated so far, `more` bytes
 * of data and RESERVE_MARGIN of metadata. On a full disk (or quota) every
 * rank fails here with FLEXCL_ERR_NOSPACE and one message, before any
 * collective write: a write failing on one rank inside a collective HDF5
 * call leaves the other ranks waiting in it for ever. Collective. */
static flexcl_code reserve(flexcl_results *r, unsigned long long more)
{
    flexcl_code err = FLEXCL_OK;
    if (r->rank == 0) err = reserve_local(r, more);
    return agree(r->comm, err);
}

/* Give back the disk space of the partial file before HDF5 closes it: a
 * file whose close fails (on a full disk, say) is left half-closed inside
 * HDF5 1.10, which then crashes when the library shuts down. With the
 * space back, the close (which writes the metadata) succeeds, and the
 * worthless file is removed afterwards. Collective. */
static void release_partial(flexcl_results *r)
{
    (void)MPI_Barrier(r->comm);
    if (r->rank == 0) (void)truncate(r->partial, 0);
    r->reserved = 0;
    (void)MPI_Barrier(r->comm);
}

/* Rank 0 closes its descriptor of the file, first giving back the disk
 * blocks reserved beyond the file's end (truncating a file to its own size
 * frees blocks allocated past it). Best effort: a failure leaves only
 * unused blocks behind. Not collective. */
static void drop_reservation(flexcl_results *r)
{
    if (r->fd < 0) return;
    const off_t end = lseek(r->fd, 0, SEEK_END);
    if (end >= 0) (void)ftruncate(r->fd, end);
    (void)close(r->fd);
    r->fd = -1;
    r->reserved = 0;
}

flexcl_code flexcl_results_finish(flexcl_results *r)
{
    flexcl_code err = FLEXCL_OK;
    int problem = 0;
    char hint[HINT_MAX];

    FLEXCL_CALL(check_handle(r, __func__));
    /* Write everything first; only a file that is on disk in full is
     * closed and renamed. The disk space for the metadata that the flush
     * writes is reserved before it (a failed write inside the flush would
     * leave the other ranks waiting in it). */
    err = reserve(r, 0);
    if (err == FLEXCL_OK && H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0) {
        space_hint(r, hint, sizeof hint);
        err = h5_fail(__FILE__, __LINE__, __func__, "%s: cannot write results file%s",
                      r->partial, hint);
    }
    err = agree(r->comm, err);
    if (err != FLEXCL_OK) {
        release_partial(r);
        if (H5Fclose(r->file) < 0) (void)H5Eclear2(H5E_DEFAULT);
        r->file = H5I_INVALID_HID;
        goto done;
    }
    /* Never try the close twice, and agree even when it failed here only. */
    if (H5Fclose(r->file) < 0) {
        space_hint(r, hint, sizeof hint);
        err = h5_fail(__FILE__, __LINE__, __func__, "%s: cannot close results file%s",
                      r->partial, hint);
    }
    r->file = H5I_INVALID_HID;
    FLEXCL_CALL(agree(r->comm, err));

    /* H5Fclose closed the MPI-IO file collectively: every rank's writes are
     * complete before rank 0 gives back the space reserved past the file's
     * end and renames it. */
    drop_reservation(r);
    if (r->rank == 0 && rename(r->partial, r->path) != 0) problem = errno;
    FLEXCL_MPI(MPI_Bcast(&problem, 1, MPI_INT, 0, r->comm));
    FLEXCL_CHECK(problem == 0, FLEXCL_ERR_IO, "%s: cannot rename to %s: %s",
                 r->partial, r->path, strerror(problem));
    r->finished = 1;
done:
    return err;
}

void flexcl_results_destroy(flexcl_results **rp)
{
    if (rp == NULL || *rp == NULL) return;
    flexcl_results *r = *rp;

    if (r->file >= 0) {
        /* An unfinished file is thrown away: give its space back first, so
         * that the (collective) close cannot fail on a full disk. */
        if (r->created && !r->finished && r->comm != MPI_COMM_NULL) release_partial(r);
        if (H5Fclose(r->file) < 0) (void)H5Eclear2(H5E_DEFAULT);
        r->file = H5I_INVALID_HID;
    }
    drop_reservation(r);
    if (r->created && !r->finished && r->comm != MPI_COMM_NULL) {
        /* Every rank has closed its view of the file before it goes. */
        (void)MPI_Barrier(r->comm);
        if (r->rank == 0) (void)unlink(r->partial);
    }
    if (r->comm != MPI_COMM_NULL) (void)MPI_Comm_free(&r->comm);
    free(r->path);
    free(r->partial);
    free(r);
    *rp = NULL;
}

const char *flexcl_results_path(const flexcl_results *r)
{
    return r != NULL ? r->path : NULL;
}

/* --- groups ---------------------------------------------------------------- */

flexcl_code flexcl_results_group(flexcl_results *r, const char *group)
{
    flexcl_code err = FLEXCL_OK;
    hid_t lcpl = H5I_INVALID_HID, g = H5I_INVALID_HID;
    int exists = 0;

    FLEXCL_CALL(check_handle(r, __func__));
    if (group == NULL || group[0] == '\0')
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                               "group name is %s", group ? "empty" : "NULL");
    FLEXCL_CALL(agree(r->comm, err));
    FLEXCL_CALL(reserve(r, 0));

    FLEXCL_CALL(object_exists(r->file, group, &exists));
    if (exists) {
        H5O_info_t info;
        RESULTS_H5(H5Oget_info_by_name2(r->file, group, &info, H5O_INFO_BASIC,
                                        H5P_DEFAULT),
                   "%s: cannot inspect existing object", group);
        FLEXCL_CHECK(info.type == H5O_TYPE_GROUP, FLEXCL_ERR_ARG,
                     "%s: exists and is not a group", group);
    } else {
        RESULTS_H5(lcpl = H5Pcreate(H5P_LINK_CREATE),
                   "%s: cannot create link creation list", group);
        RESULTS_H5(H5Pset_create_intermediate_group(lcpl, 1),
                   "%s: cannot ask for intermediate groups", group);
        RESULTS_H5(g = H5Gcreate2(r->file, group, lcpl, H5P_DEFAULT, H5P_DEFAULT),
                   "%s: cannot create group", group);
    }
done:
    if (r != NULL) {
        close_id(&g, H5Gclose, "group", group, &err);
        close_id(&lcpl, H5Pclose, "link creation list", group, &err);
        if (r->file >= 0) err = agree(r->comm, err);
    }
    return err;
}

/* --- attributes ------------------------------------------------------------ */

/* Write one scalar attribute of file type ftype from value in memory type
 * mtype, replacing an existing attribute of the same name; bytes is the
 * value's size in the file (a string's length). */
static flexcl_code write_attr(flexcl_results *r, const char *object,
                              const char *name, hid_t ftype, hid_t mtype,
                              const void *value, size_t bytes, const char *func)
{
    flexcl_code err = FLEXCL_OK;
    hid_t obj = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    htri_t exists = 0;

    FLEXCL_CALL(check_handle(r, func));
    if (object == NULL || object[0] == '\0' || name == NULL || name[0] == '\0')
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                               "attribute %s on object %s: name is empty or NULL",
                               name ? name : "(NULL)", object ? object : "(NULL)");
    FLEXCL_CALL(agree(r->comm, err));
    FLEXCL_CALL(reserve(r, bytes));

    RESULTS_H5(obj = H5Oopen(r->file, object, H5P_DEFAULT),
               "%s: cannot open object to set attribute %s", object, name);
    RESULTS_H5(exists = H5Aexists(obj, name), "%s: cannot look up attribute %s",
               object, name);
    if (exists)
        RESULTS_H5(H5Adelete(obj, name), "%s: cannot replace attribute %s", object,
                   name);
    RESULTS_H5(space = H5Screate(H5S_SCALAR), "%s: cannot create dataspace for %s",
               object, name);
    RESULTS_H5(attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT),
               "%s: cannot create attribute %s", object, name);
    RESULTS_H5(H5Awrite(attr, mtype, value), "%s: cannot write attribute %s", object,
               name);
done:
    if (r != NULL) {
        close_id(&attr, H5Aclose, "attribute", name, &err);
        close_id(&space, H5Sclose, "dataspace", name, &err);
        close_id(&obj, H5Oclose, "object", object, &err);
        if (r->file >= 0) err = agree(r->comm, err);
    }
    return err;
}

flexcl_code flexcl_results_attr_string(flexcl_results *r, const char *object,
                                       const char *name, const char *value)
{
    flexcl_code err = FLEXCL_OK;
    hid_t type = H5I_INVALID_HID;
    int same = 0;

    FLEXCL_CALL(check_handle(r, __func__));
    if (value == NULL)
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                               "%s: value of attribute %s is NULL",
                               object ? object : "(NULL)", name ? name : "(NULL)");
    FLEXCL_CALL(agree(r->comm, err));
    FLEXCL_CALL(same_everywhere(r->comm, value, &same));
    FLEXCL_CHECK(same, FLEXCL_ERR_ARG,
                 "%s: ranks passed different values for attribute %s",
                 object ? object : "(NULL)", name ? name : "(NULL)");

    /* Variable-length UTF-8: read back as str by h5py, any length. */
    RESULTS_H5(type = H5Tcopy(H5T_C_S1), "cannot create string type");
    RESULTS_H5(H5Tset_size(type, H5T_VARIABLE), "cannot size string type");
    RESULTS_H5(H5Tset_cset(type, H5T_CSET_UTF8), "cannot set UTF-8 on string type");
    FLEXCL_CALL(write_attr(r, object, name, type, type, &value, strlen(value) + 1, __func__));
done:
    close_id(&type, H5Tclose, "string type", "attribute", &err);
    return err;
}

flexcl_code flexcl_results_attr_double(flexcl_results *r, const char *object,
                                       const char *name, double value)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(write_attr(r, object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                           &value, sizeof value, __func__));
done:
    return err;
}

flexcl_code flexcl_results_attr_int(flexcl_results *r, const char *object,
                                    const char *name, long long value)
{
    flexcl_code err = FLEXCL_OK;
    int64_t v = (int64_t)value;
    FLEXCL_CALL(write_attr(r, object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v,
                           sizeof v, __func__));
done:
    return err;
}

/* --- datasets -------------------------------------------------------------- */

/* Shared by the double and uint64 writers. */
static flexcl_code write_rows(flexcl_results *r, const char *dataset, size_t rows,
                              size_t cols, size_t first_row, size_t n_rows,
                              const void *data, hid_t ftype, hid_t mtype,
                              size_t elem_size, flexcl_compression comp,
                              const char *func)
{
    flexcl_code err = FLEXCL_OK;
    hid_t lcpl = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    int exists = 0, same = 0;
    int ndims = cols == 1 ? 1 : 2;
    hsize_t dims[2] = {rows, cols}, chunk[2], start[2] = {first_row, 0};
    hsize_t count[2] = {n_rows, cols}, one[2] = {1, 1};
    unsigned long long shape[4], lo[4], hi[4], data_bytes = 0, tail = 0;
    static const double dummy = 0.0; /* a non-NULL buffer for empty writes */

    FLEXCL_CALL(check_handle(r, func));
    if (dataset == NULL || dataset[0] == '\0')
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                               "dataset name is %s", dataset ? "empty" : "NULL");
    else if (cols == 0)
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                               "%s: cols = 0 is not allowed", dataset);
    else if (first_row > rows || n_rows > rows - first_row)
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                               "%s: rows [%zu, %zu) outside the dataset's %zu rows",
                               dataset, first_row, first_row + n_rows, rows);
    else if (n_rows > 0 && data == NULL)
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                               "%s: data is NULL for %zu rows", dataset, n_rows);
    else if (comp != FLEXCL_COMPRESSION_DEFLATE && comp != FLEXCL_COMPRESSION_NONE)
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                               "%s: unknown compression %d", dataset, (int)comp);
    else if (rows > 0 && cols > SIZE_MAX / rows / elem_size)
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, func,
                               "%s: %zu x %zu values overflow", dataset, rows, cols);
    FLEXCL_CALL(agree(r->comm, err));

    /* The shape must be the same everywhere, or the metadata diverges. */
    shape[0] = rows;
    shape[1] = cols;
    shape[2] = (unsigned long long)comp;
    shape[3] = 0;
    FLEXCL_MPI(MPI_Allreduce(shape, lo, 4, MPI_UNSIGNED_LONG_LONG, MPI_MIN, r->comm));
    FLEXCL_MPI(MPI_Allreduce(shape, hi, 4, MPI_UNSIGNED_LONG_LONG, MPI_MAX, r->comm));
    FLEXCL_CHECK(lo[0] == hi[0] && lo[1] == hi[1], FLEXCL_ERR_ARG,
                 "%s: ranks passed different shapes (rows %llu..%llu, cols %llu..%llu)",
                 dataset, lo[0], hi[0], lo[1], hi[1]);
    FLEXCL_CHECK(lo[2] == hi[2], FLEXCL_ERR_ARG, "%s: ranks passed different compressions",
                 dataset);
    FLEXCL_CALL(same_everywhere(r->comm, dataset, &same));
    FLEXCL_CHECK(same, FLEXCL_ERR_ARG, "%s: ranks passed different dataset names",
                 dataset);
    if (rows > 0) {
        /* Chunks of whole rows up to about 1 MiB; a longer row is split into
         * 1 MiB pieces. Compressed chunks need collective writes (below). */
        size_t row_bytes = cols * elem_size;
        if (row_bytes <= CHUNK_BYTES) {
            size_t per = CHUNK_BYTES / row_bytes;
            chunk[0] = per < rows ? per : rows;
            chunk[1] = cols;
        } else {
            chunk[0] = 1;
            chunk[1] = CHUNK_BYTES / elem_size;
        }
        /* What the data takes in the file at most: parallel HDF5 allocates
         * every chunk whole (the rows or columns past the dataset's end
         * included), and deflate can grow an incompressible chunk a little
         * (1/64 covers that and the chunk index). */
        data_bytes = (unsigned long long)((rows + chunk[0] - 1) / chunk[0]) *
                     ((cols + chunk[1] - 1) / chunk[1]) * chunk[0] * chunk[1] * elem_size;
        /* Unfiltered chunks are written only as far as the data goes. */
        if (comp == FLEXCL_COMPRESSION_NONE)
            tail = data_bytes - (unsigned long long)rows * cols * elem_size;
    }
    FLEXCL_CALL(reserve(r, data_bytes + data_bytes / 64));
    r->holes += tail;

    FLEXCL_CALL(object_exists(r->file, dataset, &exists));
    FLEXCL_CHECK(!exists, FLEXCL_ERR_ARG, "%s: dataset already exists", dataset);

    RESULTS_H5(fspace = H5Screate_simple(ndims, dims, NULL),
               "%s: cannot create file dataspace", dataset);
    RESULTS_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE),
               "%s: cannot create dataset creation list", dataset);
    if (rows > 0) {
        RESULTS_H5(H5Pset_chunk(dcpl, ndims, chunk), "%s: cannot set chunking", dataset);
        if (comp == FLEXCL_COMPRESSION_DEFLATE) {
            RESULTS_H5(H5Pset_shuffle(dcpl), "%s: cannot set shuffle filter", dataset);
            RESULTS_H5(H5Pset_deflate(dcpl, 1), "%s: cannot set deflate filter", dataset);
        } else {
            /* Every row is written below: writing fill values first (parallel
             * HDF5 allocates every chunk at creation) would double the I/O. */
            RESULTS_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER),
                       "%s: cannot switch fill values off", dataset);
        }
    }
    RESULTS_H5(lcpl = H5Pcreate(H5P_LINK_CREATE),
               "%s: cannot create link creation list", dataset);
    RESULTS_H5(H5Pset_create_intermediate_group(lcpl, 1),
               "%s: cannot ask for intermediate groups", dataset);
    RESULTS_H5(dset = H5Dcreate2(r->file, dataset, ftype, fspace, lcpl, dcpl,
                                 H5P_DEFAULT),
               "%s: cannot create %zu x %zu dataset", dataset, rows, cols);

    if (rows > 0) {
        /* Ranks without rows select nothing but still join the collective
         * write, which parallel HDF5 requires for filtered datasets. */
        if (n_rows > 0) {
            RESULTS_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count,
                                           NULL),
                       "%s: cannot select rows [%zu, %zu)", dataset, first_row,
                       first_row + n_rows);
            RESULTS_H5(mspace = H5Screate_simple(ndims, count, NULL),
                       "%s: cannot create memory dataspace", dataset);
        } else {
            RESULTS_H5(H5Sselect_none(fspace), "%s: cannot select no rows", dataset);
            RESULTS_H5(mspace = H5Screate_simple(ndims, one, NULL),
                       "%s: cannot create memory dataspace", dataset);
            RESULTS_H5(H5Sselect_none(mspace), "%s: cannot select no values", dataset);
            data = &dummy;
        }
        RESULTS_H5(dxpl = H5Pcreate(H5P_DATASET_XFER),
                   "%s: cannot create transfer list", dataset);
        /* Filtered chunks need a collective write. Unfiltered ones go
         * straight to their place in the file, so each rank writes its rows
         * independently: no two-phase exchange between ranks (measured on
         * 216 MB of samples from 2 ranks: 10-15% faster than collective). */
        RESULTS_H5(H5Pset_dxpl_mpio(dxpl, comp == FLEXCL_COMPRESSION_NONE
                                              ? H5FD_MPIO_INDEPENDENT
                                              : H5FD_MPIO_COLLECTIVE),
                   "%s: cannot choose the MPI-IO transfer mode", dataset);
        if (H5Dwrite(dset, mtype, mspace, fspace, dxpl, data) < 0) {
            char hint[HINT_MAX];
            space_hint(r, hint, sizeof hint);
            err = h5_fail(__FILE__, __LINE__, __func__, "%s: cannot write rows [%zu, %zu)%s",
                          dataset, first_row, first_row + n_rows, hint);
            goto done;
        }
    }
done:
    if (r != NULL) {
        close_id(&dset, H5Dclose, "dataset", dataset, &err);
        close_id(&dxpl, H5Pclose, "transfer list", dataset, &err);
        close_id(&mspace, H5Sclose, "memory dataspace", dataset, &err);
        close_id(&fspace, H5Sclose, "file dataspace", dataset, &err);
        close_id(&lcpl, H5Pclose, "link creation list", dataset, &err);
        close_id(&dcpl, H5Pclose, "dataset creation list", dataset, &err);
        if (r->file >= 0) err = agree(r->comm, err);
    }
    return err;
}

flexcl_code flexcl_results_write_rows(flexcl_results *r, const char *dataset,
                                      size_t rows, size_t cols, size_t first_row,
                                      size_t n_rows, const double *data)
{
    return flexcl_results_write_rows_as(r, dataset, rows, cols, first_row, n_rows, data,
                                        FLEXCL_COMPRESSION_DEFLATE);
}

flexcl_code flexcl_results_write_rows_as(flexcl_results *r, const char *dataset,
                                         size_t rows, size_t cols, size_t first_row,
                                         size_t n_rows, const double *data,
                                         flexcl_compression c)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(write_rows(r, dataset, rows, cols, first_row, n_rows, data,
                           H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sizeof(double), c,
                           __func__));
done:
    return err;
}

flexcl_code flexcl_results_write_rows_u64(flexcl_results *r, const char *dataset,
                                          size_t rows, size_t cols, size_t first_row,
                                          size_t n_rows, const uint64_t *data)
{
    return flexcl_results_write_rows_u64_as(r, dataset, rows, cols, first_row, n_rows, data,
                                            FLEXCL_COMPRESSION_DEFLATE);
}

flexcl_code flexcl_results_write_rows_u64_as(flexcl_results *r, const char *dataset,
                                             size_t rows, size_t cols, size_t first_row,
                                             size_t n_rows, const uint64_t *data,
                                             flexcl_compression c)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(write_rows(r, dataset, rows, cols, first_row, n_rows, data,
                           H5T_STD_U64LE, H5T_NATIVE_UINT64, sizeof(uint64_t), c,
                           __func__));
done:
    return err;
}

int flexcl_results_rank(const flexcl_results *r) { return r != NULL ? r->rank : -1; }

/* ---- reading and copying another results file ---------------------------- */

/* Limits on what a source file may hold: they keep a damaged or hostile
 * file from making a copy recurse forever, allocate absurd amounts or walk
 * millions of objects. flexcl's own files are far inside them. */
enum {
    COPY_MAX_DEPTH = 32,        /* group nesting below the copied group */
    COPY_MAX_OBJECTS = 1000000, /* groups and datasets in one copy */
};
/* Values in one copied dataset: 2^31 doubles (16 GiB). */
static const unsigned long long COPY_MAX_VALUES = 1ULL << 31;

typedef struct {
    char **names;
    H5L_type_t *types; /* link type of each name (links only) */
    size_t n, cap;
} name_list;

static herr_t collect_name(const char *name, H5L_type_t type, name_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **p = realloc(l->names, cap * sizeof *p);
        if (!p) return -1;
        l->names = p;
        H5L_type_t *t = realloc(l->types, cap * sizeof *t);
        if (!t) return -1;
        l->types = t;
        l->cap = cap;
    }
    l->types[l->n] = type;
    l->names[l->n] = dup_string(name);
    return l->names[l->n++] ? 0 : -1;
}

static herr_t collect_link(hid_t loc, const char *name, const H5L_info_t *info, void *data)
{
    (void)loc;
    return collect_name(name, info->type, data);
}

static herr_t collect_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)loc;
    (void)info;
    return collect_name(name, H5L_TYPE_HARD, data);
}

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; ++i) free(l->names[i]);
    free(l->names);
    free(l->types);
    memset(l, 0, sizeof *l);
}

/* Fail unless attribute a (named name, of object `what` in file) holds
 * exactly one value: a scalar or a one-element array. Reading an array into
 * one value would overrun the buffer. */
static flexcl_code attr_is_single(hid_t a, const char *file, const char *what,
                                  const char *name)
{
    flexcl_code err = FLEXCL_OK;
    hid_t sp = H5Aget_space(a);
    RESULTS_H5(sp, "%s: cannot read the shape of attribute %s of %s", file, name, what);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    FLEXCL_CHECK(n == 1, FLEXCL_ERR_DATA,
                 "%s: attribute %s of %s holds %lld values; flexcl writes one",
                 file, name, what, (long long)n);
done:
    return err;
}

/* Read string attribute a (one value, variable or fixed length) into a new
 * NUL-terminated string (*out, malloc'd). */
static flexcl_code read_string_attr(hid_t a, hid_t t, const char *file,
                                    const char *what, const char *name, char **out)
{
    flexcl_code err = FLEXCL_OK;
    hid_t mt = H5I_INVALID_HID;
    char *vl = NULL, *value = NULL;
    *out = NULL;
    htri_t var = H5Tis_variable_str(t);
    RESULTS_H5(var, "%s: cannot inspect attribute %s of %s", file, name, what);
    RESULTS_H5(mt = H5Tcopy(H5T_C_S1), "cannot create string type");
    if (var > 0) {
        RESULTS_H5(H5Tset_size(mt, H5T_VARIABLE), "cannot size string type");
        RESULTS_H5(H5Tset_cset(mt, H5Tget_cset(t)), "cannot set string encoding");
        RESULTS_H5(H5Aread(a, mt, &vl), "%s: cannot read attribute %s of %s", file,
                   name, what);
        value = dup_string(vl ? vl : "");
        FLEXCL_CHECK(value != NULL, FLEXCL_ERR_NOMEM, "out of memory");
    } else {
        size_t n = H5Tget_size(t);
        FLEXCL_CHECK(n > 0 && n < ((size_t)1 << 30), FLEXCL_ERR_DATA,
                     "%s: attribute %s of %s has a string size of %zu bytes", file,
                     name, what, n);
        RESULTS_H5(H5Tset_size(mt, n), "cannot size string type");
        RESULTS_H5(H5Tset_strpad(mt, H5T_STR_NULLTERM), "cannot pad string type");
        RESULTS_H5(H5Tset_cset(mt, H5Tget_cset(t)), "cannot set string encoding");
        FLEXCL_ALLOC(value, n + 1);
        RESULTS_H5(H5Aread(a, mt, value), "%s: cannot read attribute %s of %s", file,
                   name, what);
        value[n] = '\0';
    }
    *out = value;
    value = NULL;
done:
    if (vl != NULL) H5free_memory(vl);
    free(value);
    if (mt >= 0) H5Tclose(mt);
    return err;
}

/* Copy every attribute of src_obj (open id) onto dst object `dst`. */
static flexcl_code copy_attrs(flexcl_results *r, hid_t obj, const char *src_file, const char *dst)
{
    flexcl_code err = FLEXCL_OK;
    name_list names = {0};
    hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID;
    char *value = NULL;
    hsize_t idx = 0;
    RESULTS_H5(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &names),
               "%s: cannot list the attributes of %s", src_file, dst);
    for (size_t i = 0; i < names.n; ++i) {
        const char *name = names.names[i];
        a = H5Aopen(obj, name, H5P_DEFAULT);
        RESULTS_H5(a, "%s: cannot open attribute %s of %s", src_file, name, dst);
        t = H5Aget_type(a);
        RESULTS_H5(t, "%s: cannot read the type of attribute %s", src_file, name);
        FLEXCL_CALL(attr_is_single(a, src_file, dst, name));
        H5T_class_t cls = H5Tget_class(t);
        if (cls == H5T_STRING) {
            FLEXCL_CALL(read_string_attr(a, t, src_file, dst, name, &value));
            FLEXCL_CALL(flexcl_results_attr_string(r, dst, name, value));
            free(value);
            value = NULL;
        } else if (cls == H5T_FLOAT) {
            double v = 0;
            RESULTS_H5(H5Aread(a, H5T_NATIVE_DOUBLE, &v), "%s: cannot read attribute %s", src_file,
                       name);
            FLEXCL_CALL(flexcl_results_attr_double(r, dst, name, v));
        } else if (cls == H5T_INTEGER) {
            long long v = 0;
            RESULTS_H5(H5Aread(a, H5T_NATIVE_LLONG, &v), "%s: cannot read attribute %s", src_file,
                       name);
            FLEXCL_CALL(flexcl_results_attr_int(r, dst, name, v));
        } else {
            FLEXCL_FAIL(FLEXCL_ERR_DATA, "%s: attribute %s of %s has a type flexcl does not write",
                        src_file, name, dst);
        }
        H5Tclose(t);
        t = H5I_INVALID_HID;
        H5Aclose(a);
        a = H5I_INVALID_HID;
    }
done:
    free(value);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    names_free(&names);
    return err;
}

/* Fail unless every chunk of the chunked dataset ds is stored: parallel
 * HDF5 allocates all chunks when the dataset is created and flexcl writes
 * every row, so a missing chunk means a file that was cut short. */
static flexcl_code all_chunks_stored(hid_t ds, hid_t sp, int nd, const hsize_t *dims,
                                     const char *src_file, const char *dst)
{
    flexcl_code err = FLEXCL_OK;
    hid_t dcpl = H5Dget_create_plist(ds);
    RESULTS_H5(dcpl, "%s: cannot read the creation properties of %s", src_file, dst);
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t chunk[2] = {1, 1}, n_chunks = 0, want = 1;
        FLEXCL_CHECK(H5Pget_chunk(dcpl, nd, chunk) == nd, FLEXCL_ERR_DATA,
                     "%s: cannot read the chunk shape of %s", src_file, dst);
        for (int k = 0; k < nd; ++k) {
            FLEXCL_CHECK(chunk[k] > 0, FLEXCL_ERR_DATA, "%s: %s has an empty chunk shape",
                         src_file, dst);
            want *= (dims[k] + chunk[k] - 1) / chunk[k];
        }
        RESULTS_H5(H5Dget_num_chunks(ds, sp, &n_chunks), "%s: cannot count the chunks of %s",
                   src_file, dst);
        FLEXCL_CHECK(n_chunks == want, FLEXCL_ERR_DATA,
                     "%s: %s is incomplete: %llu of its %llu chunks are stored (a file "
                     "cut short?)",
                     src_file, dst, (unsigned long long)n_chunks, (unsigned long long)want);
    }
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    return err;
}

static flexcl_code copy_dataset(flexcl_results *r, hid_t ds, const char *src_file, const char *dst)
{
    flexcl_code err = FLEXCL_OK;
    hid_t sp = H5I_INVALID_HID, t = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    flexcl_compression comp = FLEXCL_COMPRESSION_DEFLATE;
    void *buf = NULL;
    sp = H5Dget_space(ds);
    RESULTS_H5(sp, "%s: cannot read the shape of %s", src_file, dst);
    hsize_t dims[2] = {0, 1};
    int nd = H5Sget_simple_extent_ndims(sp);
    FLEXCL_CHECK(nd == 1 || nd == 2, FLEXCL_ERR_DATA, "%s: %s has %d dimensions, expected 1 or 2",
                 src_file, dst, nd);
    RESULTS_H5(H5Sget_simple_extent_dims(sp, dims, NULL), "%s: cannot read the shape of %s",
               src_file, dst);
    FLEXCL_CHECK(dims[0] <= COPY_MAX_VALUES && dims[1] <= COPY_MAX_VALUES &&
                     (dims[1] == 0 || dims[0] <= COPY_MAX_VALUES / dims[1]),
                 FLEXCL_ERR_DATA, "%s: %s has %llu x %llu values, more than flexcl copies (%llu)",
                 src_file, dst, (unsigned long long)dims[0], (unsigned long long)dims[1],
                 COPY_MAX_VALUES);
    size_t rows = (size_t)dims[0], cols = nd == 2 ? (size_t)dims[1] : 1;
    FLEXCL_CHECK(cols > 0, FLEXCL_ERR_DATA, "%s: %s has no columns", src_file, dst);
    t = H5Dget_type(ds);
    RESULTS_H5(t, "%s: cannot read the type of %s", src_file, dst);
    H5T_class_t cls = H5Tget_class(t);
    FLEXCL_CHECK(cls == H5T_FLOAT || cls == H5T_INTEGER, FLEXCL_ERR_DATA,
                 "%s: %s has a type flexcl does not write", src_file, dst);
    if (rows > 0) FLEXCL_CALL(all_chunks_stored(ds, sp, nd, dims, src_file, dst));
    /* A dataset stored without filters (run.sample_compression = none)
     * stays so; everything else is deflated as flexcl writes it. */
    dcpl = H5Dget_create_plist(ds);
    RESULTS_H5(dcpl, "%s: cannot read the creation properties of %s", src_file, dst);
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        int nf = H5Pget_nfilters(dcpl);
        RESULTS_H5(nf, "%s: cannot read the filters of %s", src_file, dst);
        if (nf == 0) comp = FLEXCL_COMPRESSION_NONE;
    }
    buf = malloc((rows * cols > 0 ? rows * cols : 1) * 8);
    FLEXCL_CHECK(buf != NULL, FLEXCL_ERR_NOMEM, "cannot allocate %zu values to copy %s", rows * cols, dst);
    if (rows * cols > 0)
        RESULTS_H5(H5Dread(ds, cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE : H5T_NATIVE_UINT64, H5S_ALL,
                           H5S_ALL, H5P_DEFAULT, buf),
                   "%s: cannot read %s", src_file, dst);
    /* Every rank read the same values; rank 0 supplies them. */
    size_t mine = r->rank == 0 ? rows : 0;
    if (cls == H5T_FLOAT)
        FLEXCL_CALL(flexcl_results_write_rows_as(r, dst, rows, cols, 0, mine, buf, comp));
    else
        FLEXCL_CALL(flexcl_results_write_rows_u64_as(r, dst, rows, cols, 0, mine, buf, comp));
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    free(buf);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    return err;
}

/* The objects a copy has entered (hard links may form cycles). */
typedef struct {
#if H5_VERSION_GE(1, 12, 0)
    H5O_token_t *seen;
#else
    haddr_t *seen;
#endif
    size_t n, cap;
    size_t objects; /* groups and datasets copied so far */
    hid_t file;
} copy_walk;

/* 1 when the object behind info was entered before, else remember it. */
static int walk_seen(copy_walk *w, const H5O_info_t *info, int *nomem)
{
    for (size_t i = 0; i < w->n; ++i) {
#if H5_VERSION_GE(1, 12, 0)
        int cmp = 1;
        if (H5Otoken_cmp(w->file, &w->seen[i], &info->token, &cmp) >= 0 && cmp == 0) return 1;
#else
        if (w->seen[i] == info->addr) return 1;
#endif
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        void *p = realloc(w->seen, cap * sizeof *w->seen);
        if (p == NULL) {
            *nomem = 1;
            return 0;
        }
        w->seen = p;
        w->cap = cap;
    }
#if H5_VERSION_GE(1, 12, 0)
    w->seen[w->n++] = info->token;
#else
    w->seen[w->n++] = info->addr;
#endif
    return 0;
}

/* Copy group `src` (open id) into `dst` recursively. */
static flexcl_code copy_group(flexcl_results *r, hid_t src, const char *src_file, const char *dst,
                              copy_walk *w, int depth)
{
    flexcl_code err = FLEXCL_OK;
    name_list names = {0};
    hid_t child = H5I_INVALID_HID;
    char *path = NULL;
    hsize_t idx = 0;
    FLEXCL_CHECK(depth <= COPY_MAX_DEPTH, FLEXCL_ERR_DATA,
                 "%s: %s: groups nest deeper than %d levels; not a flexcl file", src_file, dst,
                 COPY_MAX_DEPTH);
    if (strcmp(dst, "/") != 0) FLEXCL_CALL(flexcl_results_group(r, dst));
    FLEXCL_CALL(copy_attrs(r, src, src_file, dst));
    RESULTS_H5(H5Literate(src, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &names),
               "%s: cannot list the members of %s", src_file, dst);
    for (size_t i = 0; i < names.n; ++i) {
        size_t n = strlen(dst) + strlen(names.names[i]) + 2;
        free(path);
        FLEXCL_ALLOC(path, n);
        snprintf(path, n, "%s%s%s", dst, strcmp(dst, "/") == 0 ? "" : "/", names.names[i]);
        /* Soft and external links would lead elsewhere, even to other files. */
        FLEXCL_CHECK(names.types[i] == H5L_TYPE_HARD, FLEXCL_ERR_DATA,
                     "%s: %s is %s link; flexcl writes only plain groups and datasets",
                     src_file, path, names.types[i] == H5L_TYPE_SOFT ? "a soft" : "an external");
        FLEXCL_CHECK(++w->objects <= COPY_MAX_OBJECTS, FLEXCL_ERR_DATA,
                     "%s: more than %d objects to copy; not a flexcl file", src_file,
                     COPY_MAX_OBJECTS);
        H5O_info_t info;
        int nomem = 0;
        RESULTS_H5(H5Oget_info_by_name2(src, names.names[i], &info, H5O_INFO_BASIC, H5P_DEFAULT),
                   "%s: cannot inspect %s", src_file, path);
        FLEXCL_CHECK(!walk_seen(w, &info, &nomem), FLEXCL_ERR_DATA,
                     "%s: %s links back to an object copied before (a cycle or a shared "
                     "object); not a flexcl file",
                     src_file, path);
        FLEXCL_CHECK(!nomem, FLEXCL_ERR_NOMEM, "out of memory");
        if (info.type == H5O_TYPE_GROUP) {
            child = H5Gopen2(src, names.names[i], H5P_DEFAULT);
            RESULTS_H5(child, "%s: cannot open group %s", src_file, path);
            FLEXCL_CALL(copy_group(r, child, src_file, path, w, depth + 1));
            H5Gclose(child);
        } else if (info.type == H5O_TYPE_DATASET) {
            child = H5Dopen2(src, names.names[i], H5P_DEFAULT);
            RESULTS_H5(child, "%s: cannot open dataset %s", src_file, path);
            FLEXCL_CALL(copy_dataset(r, child, src_file, path));
            FLEXCL_CALL(copy_attrs(r, child, src_file, path));
            H5Dclose(child);
        } else {
            FLEXCL_FAIL(FLEXCL_ERR_DATA, "%s: %s is neither a group nor a dataset", src_file,
                        path);
        }
        child = H5I_INVALID_HID;
    }
done:
    if (child >= 0) H5Oclose(child);
    free(path);
    names_free(&names);
    return err;
}

/* Open path read-only, checking that it is a flexcl results file of this
 * schema version: a schema_version attribute on "/", when there is one,
 * must equal FLEXCL_SCHEMA_VERSION (grid-point parts carry none). */
static flexcl_code open_source(const char *path, hid_t *out)
{
    flexcl_code err = FLEXCL_OK;
    hid_t f = H5I_INVALID_HID, a = H5I_INVALID_HID, t = H5I_INVALID_HID;
    *out = H5I_INVALID_HID;
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FLEXCL_CHECK(path != NULL, FLEXCL_ERR_ARG, "source path is NULL");
    struct stat st;
    FLEXCL_CHECK(stat(path, &st) == 0, FLEXCL_ERR_DATA, "%s: cannot open results file: %s", path,
                 strerror(errno));
    FLEXCL_CHECK(S_ISREG(st.st_mode), FLEXCL_ERR_DATA,
                 "%s: cannot open results file: not a regular file", path);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        char why[MESSAGE_MAX];
        h5_reason(why);
        FLEXCL_FAIL(FLEXCL_ERR_DATA,
                    "%s: not a readable HDF5 file (truncated or damaged?)%s%s%s", path,
                    why[0] ? " (HDF5: " : "", why, why[0] ? ")" : "");
    }
    htri_t has = H5Aexists(f, "schema_version");
    RESULTS_H5(has, "%s: cannot look for schema_version", path);
    if (has > 0) {
        long long v = -1;
        RESULTS_H5(a = H5Aopen(f, "schema_version", H5P_DEFAULT),
                   "%s: cannot open attribute schema_version", path);
        FLEXCL_CALL(attr_is_single(a, path, "/", "schema_version"));
        RESULTS_H5(t = H5Aget_type(a), "%s: cannot read the type of schema_version", path);
        FLEXCL_CHECK(H5Tget_class(t) == H5T_INTEGER, FLEXCL_ERR_DATA,
                     "%s: schema_version is not an integer", path);
        RESULTS_H5(H5Aread(a, H5T_NATIVE_LLONG, &v), "%s: cannot read schema_version", path);
        FLEXCL_CHECK(v == FLEXCL_SCHEMA_VERSION, FLEXCL_ERR_DATA,
                     "%s: schema_version is %lld; this flexcl reads schema version %d", path, v,
                     FLEXCL_SCHEMA_VERSION);
    }
    *out = f;
    f = H5I_INVALID_HID;
done:
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (f >= 0) H5Fclose(f);
    return err;
}

flexcl_code flexcl_results_copy_tree(flexcl_results *r, const char *src_path, const char *src_group,
                                     const char *dst_group)
{
    flexcl_code err = FLEXCL_OK;
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    copy_walk w = {0};
    FLEXCL_CALL(check_handle(r, __func__));
    FLEXCL_CHECK(src_group != NULL && dst_group != NULL && dst_group[0] != '\0', FLEXCL_ERR_ARG,
                 "copy_tree: group name is NULL or empty");
    FLEXCL_CALL(open_source(src_path, &f));
    w.file = f;
    g = H5Gopen2(f, src_group, H5P_DEFAULT);
    if (g < 0) (void)H5Eclear2(H5E_DEFAULT);
    FLEXCL_CHECK(g >= 0, FLEXCL_ERR_DATA, "%s: no group %s", src_path, src_group);
    FLEXCL_CALL(copy_group(r, g, src_path, dst_group, &w, 0));
done:
    free(w.seen);
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    if (r == NULL) return err;
    return agree(r->comm, err);
}

flexcl_code flexcl_results_read_attr_string(const char *path, const char *object, const char *name,
                                            char *buf, size_t n)
{
    flexcl_code err = FLEXCL_OK;
    hid_t f = H5I_INVALID_HID, a = H5I_INVALID_HID, t = H5I_INVALID_HID;
    char *value = NULL;
    FLEXCL_CHECK(object != NULL && name != NULL && buf != NULL && n > 0, FLEXCL_ERR_ARG,
                 "read_attr_string: NULL argument");
    buf[0] = '\0';
    FLEXCL_CALL(open_source(path, &f));
    a = H5Aopen_by_name(f, object, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) (void)H5Eclear2(H5E_DEFAULT);
    FLEXCL_CHECK(a >= 0, FLEXCL_ERR_DATA, "%s: no attribute %s on %s", path, name, object);
    RESULTS_H5(t = H5Aget_type(a), "%s: cannot read the type of attribute %s", path, name);
    FLEXCL_CHECK(H5Tget_class(t) == H5T_STRING, FLEXCL_ERR_DATA,
                 "%s: attribute %s on %s is not a string", path, name, object);
    FLEXCL_CALL(attr_is_single(a, path, object, name));
    FLEXCL_CALL(read_string_attr(a, t, path, object, name, &value));
    snprintf(buf, n, "%s", value);
done:
    free(value);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (f >= 0) H5Fclose(f);
    return err;
}

flexcl_code flexcl_results_copy_attrs(flexcl_results *r, const char *src_path, const char *src_object,
                                      const char *dst_object)
{
    flexcl_code err = FLEXCL_OK;
    hid_t f = H5I_INVALID_HID, o = H5I_INVALID_HID;
    FLEXCL_CALL(check_handle(r, __func__));
    FLEXCL_CHECK(src_object != NULL && dst_object != NULL, FLEXCL_ERR_ARG,
                 "copy_attrs: object name is NULL");
    FLEXCL_CALL(open_source(src_path, &f));
    o = H5Oopen(f, src_object, H5P_DEFAULT);
    if (o < 0) (void)H5Eclear2(H5E_DEFAULT);
    FLEXCL_CHECK(o >= 0, FLEXCL_ERR_DATA, "%s: no object %s", src_path, src_object);
    FLEXCL_CALL(copy_attrs(r, o, src_path, dst_object));
done:
    if (o >= 0) H5Oclose(o);
    if (f >= 0) H5Fclose(f);
    if (r == NULL) return err;
    return agree(r->comm, err);
}

flexcl_code flexcl_results_check_file(const char *path, const char *job_hash)
{
    flexcl_code err = FLEXCL_OK;
    hid_t f = H5I_INVALID_HID;
    char have[64];
    FLEXCL_CALL(open_source(path, &f));
    H5Fclose(f);
    f = H5I_INVALID_HID;
    if (job_hash != NULL) {
        FLEXCL_CALL(flexcl_results_read_attr_string(path, "/", "job_hash", have, sizeof have));
        FLEXCL_CHECK(strcmp(have, job_hash) == 0, FLEXCL_ERR_DATA,
                     "%s: written by another job (job_hash %s, this job %s)", path, have,
                     job_hash);
    }
done:
    if (f >= 0) H5Fclose(f);
    return err;
}
