/* flexcl/flexcl.h — umbrella header: everything a user of the library needs. */
#ifndef FLEXCL_FLEXCL_H
#define FLEXCL_FLEXCL_H

#include "flexcl/data.h"
#include "flexcl/error.h"
#include "flexcl/experiment.h"
#include "flexcl/job.h"
#include "flexcl/learner.h"
#include "flexcl/log.h"
#include "flexcl/model.h"
#include "flexcl/moments.h"
#include "flexcl/optim.h"
#include "flexcl/provenance.h"
#include "flexcl/rbm.h"
#include "flexcl/results.h"
#include "flexcl/rng.h"
#include "flexcl/spectrum.h"
#include "flexcl/tcl.h"

#endif
