/* tests/fuzz/fuzz_gzip.c - libFuzzer harness for the gzip decoder (see fuzz_decoder.h).
 * SPDX-License-Identifier: MIT */
#define FUZZ_CODEC PCOMM_CODEC_GZIP
#include "fuzz_decoder.h"
