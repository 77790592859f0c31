/* dualprop: see include/flexcl/dualprop.h. */
#include "flexcl/dualprop.h"
