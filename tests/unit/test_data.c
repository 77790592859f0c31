/* Unit tests for flexcl/data.h: the bars-and-stripes set, Debian's
 * Fashion-MNIST, IDX round trips (raw and gzip) written into a temporary
 * directory, and every structural error an IDX file can have. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "flexcl/data.h"
#include "flexcl/error.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"
#define FASHION_IMAGES FASHION "train-images-idx3-ubyte.gz"
#define FASHION_LABELS FASHION "train-labels-idx1-ubyte.gz"

enum { IMAGE_MAGIC = 0x00000803, LABEL_MAGIC = 0x00000801 };

static char tmpdir[] = "/tmp/flexcl_test_data_XXXXXX";
static int have_tmpdir = 0;

/* Helpers ------------------------------------------------------------------*/

/* Path of a file in the temporary directory (static buffer per call site is
 * avoided: the caller passes the buffer). */
static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Write an IDX file: magic, ndims big-endian dimensions, then len payload
 * bytes; gzip-compressed when gz is set. Returns 0 on success. */
static int write_idx(const char *path, int gz, uint32_t magic, int ndims,
                     const uint32_t *dims, const unsigned char *payload,
                     size_t len)
{
    unsigned char head[4 * 5];
    put_be32(head, magic);
    for (int k = 0; k < ndims; k++) put_be32(head + 4 * (1 + k), dims[k]);
    const size_t head_len = 4 * (1 + (size_t)ndims);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (f == NULL) return -1;
        int ok = gzwrite(f, head, (unsigned)head_len) == (int)head_len;
        if (len > 0) ok = ok && gzwrite(f, payload, (unsigned)len) == (int)len;
        return (gzclose(f) == Z_OK && ok) ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    int ok = fwrite(head, 1, head_len, f) == head_len;
    if (len > 0) ok = ok && fwrite(payload, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Settings for an IDX load of (images, labels). */
static flexcl_data_settings idx_settings(const char *images, const char *labels)
{
    flexcl_data_settings s;
    flexcl_data_settings_default(&s);
    s.source = FLEXCL_DATA_IDX;
    snprintf(s.images, sizeof s.images, "%s", images);
    snprintf(s.labels, sizeof s.labels, "%s", labels);
    return s;
}

/* Assert that loading fails with FLEXCL_ERR_DATA, leaves out untouched, and
 * gives a message that contains path (and, when given, a key word). */
static void expect_data_error(const flexcl_data_settings *s, const char *path,
                              const char *word)
{
    flexcl_data *d = NULL;
    flexcl_error_clear();
    flexcl_code rc = flexcl_data_create(s, &d);
    CU_ASSERT_EQUAL(rc, FLEXCL_ERR_DATA);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(flexcl_error_code(), FLEXCL_ERR_DATA);
    const char *msg = flexcl_error_message();
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, path));
    CU_ASSERT_EQUAL(strncmp(msg, path, strlen(path)), 0);
    CU_ASSERT_PTR_NULL(strchr(msg, '\n'));
    if (word != NULL) CU_ASSERT_PTR_NOT_NULL(strstr(msg, word));
    if (rc == FLEXCL_OK) flexcl_data_destroy(&d);
}

/* 1 when row (n x n) is the bar pattern k (bit j lights column j). */
static int is_bar(const float *row, int n, unsigned k)
{
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++)
            if (row[r * n + c] != (float)((k >> c) & 1u)) return 0;
    return 1;
}

/* 1 when row (n x n) is the stripe pattern k (bit j lights row j). */
static int is_stripe(const float *row, int n, unsigned k)
{
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++)
            if (row[r * n + c] != (float)((k >> r) & 1u)) return 0;
    return 1;
}

static size_t count_unique_rows(const flexcl_data *d)
{
    const size_t rows = flexcl_data_rows(d), dim = flexcl_data_dim(d);
    size_t unique = 0;
    for (size_t i = 0; i < rows; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = memcmp(flexcl_data_row(d, i), flexcl_data_row(d, j),
                          dim * sizeof(float)) == 0;
        unique += !seen;
    }
    return unique;
}

