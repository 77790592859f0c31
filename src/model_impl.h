/* Private layout of models and chains (never installed). */
#ifndef FLEXCL_MODEL_IMPL_H
#define FLEXCL_MODEL_IMPL_H

#include "flexcl/model.h"

struct flexcl_model {
    const flexcl_model_ops *ops;
    void *impl;
    flexcl_model_settings settings;
    unsigned char *learnable; /* n_params entries */
};

struct flexcl_chain {
    const flexcl_model_ops *ops;
    const void *owner_impl;
    void *impl;
    size_t batch;
};

#endif
