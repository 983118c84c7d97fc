/* lib/pipeline.c - pcomm_pipeline: the description of a | b | c, and its string forms.
 * SPDX-License-Identifier: MIT */
#include "pipeline_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quote.h"
#include "sys.h"

int pcomm_pipeline_new(pcomm_pipeline **pipelinep)
{
    if (!pipelinep)
        return -EINVAL;
    *pipelinep = calloc(1, sizeof **pipelinep);
    return *pipelinep ? 0 : -ENOMEM;
}

void pcomm_pipeline_free(pcomm_pipeline *pipeline)
{
    if (!pipeline)
        return;
    for (size_t i = 0; i < pipeline->count; i++) {
        pcomm_cmd_free(pipeline->stages[i].cmd);
        pcomm_filter_free(pipeline->stages[i].filter);
    }
    free(pipeline->stages);
    free(pipeline);
}

static int pcomm_pipeline_push(pcomm_pipeline *pipeline, pcomm_cmd *cmd, pcomm_filter *filter)
{
    int r = pcomm__grow((void **)&pipeline->stages, &pipeline->cap, pipeline->count + 1,
                        sizeof *pipeline->stages);
    if (r < 0)
        return r;
    pipeline->stages[pipeline->count++] = (struct pcomm__stage){cmd, filter};
    return 0;
}

int pcomm_pipeline_add_cmd(pcomm_pipeline *pipeline, const pcomm_cmd *cmd)
{
    if (!pipeline || !cmd || pcomm_cmd_argc(cmd) == 0)
        return -EINVAL;
    pcomm_cmd *copy;
    int r = pcomm_cmd_dup(cmd, &copy);
    if (r == 0 && (r = pcomm_pipeline_push(pipeline, copy, NULL)) < 0)
        pcomm_cmd_free(copy);
    return r;
}

int pcomm_pipeline_add_filter(pcomm_pipeline *pipeline, pcomm_filter *filter)
{
    if (!pipeline || !filter)
        return -EINVAL;
    for (size_t i = 0; i < pipeline->count; i++)
        if (pipeline->stages[i].filter == filter)
            return -EBUSY; /* one filter object is one stream */
    return pcomm_pipeline_push(pipeline, NULL, filter);
}

pcomm_filter *pcomm_pipeline_filter(const pcomm_pipeline *pipeline, size_t i)
{
    return pipeline && i < pipeline->count ? pipeline->stages[i].filter : NULL;
}

size_t pcomm_pipeline_length(const pcomm_pipeline *pipeline)
{
    return pipeline ? pipeline->count : 0;
}

pcomm_cmd *pcomm_pipeline_cmd(const pcomm_pipeline *pipeline, size_t i)
{
    return pipeline && i < pipeline->count ? pipeline->stages[i].cmd : NULL;
}

int pcomm_pipeline_set_rule(pcomm_pipeline *pipeline, int rule)
{
    if (!pipeline || rule < PCOMM_RULE_PIPEFAIL || rule > PCOMM_RULE_LIBPIPELINE)
        return -EINVAL;
    pipeline->rule = rule;
    return 0;
}

int pcomm_pipeline_set_stderr(pcomm_pipeline *pipeline, int mode)
{
    if (!pipeline || mode < PCOMM_STDERR_INHERIT || mode > PCOMM_STDERR_MERGED)
        return -EINVAL;
    pipeline->stderr_mode = mode;
    return 0;
}

static int pcomm_pipeline_add_words(void *userdata, const char *const *words, size_t count)
{
    (void)count;
    pcomm_cmd *cmd;
    int r = pcomm_cmd_new_argv(&cmd, words);
    if (r == 0 && (r = pcomm_pipeline_push(userdata, cmd, NULL)) < 0)
        pcomm_cmd_free(cmd);
    return r;
}

int pcomm_pipeline_parse(const char *text, pcomm_pipeline **pipelinep, size_t *columnp)
{
    if (!text || !pipelinep)
        return -EINVAL;
    pcomm_pipeline *pipeline;
    int r = pcomm_pipeline_new(&pipeline);
    if (r < 0)
        return r;
    size_t error_at = 0;
    r = pcomm__parse_stages(text, pcomm_pipeline_add_words, pipeline, &error_at);
    if (r < 0) {
        if (r == PCOMM_ESYNTAX && columnp)
            *columnp = error_at + 1;
        pcomm_pipeline_free(pipeline);
        return r;
    }
    *pipelinep = pipeline;
    return 0;
}

static int pcomm_render_cmd(struct pcomm__strbuf *out, const pcomm_cmd *cmd)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < pcomm_cmd_argc(cmd); i++) {
        if (i > 0)
            r = pcomm__strbuf_add(out, " ", 1);
        if (r == 0)
            r = pcomm__render_word(out, pcomm_cmd_argv(cmd, i));
    }
    return r;
}

static int pcomm_render_done(struct pcomm__strbuf *out, int r, char **textp)
{
    if (r == 0 && !out->text)
        r = pcomm__strbuf_add(out, "", 0);
    if (r < 0) {
        free(out->text);
        return r;
    }
    *textp = out->text;
    return 0;
}

int pcomm_cmd_to_string(const pcomm_cmd *cmd, char **textp)
{
    if (!cmd || !textp)
        return -EINVAL;
    struct pcomm__strbuf out = {0};
    return pcomm_render_done(&out, pcomm_render_cmd(&out, cmd), textp);
}

int pcomm_pipeline_to_string(const pcomm_pipeline *pipeline, char **textp)
{
    if (!pipeline || !textp)
        return -EINVAL;
    struct pcomm__strbuf out = {0};
    int r = 0;
    for (size_t i = 0; r == 0 && i < pipeline->count; i++) {
        if (!pipeline->stages[i].cmd)
            r = -ENOTSUP; /* a filter stage runs in the parent: sh has no word for it */
        if (r == 0 && i > 0)
            r = pcomm__strbuf_add(&out, " | ", 3);
        if (r == 0)
            r = pcomm_render_cmd(&out, pipeline->stages[i].cmd);
    }
    return pcomm_render_done(&out, r, textp);
}
