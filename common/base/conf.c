/* SPDX-License-Identifier: MIT */
/* Config loader: splits lines, validates every value against its table row, and names the
 * file, line and key in the one error it reports. No allocation: values are parsed into the
 * caller's struct. */
#define _POSIX_C_SOURCE 200809L
#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>

#include "rd_err.h"

/* Largest config file read; a bigger one is surely not a config file. */
#define CONF_MAX_FILE_BYTES (1024 * 1024)

/* Where a value came from, for error messages. */
struct conf_src {
    const char *name; /* file name, "-o" or "default" */
    unsigned line;    /* 0 when there are no lines */
};

/* Loader state for one file or override. */
struct conf_run {
    const struct conf_table *t;
    void *conf;
    struct conf_src src;
    bool check_dups;                       /* files: a key may appear once */
    unsigned seen_line[RD_CONF_MAX_ITEMS]; /* line where each key was set; 0 = not yet */
    struct rd_errbuf *err;
};

/* Records "<name>[:<line>]: [<key>: ]<reason>" and returns rc. */
__attribute__((format(printf, 5, 6))) static int
fail(const struct conf_src *src, const char *key, struct rd_errbuf *err, int rc, const char *fmt,
     ...)
{
    char reason[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        reason[0] = '\0';
    char at[24] = "";
    if (src->line > 0)
        snprintf(at, sizeof(at), ":%u", src->line);
    if (key != NULL)
        rd_errbuf_set(err, "%s%s: %s: %s", src->name, at, key, reason);
    else
        rd_errbuf_set(err, "%s%s: %s", src->name, at, reason);
    return rc;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- values ------------------------------------------------------------------------- */

int
conf_parse_listen(struct rd_str text, struct conf_listen *out)
{
    struct rd_str host, port;
    int family;
    if (text.len > 0 && text.p[0] == '[') {
        bool found;
        port = rd_str_split(rd_str_make(text.p + 1, text.len - 1), ']', &host, &found);
        if (!found || port.len < 2 || port.p[0] != ':')
            return RD_EPROTO;
        port = rd_str_make(port.p + 1, port.len - 1);
        family = AF_INET6;
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < text.len; i++) {
            if (text.p[i] == ':') {
                if (colon != NULL)
                    return RD_EPROTO; /* an IPv6 address needs brackets */
                colon = text.p + i;
            }
        }
        if (colon == NULL)
            return RD_EPROTO;
        host = rd_str_make(text.p, (size_t)(colon - text.p));
        port = rd_str_make(colon + 1, text.len - host.len - 1);
        family = AF_INET;
    }
    if (host.len == 0)
        return RD_EPROTO;
    struct conf_listen l;
    if (rd_str_copy(l.host, sizeof(l.host), host) != RD_OK)
        return RD_ELIMIT;
    unsigned char bin[sizeof(struct in6_addr)];
    if (inet_pton(family, l.host, bin) != 1)
        return RD_EPROTO;
    uint32_t p;
    if (rd_str_to_u32(port, 5, 65535, &p) != RD_OK)
        return RD_EPROTO;
    l.port = (uint16_t)p;
    *out = l;
    return RD_OK;
}

static int
parse_bool(struct rd_str v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (rd_str_eq_ci_cstr(v, yes[i])) {
            *out = true;
            return RD_OK;
        }
        if (rd_str_eq_ci_cstr(v, no[i])) {
            *out = false;
            return RD_OK;
        }
    }
    return RD_EPROTO;
}

