/* tests/fuzz/fuzz_decoder.h - the libFuzzer harness shared by fuzz_<codec>.c: one decoder,
 * FUZZ_CODEC, fed the input after a 4-byte header that chooses how:
 *   byte 0  input chunk size       byte 2  output cap (0: 4 MiB; else n * 4 KiB)
 *   byte 1  output chunk size      byte 3  flags: 1 auto decoder, 2 FINISH only after all
 *                                          input, 4 passthrough, 8 ratio cap 100, 16 FLUSH
 * It checks on every call that the decoder moves (consumes or produces) whenever it was given
 * input or room, never writes past the room it got nor past the cap, keeps errors final, and
 * that the result and the output do not depend on the chunking (except under a ratio cap,
 * which by design depends on how much input was offered, and the length of the output before
 * an error).
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_FUZZ_DECODER_H
#define PCOMM_FUZZ_DECODER_H

#include <pcomm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (line %d)\n", #cond, __LINE__);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct fuzz_run {
    size_t in_chunk, out_chunk;
    uint64_t cap, ratio;
    bool use_auto, late_finish, passthrough, flush;
};

static size_t fuzz_chunk(uint8_t sel)
{
    return sel < 128 ? (size_t)sel + 1 : (size_t)1 << (sel & 15); /* 1..128 or 1..32768 */
}

/* Decode data under run, writing at most cap bytes to out. Returns the final result. */
static int fuzz_decode(const struct fuzz_run *run, const uint8_t *data, size_t size, uint8_t *out,
                       size_t *out_len)
{
    pcomm_filter *f;
    FUZZ_CHECK(pcomm_filter_new_decoder(&f, run->use_auto ? PCOMM_CODEC_AUTO : FUZZ_CODEC) == 0);
    FUZZ_CHECK(pcomm_filter_set_limits(f, run->cap, run->ratio, 64 << 20) == 0);
    if (run->use_auto)
        FUZZ_CHECK(pcomm_filter_set_passthrough(f, run->passthrough) == 0);
    size_t off = 0, produced = 0;
    bool sticky = false;
    int r;
    for (;;) {
        size_t avail = size - off, room = run->out_chunk;
        int mode = run->flush ? PCOMM_FILTER_FLUSH : PCOMM_FILTER_RUN;
        if (avail > run->in_chunk && !sticky)
            avail = run->in_chunk;
        else if (!run->late_finish || off == size)
            mode = PCOMM_FILTER_FINISH;
        if (room > run->cap + 1 - produced)
            room = (size_t)(run->cap + 1 - produced); /* our buffer holds cap + 1 bytes */
        size_t il = avail, ol = room;
        r = pcomm_filter_process(f, data + off, &il, out + produced, &ol, mode);
        FUZZ_CHECK(il <= avail && ol <= room);
        if (r == PCOMM_FILTER_MORE && room > 0 && il == 0 && ol == 0)
            FUZZ_CHECK(avail == 0 && mode == PCOMM_FILTER_RUN); /* it could have moved */
        off += il;
        produced += ol;
        FUZZ_CHECK(produced <= run->cap);
        FUZZ_CHECK(pcomm_filter_total_out(f) == produced);
        FUZZ_CHECK(pcomm_filter_total_in(f) == off);
        sticky = mode != PCOMM_FILTER_RUN && r == PCOMM_FILTER_MORE;
        if (r < 0 || r == PCOMM_FILTER_END)
            break;
        if (r == PCOMM_FILTER_FLUSHED) /* all it was given is consumed */
            FUZZ_CHECK(mode == PCOMM_FILTER_FLUSH && il == avail);
    }
    if (r < 0) { /* errors are final and explained */
        FUZZ_CHECK(pcomm_filter_message(f)[0] != '\0');
        size_t il = 0, ol = 0;
        FUZZ_CHECK(pcomm_filter_process(f, NULL, &il, NULL, &ol, PCOMM_FILTER_FINISH) == r);
    }
    pcomm_filter_free(f);
    *out_len = produced;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    struct fuzz_run run = {
        .in_chunk = fuzz_chunk(data[0]),
        .out_chunk = fuzz_chunk(data[1]),
        .cap = data[2] ? (uint64_t)data[2] << 12 : (uint64_t)4 << 20,
        .use_auto = data[3] & 1,
        .late_finish = data[3] & 2,
        .passthrough = data[3] & 4,
        .ratio = data[3] & 8 ? 100 : 0,
        .flush = data[3] & 16,
    };
    /* Keep one input under a second: tiny output chunks get a small cap. */
    if (run.out_chunk < 64 && run.cap > ((uint64_t)run.out_chunk << 14))
        run.cap = (uint64_t)run.out_chunk << 14;
    data += 4;
    size -= 4;
    /* Reused between inputs: fresh 4 MiB buffers per input would make page faults the cost. */
    static uint8_t a[(4 << 20) + 1], b[(4 << 20) + 1];
    size_t la, lb;
    int ra = fuzz_decode(&run, data, size, a, &la);
    if (!run.ratio) {
        struct fuzz_run whole = run;
        whole.in_chunk = whole.out_chunk = 1 << 20;
        whole.late_finish = whole.flush = false;
        int rb = fuzz_decode(&whole, data, size, b, &lb);
        if (ra != rb || la != lb || memcmp(a, b, la))
            fprintf(stderr, "chunked: %d (%zu bytes), whole: %d (%zu bytes)\n", ra, la, rb, lb);
        FUZZ_CHECK(ra == rb);
        /* On success the outputs are identical. On an error, how much came out before it
         * depends on the chunking (libbz2 and libzstd do not count the output of a call that
         * fails), but never which bytes. */
        FUZZ_CHECK(ra < 0 || la == lb);
        FUZZ_CHECK(memcmp(a, b, la < lb ? la : lb) == 0);
    }
    return 0;
}

#endif
