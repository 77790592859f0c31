/* supervised: see include/flexcl/supervised.h. */
#include "flexcl/supervised.h"