/* Parses v (already unquoted and trimmed) for item it and stores it into conf. */
static int
set_value(const struct conf_item *it, void *conf, struct rd_str v, const struct conf_src *src,
          struct rd_errbuf *err)
{
    char *field = (char *)conf + it->offset;
    switch (it->type) {
    case CONF_STRING:
    case CONF_PATH:
        for (size_t i = 0; i < v.len; i++) {
            unsigned char c = (unsigned char)v.p[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(src, it->name, err, RD_EPROTO, "control character in value");
        }
        if (v.len + 1 > it->size)
            return fail(src, it->name, err, RD_ELIMIT, "value longer than %zu bytes", it->size - 1);
        if ((int64_t)v.len < it->min)
            return fail(src, it->name, err, RD_EPROTO, "value shorter than %" PRId64 " bytes",
                        it->min);
        if (it->type == CONF_PATH && v.len > 0 && v.p[0] != '/')
            return fail(src, it->name, err, RD_EPROTO, "expected an absolute path");
        return rd_str_copy(field, it->size, v); /* fits: checked above */
    case CONF_INT: {
        bool neg = v.len > 0 && v.p[0] == '-';
        struct rd_str digits = neg ? rd_str_make(v.p + 1, v.len - 1) : v;
        uint64_t mag;
        int64_t x = 0;
        if (rd_str_to_u64(digits, 19, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &mag) != RD_OK)
            goto range;
        x = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
        if (x < it->min || x > it->max)
            goto range;
        memcpy(field, &x, sizeof(x));
        return RD_OK;
    }
    case CONF_UINT: {
        uint64_t x;
        if (rd_str_to_u64(v, 19, (uint64_t)it->max, &x) != RD_OK || x < (uint64_t)it->min)
            goto range;
        memcpy(field, &x, sizeof(x));
        return RD_OK;
    }
    case CONF_BOOL: {
        bool b;
        if (parse_bool(v, &b) != RD_OK)
            return fail(src, it->name, err, RD_EPROTO, "expected true/false, yes/no, on/off, 1/0");
        memcpy(field, &b, sizeof(b));
        return RD_OK;
    }
    case CONF_ENUM:
        for (int i = 0; it->names[i] != NULL; i++) {
            if (rd_str_eq_cstr(v, it->names[i])) {
                memcpy(field, &i, sizeof(i));
                return RD_OK;
            }
        }
        return fail(src, it->name, err, RD_EPROTO, "unknown value (see --print-config)");
    case CONF_LISTEN: {
        struct conf_listen l;
        int rc = conf_parse_listen(v, &l);
        if (rc != RD_OK)
            return fail(src, it->name, err, rc,
                        "expected a numeric \"ipv4:port\" or \"[ipv6]:port\"");
        if (l.port < it->min || l.port > it->max)
            return fail(src, it->name, err, RD_EPROTO, "port out of range %" PRId64 "..%" PRId64,
                        it->min, it->max);
        memcpy(field, &l, sizeof(l));
        return RD_OK;
    }
    }
    return fail(src, it->name, err, RD_EPROTO, "bad type in the config table");
range:
    return fail(src, it->name, err, RD_EPROTO, "expected an integer in %" PRId64 "..%" PRId64,
                it->min, it->max);
}

/* ---- lines -------------------------------------------------------------------------- */

static bool
is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* One line, without its terminator. */
static int
parse_line(struct conf_run *r, const char *p, size_t n)
{
    const struct conf_src *src = &r->src;
    if (n > RD_CONF_MAX_LINE)
        return fail(src, NULL, r->err, RD_ELIMIT, "line longer than %d bytes", RD_CONF_MAX_LINE);
    if (n > 0 && memchr(p, '\0', n) != NULL)
        return fail(src, NULL, r->err, RD_EPROTO, "NUL byte in line");
    struct rd_str s = rd_str_trim(rd_str_make(p, n));
    if (s.len == 0 || s.p[0] == '#')
        return RD_OK;

    size_t k = 0;
    while (k < s.len && is_key_char(s.p[k]))
        k++;
    if (k == 0)
        return fail(src, NULL, r->err, RD_EPROTO, "expected \"key = value\"");
    if (k > RD_CONF_MAX_KEY)
        return fail(src, NULL, r->err, RD_ELIMIT, "key longer than %d bytes", RD_CONF_MAX_KEY);
    char key[RD_CONF_MAX_KEY + 1];
    memcpy(key, s.p, k);
    key[k] = '\0';
    struct rd_str rest = rd_str_trim(rd_str_make(s.p + k, s.len - k));
    if (rest.len == 0 || rest.p[0] != '=')
        return fail(src, key, r->err, RD_EPROTO, "expected '=' after the key");
    struct rd_str v = rd_str_trim(rd_str_make(rest.p + 1, rest.len - 1));

    if (v.len > 0 && v.p[0] == '"') {
        const char *close = memchr(v.p + 1, '"', v.len - 1);
        if (close == NULL)
            return fail(src, key, r->err, RD_EPROTO, "unterminated quote");
        struct rd_str after =
            rd_str_trim(rd_str_make(close + 1, v.len - (size_t)(close + 1 - v.p)));
        if (after.len > 0 && after.p[0] != '#')
            return fail(src, key, r->err, RD_EPROTO, "text after the closing quote");
        v = rd_str_make(v.p + 1, (size_t)(close - v.p - 1));
    } else {
        /* A '#' starting the value or following a blank begins a comment. */
        for (size_t i = 0; i < v.len; i++) {
            if (v.p[i] == '#' && (i == 0 || is_blank(v.p[i - 1]))) {
                v = rd_str_trim(rd_str_make(v.p, i));
                break;
            }
        }
    }
    if (v.len > RD_CONF_MAX_VALUE)
        return fail(src, key, r->err, RD_ELIMIT, "value longer than %d bytes", RD_CONF_MAX_VALUE);

    for (size_t i = 0; i < r->t->n_items; i++) {
        const struct conf_item *it = &r->t->items[i];
        if (strcmp(it->name, key) != 0)
            continue;
        if (r->check_dups && r->seen_line[i] != 0)
            return fail(src, key, r->err, RD_EPROTO, "duplicate key (first set on line %u)",
                        r->seen_line[i]);
        r->seen_line[i] = src->line;
        return set_value(it, r->conf, v, src, r->err);
    }
    return fail(src, key, r->err, RD_EPROTO, "unknown key");
}

static void
run_init(struct conf_run *r, const struct conf_table *t, void *conf, const char *name,
         struct rd_errbuf *err)
{
    memset(r, 0, sizeof(*r));
    r->t = t;
    r->conf = conf;
    r->src.name = name;
    r->check_dups = true;
    r->err = err;
}

/* Drops one trailing CR of a CRLF line ending. */
static size_t
strip_cr(const char *p, size_t n)
{
    return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

int
conf_load_buffer(const struct conf_table *t, void *conf, const char *text, size_t len,
                 const char *name, struct rd_errbuf *err)
{
    struct conf_run r;
    run_init(&r, t, conf, name, err);
    if (t->n_items > RD_CONF_MAX_ITEMS)
        return fail(&r.src, NULL, err, RD_ELIMIT, "config table has too many keys");
    size_t pos = 0;
    while (pos < len) {
        if (r.src.line == UINT32_MAX)
            return fail(&r.src, NULL, err, RD_ELIMIT, "too many lines");
        r.src.line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        int rc = parse_line(&r, text + pos, strip_cr(text + pos, end - pos));
        if (rc != RD_OK)
            return rc;
        pos = nl != NULL ? end + 1 : len;
    }
    return RD_OK;
}

int
conf_load_file(const struct conf_table *t, void *conf, const char *path, struct rd_errbuf *err)
{
    struct conf_src src = {path, 0};
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fail(&src, NULL, err, RD_EIO, "cannot open: %s", strerror(errno));
    struct conf_run r;
    run_init(&r, t, conf, path, err);
    if (t->n_items > RD_CONF_MAX_ITEMS) {
        fclose(f);
        return fail(&src, NULL, err, RD_ELIMIT, "config table has too many keys");
    }
    /* Line by line into a fixed buffer: one byte more than a line may hold (plus a CR), so an
     * over-long line is detected without reading it all. */
    char line[RD_CONF_MAX_LINE + 2];
    size_t n = 0, total = 0;
    int rc = RD_OK;
    bool too_long = false;
    for (;;) {
        int c = getc(f);
        if (c != EOF && ++total > CONF_MAX_FILE_BYTES) {
            rc = fail(&src, NULL, err, RD_ELIMIT, "file larger than %d bytes", CONF_MAX_FILE_BYTES);
            break;
        }
        if (c == EOF || c == '\n') {
            if (c == EOF && n == 0 && !too_long)
                break;
            r.src.line++;
            rc = too_long ? fail(&r.src, NULL, err, RD_ELIMIT, "line longer than %d bytes",
                                 RD_CONF_MAX_LINE)
                          : parse_line(&r, line, strip_cr(line, n));
            if (rc != RD_OK || c == EOF)
                break;
            n = 0;
            continue;
        }
        if (n < sizeof(line))
            line[n++] = (char)c;
        else
            too_long = true;
    }
    if (rc == RD_OK && ferror(f))
        rc = fail(&src, NULL, err, RD_EIO, "read error");
    fclose(f);
    return rc;
}

int
conf_apply_override(const struct conf_table *t, void *conf, const char *kv, struct rd_errbuf *err)
{
    struct conf_run r;
    run_init(&r, t, conf, "-o", err);
    r.check_dups = false;
    size_t n = strlen(kv);
    if (memchr(kv, '\n', n) != NULL)
        return fail(&r.src, NULL, err, RD_EPROTO, "newline in override");
    return parse_line(&r, kv, n);
}

int
conf_defaults(const struct conf_table *t, void *conf, struct rd_errbuf *err)
{
    struct conf_src src = {"default", 0};
    if (t->n_items > RD_CONF_MAX_ITEMS)
        return fail(&src, NULL, err, RD_ELIMIT, "config table has too many keys");
    for (size_t i = 0; i < t->n_items; i++) {
        const struct conf_item *it = &t->items[i];
        size_t k = strlen(it->name);
        for (size_t j = 0; j < k; j++) {
            if (!is_key_char(it->name[j]))
                return fail(&src, it->name, err, RD_EPROTO, "bad key name in the table");
        }
        if (k == 0 || k > RD_CONF_MAX_KEY)
            return fail(&src, it->name, err, RD_EPROTO, "bad key name in the table");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(t->items[j].name, it->name) == 0)
                return fail(&src, it->name, err, RD_EPROTO, "key listed twice in the table");
        }
        if (it->type == CONF_ENUM && it->names == NULL)
            return fail(&src, it->name, err, RD_EPROTO, "enum without names in the table");
        int rc = set_value(it, conf, rd_str_cstr(it->def != NULL ? it->def : ""), &src, err);
        if (rc != RD_OK)
            return rc;
    }
    return RD_OK;
}

