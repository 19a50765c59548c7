/* SPDX-License-Identifier: MIT */
/* Fuzzes the config parser over arbitrary file contents (conf_load_buffer), and checks a
 * property: whatever loads must print (conf_print) into text that loads back to the same
 * values. Also feeds the input to conf_parse_listen and, as one line, to -o overrides. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "rd_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fconf {
    char name[16];
    char path[40];
    int64_t offset;
    uint64_t count;
    bool flag;
    int mode;
    struct conf_listen listen;
    char text[RD_CONF_MAX_VALUE + 1];
};

static const char *const modes[] = {"off", "on", "auto", NULL};

static const struct conf_item items[] = {
    CONF_STRING_ITEM(struct fconf, name, 1, "fuzz", "a short string"),
    CONF_PATH_ITEM(struct fconf, path, 0, "", "an optional absolute path"),
    CONF_INT_ITEM(struct fconf, offset, INT64_MIN, INT64_MAX, "-5", "any signed value"),
    CONF_UINT_ITEM(struct fconf, count, 0, 1000000, "10", "a bounded count"),
    CONF_BOOL_ITEM(struct fconf, flag, "false", "a flag"),
    CONF_ENUM_ITEM(struct fconf, mode, modes, "auto", "a mode"),
    CONF_LISTEN_ITEM(struct fconf, listen, 0, 65535, "127.0.0.1:8554", "an address"),
    CONF_STRING_ITEM(struct fconf, text, 0, "", "a long string"),
};

static const struct conf_table table = CONF_TABLE(items);

static void
defaults(struct fconf *c)
{
    struct rd_errbuf err;
    memset(c, 0, sizeof(*c));
    if (conf_defaults(&table, c, &err) != RD_OK)
        abort();
}

static bool
same(const struct fconf *a, const struct fconf *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->path, b->path) == 0 && a->offset == b->offset
           && a->count == b->count && a->flag == b->flag && a->mode == b->mode
           && strcmp(a->listen.host, b->listen.host) == 0 && a->listen.port == b->listen.port
           && strcmp(a->text, b->text) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct fconf a, b;
    struct rd_errbuf err;
    defaults(&a);
    int rc = conf_load_buffer(&table, &a, text, size, "fuzz.conf", &err);
    if (rc != RD_OK && err.msg[0] == '\0')
        abort(); /* every failure must say why */
    if (rc == RD_OK) {
        char *out = NULL;
        size_t out_len = 0;
        FILE *f = open_memstream(&out, &out_len);
        if (f == NULL)
            return 0;
        if (conf_print(&table, &a, f) != RD_OK)
            abort();
        fclose(f);
        defaults(&b);
        if (conf_load_buffer(&table, &b, out, out_len, "printed", &err) != RD_OK) {
            fprintf(stderr, "printed config does not load: %s\n%s\n", err.msg, out);
            abort();
        }
        if (!same(&a, &b)) {
            fprintf(stderr, "printed config loads differently:\n%s\n", out);
            abort();
        }
        free(out);
    }

    struct conf_listen l;
    if (conf_parse_listen(rd_str_make(text, size), &l) == RD_OK
        && strnlen(l.host, sizeof(l.host)) >= sizeof(l.host))
        abort();

    /* The first line as a -o override (overrides are C strings). */
    char line[RD_CONF_MAX_LINE + 16];
    size_t n = 0;
    while (n < size && n < sizeof(line) - 1 && data[n] != '\n' && data[n] != '\0') {
        line[n] = text[n];
        n++;
    }
    line[n] = '\0';
    defaults(&a);
    (void)conf_apply_override(&table, &a, line, &err);
    return 0;
}
