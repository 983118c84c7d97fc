/* lib/pipeline_private.h - the inside of pcomm_pipeline. SPDX-License-Identifier: MIT */
#ifndef PCOMM_PIPELINE_PRIVATE_H
#define PCOMM_PIPELINE_PRIVATE_H

#include <stddef.h>

#include "pcomm/filter.h"
#include "pcomm/pipeline.h"

/* A stage runs a command or, in the parent, a filter: exactly one of the two is set. */
struct pcomm__stage {
    pcomm_cmd *cmd;       /* owned */
    pcomm_filter *filter; /* owned */
};

struct pcomm_pipeline {
    struct pcomm__stage *stages;
    size_t count, cap;
    int rule;        /* enum pcomm_rule */
    int stderr_mode; /* enum pcomm_stage_stderr */
};

#endif
