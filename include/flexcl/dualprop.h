/* flexcl/dualprop.h */
#ifndef FLEXCL_DUALPROP_H
#define FLEXCL_DUALPROP_H
#include "flexcl/error.h"
#endif