static size_t count_constant_rows(const flexcl_data *d, float v)
{
    size_t count = 0;
    for (size_t i = 0; i < flexcl_data_rows(d); i++) {
        const float *row = flexcl_data_row(d, i);
        size_t j = 0;
        while (j < flexcl_data_dim(d) && row[j] == v) j++;
        count += j == flexcl_data_dim(d);
    }
    return count;
}

/* Bars and stripes ---------------------------------------------------------*/

static void test_settings_default(void)
{
    flexcl_data_settings s;
    memset(&s, 0x5a, sizeof s);
    flexcl_data_settings_default(&s);
    CU_ASSERT_EQUAL(s.source, FLEXCL_DATA_BAS);
    CU_ASSERT_EQUAL(s.bas_n, 4);
    CU_ASSERT_STRING_EQUAL(s.images, FASHION_IMAGES);
    CU_ASSERT_STRING_EQUAL(s.labels, FASHION_LABELS);
    CU_ASSERT_STRING_EQUAL(s.test_images, FASHION "t10k-images-idx3-ubyte.gz");
    CU_ASSERT_STRING_EQUAL(s.test_labels, FASHION "t10k-labels-idx1-ubyte.gz");
    CU_ASSERT_DOUBLE_EQUAL(s.threshold, 0.8, 0.0);
    CU_ASSERT_EQUAL(s.label_block, 0);
    CU_ASSERT_EQUAL(s.n_classes, 10);
    CU_ASSERT_EQUAL(s.max_rows, 0);
}

static void test_bas_4x4(void)
{
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create_bas(4, &d), FLEXCL_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 32);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), 16);
    CU_ASSERT_EQUAL(flexcl_data_pixels(d), 16);
    CU_ASSERT_EQUAL(flexcl_data_height(d), 4);
    CU_ASSERT_EQUAL(flexcl_data_width(d), 4);
    CU_ASSERT_EQUAL(flexcl_data_classes(d), 0);
    CU_ASSERT_FALSE(flexcl_data_has_labels(d));
    CU_ASSERT_EQUAL(flexcl_data_label(d, 0), -1);
    CU_ASSERT_EQUAL(count_unique_rows(d), 30);
    CU_ASSERT_EQUAL(count_constant_rows(d, 0.0f), 2);
    CU_ASSERT_EQUAL(count_constant_rows(d, 1.0f), 2);
    /* Every row is a bar or a stripe, in the authors' fixed order. */
    for (unsigned k = 0; k < 16; k++) {
        CU_ASSERT_TRUE(is_bar(flexcl_data_row(d, k), 4, k));
        CU_ASSERT_TRUE(is_stripe(flexcl_data_row(d, 16 + k), 4, k));
    }
    /* Spot check the layout: bar k = 1 lights column 0 (units 0, 4, 8, 12);
     * stripe k = 1 lights row 0 (units 0..3). */
    const float bar1[16] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
    const float stripe1[16] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(memcmp(flexcl_data_row(d, 1), bar1, sizeof bar1), 0);
    CU_ASSERT_EQUAL(memcmp(flexcl_data_row(d, 17), stripe1, sizeof stripe1), 0);
    CU_ASSERT_PTR_NULL(flexcl_data_row(d, 32));
    CU_ASSERT_STRING_EQUAL(flexcl_data_describe(d), "bas 4x4 (32 rows)");
    flexcl_data_destroy(&d);
    CU_ASSERT_PTR_NULL(d);
    flexcl_data_destroy(&d); /* NULL-safe */
    flexcl_data_destroy(NULL);
}

static void test_bas_3x3(void)
{
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create_bas(3, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 16);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), 9);
    CU_ASSERT_EQUAL(flexcl_data_height(d), 3);
    CU_ASSERT_EQUAL(flexcl_data_width(d), 3);
    CU_ASSERT_EQUAL(count_unique_rows(d), 14);
    CU_ASSERT_EQUAL(count_constant_rows(d, 0.0f), 2);
    CU_ASSERT_EQUAL(count_constant_rows(d, 1.0f), 2);
    for (unsigned k = 0; k < 8; k++) {
        CU_ASSERT_TRUE(is_bar(flexcl_data_row(d, k), 3, k));
        CU_ASSERT_TRUE(is_stripe(flexcl_data_row(d, 8 + k), 3, k));
    }
    CU_ASSERT_STRING_EQUAL(flexcl_data_describe(d), "bas 3x3 (16 rows)");
    flexcl_data_destroy(&d);
}