/* ---- printing ----------------------------------------------------------------------- */

/* Prints a string so that the loader reads it back unchanged: unquoted when it has no outer
 * blanks and no comment-starting '#', quoted otherwise (it cannot contain '"' then, because
 * only a quoted value may have outer blanks or such a '#', and quotes have no escapes). */
static void
print_string(FILE *out, const char *s)
{
    size_t n = strlen(s);
    bool quote = n == 0 || is_blank(s[0]) || is_blank(s[n - 1]);
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == '#' && (i == 0 || is_blank(s[i - 1]));
    fprintf(out, quote ? "\"%s\"" : "%s", s);
}

int
conf_print(const struct conf_table *t, const void *conf, FILE *out)
{
    for (size_t i = 0; i < t->n_items; i++) {
        const struct conf_item *it = &t->items[i];
        const char *field = (const char *)conf + it->offset;
        fprintf(out, "%s# %s (default: %s)\n%s = ", i > 0 ? "\n" : "",
                it->help != NULL ? it->help : "", it->def != NULL ? it->def : "", it->name);
        switch (it->type) {
        case CONF_STRING:
        case CONF_PATH:
            print_string(out, field);
            break;
        case CONF_INT: {
            int64_t x;
            memcpy(&x, field, sizeof(x));
            fprintf(out, "%" PRId64, x);
            break;
        }
        case CONF_UINT: {
            uint64_t x;
            memcpy(&x, field, sizeof(x));
            fprintf(out, "%" PRIu64, x);
            break;
        }
        case CONF_BOOL: {
            bool b;
            memcpy(&b, field, sizeof(b));
            fputs(b ? "true" : "false", out);
            break;
        }
        case CONF_ENUM: {
            int x;
            memcpy(&x, field, sizeof(x));
            int n = 0;
            while (it->names[n] != NULL)
                n++;
            fputs(x >= 0 && x < n ? it->names[x] : "?", out);
            break;
        }
        case CONF_LISTEN: {
            struct conf_listen l;
            memcpy(&l, field, sizeof(l));
            fprintf(out, strchr(l.host, ':') != NULL ? "[%s]:%u" : "%s:%u", l.host,
                    (unsigned)l.port);
            break;
        }
        }
        fputc('\n', out);
    }
    return ferror(out) ? RD_EIO : RD_OK;
}
