/* tests/test_parse.c - command strings: pcomm_pipeline_parse, pcomm_*_to_string, and the round
 * trip through a real /bin/sh. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Render every stage as "[w1][w2]|[w1]" for compact expectations. */
static char *shape(const pcomm_pipeline *p)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < pcomm_pipeline_length(p); i++) {
        const pcomm_cmd *cmd = pcomm_pipeline_cmd(p, i);
        if (i)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "|");
        for (size_t k = 0; k < pcomm_cmd_argc(cmd); k++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "[%s]", pcomm_cmd_argv(cmd, k));
    }
    return buf;
}

static void expect_parse(const char *text, const char *expected)
{
    pcomm_pipeline *p;
    size_t col = 0;
    int r = pcomm_pipeline_parse(text, &p, &col);
    if (r < 0)
        fail_msg("parse(%s) -> %s at column %zu", text, pcomm_errname(r), col);
    if (strcmp(shape(p), expected))
        fail_msg("parse(%s) -> %s, expected %s", text, shape(p), expected);
    pcomm_pipeline_free(p);
}

static void expect_error(const char *text, size_t column)
{
    pcomm_pipeline *p = NULL;
    size_t col = 0;
    int r = pcomm_pipeline_parse(text, &p, &col);
    if (r != PCOMM_ESYNTAX || col != column)
        fail_msg("parse(%s) -> %s at column %zu, expected PCOMM_ESYNTAX at %zu", text,
                 pcomm_errname(r), col, column);
    assert_null(p);
}

static void test_parse_words_and_stages(void **state)
{
    (void)state;
    expect_parse("zcat a.gz | grep -v \"^#\" | sort -u", "[zcat][a.gz]|[grep][-v][^#]|[sort][-u]");
    expect_parse("  a\tb\nc  ", "[a][b][c]");
    expect_parse("a|b", "[a]|[b]");
    expect_parse("echo 'a b' \"c d\" e\\ f", "[echo][a b][c d][e f]");
    expect_parse("x \"q\\\"uote\" \"back\\\\slash\" \"keep\\n\"",
                 "[x][q\"uote][back\\slash][keep\\n]");
    expect_parse("x 'it'\\''s' '' \"\" a''b", "[x][it's][][][ab]");
    expect_parse("x 'a|b' a\\|b \"|\"", "[x][a|b][a|b][|]");
    expect_parse("x $HOME * ~ ; & > < # `id`", "[x][$HOME][*][~][;][&][>][<][#][`id`]");
    expect_parse("x \\\\ \\'", "[x][\\][']");
    expect_parse("x 'multi\nline'", "[x][multi\nline]");
}

static void test_parse_errors_name_the_column(void **state)
{
    (void)state;
    expect_error("", 1);
    expect_error("   ", 1);
    expect_error("a |", 3);
    expect_error("| a", 1);
    expect_error("a || b", 4);
    expect_error("a | | b", 5);
    expect_error("echo 'open", 6);
    expect_error("echo ok \"open", 9);
    expect_error("echo trailing\\", 14);
    pcomm_pipeline *p;
    assert_int_equal(pcomm_pipeline_parse(NULL, &p, NULL), -EINVAL);
    assert_int_equal(pcomm_pipeline_parse("a", NULL, NULL), -EINVAL);
    assert_int_equal(pcomm_pipeline_parse("'", &p, NULL), PCOMM_ESYNTAX); /* column optional */
}

static void expect_render(const char *const *argv, const char *expected)
{
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    char *text;
    PT_OK(pcomm_cmd_to_string(cmd, &text));
    assert_string_equal(text, expected);
    free(text);
    pcomm_cmd_free(cmd);
}

static void test_render(void **state)
{
    (void)state;
    expect_render((const char *[]){"ls", "-la", "/tmp", NULL}, "ls -la /tmp");
    expect_render((const char *[]){"echo", "a b", "", "it's", NULL}, "echo 'a b' '' 'it'\\''s'");
    expect_render((const char *[]){"A=b", "x", NULL}, "'A=b' x"); /* not an assignment */
    expect_render((const char *[]){"if", "then", "ok", NULL}, "'if' 'then' ok");
    expect_render((const char *[]){"x", "$HOME", "*", "~", "a|b", "%1", NULL},
                  "x '$HOME' '*' '~' 'a|b' '%1'");
    pcomm_pipeline *p;
    PT_OK(pcomm_pipeline_parse("a 'b c' | d", &p, NULL));
    char *text;
    PT_OK(pcomm_pipeline_to_string(p, &text));
    assert_string_equal(text, "a 'b c' | d");
    free(text);
    pcomm_pipeline_free(p);
    PT_OK(pcomm_pipeline_new(&p));
    PT_OK(pcomm_pipeline_to_string(p, &text));
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(pcomm_pipeline_to_string(NULL, &text), -EINVAL);
    pcomm_pipeline_free(p);
}