static void test_bas_bad_n(void)
{
    const int bad[] = {-1, 0, 1, 13, 64};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        flexcl_data *d = NULL;
        CU_ASSERT_EQUAL(flexcl_data_create_bas(bad[i], &d), FLEXCL_ERR_ARG);
        CU_ASSERT_PTR_NULL(d);
    }
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL(flexcl_data_create_bas(2, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 8);
    flexcl_data_destroy(&d);
    CU_ASSERT_EQUAL(flexcl_data_create_bas(12, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 8192);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), 144);
    flexcl_data_destroy(&d);
    CU_ASSERT_EQUAL(flexcl_data_create_bas(4, NULL), FLEXCL_ERR_ARG);
}

static void test_create_dispatch(void)
{
    flexcl_data_settings s;
    flexcl_data_settings_default(&s);
    flexcl_data *d = NULL, *ref = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create_bas(4, &ref), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 32);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), 16);
    CU_ASSERT_FALSE(flexcl_data_has_labels(d));
    CU_ASSERT_EQUAL(memcmp(flexcl_data_row(d, 0), flexcl_data_row(ref, 0),
                           32 * 16 * sizeof(float)), 0);
    flexcl_data_destroy(&d);
    flexcl_data_destroy(&ref);

    s.bas_n = 5;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 64);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), 25);
    flexcl_data_destroy(&d);

    /* Bad settings are argument errors and leave out untouched. */
    s.bas_n = 1;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, &d), FLEXCL_ERR_ARG);
    CU_ASSERT_PTR_NULL(d);
    s.bas_n = 4;
    s.label_block = 1;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, &d), FLEXCL_ERR_ARG);
    s.label_block = 0;
    s.source = (flexcl_data_source)7;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, &d), FLEXCL_ERR_ARG);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(flexcl_data_create(NULL, &d), FLEXCL_ERR_ARG);
    s.source = FLEXCL_DATA_BAS;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, NULL), FLEXCL_ERR_ARG);

    s = idx_settings(FASHION_IMAGES, FASHION_LABELS);
    s.threshold = 1.0;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, &d), FLEXCL_ERR_ARG);
    s.threshold = 0.8;
    s.n_classes = 0;
    s.label_block = 1;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, &d), FLEXCL_ERR_ARG);
    CU_ASSERT_PTR_NULL(d);
    s.n_classes = 257;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, &d), FLEXCL_ERR_ARG);
    s.label_block = 2;
    s.n_classes = 10;
    CU_ASSERT_EQUAL(flexcl_data_create(&s, &d), FLEXCL_ERR_ARG);
    CU_ASSERT_PTR_NULL(d);
}

/* Fashion-MNIST (Debian's dataset-fashion-mnist) ---------------------------*/

static void test_fashion_train(void)
{
    flexcl_data_settings s = idx_settings(FASHION_IMAGES, FASHION_LABELS);
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 60000);
    CU_ASSERT_EQUAL(flexcl_data_height(d), 28);
    CU_ASSERT_EQUAL(flexcl_data_width(d), 28);
    CU_ASSERT_EQUAL(flexcl_data_pixels(d), 784);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), 784);
    CU_ASSERT_EQUAL(flexcl_data_classes(d), 0); /* no label block */
    CU_ASSERT_TRUE(flexcl_data_has_labels(d));

    /* Fashion-MNIST's training set has exactly 6000 examples per class and
     * begins with the labels 9 0 0 3 0 2 7 2 5 5. */
    size_t per_class[10] = {0}, bad_label = 0, not_binary = 0, ones = 0;
    for (size_t i = 0; i < flexcl_data_rows(d); i++) {
        const int y = flexcl_data_label(d, i);
        if (y < 0 || y > 9) bad_label++;
        else per_class[y]++;
        const float *row = flexcl_data_row(d, i);
        for (size_t j = 0; j < 784; j++) {
            if (row[j] != 0.0f && row[j] != 1.0f) not_binary++;
            ones += row[j] == 1.0f;
        }
    }
    CU_ASSERT_EQUAL(bad_label, 0);
    for (int c = 0; c < 10; c++) CU_ASSERT_EQUAL(per_class[c], 6000);
    const int first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    for (size_t i = 0; i < 10; i++) CU_ASSERT_EQUAL(flexcl_data_label(d, i), first[i]);
    CU_ASSERT_EQUAL(not_binary, 0);
    /* Pixels with p/255 > 0.8, counted independently with Python's gzip. */
    CU_ASSERT_EQUAL(ones, 6699997);
    CU_ASSERT_STRING_EQUAL(flexcl_data_describe(d),
                           "idx " FASHION_IMAGES " (60000 rows, 28x28, threshold 0.8)");
    flexcl_data_destroy(&d);
}

