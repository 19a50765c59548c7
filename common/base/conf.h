/* SPDX-License-Identifier: MIT */
/* Table-driven "key = value" configuration (redis static_configs[], nginx ngx_command_t):
 * one table row per key gives its type, bounds, default and help; loading, -o overrides
 * and --print-config all come from it. */
#ifndef RD_BASE_CONF_H
#define RD_BASE_CONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "errbuf.h"
#include "rd_limits.h"
#include "rd_str.h"

/* File syntax (a line is at most RD_CONF_MAX_LINE bytes, LF or CRLF ended):
 *   # a comment: '#' as the first non-blank character
 *   key = value          keys are [a-z0-9_]{1,RD_CONF_MAX_KEY}; blanks around both trimmed
 *   key = value # note   a trailing comment starts at a '#' that begins the value or
 *                        follows a blank; a '#' inside a word is part of the value
 *                        (path = /srv/a#b)
 *   key = "  v # x "     double quotes keep blanks and '#'; there are no escapes, so a
 *                        quoted value cannot contain '"'; only a comment may follow it
 *   key =                an empty value (allowed for strings whose min length is 0)
 * Every key may appear at most once per file; -o overrides come after the file and win.
 * Values are at most RD_CONF_MAX_VALUE bytes; NUL bytes are rejected anywhere.
 *
 * A daemon's main(): conf_defaults, conf_load_file, conf_apply_override for each -o; on any
 * error print err.msg and exit 1; with -t exit 0 here; with --print-config conf_print and
 * exit 0. Secrets never live in the config (only paths to 0600 key files), so conf_print
 * has nothing to mask. There is no duration type: keys carry their unit (heartbeat_ms). */

enum conf_type {
    CONF_STRING, /* char[size]; length in [min, size-1]; no control bytes but TAB */
    CONF_PATH,   /* like CONF_STRING, but a non-empty value must be an absolute path */
    CONF_INT,    /* int64_t in [min, max], optional leading '-' */
    CONF_UINT,   /* uint64_t in [min, max] (min >= 0), decimal digits only */
    CONF_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 (case-insensitive) */
    CONF_ENUM,   /* int: index of the value in names[] (exact match) */
    CONF_LISTEN, /* struct conf_listen: "ipv4:port" or "[ipv6]:port", port in [min, max] */
};

/* A numeric listen address: no name lookups at startup, so the config means one thing. */
struct conf_listen {
    char host[INET6_ADDRSTRLEN]; /* numeric IPv4 or IPv6 text, without brackets */
    uint16_t port;
};

struct conf_item {
    const char *name; /* the key */
    enum conf_type type;
    size_t offset;            /* offsetof() the field in the caller's config struct */
    size_t size;              /* sizeof the field (the char array for strings) */
    int64_t min, max;         /* numeric bounds; string length bounds; port bounds */
    const char *def;          /* default: the bare value (no quotes, no comment) */
    const char *help;         /* one line, printed by conf_print */
    const char *const *names; /* CONF_ENUM: NULL-terminated value names */
};

/* Table rows. Each checks the field's C type at compile time (_Generic with no default),
 * and names the key after the field. */
/* clang-format off */
#define CONF_FIELD_(st, field, ctype) _Generic(((st *)0)->field, ctype: offsetof(st, field))
#define CONF_STRING_ITEM(st, field, minlen, def, help) \
    {#field, CONF_STRING, CONF_FIELD_(st, field, char *), sizeof(((st *)0)->field), \
     minlen, 0, def, help, NULL}
#define CONF_PATH_ITEM(st, field, minlen, def, help) \
    {#field, CONF_PATH, CONF_FIELD_(st, field, char *), sizeof(((st *)0)->field), \
     minlen, 0, def, help, NULL}
#define CONF_INT_ITEM(st, field, lo, hi, def, help) \
    {#field, CONF_INT, CONF_FIELD_(st, field, int64_t), sizeof(int64_t), lo, hi, def, help, NULL}
#define CONF_UINT_ITEM(st, field, lo, hi, def, help) \
    {#field, CONF_UINT, CONF_FIELD_(st, field, uint64_t), sizeof(uint64_t), lo, hi, def, help, \
     NULL}
#define CONF_BOOL_ITEM(st, field, def, help) \
    {#field, CONF_BOOL, CONF_FIELD_(st, field, bool), sizeof(bool), 0, 1, def, help, NULL}
#define CONF_ENUM_ITEM(st, field, names, def, help) \
    {#field, CONF_ENUM, CONF_FIELD_(st, field, int), sizeof(int), 0, 0, def, help, names}
#define CONF_LISTEN_ITEM(st, field, port_lo, port_hi, def, help) \
    {#field, CONF_LISTEN, CONF_FIELD_(st, field, struct conf_listen), \
     sizeof(struct conf_listen), port_lo, port_hi, def, help, NULL}
/* clang-format on */

struct conf_table {
    const struct conf_item *items;
    size_t n_items; /* at most RD_CONF_MAX_ITEMS */
};

/* Initializer: static const struct conf_table broker_conf_table = CONF_TABLE(broker_items); */
#define CONF_TABLE(arr)                                                                            \
    {                                                                                              \
        (arr), sizeof(arr) / sizeof((arr)[0])                                                      \
    }

/* Stores every item's default into conf (the caller's struct, borrowed). Returns RD_OK, or
 * an error naming "default" and the key if the table itself is wrong (a bug: tests load
 * every table's defaults). */
int conf_defaults(const struct conf_table *t, void *conf, struct rd_errbuf *err);

/* Applies a config file over conf (call conf_defaults first). On error, conf may hold some
 * of the file's values; err says "<path>:<line>: <key>: <reason>" (or "<path>: <reason>"
 * for I/O). Returns RD_OK, RD_EIO (cannot read), RD_ELIMIT (line or value too long, file
 * over 1 MiB), RD_EPROTO (syntax, unknown or duplicate key, bad or out-of-range value). */
int conf_load_file(const struct conf_table *t, void *conf, const char *path, struct rd_errbuf *err);

/* Same as conf_load_file over text[0..len) (need not be NUL-terminated); name stands for
 * the file name in errors. */
int conf_load_buffer(const struct conf_table *t, void *conf, const char *text, size_t len,
                     const char *name, struct rd_errbuf *err);

/* Applies one "key=value" command-line override (-o) with the same validation; errors name
 * "-o". Later overrides of the same key win. */
int conf_apply_override(const struct conf_table *t, void *conf, const char *kv,
                        struct rd_errbuf *err);

/* Writes the effective values as a loadable file (--print-config): for each key its help
 * and default as a comment, then "key = value". Returns RD_OK or RD_EIO. */
int conf_print(const struct conf_table *t, const void *conf, FILE *out);

/* Parses "a.b.c.d:port" or "[v6]:port" (numeric addresses only, port 0-65535). Returns RD_OK,
 * RD_EPROTO (malformed) or RD_ELIMIT (host text too long). */
int conf_parse_listen(struct rd_str text, struct conf_listen *out);

#endif
