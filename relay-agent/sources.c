/* SPDX-License-Identifier: MIT */
/* The stand-alone sources file: one camera per line, "<id> <url> [option]...", read whole
 * and checked before anything is applied. It holds camera passwords, so it is read like a
 * key file (owner-only) and its values never reach a log line or an error message. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rd_err.h"
#include "rd_str.h"
#include "relay.h"
#include "secretfile.h"
#include "url.h"

static bool
is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Copies v into dst[cap] (NUL-terminated) or fails: never truncates. */
static bool
copy_field(char *dst, size_t cap, struct rd_str v)
{
    return rd_str_copy(dst, cap, v) == RD_OK;
}

/* Parses one non-comment line into *src. Returns NULL or a static reason. */
static const char *
parse_line(struct rd_str line, struct camera_source *src)
{
    struct rd_str tok[16];
    size_t n = 0;
    size_t i = 0;
    while (i < line.len) {
        while (i < line.len && is_blank(line.p[i]))
            i++;
        if (i == line.len)
            break;
        size_t start = i;
        while (i < line.len && !is_blank(line.p[i]))
            i++;
        if (n == sizeof(tok) / sizeof(tok[0]))
            return "too many fields";
        tok[n++] = rd_str_make(line.p + start, i - start);
    }
    if (n < 2)
        return "expected <id> <url> [option]...";
    memset(src, 0, sizeof(*src));
    src->enabled = true;
    src->transport = CAMERA_TRANSPORT_TCP;
    if (!url_camera_id_valid(tok[0]) || !copy_field(src->id, sizeof(src->id), tok[0]))
        return "bad camera id ([A-Za-z0-9_-]{1,64})";
    struct url_parts u;
    if (url_split(tok[1], &u) != RD_OK || u.scheme != URL_SCHEME_RTSP || u.is_star)
        return "bad url (rtsp://host[:port]/path)";
    if (u.has_userinfo)
        return "url with user:password@: give user= and password= options instead";
    if (!copy_field(src->url, sizeof(src->url), tok[1]))
        return "url too long";
    for (size_t k = 2; k < n; k++) {
        bool eq;
        struct rd_str name;
        struct rd_str val = rd_str_split(tok[k], '=', &name, &eq);
        if (!eq && rd_str_eq_cstr(name, "always_on")) {
            src->always_on = true;
        } else if (!eq && rd_str_eq_cstr(name, "disabled")) {
            src->enabled = false;
        } else if (eq && rd_str_eq_cstr(name, "transport")) {
            if (rd_str_eq_cstr(val, "tcp"))
                src->transport = CAMERA_TRANSPORT_TCP;
            else if (rd_str_eq_cstr(val, "udp"))
                src->transport = CAMERA_TRANSPORT_UDP;
            else
                return "transport must be tcp or udp";
        } else if (eq && rd_str_eq_cstr(name, "user")) {
            if (val.len == 0 || !copy_field(src->user, sizeof(src->user), val))
                return "user empty or too long";
        } else if (eq && rd_str_eq_cstr(name, "password")) {
            if (!copy_field(src->password, sizeof(src->password), val))
                return "password too long";
        } else {
            return "unknown option (transport=, user=, password=, always_on, disabled)";
        }
    }
    if (src->password[0] != '\0' && src->user[0] == '\0')
        return "password= without user=";
    return NULL;
}

int
relay_sources_parse(const char *what, const char *buf, size_t len,
                    int (*fn)(void *arg, const struct camera_source *src), void *arg,
                    struct rd_errbuf *err)
{
    /* Room for every line (at most RD_RELAY_MAX_CAMERAS + 1 are ever parsed), allocated
     * once so no copy of a password is left behind by a realloc. */
    size_t lines = 1;
    for (size_t i = 0; i < len && lines <= RD_RELAY_MAX_CAMERAS; i++)
        lines += buf[i] == '\n';
    size_t cap = lines < RD_RELAY_MAX_CAMERAS ? lines : RD_RELAY_MAX_CAMERAS;
    struct camera_source *srcs = calloc(cap, sizeof(*srcs));
    if (srcs == NULL) {
        rd_errbuf_set(err, "sources_file: out of memory");
        return RD_ENOMEM;
    }
    int rc = RD_OK;
    size_t n = 0;
    /* Pass 1: parse and check every line; pass 2: apply. */
    struct rd_str rest = rd_str_make(buf, len);
    unsigned lineno = 0;
    while (rc == RD_OK && rest.len > 0) {
        bool found;
        struct rd_str line;
        rest = rd_str_split(rest, '\n', &line, &found);
        lineno++;
        if (line.len > 0 && line.p[line.len - 1] == '\r')
            line.len--;
        struct rd_str t = rd_str_trim(line);
        if (t.len == 0 || t.p[0] == '#')
            continue;
        for (size_t i = 0; i < t.len; i++) {
            unsigned char ch = (unsigned char)t.p[i];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                rd_errbuf_set(err, "sources_file %s line %u: control character", what, lineno);
                rc = RD_EPROTO;
                break;
            }
        }
        if (rc != RD_OK)
            break;
        if (n == cap) { /* only when cap == RD_RELAY_MAX_CAMERAS */
            rd_errbuf_set(err, "sources_file %s line %u: more than %d cameras", what, lineno,
                          RD_RELAY_MAX_CAMERAS);
            rc = RD_ELIMIT;
            break;
        }
        const char *why = parse_line(t, &srcs[n]);
        if (why != NULL) {
            rd_errbuf_set(err, "sources_file %s line %u: %s", what, lineno, why);
            rc = RD_EPROTO;
            break;
        }
        for (size_t k = 0; k < n; k++) {
            if (strcmp(srcs[k].id, srcs[n].id) == 0) {
                rd_errbuf_set(err, "sources_file %s line %u: camera %s listed twice", what, lineno,
                              srcs[n].id);
                rc = RD_EPROTO;
                break;
            }
        }
        n++;
    }
    for (size_t k = 0; rc == RD_OK && fn != NULL && k < n; k++) {
        rc = fn(arg, &srcs[k]);
        if (rc != RD_OK)
            rd_errbuf_set(err, "sources_file %s: camera %s not added (%s)", what, srcs[k].id,
                          rd_strstatus(rc));
    }
    rd_cleanse(srcs, cap * sizeof(*srcs));
    free(srcs);
    return rc;
}

int
relay_sources_load(const char *path, int (*fn)(void *arg, const struct camera_source *src),
                   void *arg, struct rd_errbuf *err)
{
    char *buf = malloc(RD_SOURCES_FILE_MAX);
    if (buf == NULL) {
        rd_errbuf_set(err, "sources_file: out of memory");
        return RD_ENOMEM;
    }
    size_t len;
    int rc = secret_file_read("sources_file", path, buf, RD_SOURCES_FILE_MAX, &len, err);
    if (rc == RD_OK)
        rc = relay_sources_parse(path, buf, len, fn, arg, err);
    rd_cleanse(buf, RD_SOURCES_FILE_MAX);
    free(buf);
    return rc;
}
