/* SPDX-License-Identifier: MIT */
/* Fuzzes url_split, url_pct_decode, the path helpers and the Location builder. Invariants:
 * every view lies inside the input, IP hosts agree with inet_pton(), decoded bytes pass an
 * independent UTF-8/control-character oracle, and a built Location parses back. */
#define _DEFAULT_SOURCE /* inet_pton under -std=c11 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "rd_limits.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool
inside(struct rd_str v, struct rd_str in)
{
    return v.len == 0
           || (v.p >= in.p && v.len <= in.len && v.p - in.p <= (ptrdiff_t)(in.len - v.len));
}

/* Independent oracle for url_pct_decode's output: code points by arithmetic, not by the
 * byte-range table the decoder uses. */
static bool
decoded_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        uint32_t cp;
        size_t len;
        uint32_t min;
        if (b < 0x80) {
            cp = b;
            len = 1;
            min = 0;
        } else if ((b & 0xe0) == 0xc0) {
            cp = b & 0x1f;
            len = 2;
            min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            cp = b & 0x0f;
            len = 3;
            min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            cp = b & 0x07;
            len = 4;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if (cp < 0x20 || cp == 0x7f || cp == '\\' || (cp >= 0x80 && cp <= 0x9f))
            return false;
        i += len;
    }
    return true;
}

static void
check_decode(struct rd_str in)
{
    static char out[2 * RD_RTSP_MAX_URI];
    int n = url_pct_decode(in, out, sizeof(out));
    CHECK(n == RD_EPROTO || n == RD_ELIMIT || n >= 0);
    if (n < 0) {
        CHECK(out[0] == '\0');
        return;
    }
    CHECK((size_t)n <= in.len);
    CHECK(out[n] == '\0');
    CHECK(decoded_ok((const unsigned char *)out, (size_t)n));
    /* Exactly enough room works; one byte less is RD_ELIMIT, never a truncation. */
    static char exact[2 * RD_RTSP_MAX_URI];
    if ((size_t)n + 1 <= sizeof(exact)) {
        CHECK(url_pct_decode(in, exact, (size_t)n + 1) == n);
        CHECK(memcmp(exact, out, (size_t)n + 1) == 0);
        CHECK(url_pct_decode(in, exact, (size_t)n) == RD_ELIMIT);
    }
}

static void
check_paths(struct rd_str path, struct rd_str in)
{
    struct rd_str segs[RD_URL_MAX_SEGMENTS];
    size_t n = 0;
    bool trailing = false;
    int rc = url_path_split(path, segs, RD_URL_MAX_SEGMENTS, &n, &trailing);
    CHECK(rc == RD_OK || rc == RD_EPROTO || rc == RD_ELIMIT);
    if (rc == RD_OK) {
        CHECK(n <= RD_URL_MAX_SEGMENTS);
        CHECK(path.len > 0 && path.p[0] == '/');
        for (size_t i = 0; i < n; i++) {
            CHECK(segs[i].len > 0 && inside(segs[i], path));
            CHECK(memchr(segs[i].p, '/', segs[i].len) == NULL);
            char dec[RD_RTSP_MAX_URI + 1];
            int d = url_pct_decode(segs[i], dec, sizeof(dec));
            CHECK(d > 0);
            CHECK(memchr(dec, '/', (size_t)d) == NULL);
            CHECK(!(d == 1 && dec[0] == '.') && !(d == 2 && dec[0] == '.' && dec[1] == '.'));
        }
    }
    struct rd_str cam, ctl, tok, rest;
    rc = url_broker_camera(path, &cam, &ctl);
    CHECK(rc == RD_OK || rc == RD_EPROTO || rc == RD_ENOTFOUND);
    if (rc == RD_OK) {
        CHECK(url_camera_id_valid(cam) && inside(cam, in) && inside(ctl, in));
    }
    rc = url_relay_path_parse(path, &cam, &tok, &rest);
    CHECK(rc == RD_OK || rc == RD_EPROTO);
    if (rc == RD_OK) {
        CHECK(url_camera_id_valid(cam) && url_token_charset_valid(tok));
        CHECK(inside(cam, in) && inside(tok, in) && inside(rest, in));
    }
}

