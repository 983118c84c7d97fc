/* lib/error.c - pcomm_strerror(), pcomm_errname(). SPDX-License-Identifier: MIT */
#include "pcomm/error.h"

#include <stddef.h>
#include <string.h>

struct pcomm_code {
    int code;
    const char *name;
    const char *text;
};

static const struct pcomm_code pcomm_codes[] = {
    {PCOMM_ECWD, "PCOMM_ECWD", "working directory is missing, not a directory or not searchable"},
    {PCOMM_ECAP, "PCOMM_ECAP", "output cap reached"},
    {PCOMM_ERATIO, "PCOMM_ERATIO", "decompression ratio cap reached (compression bomb?)"},
    {PCOMM_EMEMLIMIT, "PCOMM_EMEMLIMIT", "decoder needs more memory than its limit"},
    {PCOMM_EFORMAT, "PCOMM_EFORMAT", "unknown compression format"},
    {PCOMM_ESYNTAX, "PCOMM_ESYNTAX", "syntax error in command string"},
    {PCOMM_ELINE, "PCOMM_ELINE", "line longer than the terminal's line limit"},
    {PCOMM_EUNSUPPORTED, "PCOMM_EUNSUPPORTED", "not supported by this build or system"},
};

static const struct pcomm_code *pcomm_code_find(int err)
{
    for (size_t i = 0; i < sizeof pcomm_codes / sizeof pcomm_codes[0]; i++)
        if (pcomm_codes[i].code == err)
            return &pcomm_codes[i];
    return NULL;
}

/* Both functions accept errno values of either sign; anything outside errno's range is unknown. */
static int pcomm_positive_errno(int err)
{
    if (err <= -4096 || err >= 4096)
        return 0;
    return err < 0 ? -err : err;
}

const char *pcomm_strerror(int err)
{
    if (err == 0)
        return "success";
    const struct pcomm_code *c = pcomm_code_find(err);
    if (c)
        return c->text;
    if (err >= PCOMM_ERR_FIRST && err <= PCOMM_ERR_LAST)
        return "unknown error";
    /* strerrordesc_np is thread-safe and locale-independent, unlike strerror. */
    int e = pcomm_positive_errno(err);
    const char *s = e ? strerrordesc_np(e) : NULL;
    return s ? s : "unknown error";
}

const char *pcomm_errname(int err)
{
    if (err == 0)
        return "0";
    const struct pcomm_code *c = pcomm_code_find(err);
    if (c)
        return c->name;
    if (err >= PCOMM_ERR_FIRST && err <= PCOMM_ERR_LAST)
        return "EUNKNOWN";
    int e = pcomm_positive_errno(err);
    const char *s = e ? strerrorname_np(e) : NULL;
    return s ? s : "EUNKNOWN";
}
