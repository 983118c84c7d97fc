/* lib/version.c - pcomm_version(), pcomm_now_ns(). SPDX-License-Identifier: MIT */
#include "pcomm/common.h"
#include "sys.h"

const char *pcomm_version(void)
{
    return PCOMM_VERSION_STRING;
}

int64_t pcomm_now_ns(void)
{
    return pcomm__now_ns();
}
