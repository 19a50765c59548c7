/* SPDX-License-Identifier: MIT */
/* {pointer, length} views into a caller's buffer and bounded number parsing. Views never
 * own memory: they live as long as the buffer they point into. */
#ifndef RD_PROTO_RD_STR_H
#define RD_PROTO_RD_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd_str {
    const char *p; /* not NUL-terminated; NULL only when len == 0 */
    size_t len;
};

#define RD_STR_NULL ((struct rd_str){NULL, 0})
/* A view of a string literal: RD_STR_LIT("RTSP/1.0"). */
#define RD_STR_LIT(s) ((struct rd_str){(s), sizeof(s) - 1})

static inline struct rd_str
rd_str_make(const char *p, size_t len)
{
    return (struct rd_str){p, len};
}

static inline struct rd_str
rd_str_cstr(const char *s)
{
    return (struct rd_str){s, strlen(s)};
}

static inline bool
rd_str_eq(struct rd_str a, struct rd_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool
rd_str_eq_cstr(struct rd_str a, const char *s)
{
    return rd_str_eq(a, rd_str_cstr(s));
}

/* ASCII case-insensitive equality (header names, tokens); locale-independent. */
bool rd_str_eq_ci(struct rd_str a, struct rd_str b);
bool rd_str_eq_ci_cstr(struct rd_str a, const char *s);
bool rd_str_starts_with_ci(struct rd_str a, const char *prefix);

/* RFC 7230 §3.2.6 tchar, the token characters of RFC 2616 §2.2 that RFC 2326 §15 uses for
 * methods, header names and parameter names. */
bool rd_is_tchar(unsigned char c);
/* A non-empty run of tchar. */
bool rd_str_is_token(struct rd_str s);
/* The value 0-15 of a hex digit (either case), or -1. */
int rd_hex_value(unsigned char c);

/* Strips leading and trailing SP and HT. */
struct rd_str rd_str_trim(struct rd_str s);

/* Splits s at the first occurrence of sep: *head gets the part before, the return value
 * the part after (RD_STR_NULL with found=false when sep is absent; then *head = s). */
struct rd_str rd_str_split(struct rd_str s, char sep, struct rd_str *head, bool *found);

/* Parses s as an unsigned decimal of 1..max_digits digits and value <= max. Anything else
 * (empty, sign, space, other characters, too many digits, too large) is RD_EPROTO.
 * Returns RD_OK and sets *out on success. */
int rd_str_to_u64(struct rd_str s, unsigned max_digits, uint64_t max, uint64_t *out);
int rd_str_to_u32(struct rd_str s, unsigned max_digits, uint32_t max, uint32_t *out);

/* Copies s into dst[cap] with a terminating NUL. Returns RD_ELIMIT (and writes nothing) if
 * it does not fit: never truncates. */
int rd_str_copy(char *dst, size_t cap, struct rd_str s);

#endif
