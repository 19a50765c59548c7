/* SPDX-License-Identifier: MIT */
/* Levelled logging, one logfmt line per event, to stderr (journald) or to a file reopened on
 * SIGHUP. Arguments are not evaluated for disabled levels (redis serverLog). */
#ifndef RD_BASE_LOG_H
#define RD_BASE_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "errbuf.h"
#include "rd_limits.h"

/* Line format (logfmt), one write() per line, at most RD_LOG_MAX_LINE bytes with the '\n':
 *
 *   2026-11-22T17:00:00.123Z level=info daemon=rtsp-broker conn=17 peer=10.1.2.3:5123
 * msg="accepted" fd=9 <UTC time, ms>          <level>    <daemon name>      <ctx prefix, optional>
 * <message>  <fields>
 *
 * The format given to RD_LOG renders "<message>[ key=value...]": the message is the text up
 * to the first " key=" (key: [A-Za-z_][A-Za-z0-9_.-]*) and is written quoted and escaped as
 * msg="..."; the fields follow verbatim. So keep variables out of the message and put them
 * in fields: RD_LOG(RD_LOG_WARN, &c->log, "recv failed errno=%d", e). A value that may hold
 * spaces, quotes or peer bytes goes through log_sanitize(), which quotes it. Control bytes,
 * DEL and non-ASCII anywhere in a line become \xHH, so a line never breaks in two.
 * Rate-limited call sites add " suppressed=N" (lines dropped since the last one printed).
 * A line longer than RD_LOG_MAX_LINE is cut and ends with " ... truncated=<full length>". */

enum log_level {
    RD_LOG_ERR = 0, /* our own failure that loses service or data */
    RD_LOG_WARN,    /* our own failure that degrades, or a limit reached */
    RD_LOG_NOTICE,  /* normal but significant: start, stop, reload, relay up/down */
    RD_LOG_INFO,    /* per-connection events; peer errors (rate-limited) */
    RD_LOG_DEBUG,   /* per-request detail */
};

/* The most verbose level written; lines above it are dropped before any formatting. */
extern enum log_level log_max_level;

/* Level names "err", "warn", "notice", "info", "debug", indexed by enum log_level and
 * NULL-terminated (usable as a conf CONF_ENUM name list). */
extern const char *const log_level_names[];

/* A long-lived object's context, built once: "conn=17 peer=10.1.2.3:5123". */
struct log_ctx {
    char prefix[RD_LOG_MAX_CTX]; /* logfmt fields, NUL-terminated; "" for none */
};

/* Opens the log: daemon is the name put in every line (copied, at most 31 characters);
 * path NULL or "" means stderr, otherwise the file is opened for appending (created 0640).
 * Sets log_max_level = level. Returns RD_OK, or RD_EIO/RD_ELIMIT with err filled (then the
 * previous sink stays in use). Call again to change settings; not thread-safe (one loop). */
int log_open(const char *daemon, const char *path, enum log_level level, struct rd_errbuf *err);

/* Reopens the file given to log_open (after logrotate; call from the SIGHUP ev_signal). With
 * stderr it does nothing. Returns RD_OK, or RD_EIO after logging an ERR line on the old file,
 * which stays in use. */
int log_reopen(void);

/* Closes a log file (stderr is left open) and returns to stderr. */
void log_close(void);

/* Parses a level name (exact, lower case). Returns RD_OK or RD_EPROTO. */
int log_level_parse(const char *name, enum log_level *out);

/* Formats ctx->prefix (logfmt fields, no trailing space). Returns RD_OK, or RD_ELIMIT if it
 * does not fit in RD_LOG_MAX_CTX: then the prefix holds what fit, ending in "...". Values
 * with peer bytes must be log_sanitize()d first. */
int log_ctx_set(struct log_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs one line (see the format above). Use RD_LOG, which checks the level first. ctx may
 * be NULL; suppressed > 0 adds " suppressed=N". Never fails visibly: a failed write() is
 * dropped (there is nowhere to report it). */
void log_write(enum log_level level, const struct log_ctx *ctx, unsigned long suppressed,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_vwrite(enum log_level level, const struct log_ctx *ctx, unsigned long suppressed,
                const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* RD_LOG(level, ctx, fmt, ...): arguments are evaluated only when level is enabled. */
#define RD_LOG(level, ctx, ...)                                                                    \
    do {                                                                                           \
        if ((int)(level) <= (int)log_max_level)                                                    \
            log_write((level), (ctx), 0, __VA_ARGS__);                                             \
    } while (0)

/* Per-call-site rate limiter state (a static in RD_LOG_RATELIMITED). */
struct log_ratelimit {
    double next_at_s;         /* monotonic time before which lines are suppressed */
    unsigned long suppressed; /* lines suppressed since the last one written */
};

/* Decides whether a rate-limited line may be written at now_s (monotonic seconds): at most
 * one per interval_s. Returns -1 to suppress (and counts it), otherwise the number of lines
 * suppressed since the last one written (and resets that count). Pure: tests pass fake
 * times. */
long log_ratelimit_check(struct log_ratelimit *rl, double interval_s, double now_s);

/* CLOCK_MONOTONIC in seconds. */
double log_monotonic_s(void);

/* RD_LOG_RATELIMITED(level, ctx, interval_s, fmt, ...): like RD_LOG, but this call site
 * writes at most one line per interval_s seconds; the next line written carries
 * " suppressed=N". Arguments are evaluated only for lines actually written. */
#define RD_LOG_RATELIMITED(level, ctx, interval_s, ...)                                            \
    do {                                                                                           \
        static struct log_ratelimit rd_log_rl_;                                                    \
        if ((int)(level) <= (int)log_max_level) {                                                  \
            long rd_log_n_ = log_ratelimit_check(&rd_log_rl_, (interval_s), log_monotonic_s());    \
            if (rd_log_n_ >= 0)                                                                    \
                log_write((level), (ctx), (unsigned long)rd_log_n_, __VA_ARGS__);                  \
        }                                                                                          \
    } while (0)

/* Size of a buffer for log_sanitize() output. */
#define LOG_SAMPLE_BUF (RD_LOG_MAX_SAMPLE + 1)

/* Renders len peer bytes at p as a quoted, escaped logfmt value into out[cap] (NUL-terminated)
 * and returns out, so it can be an RD_LOG argument. '"' and '\' are backslash-escaped,
 * \t \r \n spelled as such, other control bytes, DEL and non-ASCII as \xHH. Input that does
 * not fit is sampled: "GET /aaaa"...+4990 (the count of input bytes not shown). cap must be
 * at least 32 (LOG_SAMPLE_BUF normally). The only way peer bytes may reach a log line. */
const char *log_sanitize(char *out, size_t cap, const void *p, size_t len);

#endif
