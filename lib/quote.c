/* lib/quote.c - command strings: parsing CLI.md's -c grammar into words and stages, and
 * rendering argv back so that sh -c would see the same words.
 *
 * Grammar: words separated by blanks (space, tab, newline); '...' takes everything literally up
 * to the next quote; "..." too, except that a backslash before " or \ escapes it; outside quotes
 * a backslash takes the next byte literally; an unquoted | separates stages. Nothing else is
 * special and nothing is expanded: $, `, *, ~, ;, &, <, > and # are ordinary bytes.
 *
 * SPDX-License-Identifier: MIT */
#include "quote.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

/* ---- parsing ------------------------------------------------------------------------------- */

struct pcomm_wordbuf {
    char *text;
    size_t len, cap;
};

static int pcomm_wordbuf_put(struct pcomm_wordbuf *w, char c)
{
    int r = pcomm__grow((void **)&w->text, &w->cap, w->len + 2, 1);
    if (r == 0)
        w->text[w->len++] = c;
    return r;
}

static bool pcomm_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

/* Read one quoted section starting at text[*i] (the quote). Returns 0, PCOMM_ESYNTAX or -ENOMEM. */
static int pcomm_parse_quoted(const char *text, size_t *i, struct pcomm_wordbuf *w)
{
    char quote = text[(*i)++];
    for (;; (*i)++) {
        char c = text[*i];
        if (c == '\0')
            return PCOMM_ESYNTAX;
        if (c == quote)
            break;
        if (quote == '"' && c == '\\' && (text[*i + 1] == '"' || text[*i + 1] == '\\'))
            c = text[++*i];
        int r = pcomm_wordbuf_put(w, c);
        if (r < 0)
            return r;
    }
    (*i)++;
    return 0;
}

/* Parse one word starting at text[*i] (not a blank, not '|'). */
static int pcomm_parse_word(const char *text, size_t *i, struct pcomm_wordbuf *w, size_t *error_at)
{
    w->len = 0;
    int r = pcomm_wordbuf_put(w, '\0'); /* an empty quoted word is still a word */
    w->len = 0;
    while (r == 0 && text[*i] && !pcomm_is_blank(text[*i]) && text[*i] != '|') {
        char c = text[*i];
        if (c == '\'' || c == '"') {
            *error_at = *i;
            r = pcomm_parse_quoted(text, i, w);
        } else if (c == '\\') {
            *error_at = *i;
            if (!text[*i + 1])
                return PCOMM_ESYNTAX;
            r = pcomm_wordbuf_put(w, text[*i + 1]);
            *i += 2;
        } else {
            r = pcomm_wordbuf_put(w, c);
            (*i)++;
        }
    }
    if (r == 0)
        w->text[w->len] = '\0';
    return r;
}

int pcomm__parse_stages(const char *text, pcomm__stage_fn fn, void *userdata, size_t *error_at)
{
    struct pcomm_wordbuf w = {0};
    const char **words = NULL;
    char **owned = NULL;
    size_t count = 0, owned_cap = 0, words_cap = 0, stage_start = 0;
    int r = 0;
    for (size_t i = 0;;) {
        while (pcomm_is_blank(text[i]))
            i++;
        if (text[i] == '|' || text[i] == '\0') {
            if (count == 0) { /* an empty stage: "", "a |", "| a", "a || b" */
                *error_at = text[i] ? i : stage_start;
                r = PCOMM_ESYNTAX;
                break;
            }
            r = fn(userdata, (const char *const *)words, count);
            for (size_t k = 0; k < count; k++)
                free(owned[k]);
            count = 0;
            if (r < 0 || text[i] == '\0')
                break;
            stage_start = i++;
            continue;
        }
        if ((r = pcomm__grow((void **)&owned, &owned_cap, count + 2, sizeof *owned)) < 0 ||
            (r = pcomm__grow((void **)&words, &words_cap, count + 2, sizeof *words)) < 0)
            break;
        r = pcomm_parse_word(text, &i, &w, error_at);
        if (r == 0 && !(owned[count] = pcomm__strndup(w.text, w.len)))
            r = -ENOMEM;
        if (r < 0)
            break;
        words[count] = owned[count];
        words[++count] = NULL;
    }
    for (size_t k = 0; k < count; k++)
        free(owned[k]);
    free(owned);
    free(words);
    free(w.text);
    return r;
}

/* ---- rendering ----------------------------------------------------------------------------- */

/* Bytes that sh never treats specially anywhere in a word. '=' is left out (NAME=value as the
 * first word would be an assignment), and so is everything else. */
static bool pcomm_is_safe(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_@%+:,./-", c) != NULL;
}

/* Words sh would read as syntax in the position of a command name. */
static bool pcomm_is_reserved(const char *word)
{
    static const char *const reserved[] = {"if",   "then",     "else",   "elif",  "fi",    "do",
                                           "done", "case",     "esac",   "while", "until", "for",
                                           "in",   "function", "select", "time",  "coproc"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(word, reserved[i]))
            return true;
    return false;
}

static bool pcomm_needs_quotes(const char *word)
{
    if (!*word || pcomm_is_reserved(word))
        return true;
    for (const unsigned char *p = (const unsigned char *)word; *p; p++)
        if (!pcomm_is_safe(*p) || (*p == '%' && p == (const unsigned char *)word))
            return true; /* a leading % is job syntax in some shells */
    return false;
}

int pcomm__render_word(struct pcomm__strbuf *out, const char *word)
{
    if (!pcomm_needs_quotes(word))
        return pcomm__strbuf_add(out, word, strlen(word));
    int r = pcomm__strbuf_add(out, "'", 1);
    for (const char *p = word; r == 0 && *p; p++)
        r = *p == '\'' ? pcomm__strbuf_add(out, "'\\''", 4) : pcomm__strbuf_add(out, p, 1);
    return r == 0 ? pcomm__strbuf_add(out, "'", 1) : r;
}

int pcomm__strbuf_add(struct pcomm__strbuf *b, const char *s, size_t n)
{
    int r = pcomm__grow((void **)&b->text, &b->cap, b->len + n + 1, 1);
    if (r < 0)
        return r;
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
    return 0;
}
