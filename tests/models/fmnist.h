/* Binarised Fashion-MNIST for the models suite (Debian's dataset-fashion-mnist). */
#ifndef FLEXCL_TEST_FMNIST_H
#define FLEXCL_TEST_FMNIST_H

#include <stdio.h>

#include "flexcl/data.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

/* The first `rows` rows of an IDX image/label pair, pixels binarised at 0.8
 * (SPEC §4), with a 10-unit one-hot label block when label_block is 1; NULL
 * (and a line on stderr) when they do not load. */
static inline flexcl_data *fmnist_load(const char *images, const char *labels, size_t rows,
                                       int label_block)
{
    flexcl_data_settings ds;
    flexcl_data_settings_default(&ds);
    ds.source = FLEXCL_DATA_IDX;
    snprintf(ds.images, sizeof ds.images, "%s", images);
    snprintf(ds.labels, sizeof ds.labels, "%s", labels);
    ds.threshold = 0.8;
    ds.label_block = label_block;
    if (label_block) ds.n_classes = 10;
    ds.max_rows = rows;
    flexcl_data *d = NULL;
    if (flexcl_data_create(&ds, &d) != FLEXCL_OK)
        fprintf(stderr, "cannot load %s: %s\n", images, flexcl_error_message());
    return d;
}

#endif
