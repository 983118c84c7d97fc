/* tests/fuzz/fuzz_bzip2.c - libFuzzer harness for the bzip2 decoder (see fuzz_decoder.h).
 * SPDX-License-Identifier: MIT */
#define FUZZ_CODEC PCOMM_CODEC_BZIP2
#include "fuzz_decoder.h"
