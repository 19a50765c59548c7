/* SPDX-License-Identifier: MIT */
/* Logging: formats one logfmt line into a stack buffer and emits it with a single write(), so
 * lines from concurrent writers (the other daemon, a shell) never interleave. */
#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rd_err.h"
#include "rd_str.h"

/* POSIX makes write()s of at most PIPE_BUF bytes to a pipe atomic; O_APPEND files are too. */
_Static_assert(RD_LOG_MAX_LINE <= PIPE_BUF, "a log line must fit one atomic pipe write");
_Static_assert(RD_LOG_MAX_SAMPLE >= 32, "log_sanitize needs room for a sample and its marker");

enum log_level log_max_level = RD_LOG_INFO;

const char *const log_level_names[] = {"err", "warn", "notice", "info", "debug", NULL};

#define LOG_DAEMON_MAX 32

static struct {
    int fd;                       /* STDERR_FILENO or our log file */
    char daemon[LOG_DAEMON_MAX];  /* name in every line */
    char path[RD_CONF_MAX_VALUE]; /* "" for stderr */
} lg = {STDERR_FILENO, "rtsp-director", ""};

/* ---- escaping ----------------------------------------------------------------------- */

/* Writes the escaped form of c into out (at most 4 bytes) and returns its length. quoted:
 * inside a "..." value, so '"' and '\' are escaped too. */
static size_t
escape_byte(unsigned char c, bool quoted, char out[4])
{
    static const char hex[] = "0123456789abcdef";
    if (quoted && (c == '"' || c == '\\')) {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c >= 0x20 && c < 0x7f) {
        out[0] = (char)c;
        return 1;
    }
    if (quoted && (c == '\n' || c == '\r' || c == '\t')) {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        return 2;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 15];
    return 4;
}

const char *
log_sanitize(char *out, size_t cap, const void *p, size_t len)
{
    const unsigned char *in = p;
    char e[4];
    size_t full = 2; /* both quotes */
    for (size_t i = 0; i < len; i++)
        full += escape_byte(in[i], true, e);
    if (cap < 32) { /* a programming error: say so in the log rather than crash */
        if (cap >= 2)
            memcpy(out, "?", 2);
        else if (cap == 1)
            out[0] = '\0';
        return out;
    }
    size_t o = 0;
    out[o++] = '"';
    if (full < cap) {
        for (size_t i = 0; i < len; i++)
            o += escape_byte(in[i], true, out + o);
        out[o++] = '"';
        out[o] = '\0';
        return out;
    }
    /* Sample: keep room for the closing quote, "...+N" and the NUL. */
    char marker[32];
    int ml = snprintf(marker, sizeof(marker), "\"...+%zu", len);
    size_t room = cap - 1 - (size_t)ml; /* bytes usable for the opening quote + escapes */
    size_t i = 0;
    for (; i < len; i++) {
        size_t n = escape_byte(in[i], true, e);
        if (o + n > room)
            break;
        memcpy(out + o, e, n);
        o += n;
    }
    o += (size_t)snprintf(out + o, cap - o, "\"...+%zu", len - i);
    return out;
}

/* ---- line assembly ------------------------------------------------------------------ */

/* A writer that stores what fits and counts what was wanted. */
struct lw {
    char *p;
    size_t cap;  /* bytes storable */
    size_t len;  /* bytes stored */
    size_t want; /* bytes the whole line would take */
};

static void
lw_put(struct lw *w, const char *s, size_t n)
{
    size_t k = w->cap - w->len < n ? w->cap - w->len : n;
    memcpy(w->p + w->len, s, k);
    w->len += k;
    w->want += n;
}

static void
lw_puts(struct lw *w, const char *s)
{
    lw_put(w, s, strlen(s));
}

static void
lw_escaped(struct lw *w, const char *s, size_t n, bool quoted)
{
    char e[4];
    for (size_t i = 0; i < n; i++)
        lw_put(w, e, escape_byte((unsigned char)s[i], quoted, e));
}

static bool
is_key_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
           || (!first && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
}

/* Where the message ends: at the first key= token at the start or after a space. */
static size_t
message_end(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((i > 0 && t[i - 1] != ' ') || !is_key_char(t[i], true))
            continue;
        size_t j = i + 1;
        while (j < n && is_key_char(t[j], false))
            j++;
        if (j < n && t[j] == '=')
            return i;
    }
    return n;
}

static void
format_time(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
        snprintf(out, cap, "0000-00-00T00:00:00.000Z");
        return;
    }
    size_t k = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, cap - k, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void
emit(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t w = write(lg.fd, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report a failing log sink */
        line += w;
        len -= (size_t)w;
    }
}

