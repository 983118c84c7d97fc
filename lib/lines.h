/* lib/lines.h - splitting a byte stream into pcomm_line pieces for line callbacks.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_LINES_H
#define PCOMM_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "pcomm/run.h"

struct pcomm__lines {
    pcomm_line_fn fn;
    void *userdata;
    size_t max;    /* longest piece, '\n' included */
    int stage;     /* the pipeline stage the bytes come from */
    char *partial; /* carried-over start of a line (allocated on first use, max bytes) */
    size_t partial_len;
};

void pcomm__lines_init(struct pcomm__lines *lb, pcomm_line_fn fn, void *userdata, size_t max);
void pcomm__lines_free(struct pcomm__lines *lb);

/* Feed n bytes of stream, read at time now; calls fn for every complete line or piece. Returns
 * 0, the callback's negative error, or -ENOMEM. */
int pcomm__lines_feed(struct pcomm__lines *lb, int stream, const char *data, size_t n, int64_t now);

/* At end of stream: deliver a carried-over partial line flagged PCOMM_LINE_NO_EOL. */
int pcomm__lines_flush(struct pcomm__lines *lb, int stream, int64_t now);

#endif
