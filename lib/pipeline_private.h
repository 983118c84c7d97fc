/* lib/pipeline_private.h - the inside of pcomm_pipeline. SPDX-License-Identifier: MIT */
#ifndef PCOMM_PIPELINE_PRIVATE_H
#define PCOMM_PIPELINE_PRIVATE_H

#include <stddef.h>

#include "pcomm/pipeline.h"

struct pcomm__stage {
    pcomm_cmd *cmd; /* owned */
};

struct pcomm_pipeline {
    struct pcomm__stage *stages;
    size_t count, cap;
    int rule;        /* enum pcomm_rule */
    int stderr_mode; /* enum pcomm_stage_stderr */
};

#endif