static void test_fashion_label_block(void)
{
    flexcl_data_settings s = idx_settings(FASHION_IMAGES, FASHION_LABELS);
    s.label_block = 1;
    s.max_rows = 500;
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), 500);
    CU_ASSERT_EQUAL(flexcl_data_pixels(d), 784);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), 794);
    CU_ASSERT_EQUAL(flexcl_data_classes(d), 10);
    size_t wrong = 0;
    for (size_t i = 0; i < 500; i++) {
        const float *block = flexcl_data_row(d, i) + 784;
        const int y = flexcl_data_label(d, i);
        float sum = 0.0f;
        for (int c = 0; c < 10; c++) sum += block[c];
        wrong += sum != 1.0f || y < 0 || y > 9 || block[y] != 1.0f;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_data_describe(d), "label block 10"));
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_data_describe(d), "500 of 60000 rows"));

    /* The label block needs a labels file; the message names the setting. */
    flexcl_data_settings t = idx_settings(FASHION_IMAGES, "");
    t.label_block = 1;
    expect_data_error(&t, FASHION_IMAGES, "labels");
    flexcl_data_destroy(&d);
}

static void test_fashion_max_rows(void)
{
    flexcl_data_settings s = idx_settings(FASHION_IMAGES, FASHION_LABELS);
    flexcl_data *small = NULL, *big = NULL;
    s.max_rows = 10;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &small), FLEXCL_OK);
    s.max_rows = 1000;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &big), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(small), 10);
    CU_ASSERT_EQUAL(flexcl_data_rows(big), 1000);
    /* The first rows are the same rows. */
    CU_ASSERT_EQUAL(memcmp(flexcl_data_row(small, 0), flexcl_data_row(big, 0),
                           10 * 784 * sizeof(float)), 0);
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(flexcl_data_label(small, i), flexcl_data_label(big, i));
    CU_ASSERT_PTR_NULL(flexcl_data_row(small, 10));
    CU_ASSERT_EQUAL(flexcl_data_label(small, 10), -1);
    flexcl_data_destroy(&small);
    flexcl_data_destroy(&big);

    /* 100 rows hold 11174 ones (Python); max_rows beyond the file keeps all
     * of the t10k set (10000 rows). No labels: label() is -1. */
    s.max_rows = 100;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &small), FLEXCL_OK);
    size_t ones = 0;
    for (size_t j = 0; j < 100 * 784; j++) ones += flexcl_data_row(small, 0)[j] == 1.0f;
    CU_ASSERT_EQUAL(ones, 11174);
    flexcl_data_destroy(&small);

    s = idx_settings(FASHION "t10k-images-idx3-ubyte.gz", "");
    s.max_rows = 1000000;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &big), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(big), 10000);
    CU_ASSERT_FALSE(flexcl_data_has_labels(big));
    CU_ASSERT_EQUAL(flexcl_data_classes(big), 0);
    CU_ASSERT_EQUAL(flexcl_data_label(big, 0), -1);
    flexcl_data_destroy(&big);
}