/* A random word of 0..12 bytes from 1..255, biased towards the bytes that matter. */
static void random_word(char *w, unsigned *seed)
{
    static const char special[] = " \t\n'\"\\|$`*?~#;&<>(){}=%!";
    size_t len = (size_t)(rand_r(seed) % 13);
    for (size_t i = 0; i < len; i++) {
        int pick = rand_r(seed) % 3;
        w[i] = pick == 0   ? special[rand_r(seed) % (sizeof special - 1)]
               : pick == 1 ? (char)('a' + rand_r(seed) % 26)
                           : (char)(1 + rand_r(seed) % 255);
    }
    w[len] = '\0';
}

static void test_roundtrip_parse_render(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int iter = 0; iter < 2000; iter++) {
        pcomm_pipeline *p;
        PT_OK(pcomm_pipeline_new(&p));
        int stages = 1 + rand_r(&seed) % 3;
        for (int s = 0; s < stages; s++) {
            pcomm_cmd *cmd;
            PT_OK(pcomm_cmd_new(&cmd));
            int words = 1 + rand_r(&seed) % 5;
            for (int k = 0; k < words; k++) {
                char w[16];
                random_word(w, &seed);
                PT_OK(pcomm_cmd_arg(cmd, w));
            }
            PT_OK(pcomm_pipeline_add_cmd(p, cmd));
            pcomm_cmd_free(cmd);
        }
        char *text;
        PT_OK(pcomm_pipeline_to_string(p, &text));
        pcomm_pipeline *back;
        size_t col = 0;
        int r = pcomm_pipeline_parse(text, &back, &col);
        if (r < 0)
            fail_msg("parse(render) failed at column %zu of: %s", col, text);
        char expected[4096];
        snprintf(expected, sizeof expected, "%s", shape(p));
        if (strcmp(shape(back), expected))
            fail_msg("round trip of %s: %s != %s", text, shape(back), expected);
        pcomm_pipeline_free(back);
        pcomm_pipeline_free(p);
        free(text);
    }
}

/* The same rendering, given to a real /bin/sh: the helper prints the argv sh gave it. */
static void test_roundtrip_through_sh(void **state)
{
    (void)state;
    unsigned seed = 777;
    for (int iter = 0; iter < 300; iter++) {
        pcomm_cmd *cmd = pt_helper_cmd("argv", NULL);
        char words[6][16];
        int n = 1 + rand_r(&seed) % 6;
        for (int k = 0; k < n; k++) {
            random_word(words[k], &seed);
            PT_OK(pcomm_cmd_arg(cmd, words[k]));
        }
        char *text;
        PT_OK(pcomm_cmd_to_string(cmd, &text));
        const char *sh[] = {"/bin/sh", "-c", text, NULL};
        pcomm_cmd *shcmd;
        PT_OK(pcomm_cmd_new_argv(&shcmd, sh));
        size_t len;
        pcomm_status st;
        char *out = pt_capture(shcmd, &len, &st);
        assert_int_equal(pcomm_status_shell_code(&st), 0);
        size_t off = 0;
        for (int k = 0; k < n; k++) {
            size_t wl = strlen(words[k]) + 1;
            if (off + wl > len || memcmp(out + off, words[k], wl))
                fail_msg("sh -c '%s' did not see word %d", text, k);
            off += wl;
        }
        assert_int_equal(off, len);
        free(out);
        free(text);
        pcomm_cmd_free(shcmd);
        pcomm_cmd_free(cmd);
    }
}

static void test_description_setters(void **state)
{
    (void)state;
    pcomm_pipeline *p;
    PT_OK(pcomm_pipeline_new(&p));
    pcomm_cmd *empty;
    PT_OK(pcomm_cmd_new(&empty));
    assert_int_equal(pcomm_pipeline_add_cmd(p, empty), -EINVAL);
    assert_int_equal(pcomm_pipeline_add_cmd(p, NULL), -EINVAL);
    assert_int_equal(pcomm_pipeline_set_rule(p, 3), -EINVAL);
    assert_int_equal(pcomm_pipeline_set_stderr(p, -1), -EINVAL);
    PT_OK(pcomm_pipeline_set_rule(p, PCOMM_RULE_LIBPIPELINE));
    PT_OK(pcomm_pipeline_set_stderr(p, PCOMM_STDERR_MERGED));
    assert_null(pcomm_pipeline_cmd(p, 0));
    assert_int_equal(pcomm_pipeline_length(NULL), 0);
    pcomm_cmd_free(empty);
    pcomm_pipeline_free(p);
    pcomm_pipeline_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_parse_words_and_stages),
        PT_TEST(test_parse_errors_name_the_column),
        PT_TEST(test_render),
        PT_TEST(test_roundtrip_parse_render),
        PT_TEST(test_roundtrip_through_sh),
        PT_TEST(test_description_setters),
    };
    return PT_RUN(tests);
}
