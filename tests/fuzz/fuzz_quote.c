/* tests/fuzz/fuzz_quote.c - libFuzzer harness for command strings: pcomm_pipeline_parse() and
 * the shell quoting of pcomm_pipeline_to_string() / pcomm_cmd_to_string().
 *
 * Input framing (for the structured check):
 *   byte 0      SEP, the stage separator byte (0: no separator, a single stage)
 *   bytes 1..   split on SEP into stages (at most FUZZ_MAX_STAGES, the rest is ignored), each
 *               stage split on NUL into words (at most FUZZ_MAX_WORDS, the rest is ignored).
 * So every stage has at least one word, words may be empty, and a word holds any byte but NUL
 * (and but SEP in that input; another SEP makes that byte reachable too).
 *
 * Checks:
 *   1. round trip: the pipeline built from those words, rendered with pcomm_pipeline_to_string()
 *      and parsed back with pcomm_pipeline_parse(), has the same stages and the same words; the
 *      pipeline's rendering is its stages' pcomm_cmd_to_string() joined by " | ".
 *   2. raw text: every NUL-separated piece of the whole input (the first one is the input as a
 *      C string) is parsed as a command string. Parsing never crashes and gives 0 or
 *      PCOMM_ESYNTAX with a column inside the text; when it succeeds, render then parse gives the
 *      same stages again, and rendering that gives the same text (idempotence).
 * A failure prints a hex dump of the words of both sides and aborts.
 * SPDX-License-Identifier: MIT */
