/* pcomm.h - libpcomm: run child processes and move their bytes.
 *
 * Include this umbrella header, or only the per-family headers under pcomm/.
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_H
#define PCOMM_H

#include "pcomm/common.h"
#include "pcomm/error.h"
#include "pcomm/cmd.h"
#include "pcomm/proc.h"
#include "pcomm/loop.h"
#include "pcomm/spool.h"
#include "pcomm/atomic.h"
#include "pcomm/run.h"
#include "pcomm/pipeline.h"
#include "pcomm/filter.h"

#endif /* PCOMM_H */
