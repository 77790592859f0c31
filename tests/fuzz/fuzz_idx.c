/* libFuzzer harness: IDX (MNIST-format) files -> flexcl_data_create.
 *
 * Input layout: byte 0 holds flags (bit 0: a labels file follows, bit 1:
 * label_block = 1, bit 2: negative threshold (grey values), bit 3: keep at
 * most 3 rows), bytes 1-4 the length L of the images file (big-endian,
 * clipped to what is there), then L bytes of images file and the rest the
 * labels file. Each file goes into an anonymous in-memory file (memfd)
 * that the loader opens by its /proc/self/fd path, so the real path-based
 * reader (zlib, raw or gzip) is what is fuzzed.
 *
 * Invariants: success or FLEXCL_ERR_DATA (NOMEM only if malloc fails);
 * an error leaves *out NULL with a one-line message; on success every row
 * holds values in [0, 1] and labels are within range. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flexcl/data.h"
#include "flexcl/error.h"

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

/* An in-memory file holding [p, p + n); its path goes into path. */
static int mem_file(const char *name, const uint8_t *p, size_t n, char *path, size_t path_n)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, path_n, "/proc/self/fd/%d", fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    const unsigned flags = data[0];
    size_t len = (size_t)data[1] << 24 | (size_t)data[2] << 16 | (size_t)data[3] << 8 | data[4];
    data += 5;
    size -= 5;
    if (len > size) len = size;
    flexcl_data_settings s;
    flexcl_data_settings_default(&s);
    s.source = FLEXCL_DATA_IDX;
    s.threshold = (flags & 4) ? -1.0 : 0.5;
    s.max_rows = (flags & 8) ? 3 : 0;
    s.label_block = (flags & 3) == 3;
    s.n_classes = 10;
    int img = mem_file("images", data, len, s.images, sizeof s.images);
    int lab = -1;
    s.labels[0] = '\0';
    if (flags & 1) lab = mem_file("labels", data + len, size - len, s.labels, sizeof s.labels);
    if (img < 0 || ((flags & 1) && lab < 0)) {
        if (img >= 0) close(img);
        if (lab >= 0) close(lab);
        return 0;
    }
    flexcl_data *d = NULL;
    flexcl_code rc = flexcl_data_create(&s, &d);
    if (rc != FLEXCL_OK) {
        const char *msg = flexcl_error_message();
        if (getenv("FLEXCL_FUZZ_VERBOSE")) fprintf(stderr, "%s\n", msg);
        check(d == NULL);
        check(rc == FLEXCL_ERR_DATA || rc == FLEXCL_ERR_NOMEM);
        check(msg[0] != '\0' && strchr(msg, '\n') == NULL);
    } else {
        const size_t rows = flexcl_data_rows(d), dim = flexcl_data_dim(d);
        check(rows >= 1 && dim == flexcl_data_pixels(d) + flexcl_data_classes(d));
        check(flexcl_data_height(d) * flexcl_data_width(d) == flexcl_data_pixels(d));
        for (size_t i = 0; i < rows; ++i) {
            const float *x = flexcl_data_row(d, i);
            check(x != NULL);
            for (size_t j = 0; j < dim; ++j) check(x[j] >= 0.0f && x[j] <= 1.0f);
            const int label = flexcl_data_label(d, i);
            check(label >= -1 && label < 256);
            check(!s.label_block || (label >= 0 && label < s.n_classes));
        }
        check(flexcl_data_row(d, rows) == NULL);
        check(flexcl_data_describe(d)[0] != '\0');
        flexcl_data_destroy(&d);
        check(d == NULL);
    }
    close(img);
    if (lab >= 0) close(lab);
    return 0;
}
