/* flexcl/data.h — training data: bars-and-stripes and IDX (MNIST-format) files.
 *
 * A data set is a read-only matrix of rows (one example per row, values in
 * [0, 1] stored as float) with an optional integer label per row. When a
 * one-hot label block is requested, the n_classes label units are appended
 * after the pixels, so dim = n_pixels + n_classes (the authors' bMNIST RBM has
 * 784 + 10 = 794 visible units).
 */
#ifndef FLEXCL_DATA_H
#define FLEXCL_DATA_H

#include <stddef.h>

#include "flexcl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flexcl_data flexcl_data;

typedef enum {
    FLEXCL_DATA_BAS = 0, /* bars and stripes, generated */
    FLEXCL_DATA_IDX = 1  /* images (and labels) from IDX files */
} flexcl_data_source;

#define FLEXCL_PATH_MAX 4096

typedef struct {
    flexcl_data_source source; /* default FLEXCL_DATA_BAS */
    int bas_n;                 /* BAS side n (n x n images); default 4 */
    /* IDX images file (idx3-ubyte, gzip or raw); default Debian's Fashion-MNIST
     * training images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz */
    char images[FLEXCL_PATH_MAX];
    /* IDX labels file (idx1-ubyte); "" = none. Default: the matching Fashion-MNIST labels. */
    char labels[FLEXCL_PATH_MAX];
    /* Held-out test set (data.test_images / data.test_labels): IDX images
     * and labels; test_images "" = none. Default Debian's Fashion-MNIST
     * t10k files /usr/share/datasets/fashion-mnist/t10k-{images-idx3,
     * labels-idx1}-ubyte.gz. flexcl_data_create does not read these: a
     * caller that wants the test set (the driver, for a supervised
     * learner's or a registry model's test accuracy) copies the settings,
     * puts them in images and labels, and creates a second data set with
     * the same binarisation and label block. */
    char test_images[FLEXCL_PATH_MAX];
    char test_labels[FLEXCL_PATH_MAX];
    /* Binarisation: a pixel becomes 1 when pixel/255 > threshold, else 0
     * (authors: 0.8). A negative threshold keeps grey values pixel/255.
     * Default 0.8. */
    double threshold;
    int label_block;   /* 1: append a one-hot block of n_classes units; default 0 */
    int n_classes;     /* classes for the label block; default 10 */
    size_t max_rows;   /* keep only the first max_rows rows; 0 = all; default 0 */
} flexcl_data_settings;

/* Fill s with the defaults above. Not collective. */
void flexcl_data_settings_default(flexcl_data_settings *s);

/* Create a data set from settings. For IDX files every structural problem
 * (missing file, wrong magic, truncated payload, image/label count mismatch,
 * label outside [0, n_classes) when label_block = 1) fails with FLEXCL_ERR_DATA and a message that
 * names the file. Not collective: every rank loads its own copy.
 * *out is set only on success; release with flexcl_data_destroy. */
flexcl_code flexcl_data_create(const flexcl_data_settings *s, flexcl_data **out);

/* The authors' n x n bars-and-stripes set: all 2^n column-bar patterns then
 * all 2^n row-stripe patterns (2^(n+1) rows; all-0 and all-1 appear twice),
 * in that fixed order. n in [2, 12]. Not collective. */
flexcl_code flexcl_data_create_bas(int n, flexcl_data **out);

/* Release a data set and set *data to NULL. NULL-safe. Not collective. */
void flexcl_data_destroy(flexcl_data **data);

size_t flexcl_data_rows(const flexcl_data *d);    /* number of examples */
size_t flexcl_data_dim(const flexcl_data *d);     /* units per row, label block included */
size_t flexcl_data_pixels(const flexcl_data *d);  /* units per row without the label block */
size_t flexcl_data_classes(const flexcl_data *d); /* label-block units (n_classes with label_block = 1), else 0; dim = pixels + classes */
int flexcl_data_has_labels(const flexcl_data *d);
size_t flexcl_data_height(const flexcl_data *d);  /* image rows (BAS: n) */
size_t flexcl_data_width(const flexcl_data *d);   /* image columns */
/* Row i (0-based, i < rows): dim floats. The pointer stays valid until destroy. */
const float *flexcl_data_row(const flexcl_data *d, size_t i);
/* Label of row i, or -1 when the data set has no labels. */
int flexcl_data_label(const flexcl_data *d, size_t i);
/* A short description for provenance, e.g. "bas 4x4 (32 rows)" or
 * "idx /path/train-images-idx3-ubyte.gz (60000 rows, 28x28, threshold 0.8)". */
const char *flexcl_data_describe(const flexcl_data *d);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_DATA_H */
