/* SPDX-License-Identifier: MIT */
/* URL patterns of rtsp-bench: "rtsp://h/cam{1..200}" stands for 200 URLs, as a shell brace
 * range would. Pure code, no allocation. */
#ifndef RD_TOOLS_RBENCH_URL_H
#define RD_TOOLS_RBENCH_URL_H

#include <stddef.h>
#include <stdint.h>

/* How many URLs pat stands for: 1 without a brace; with one "{LO..HI}" (decimal, LO <= HI,
 * at most 9 digits each) HI - LO + 1. Returns RD_OK with *n set; RD_EPROTO for a '{' or '}'
 * that is not part of exactly one well-formed range, or a second range; RD_ELIMIT when the
 * count exceeds RBENCH_MAX_URLS. */
int rbench_url_pattern_count(const char *pat, uint64_t *n);

/* The i-th URL (0-based, i < count) of pat into out[cap], NUL-terminated: the range replaced
 * by LO + i in decimal, zero-padded to LO's width when LO was written with a leading zero
 * ("{01..12}" gives 01 .. 12, as bash does). Returns the length, RD_EPROTO as
 * rbench_url_pattern_count or when i is out of range, RD_ELIMIT when it does not fit (out is
 * then "" if cap > 0). */
int rbench_url_pattern_nth(const char *pat, uint64_t i, char *out, size_t cap);

#endif
