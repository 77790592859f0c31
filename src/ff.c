/* ff: see include/flexcl/ff.h. */
#include "flexcl/ff.h"