static void
check_split(struct rd_str in)
{
    struct url_parts u;
    int rc = url_split(in, &u);
    CHECK(rc == RD_OK || rc == RD_EPROTO || rc == RD_ELIMIT);
    if (rc != RD_OK)
        return;
    CHECK(in.len <= RD_RTSP_MAX_URI);
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        CHECK(c > 0x20 && c < 0x7f && c != '\\' && c != '#');
    }
    if (u.is_star) {
        CHECK(in.len == 1 && in.p[0] == '*');
        return;
    }
    CHECK(inside(u.userinfo, in) && inside(u.host, in) && inside(u.zone, in)
          && inside(u.query, in));
    CHECK(u.host.len > 0 && u.host.len <= RD_URL_MAX_HOST);
    CHECK(u.has_userinfo || u.userinfo.len == 0);
    CHECK(u.has_query || u.query.len == 0);
    CHECK(u.port != 0);
    if (!u.port_given)
        CHECK(u.port == (u.scheme == URL_SCHEME_RTSPS ? URL_PORT_RTSPS : URL_PORT_RTSP));
    CHECK(u.path.len > 0 && u.path.p[0] == '/');
    CHECK(inside(u.path, in) || (u.path.len == 1));
    char host[RD_URL_MAX_HOST + 1];
    memcpy(host, u.host.p, u.host.len);
    host[u.host.len] = '\0';
    unsigned char addr[16];
    if (u.host_kind == URL_HOST_IPV4)
        CHECK(inet_pton(AF_INET, host, addr) == 1);
    if (u.host_kind == URL_HOST_IPV6) {
        if (u.zone.len > 0)
            host[u.zone.p - u.host.p - 3] = '\0'; /* cut "%25<zone>" */
        CHECK(inet_pton(AF_INET6, host, addr) == 1);
    }
    if (u.host_kind == URL_HOST_NAME)
        CHECK(inet_pton(AF_INET, host, addr) != 1);
    check_decode(u.path);
    check_decode(u.query);
    check_paths(u.path, in);
}

static void
check_location(struct rd_str in)
{
    static const enum url_scheme schemes[] = {URL_SCHEME_RTSP, URL_SCHEME_RTSPS};
    for (size_t s = 0; s < 2; s++) {
        char out[RD_RTSP_MAX_URI + 512];
        int n = url_build_location(in, schemes[s], RD_STR_LIT("lobby"),
                                   RD_STR_LIT("k1.1700000060.AAAAAAAAAAA.0.abc"), out, sizeof(out));
        CHECK(n == RD_EPROTO || n == RD_ELIMIT || n > 0);
        if (n < 0) {
            CHECK(out[0] == '\0');
            continue;
        }
        CHECK((size_t)n == strlen(out));
        CHECK(strchr(out, '\r') == NULL && strchr(out, '\n') == NULL);
        struct url_parts base, u;
        CHECK(url_split(in, &base) == RD_OK && base.scheme == schemes[s]);
        CHECK(!base.has_userinfo && !base.has_query);
        CHECK(url_split(rd_str_make(out, (size_t)n), &u) == RD_OK);
        CHECK(u.scheme == schemes[s] && u.port == base.port && rd_str_eq(u.host, base.host));
        struct rd_str cam, tok, rest;
        CHECK(url_relay_path_parse(u.path, &cam, &tok, &rest) == RD_OK);
        CHECK(rd_str_eq_cstr(cam, "lobby") && rest.len == 0);
        CHECK(rd_str_eq_cstr(tok, "k1.1700000060.AAAAAAAAAAA.0.abc"));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rd_str in = rd_str_make((const char *)data, size);
    check_split(in);
    check_decode(in);
    check_paths(in, in);
    check_location(in);
    if (url_camera_id_valid(in))
        CHECK(size >= 1 && size <= RD_CAMERA_ID_MAX);
    if (url_token_charset_valid(in))
        CHECK(size >= 1 && size <= RD_TOKEN_MAX_LEN);
    return 0;
}