static void test_fashion_grey(void)
{
    flexcl_data_settings s = idx_settings(FASHION_IMAGES, FASHION_LABELS);
    s.max_rows = 200;
    s.threshold = -1.0;
    flexcl_data *grey = NULL, *bin = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &grey), FLEXCL_OK);
    s.threshold = 0.8;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &bin), FLEXCL_OK);
    size_t outside = 0, fractional = 0, disagree = 0;
    const float *g = flexcl_data_row(grey, 0), *b = flexcl_data_row(bin, 0);
    for (size_t j = 0; j < 200 * 784; j++) {
        outside += !(g[j] >= 0.0f && g[j] <= 1.0f);
        fractional += g[j] > 0.0f && g[j] < 1.0f;
        /* Grey values are exactly (float)(p/255) for a byte p, and p/255 > 0.8
         * (in double, as the loader does) reproduces the binary load. */
        const long p = lround((double)g[j] * 255.0);
        outside += p < 0 || p > 255 || g[j] != (float)(p / 255.0);
        disagree += (p / 255.0 > 0.8 ? 1.0f : 0.0f) != b[j];
    }
    CU_ASSERT_EQUAL(outside, 0);
    CU_ASSERT_TRUE(fractional > 10000);
    CU_ASSERT_EQUAL(disagree, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_data_describe(grey), "grey"));
    flexcl_data_destroy(&grey);
    flexcl_data_destroy(&bin);
}

/* Small IDX files ---------------------------------------------------------*/

enum { SMALL_N = 7, SMALL_H = 3, SMALL_W = 5, SMALL_PIX = SMALL_H * SMALL_W };

/* Pixel (i, j) of the small set: covers 0..255 including both ends. */
static unsigned char small_pixel(size_t i, size_t j)
{
    const size_t b = i * SMALL_PIX + j;
    return (unsigned char)(b == 0 ? 0 : b == 1 ? 255 : (b * 37 + 11) % 256);
}

static const unsigned char small_labels[SMALL_N] = {3, 0, 9, 1, 1, 7, 4};

static void write_small(const char *img, const char *lab, int gz)
{
    unsigned char pix[SMALL_N * SMALL_PIX];
    for (size_t i = 0; i < SMALL_N; i++)
        for (size_t j = 0; j < SMALL_PIX; j++) pix[i * SMALL_PIX + j] = small_pixel(i, j);
    const uint32_t idims[3] = {SMALL_N, SMALL_H, SMALL_W}, ldims[1] = {SMALL_N};
    CU_ASSERT_EQUAL_FATAL(write_idx(img, gz, IMAGE_MAGIC, 3, idims, pix, sizeof pix), 0);
    CU_ASSERT_EQUAL_FATAL(
        write_idx(lab, gz, LABEL_MAGIC, 1, ldims, small_labels, sizeof small_labels), 0);
}

static void check_roundtrip(int gz)
{
    char img[256], lab[256];
    tmp_path(img, sizeof img, gz ? "small-images.gz" : "small-images.idx");
    tmp_path(lab, sizeof lab, gz ? "small-labels.gz" : "small-labels.idx");
    write_small(img, lab, gz);

    /* Grey values: exactly (float)(p/255.0). */
    flexcl_data_settings s = idx_settings(img, lab);
    s.threshold = -1.0;
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_rows(d), SMALL_N);
    CU_ASSERT_EQUAL(flexcl_data_height(d), SMALL_H);
    CU_ASSERT_EQUAL(flexcl_data_width(d), SMALL_W);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), SMALL_PIX);
    size_t mismatch = 0;
    for (size_t i = 0; i < SMALL_N; i++) {
        const float *row = flexcl_data_row(d, i);
        for (size_t j = 0; j < SMALL_PIX; j++)
            mismatch += row[j] != (float)(small_pixel(i, j) / 255.0);
        mismatch += flexcl_data_label(d, i) != small_labels[i];
    }
    CU_ASSERT_EQUAL(mismatch, 0);
    CU_ASSERT_EQUAL(flexcl_data_row(d, 0)[0], 0.0f);
    CU_ASSERT_EQUAL(flexcl_data_row(d, 0)[1], 1.0f);
    flexcl_data_destroy(&d);

    /* Binarised at 0.5 with the label block. */
    s.threshold = 0.5;
    s.label_block = 1;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), SMALL_PIX + 10);
    mismatch = 0;
    for (size_t i = 0; i < SMALL_N; i++) {
        const float *row = flexcl_data_row(d, i);
        for (size_t j = 0; j < SMALL_PIX; j++)
            mismatch += row[j] != (small_pixel(i, j) / 255.0 > 0.5 ? 1.0f : 0.0f);
        for (int c = 0; c < 10; c++)
            mismatch += row[SMALL_PIX + c] != (c == small_labels[i] ? 1.0f : 0.0f);
    }
    CU_ASSERT_EQUAL(mismatch, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_data_describe(d), img));
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_data_describe(d), "7 rows, 3x5, threshold 0.5"));
    flexcl_data_destroy(&d);
    unlink(img);
    unlink(lab);
}

