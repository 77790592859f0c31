/* flexcl/checkpoint.h — saving and restoring a running grid point. */
#ifndef FLEXCL_CHECKPOINT_H
#define FLEXCL_CHECKPOINT_H

#include "flexcl/error.h"

#endif
