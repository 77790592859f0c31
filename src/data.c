/* Training data: the bars-and-stripes set and IDX (MNIST-format) files.
 *
 * A data set is one contiguous rows x dim float matrix plus an optional byte
 * label per row. IDX files are read through zlib's gz* interface, which reads
 * gzip-compressed and raw files alike, and are streamed in fixed-size chunks:
 * the whole payload is always read and validated (so a truncated or padded
 * file fails even when max_rows keeps only a few rows), but only the kept
 * rows are stored.
 */
#include "flexcl/data.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"

/* IDX magic numbers: two zero bytes, the element type, the dimension count. */
enum {
    IDX_TYPE_UBYTE = 0x08,
    IDX_IMAGE_DIMS = 3,
    IDX_LABEL_DIMS = 1,
    IDX_CHUNK = 1 << 20, /* bytes per gzread while streaming a payload */
    BAS_N_MIN = 2,
    BAS_N_MAX = 12,
    CLASSES_MAX = 256 /* IDX labels are unsigned bytes */
};

/* Payloads of 2^34 bytes (16 GiB of pixels) or more are treated as a corrupt
 * header rather than as data: they would need 64 GiB as floats. */
static const uint64_t IDX_PAYLOAD_LIMIT = (uint64_t)1 << 34;

struct flexcl_data {
    size_t rows;          /* examples kept */
    size_t x_cap;         /* floats that x has room for (while reading) */
    size_t dim;           /* floats per row: pixels + label block */
    size_t pixels;        /* height * width */
    size_t classes;       /* label-block units (n_classes) or 0: dim - pixels */
    size_t height, width; /* image shape */
    float *x;             /* rows * dim, row-major */
    unsigned char *label; /* rows labels, or NULL when unlabelled */
    char *description;    /* for provenance */
};

/* One open IDX file after its header has been read and checked. */
typedef struct {
    const char *path;
    gzFile gz;
    uint32_t dims[IDX_IMAGE_DIMS]; /* only the first ndims are used */
    uint64_t payload;              /* bytes after the header */
} idx_file;

