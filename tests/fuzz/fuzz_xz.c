/* tests/fuzz/fuzz_xz.c - libFuzzer harness for the xz decoder (see fuzz_decoder.h).
 * SPDX-License-Identifier: MIT */
#define FUZZ_CODEC PCOMM_CODEC_XZ
#include "fuzz_decoder.h"
