/* lib/quote.h - command-string parsing and shell quoting (see quote.c).
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_QUOTE_H
#define PCOMM_QUOTE_H

#include <stddef.h>

#include "pcomm/error.h"

/* Called once per stage with its words (a NULL-terminated array, valid during the call). */
typedef int (*pcomm__stage_fn)(void *userdata, const char *const *words, size_t count);

/* Parse text into stages. Returns 0, PCOMM_ESYNTAX with *error_at = the 0-based byte offset of
 * the problem (the unterminated quote, the dangling backslash, the '|' of an empty stage), a
 * callback's error, or -ENOMEM. */
int pcomm__parse_stages(const char *text, pcomm__stage_fn fn, void *userdata, size_t *error_at);

/* A growable NUL-terminated string. */
struct pcomm__strbuf {
    char *text;
    size_t len, cap;
};

int pcomm__strbuf_add(struct pcomm__strbuf *b, const char *s, size_t n);

/* Append word, quoted when sh would otherwise read anything in it differently. */
int pcomm__render_word(struct pcomm__strbuf *out, const char *word);

#endif