void flexcl_data_settings_default(flexcl_data_settings *s)
{
    if (s == NULL) return;
    memset(s, 0, sizeof *s);
    s->source = FLEXCL_DATA_BAS;
    s->bas_n = 4;
    snprintf(s->images, sizeof s->images, "%s",
             "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
    snprintf(s->labels, sizeof s->labels, "%s",
             "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
    snprintf(s->test_images, sizeof s->test_images, "%s",
             "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
    snprintf(s->test_labels, sizeof s->test_labels, "%s",
             "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
    s->threshold = 0.8;
    s->label_block = 0;
    s->n_classes = 10;
    s->max_rows = 0;
}

void flexcl_data_destroy(flexcl_data **data)
{
    if (data == NULL || *data == NULL) return;
    free((*data)->x);
    free((*data)->label);
    free((*data)->description);
    free(*data);
    *data = NULL;
}

/* printf into a freshly allocated string (the description). */
static flexcl_code set_description(flexcl_data *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static flexcl_code set_description(flexcl_data *d, const char *fmt, ...)
{
    flexcl_code err = FLEXCL_OK;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    FLEXCL_CHECK(len >= 0, FLEXCL_ERR_INTERNAL, "cannot format the data description");
    FLEXCL_ALLOC(d->description, (size_t)len + 1);
    va_start(ap, fmt);
    vsnprintf(d->description, (size_t)len + 1, fmt, ap);
    va_end(ap);
done:
    return err;
}

/* Bars and stripes ---------------------------------------------------------*/

/* Build the n x n set, keeping the first max_rows rows (0 = all). */
static flexcl_code bas_build(int n, size_t max_rows, flexcl_data **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_data *d = NULL;

    FLEXCL_CHECK(out != NULL, FLEXCL_ERR_ARG, "data: out is NULL");
    FLEXCL_CHECK(n >= BAS_N_MIN && n <= BAS_N_MAX, FLEXCL_ERR_ARG,
                 "data: bas_n = %d is outside [%d, %d]", n, BAS_N_MIN, BAS_N_MAX);

    const size_t side = (size_t)n;
    const size_t patterns = (size_t)1 << side; /* per family */
    const size_t total = 2 * patterns;

    FLEXCL_ALLOC(d, 1);
    d->rows = (max_rows > 0 && max_rows < total) ? max_rows : total;
    d->height = side;
    d->width = side;
    d->pixels = side * side;
    d->dim = d->pixels;
    d->classes = 0;
    FLEXCL_ALLOC(d->x, d->rows * d->dim);

    for (size_t i = 0; i < d->rows; i++) {
        /* Rows [0, 2^n): column bars, bit j of k lights column j.
         * Rows [2^n, 2^(n+1)): row stripes, bit j of k lights row j. */
        const int stripes = i >= patterns;
        const size_t k = stripes ? i - patterns : i;
        float *row = d->x + i * d->dim;
        for (size_t r = 0; r < side; r++) {
            for (size_t c = 0; c < side; c++) {
                const size_t bit = stripes ? r : c;
                row[r * side + c] = (float)((k >> bit) & 1u);
            }
        }
    }

    if (d->rows == total) {
        FLEXCL_CALL(set_description(d, "bas %dx%d (%zu rows)", n, n, d->rows));
    } else {
        FLEXCL_CALL(set_description(d, "bas %dx%d (%zu of %zu rows)", n, n,
                                    d->rows, total));
    }
    *out = d;
    d = NULL;
done:
    flexcl_data_destroy(&d);
    return err;
}

flexcl_code flexcl_data_create_bas(int n, flexcl_data **out)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(bas_build(n, 0, out));
done:
    return err;
}

/* IDX files ----------------------------------------------------------------*/

static uint32_t be32(const unsigned char b[4])
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
           ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* Read up to len bytes, looping over short reads. *got is the count read.
 * A read error (as opposed to end of file) fails with the zlib message. */
static flexcl_code idx_read(const idx_file *f, void *buf, size_t len,
                            size_t *got)
{
    flexcl_code err = FLEXCL_OK;
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        const size_t want = len - *got < IDX_CHUNK ? len - *got : IDX_CHUNK;
        const int n = gzread(f->gz, p + *got, (unsigned)want);
        if (n <= 0) {
            int zerr = Z_OK;
            const char *msg = gzerror(f->gz, &zerr);
            /* Z_BUF_ERROR is zlib's "unexpected end of file" in a truncated
             * gzip stream: a short payload, reported by the caller. */
            if (zerr == Z_OK || zerr == Z_BUF_ERROR) break;
            if (zerr == Z_ERRNO) msg = strerror(errno);
            /* zlib prefixes its messages with the path; ours already has it. */
            const size_t plen = strlen(f->path);
            if (strncmp(msg, f->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
                msg += plen + 2;
            FLEXCL_FAIL(FLEXCL_ERR_DATA, "%s: read error: %s", f->path, msg);
        }
        *got += (size_t)n;
    }
done:
    return err;
}

/* Open an IDX file and check its header: magic (unsigned bytes, ndims
 * dimensions), every dimension > 0 and a payload below the limit. */
static flexcl_code idx_open(const char *path, int ndims, const char *what,
                            idx_file *f)
{
    flexcl_code err = FLEXCL_OK;
    unsigned char head[4 * (1 + IDX_IMAGE_DIMS)];
    size_t got = 0;

    f->path = path;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (f->gz == NULL) {
        const int e = errno;
        FLEXCL_FAIL(FLEXCL_ERR_DATA, "%s: cannot open %s file: %s", path, what,
                    e != 0 ? strerror(e) : "out of memory");
    }
    gzbuffer(f->gz, 1u << 17);

    const size_t head_len = 4 * (1 + (size_t)ndims);
    FLEXCL_CALL(idx_read(f, head, 4, &got));
    FLEXCL_CHECK(got == 4, FLEXCL_ERR_DATA,
                 "%s: not an IDX file: %zu bytes, shorter than the 4-byte magic",
                 path, got);
    const uint32_t magic = be32(head);
    const uint32_t expected = (uint32_t)IDX_TYPE_UBYTE << 8 | (uint32_t)ndims;
    FLEXCL_CHECK(head[0] == 0 && head[1] == 0, FLEXCL_ERR_DATA,
                 "%s: wrong magic 0x%08x: not an IDX file (expected 0x%08x for %s)",
                 path, magic, expected, what);
    FLEXCL_CHECK(head[2] == IDX_TYPE_UBYTE, FLEXCL_ERR_DATA,
                 "%s: wrong magic 0x%08x: element type 0x%02x is not unsigned "
                 "byte 0x08 (expected 0x%08x for %s)",
                 path, magic, (unsigned)head[2], expected, what);
    FLEXCL_CHECK(head[3] == ndims, FLEXCL_ERR_DATA,
                 "%s: wrong magic 0x%08x: %u dimensions, %s need %d (expected 0x%08x)",
                 path, magic, (unsigned)head[3], what, ndims, expected);

    FLEXCL_CALL(idx_read(f, head + 4, head_len - 4, &got));
    FLEXCL_CHECK(got == head_len - 4, FLEXCL_ERR_DATA,
                 "%s: truncated header: expected %zu bytes, got %zu", path,
                 head_len, 4 + got);

    uint64_t payload = 1;
    for (int k = 0; k < ndims; k++) {
        f->dims[k] = be32(head + 4 * (1 + (size_t)k));
        FLEXCL_CHECK(f->dims[k] > 0, FLEXCL_ERR_DATA,
                     "%s: dimension %d of the header is zero", path, k);
        /* Each factor is < 2^32 and the running product stays below the
         * limit (< 2^34), so the product cannot overflow 64 bits. */
        payload *= f->dims[k];
        FLEXCL_CHECK(payload < IDX_PAYLOAD_LIMIT, FLEXCL_ERR_DATA,
                     "%s: absurd header: dimensions give %s%" PRIu64
                     " bytes or more (limit 2^34)",
                     path, k + 1 < ndims ? "at least " : "", payload);
    }
    f->payload = payload;
done:
    return err;
}

static void idx_close(idx_file *f)
{
    if (f->gz != NULL) gzclose(f->gz);
    f->gz = NULL;
}

/* Check that nothing follows the payload. */
static flexcl_code idx_expect_end(const idx_file *f, const char *unit)
{
    flexcl_code err = FLEXCL_OK;
    unsigned char extra[64];
    size_t got = 0;
    FLEXCL_CALL(idx_read(f, extra, sizeof extra, &got));
    FLEXCL_CHECK(got == 0, FLEXCL_ERR_DATA,
                 "%s: trailing bytes after the %" PRIu64 " %s bytes the header "
                 "announces",
                 f->path, f->payload, unit);
done:
    return err;
}

/* Make room in d->x for at least `need` floats (need <= rows * dim),
 * growing geometrically; new floats are zero (the label block relies on
 * it). The matrix grows with the data actually read, so a header that
 * announces billions of pixels costs memory only for the pixels that are
 * really there. */
static flexcl_code ensure_floats(flexcl_data *d, size_t need)
{
    flexcl_code err = FLEXCL_OK;
    if (need <= d->x_cap) goto done;
    const size_t all = d->rows * d->dim; /* < 2^41: dims are checked */
    size_t cap = d->x_cap ? d->x_cap : 4096;
    while (cap < need) cap *= 2;
    if (cap > all) cap = all;
    float *x = realloc(d->x, cap * sizeof(float));
    FLEXCL_CHECK(x != NULL, FLEXCL_ERR_NOMEM,
                 "data: cannot allocate %zu values for %zu rows", cap, d->rows);
    memset(x + d->x_cap, 0, (cap - d->x_cap) * sizeof(float));
    d->x = x;
    d->x_cap = cap;
done:
    return err;
}

/* Stream the image payload; the first d->rows rows go into d->x through the
 * pixel -> float table. */
static flexcl_code idx_read_images(const idx_file *f, const float table[256],
                                   flexcl_data *d)
{
    flexcl_code err = FLEXCL_OK;
    unsigned char *buf = NULL;
    const size_t total = (size_t)f->payload;
    const size_t kept = d->rows * d->pixels;
    size_t done_bytes = 0;

    FLEXCL_ALLOC(buf, IDX_CHUNK);
    while (done_bytes < total) {
        const size_t want = total - done_bytes < IDX_CHUNK ? total - done_bytes
                                                           : IDX_CHUNK;
        size_t got = 0;
        FLEXCL_CALL(idx_read(f, buf, want, &got));
        if (done_bytes < kept && got > 0) {
            /* Room up to the last kept pixel of this chunk. */
            const size_t last = (done_bytes + got < kept ? done_bytes + got : kept) - 1;
            FLEXCL_CALL(ensure_floats(d, (last / d->pixels) * d->dim +
                                             last % d->pixels + 1));
        }
        /* Convert the part of this chunk that falls inside the kept rows. */
        for (size_t b = done_bytes; b < done_bytes + got && b < kept; b++) {
            const size_t i = b / d->pixels, j = b % d->pixels;
            d->x[i * d->dim + j] = table[buf[b - done_bytes]];
        }
        done_bytes += got;
        FLEXCL_CHECK(got == want, FLEXCL_ERR_DATA,
                     "%s: truncated: expected %zu pixel bytes, got %zu", f->path,
                     total, done_bytes);
    }
    FLEXCL_CALL(idx_expect_end(f, "pixel"));
done:
    free(buf);
    return err;
}

/* Stream the label payload: every label must be < limit (n_classes when a
 * label block is built from them); the first d->rows are kept. */
static flexcl_code idx_read_labels(const idx_file *f, size_t limit,
                                   flexcl_data *d)
{
    flexcl_code err = FLEXCL_OK;
    unsigned char *buf = NULL;
    const size_t total = (size_t)f->payload;
    size_t done_bytes = 0;

    FLEXCL_ALLOC(buf, IDX_CHUNK);
    while (done_bytes < total) {
        const size_t want = total - done_bytes < IDX_CHUNK ? total - done_bytes
                                                           : IDX_CHUNK;
        size_t got = 0;
        FLEXCL_CALL(idx_read(f, buf, want, &got));
        for (size_t k = 0; k < got; k++) {
            const size_t i = done_bytes + k;
            FLEXCL_CHECK(buf[k] < limit, FLEXCL_ERR_DATA,
                         "%s: label %u of row %zu is outside [0, %zu) "
                         "(n_classes = %zu)",
                         f->path, (unsigned)buf[k], i, limit, limit);
            if (i < d->rows) d->label[i] = buf[k];
        }
        done_bytes += got;
        FLEXCL_CHECK(got == want, FLEXCL_ERR_DATA,
                     "%s: truncated: expected %zu label bytes, got %zu", f->path,
                     total, done_bytes);
    }
    FLEXCL_CALL(idx_expect_end(f, "label"));
done:
    free(buf);
    return err;
}

static flexcl_code idx_build(const flexcl_data_settings *s, flexcl_data **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_data *d = NULL;
    idx_file img = {0}, lab = {0};
    const int labelled = s->labels[0] != '\0';
    float table[256];

    FLEXCL_CHECK(s->images[0] != '\0', FLEXCL_ERR_DATA,
                 "data: the images setting is empty (source idx needs an IDX "
                 "images file)");
    FLEXCL_CHECK(!s->label_block || labelled, FLEXCL_ERR_DATA,
                 "%s: label_block = 1 needs a labels file, but the labels "
                 "setting is empty",
                 s->images);

    FLEXCL_CALL(idx_open(s->images, IDX_IMAGE_DIMS, "idx3-ubyte images", &img));
    if (labelled) {
        FLEXCL_CALL(idx_open(s->labels, IDX_LABEL_DIMS, "idx1-ubyte labels", &lab));
        FLEXCL_CHECK(lab.dims[0] == img.dims[0], FLEXCL_ERR_DATA,
                     "%s: %" PRIu32 " labels, but %s has %" PRIu32 " images",
                     s->labels, lab.dims[0], s->images, img.dims[0]);
    }

    FLEXCL_ALLOC(d, 1);
    d->height = img.dims[1];
    d->width = img.dims[2];
    d->pixels = d->height * d->width;
    /* classes() is the size of the label block, so that dim = pixels +
     * classes always holds (models put their label units at the end). */
    d->classes = s->label_block ? (size_t)s->n_classes : 0;
    d->dim = d->pixels + d->classes;
    d->rows = img.dims[0];
    if (s->max_rows > 0 && s->max_rows < d->rows) d->rows = s->max_rows;

    /* value = pixel/255 > threshold, computed in double as the authors do;
     * a negative threshold keeps the grey value. */
    for (int p = 0; p < 256; p++) {
        const double v = p / 255.0;
        table[p] = s->threshold < 0 ? (float)v : (v > s->threshold ? 1.0f : 0.0f);
    }
    FLEXCL_CALL(idx_read_images(&img, table, d));
    /* Every kept row has been read: the sizes below are backed by data. */
    FLEXCL_CALL(ensure_floats(d, d->rows * d->dim));
    if (labelled) {
        FLEXCL_ALLOC(d->label, d->rows);
        FLEXCL_CALL(idx_read_labels(&lab, s->label_block ? d->classes : 256, d));
        if (s->label_block) {
            for (size_t i = 0; i < d->rows; i++)
                d->x[i * d->dim + d->pixels + d->label[i]] = 1.0f;
        }
    }

    char rows[64], pix[64], block[64];
    if (d->rows == img.dims[0])
        snprintf(rows, sizeof rows, "%zu rows", d->rows);
    else
        snprintf(rows, sizeof rows, "%zu of %" PRIu32 " rows", d->rows, img.dims[0]);
    if (s->threshold < 0)
        snprintf(pix, sizeof pix, "grey");
    else
        snprintf(pix, sizeof pix, "threshold %g", s->threshold);
    if (s->label_block)
        snprintf(block, sizeof block, ", label block %zu", d->classes);
    else
        block[0] = '\0';
    FLEXCL_CALL(set_description(d, "idx %s (%s, %zux%zu, %s%s)", s->images, rows,
                                d->height, d->width, pix, block));
    *out = d;
    d = NULL;
done:
    idx_close(&img);
    idx_close(&lab);
    flexcl_data_destroy(&d);
    return err;
}

/* Dispatch ----------------------------------------------------------------*/

/* 1 when the fixed-size string field holds a terminated string. */
static int terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

flexcl_code flexcl_data_create(const flexcl_data_settings *s, flexcl_data **out)
{
    flexcl_code err = FLEXCL_OK;

    FLEXCL_CHECK(s != NULL, FLEXCL_ERR_ARG, "data: settings is NULL");
    FLEXCL_CHECK(out != NULL, FLEXCL_ERR_ARG, "data: out is NULL");
    FLEXCL_CHECK(s->label_block == 0 || s->label_block == 1, FLEXCL_ERR_ARG,
                 "data: label_block = %d, expected 0 or 1", s->label_block);

    switch (s->source) {
    case FLEXCL_DATA_BAS:
        FLEXCL_CHECK(!s->label_block, FLEXCL_ERR_ARG,
                     "data: label_block = 1, but the bas source has no labels");
        FLEXCL_CALL(bas_build(s->bas_n, s->max_rows, out));
        break;
    case FLEXCL_DATA_IDX:
        FLEXCL_CHECK(terminated(s->images, sizeof s->images), FLEXCL_ERR_ARG,
                     "data: images path is not terminated within %d bytes",
                     FLEXCL_PATH_MAX);
        FLEXCL_CHECK(terminated(s->labels, sizeof s->labels), FLEXCL_ERR_ARG,
                     "data: labels path is not terminated within %d bytes",
                     FLEXCL_PATH_MAX);
        FLEXCL_CHECK(isfinite(s->threshold) && s->threshold < 1.0, FLEXCL_ERR_ARG,
                     "data: threshold = %g, expected < 1 (negative keeps grey "
                     "values; >= 1 would make every pixel 0)",
                     s->threshold);
        FLEXCL_CHECK(!s->label_block ||
                         (s->n_classes >= 1 && s->n_classes <= CLASSES_MAX),
                     FLEXCL_ERR_ARG, "data: n_classes = %d is outside [1, %d]",
                     s->n_classes, CLASSES_MAX);
        FLEXCL_CALL(idx_build(s, out));
        break;
    default:
        FLEXCL_FAIL(FLEXCL_ERR_ARG, "data: source = %d is not a data source",
                    (int)s->source);
    }
done:
    return err;
}

/* Accessors ---------------------------------------------------------------*/

size_t flexcl_data_rows(const flexcl_data *d) { return d ? d->rows : 0; }
size_t flexcl_data_dim(const flexcl_data *d) { return d ? d->dim : 0; }
size_t flexcl_data_pixels(const flexcl_data *d) { return d ? d->pixels : 0; }
size_t flexcl_data_classes(const flexcl_data *d) { return d ? d->classes : 0; }
int flexcl_data_has_labels(const flexcl_data *d) { return d && d->label != NULL; }
size_t flexcl_data_height(const flexcl_data *d) { return d ? d->height : 0; }
size_t flexcl_data_width(const flexcl_data *d) { return d ? d->width : 0; }

const float *flexcl_data_row(const flexcl_data *d, size_t i)
{
    if (d == NULL || i >= d->rows) return NULL;
    return d->x + i * d->dim;
}

int flexcl_data_label(const flexcl_data *d, size_t i)
{
    if (d == NULL || d->label == NULL || i >= d->rows) return -1;
    return d->label[i];
}

const char *flexcl_data_describe(const flexcl_data *d)
{
    return (d && d->description) ? d->description : "";
}