void
log_vwrite(enum log_level level, const struct log_ctx *ctx, unsigned long suppressed,
           const char *fmt, va_list ap)
{
    char text[RD_LOG_MAX_LINE];
    char line[RD_LOG_MAX_LINE];
    int saved_errno = errno;

    int tn = vsnprintf(text, sizeof(text), fmt, ap);
    if (tn < 0)
        tn = snprintf(text, sizeof(text), "(unformattable log message)");
    size_t have = (size_t)tn < sizeof(text) ? (size_t)tn : sizeof(text) - 1;

    struct lw w = {line, sizeof(line) - 1, 0, 0}; /* one byte kept for the '\n' */
    char ts[40];
    format_time(ts, sizeof(ts));
    lw_puts(&w, ts);
    lw_puts(&w, " level=");
    lw_puts(&w, (unsigned)level <= RD_LOG_DEBUG ? log_level_names[level] : "?");
    lw_puts(&w, " daemon=");
    lw_puts(&w, lg.daemon);
    if (ctx != NULL && ctx->prefix[0] != '\0') {
        lw_puts(&w, " ");
        lw_escaped(&w, ctx->prefix, strlen(ctx->prefix), false);
    }
    size_t mend = message_end(text, have);
    struct rd_str msg = rd_str_trim(rd_str_make(text, mend));
    lw_puts(&w, " msg=\"");
    lw_escaped(&w, msg.p, msg.len, true);
    lw_puts(&w, "\"");
    if (mend < have) {
        lw_puts(&w, " ");
        lw_escaped(&w, text + mend, have - mend, false);
    }
    w.want += (size_t)tn - have; /* what vsnprintf could not even hold */
    if (suppressed > 0) {
        char s[40];
        int sn = snprintf(s, sizeof(s), " suppressed=%lu", suppressed);
        lw_put(&w, s, (size_t)sn);
    }
    if (w.want > w.cap) {
        char m[48];
        int mn = snprintf(m, sizeof(m), " ... truncated=%zu", w.want + 1);
        w.len = w.cap - (size_t)mn;
        memcpy(line + w.len, m, (size_t)mn);
        w.len += (size_t)mn;
    }
    line[w.len++] = '\n';
    emit(line, w.len);
    errno = saved_errno; /* callers often log errno and then test it */
}

void
log_write(enum log_level level, const struct log_ctx *ctx, unsigned long suppressed,
          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, ctx, suppressed, fmt, ap);
    va_end(ap);
}

int
log_ctx_set(struct log_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ctx->prefix, sizeof(ctx->prefix), fmt, ap);
    va_end(ap);
    if (n < 0) {
        ctx->prefix[0] = '\0';
        return RD_EPROTO;
    }
    if ((size_t)n >= sizeof(ctx->prefix)) {
        memcpy(ctx->prefix + sizeof(ctx->prefix) - 4, "...", 4);
        return RD_ELIMIT;
    }
    return RD_OK;
}

/* ---- rate limiting ------------------------------------------------------------------ */

long
log_ratelimit_check(struct log_ratelimit *rl, double interval_s, double now_s)
{
    if (rl->next_at_s > 0 && now_s < rl->next_at_s) {
        rl->suppressed++;
        return -1;
    }
    long n = rl->suppressed > (unsigned long)LONG_MAX ? LONG_MAX : (long)rl->suppressed;
    rl->suppressed = 0;
    rl->next_at_s = now_s + interval_s;
    if (rl->next_at_s <= 0) /* keep "primed" distinguishable from the zeroed initial state */
        rl->next_at_s = 1e-9;
    return n;
}

double
log_monotonic_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- sinks -------------------------------------------------------------------------- */

static int
open_log_file(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
}

int
log_open(const char *daemon, const char *path, enum log_level level, struct rd_errbuf *err)
{
    char d[LOG_DAEMON_MAX];
    char p[sizeof(lg.path)];
    if (rd_str_copy(d, sizeof(d), rd_str_cstr(daemon)) != RD_OK) {
        rd_errbuf_set(err, "log: daemon name longer than %d characters", LOG_DAEMON_MAX - 1);
        return RD_ELIMIT;
    }
    if (path == NULL)
        path = "";
    if (rd_str_copy(p, sizeof(p), rd_str_cstr(path)) != RD_OK) {
        rd_errbuf_set(err, "log: file path longer than %zu bytes", sizeof(p) - 1);
        return RD_ELIMIT;
    }
    int fd = STDERR_FILENO;
    if (p[0] != '\0') {
        fd = open_log_file(p);
        if (fd < 0) {
            rd_errbuf_set(err, "log: cannot open %s: %s", p, strerror(errno));
            return RD_EIO;
        }
    }
    if (lg.fd != STDERR_FILENO)
        close(lg.fd);
    lg.fd = fd;
    memcpy(lg.daemon, d, sizeof(d));
    memcpy(lg.path, p, sizeof(p));
    log_max_level = level;
    return RD_OK;
}

int
log_reopen(void)
{
    if (lg.path[0] == '\0')
        return RD_OK;
    int fd = open_log_file(lg.path);
    if (fd < 0) {
        RD_LOG(RD_LOG_ERR, NULL, "cannot reopen log file, keeping the old one err=\"%s\"",
               strerror(errno));
        return RD_EIO;
    }
    close(lg.fd);
    lg.fd = fd;
    return RD_OK;
}

void
log_close(void)
{
    if (lg.fd != STDERR_FILENO)
        close(lg.fd);
    lg.fd = STDERR_FILENO;
    lg.path[0] = '\0';
}

int
log_level_parse(const char *name, enum log_level *out)
{
    for (int i = 0; log_level_names[i] != NULL; i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            *out = (enum log_level)i;
            return RD_OK;
        }
    }
    return RD_EPROTO;
}
