/* flexcl/supervised.h */
#ifndef FLEXCL_SUPERVISED_H
#define FLEXCL_SUPERVISED_H
#include "flexcl/error.h"
#endif