#include <pcomm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_STAGES 16
#define FUZZ_MAX_WORDS  64

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (line %d)\n", #cond, __LINE__);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void fuzz_hex(const char *label, const void *data, size_t len)
{
    const unsigned char *p = data;
    fprintf(stderr, "%s (%zu bytes):", label, len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", p[i]);
    fprintf(stderr, "\n");
}

static void fuzz_dump(const char *label, const pcomm_pipeline *p)
{
    fprintf(stderr, "%s: %zu stage(s)\n", label, pcomm_pipeline_length(p));
    for (size_t s = 0; s < pcomm_pipeline_length(p); s++) {
        const pcomm_cmd *cmd = pcomm_pipeline_cmd(p, s);
        for (size_t k = 0; k < pcomm_cmd_argc(cmd); k++) {
            char name[64];
            snprintf(name, sizeof name, "  stage %zu word %zu", s, k);
            const char *w = pcomm_cmd_argv(cmd, k);
            fuzz_hex(name, w, strlen(w));
        }
    }
}

static bool fuzz_same(const pcomm_pipeline *a, const pcomm_pipeline *b)
{
    if (pcomm_pipeline_length(a) != pcomm_pipeline_length(b))
        return false;
    for (size_t s = 0; s < pcomm_pipeline_length(a); s++) {
        const pcomm_cmd *ca = pcomm_pipeline_cmd(a, s), *cb = pcomm_pipeline_cmd(b, s);
        if (!ca || !cb || pcomm_cmd_argc(ca) != pcomm_cmd_argc(cb))
            return false;
        for (size_t k = 0; k < pcomm_cmd_argc(ca); k++)
            if (strcmp(pcomm_cmd_argv(ca, k), pcomm_cmd_argv(cb, k)))
                return false;
    }
    return true;
}

/* Fail with both sides dumped unless a and b have the same stages. */
static void fuzz_expect_same(const pcomm_pipeline *a, const pcomm_pipeline *b, const char *text,
                             const char *what)
{
    if (fuzz_same(a, b))
        return;
    fprintf(stderr, "%s: stages differ\n", what);
    fuzz_hex("rendered text", text, strlen(text));
    fuzz_dump("expected", a);
    fuzz_dump("got", b);
    abort();
}

/* Render p, check the rendering against the per-command one, parse it back and compare.
 * Returns the rendering (the caller frees it). */
static char *fuzz_roundtrip(const pcomm_pipeline *p, const char *what)
{
    char *text;
    FUZZ_CHECK(pcomm_pipeline_to_string(p, &text) == 0);

    size_t off = 0;
    for (size_t s = 0; s < pcomm_pipeline_length(p); s++) {
        char *one;
        FUZZ_CHECK(pcomm_cmd_to_string(pcomm_pipeline_cmd(p, s), &one) == 0);
        size_t n = strlen(one);
        if (s > 0) {
            FUZZ_CHECK(strncmp(text + off, " | ", 3) == 0);
            off += 3;
        }
        FUZZ_CHECK(strncmp(text + off, one, n) == 0);
        off += n;
        free(one);
    }
    FUZZ_CHECK(text[off] == '\0');

    pcomm_pipeline *back = NULL;
    size_t col = 0;
    int r = pcomm_pipeline_parse(text, &back, &col);
    if (r != 0) {
        fprintf(stderr, "%s: parse(render) failed: %s at column %zu\n", what, pcomm_errname(r),
                col);
        fuzz_hex("rendered text", text, strlen(text));
        fuzz_dump("pipeline", p);
        abort();
    }
    fuzz_expect_same(p, back, text, what);
    pcomm_pipeline_free(back);
    return text;
}

/* Check 1: the words framed in data (see the top of the file). */
static void fuzz_words(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    uint8_t sep = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    pcomm_pipeline *pipeline;
    FUZZ_CHECK(pcomm_pipeline_new(&pipeline) == 0);
    for (size_t s = 0; s < FUZZ_MAX_STAGES; s++) {
        const uint8_t *stage_end = sep ? memchr(p, sep, (size_t)(end - p)) : NULL;
        if (!stage_end)
            stage_end = end;
        pcomm_cmd *cmd;
        FUZZ_CHECK(pcomm_cmd_new(&cmd) == 0);
        const uint8_t *w = p;
        for (size_t k = 0; k < FUZZ_MAX_WORDS; k++) {
            const uint8_t *w_end = memchr(w, 0, (size_t)(stage_end - w));
            if (!w_end)
                w_end = stage_end;
            FUZZ_CHECK(pcomm_cmd_arg_bytes(cmd, w, (size_t)(w_end - w)) == 0);
            if (w_end == stage_end)
                break;
            w = w_end + 1;
        }
        FUZZ_CHECK(pcomm_pipeline_add_cmd(pipeline, cmd) == 0);
        pcomm_cmd_free(cmd);
        if (stage_end == end)
            break;
        p = stage_end + 1;
    }
    free(fuzz_roundtrip(pipeline, "words"));
    pcomm_pipeline_free(pipeline);
}

/* Check 2: text (a C string of len bytes) parsed as a command string. */
static void fuzz_text(const char *text, size_t len)
{
    pcomm_pipeline *p = NULL;
    size_t col = 0;
    int r = pcomm_pipeline_parse(text, &p, &col);
    if (r == PCOMM_ESYNTAX) {
        FUZZ_CHECK(p == NULL);
        FUZZ_CHECK(col >= 1 && col <= (len ? len : 1));
        return;
    }
    if (r != 0) {
        fprintf(stderr, "parse: %s\n", pcomm_errname(r));
        fuzz_hex("text", text, len);
        abort();
    }
    FUZZ_CHECK(pcomm_pipeline_length(p) >= 1);
    for (size_t s = 0; s < pcomm_pipeline_length(p); s++)
        FUZZ_CHECK(pcomm_cmd_argc(pcomm_pipeline_cmd(p, s)) >= 1);
    char *rendered = fuzz_roundtrip(p, "text");
    /* The rendering is a fixed point: parse it and render again, the same text comes out. */
    pcomm_pipeline *again;
    FUZZ_CHECK(pcomm_pipeline_parse(rendered, &again, NULL) == 0);
    char *rendered2;
    FUZZ_CHECK(pcomm_pipeline_to_string(again, &rendered2) == 0);
    if (strcmp(rendered, rendered2)) {
        fuzz_hex("text", text, len);
        fuzz_hex("render(parse(text))", rendered, strlen(rendered));
        fuzz_hex("render(parse(render(parse(text))))", rendered2, strlen(rendered2));
        abort();
    }
    free(rendered2);
    pcomm_pipeline_free(again);
    free(rendered);
    pcomm_pipeline_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_words(data, size);

    char *copy = malloc(size + 1);
    FUZZ_CHECK(copy != NULL);
    if (size)
        memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t off = 0;;) {
        size_t len = strlen(copy + off);
        fuzz_text(copy + off, len);
        off += len + 1;
        if (off > size)
            break;
    }
    free(copy);
    return 0;
}