static void test_idx_roundtrip_raw(void) { check_roundtrip(0); }
static void test_idx_roundtrip_gzip(void) { check_roundtrip(1); }

/* Bad IDX files -----------------------------------------------------------*/

static void test_bad_missing(void)
{
    char img[256], lab[256], none[256];
    tmp_path(img, sizeof img, "m-images");
    tmp_path(lab, sizeof lab, "m-labels");
    tmp_path(none, sizeof none, "does-not-exist.gz");
    write_small(img, lab, 0);
    flexcl_data_settings s = idx_settings(none, lab);
    expect_data_error(&s, none, "No such file");
    s = idx_settings(img, none);
    expect_data_error(&s, none, "No such file");
    /* An empty file is not an IDX file. */
    FILE *f = fopen(img, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    s = idx_settings(img, lab);
    expect_data_error(&s, img, NULL);
    unlink(img);
    unlink(lab);
}

static void test_bad_magic(void)
{
    char img[256], lab[256];
    tmp_path(img, sizeof img, "mg-images");
    tmp_path(lab, sizeof lab, "mg-labels");
    write_small(img, lab, 1);
    const uint32_t dims[3] = {SMALL_N, SMALL_H, SMALL_W};
    unsigned char pix[SMALL_N * SMALL_PIX] = {0};
    flexcl_data_settings s = idx_settings(img, lab);

    /* Not IDX at all, a float element type, a 2-D header. */
    const uint32_t magics[] = {0x12345678u, 0x00000d03u, 0x00000802u};
    for (size_t k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL_FATAL(write_idx(img, 0, magics[k], 3, dims, pix, sizeof pix), 0);
        expect_data_error(&s, img, "magic");
    }
    /* Images and labels swapped: each has the other's magic. */
    write_small(img, lab, 0);
    s = idx_settings(lab, img);
    expect_data_error(&s, lab, "magic");
    s = idx_settings(img, img);
    expect_data_error(&s, img, "magic");
    unlink(img);
    unlink(lab);
}

static void test_bad_truncated(void)
{
    char img[256], lab[256];
    tmp_path(img, sizeof img, "t-images");
    tmp_path(lab, sizeof lab, "t-labels");
    write_small(img, lab, 0);
    const uint32_t dims[3] = {SMALL_N, SMALL_H, SMALL_W};
    unsigned char pix[SMALL_N * SMALL_PIX] = {0};
    flexcl_data_settings s = idx_settings(img, lab);

    /* Payload one row short, raw and gzip; the message gives both counts. */
    for (int gz = 0; gz <= 1; gz++) {
        CU_ASSERT_EQUAL_FATAL(
            write_idx(img, gz, IMAGE_MAGIC, 3, dims, pix, sizeof pix - SMALL_PIX), 0);
        expect_data_error(&s, img, "truncated: expected 105 pixel bytes, got 90");
    }
    /* Truncated even when max_rows keeps only the first row. */
    s.max_rows = 1;
    expect_data_error(&s, img, "truncated");
    s.max_rows = 0;

    /* A header cut after two dimensions. */
    CU_ASSERT_EQUAL_FATAL(write_idx(img, 0, IMAGE_MAGIC, 2, dims, NULL, 0), 0);
    expect_data_error(&s, img, "truncated header");

    /* A gzip stream cut in the middle of the compressed data (incompressible
     * xorshift bytes, so the cut falls well inside the stream), and a gzip
     * stream with a corrupt body. */
    static unsigned char big[200 * 28 * 28];
    uint32_t state = 2463534242u;
    for (size_t j = 0; j < sizeof big; j++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        big[j] = (unsigned char)(state >> 24);
    }
    const uint32_t bdims[3] = {200, 28, 28};
    CU_ASSERT_EQUAL_FATAL(write_idx(img, 1, IMAGE_MAGIC, 3, bdims, big, sizeof big), 0);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(img, &st), 0);
    CU_ASSERT_TRUE_FATAL(st.st_size > (off_t)sizeof big / 2);
    CU_ASSERT_EQUAL_FATAL(truncate(img, st.st_size / 2), 0);
    s = idx_settings(img, "");
    expect_data_error(&s, img, "truncated: expected 156800 pixel bytes");
    CU_ASSERT_EQUAL_FATAL(write_idx(img, 1, IMAGE_MAGIC, 3, bdims, big, sizeof big), 0);
    FILE *f = fopen(img, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fseek(f, 10, SEEK_SET), 0); /* the first deflate block header */
    const unsigned char junk[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CU_ASSERT_EQUAL(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    CU_ASSERT_EQUAL(fclose(f), 0);
    expect_data_error(&s, img, NULL);

    /* Labels one short. */
    write_small(img, lab, 0);
    const uint32_t ldims[1] = {SMALL_N};
    CU_ASSERT_EQUAL_FATAL(write_idx(lab, 0, LABEL_MAGIC, 1, ldims, small_labels, SMALL_N - 1), 0);
    s = idx_settings(img, lab);
    expect_data_error(&s, lab, "truncated: expected 7 label bytes, got 6");
    unlink(img);
    unlink(lab);
}

static void test_bad_trailing(void)
{
    char img[256], lab[256];
    tmp_path(img, sizeof img, "tr-images");
    tmp_path(lab, sizeof lab, "tr-labels");
    write_small(img, lab, 0);
    const uint32_t dims[3] = {SMALL_N, SMALL_H, SMALL_W};
    unsigned char pix[SMALL_N * SMALL_PIX + 3] = {0};
    flexcl_data_settings s = idx_settings(img, lab);
    for (int gz = 0; gz <= 1; gz++) {
        CU_ASSERT_EQUAL_FATAL(write_idx(img, gz, IMAGE_MAGIC, 3, dims, pix, sizeof pix), 0);
        expect_data_error(&s, img, "trailing");
    }
    write_small(img, lab, 0);
    const uint32_t ldims[1] = {SMALL_N};
    const unsigned char labs[SMALL_N + 1] = {1, 2, 3, 4, 5, 6, 7, 8};
    CU_ASSERT_EQUAL_FATAL(write_idx(lab, 1, LABEL_MAGIC, 1, ldims, labs, sizeof labs), 0);
    expect_data_error(&s, lab, "trailing");
    unlink(img);
    unlink(lab);
}

static void test_bad_count_mismatch(void)
{
    char img[256], lab[256];
    tmp_path(img, sizeof img, "c-images");
    tmp_path(lab, sizeof lab, "c-labels");
    write_small(img, lab, 0);
    const uint32_t ldims[1] = {SMALL_N - 1};
    CU_ASSERT_EQUAL_FATAL(write_idx(lab, 0, LABEL_MAGIC, 1, ldims, small_labels, SMALL_N - 1), 0);
    flexcl_data_settings s = idx_settings(img, lab);
    expect_data_error(&s, lab, "6 labels");
    /* Also against the real Fashion-MNIST labels (60000 vs 7). */
    s = idx_settings(img, FASHION_LABELS);
    expect_data_error(&s, FASHION_LABELS, img);
    unlink(img);
    unlink(lab);
}

static void test_bad_label_range(void)
{
    char img[256], lab[256];
    tmp_path(img, sizeof img, "l-images");
    tmp_path(lab, sizeof lab, "l-labels");
    write_small(img, lab, 1);
    flexcl_data_settings s = idx_settings(img, lab);
    /* small_labels go up to 9: fine with 10 classes, not with 8. */
    s.label_block = 1;
    s.n_classes = 8;
    expect_data_error(&s, lab, "label 9 of row 2");
    /* n_classes only sizes the label block: without it any byte label loads,
     * and classes() is 0 so that dim = pixels + classes. */
    s.label_block = 0;
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create(&s, &d), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_data_label(d, 2), 9);
    CU_ASSERT_EQUAL(flexcl_data_classes(d), 0);
    CU_ASSERT_EQUAL(flexcl_data_dim(d), SMALL_PIX);
    flexcl_data_destroy(&d);
    /* A label past the kept rows still fails: the whole file is checked. */
    s.label_block = 1;
    s.n_classes = 10;
    s.max_rows = 1;
    const unsigned char labs[SMALL_N] = {0, 1, 2, 3, 4, 5, 10};
    const uint32_t ldims[1] = {SMALL_N};
    CU_ASSERT_EQUAL_FATAL(write_idx(lab, 0, LABEL_MAGIC, 1, ldims, labs, SMALL_N), 0);
    expect_data_error(&s, lab, "label 10 of row 6");
    unlink(img);
    unlink(lab);
}

static void test_bad_dimensions(void)
{
    char img[256], lab[256];
    tmp_path(img, sizeof img, "d-images");
    tmp_path(lab, sizeof lab, "d-labels");
    write_small(img, lab, 0);
    flexcl_data_settings s = idx_settings(img, "");
    unsigned char pix[16] = {0};

    const uint32_t zero[][3] = {{0, 28, 28}, {10, 0, 28}, {10, 28, 0}};
    for (size_t k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL_FATAL(write_idx(img, 0, IMAGE_MAGIC, 3, zero[k], pix, 0), 0);
        expect_data_error(&s, img, "zero");
    }
    /* 2^20 x 2^10 x 2^10 = 2^40 bytes; 2^32-1 cubed overflows 64 bits. */
    const uint32_t absurd[][3] = {
        {1u << 20, 1u << 10, 1u << 10}, {0xffffffffu, 0xffffffffu, 0xffffffffu},
        {1, 1u << 17, 1u << 17}, {1u << 24, 1u << 10, 1}};
    for (size_t k = 0; k < 4; k++) {
        CU_ASSERT_EQUAL_FATAL(write_idx(img, 1, IMAGE_MAGIC, 3, absurd[k], pix, sizeof pix), 0);
        expect_data_error(&s, img, "absurd");
    }
    /* A label file that claims zero labels. */
    const uint32_t lzero[1] = {0};
    write_small(img, lab, 0);
    CU_ASSERT_EQUAL_FATAL(write_idx(lab, 0, LABEL_MAGIC, 1, lzero, NULL, 0), 0);
    s = idx_settings(img, lab);
    expect_data_error(&s, lab, "zero");
    unlink(img);
    unlink(lab);
}

/* Driver ------------------------------------------------------------------*/

static int suite_init(void)
{
    if (mkdtemp(tmpdir) == NULL) return -1;
    have_tmpdir = 1;
    return 0;
}

static int suite_clean(void)
{
    if (have_tmpdir) rmdir(tmpdir);
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite suite = CU_add_suite("data", suite_init, suite_clean);
    if (suite == NULL) {
        CU_cleanup_registry();
        return 1;
    }
    const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"settings_default", test_settings_default},
        {"bas_4x4", test_bas_4x4},
        {"bas_3x3", test_bas_3x3},
        {"bas_bad_n", test_bas_bad_n},
        {"create_dispatch", test_create_dispatch},
        {"fashion_train", test_fashion_train},
        {"fashion_label_block", test_fashion_label_block},
        {"fashion_max_rows", test_fashion_max_rows},
        {"fashion_grey", test_fashion_grey},
        {"idx_roundtrip_raw", test_idx_roundtrip_raw},
        {"idx_roundtrip_gzip", test_idx_roundtrip_gzip},
        {"bad_missing", test_bad_missing},
        {"bad_magic", test_bad_magic},
        {"bad_truncated", test_bad_truncated},
        {"bad_trailing", test_bad_trailing},
        {"bad_count_mismatch", test_bad_count_mismatch},
        {"bad_label_range", test_bad_label_range},
        {"bad_dimensions", test_bad_dimensions},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL) {
            CU_cleanup_registry();
            return 1;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    const unsigned failures = CU_get_number_of_failures();
    const unsigned suite_failures = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return (failures != 0 || suite_failures != 0) ? 1 : 0;
}
