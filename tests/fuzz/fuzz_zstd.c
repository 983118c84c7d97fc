/* tests/fuzz/fuzz_zstd.c - libFuzzer harness for the zstd decoder (see fuzz_decoder.h).
 * SPDX-License-Identifier: MIT */
#define FUZZ_CODEC PCOMM_CODEC_ZSTD
#include "fuzz_decoder.h"
