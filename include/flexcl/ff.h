/* flexcl/ff.h */
#ifndef FLEXCL_FF_H
#define FLEXCL_FF_H
#include "flexcl/error.h"
#endif
