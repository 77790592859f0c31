/* Within-grid-point checkpoints (see include/flexcl/checkpoint.h). */
#include "flexcl/checkpoint.h"
