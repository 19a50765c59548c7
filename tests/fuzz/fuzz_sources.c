/* SPDX-License-Identifier: MIT */
/* Fuzzes the relay's sources-file parser (relay_sources_parse) over arbitrary text, and
 * checks properties of every accepted camera: a valid id, an rtsp:// URL without userinfo,
 * NUL-terminated fields, a password only with a user, no duplicate ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "relay.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    char ids[64][RD_CAMERA_ID_MAX + 1];
    size_t n;
};

static int
check_source(void *arg, const struct camera_source *src)
{
    struct seen *s = arg;
    if (memchr(src->id, '\0', sizeof(src->id)) == NULL
        || memchr(src->url, '\0', sizeof(src->url)) == NULL
        || memchr(src->user, '\0', sizeof(src->user)) == NULL
        || memchr(src->password, '\0', sizeof(src->password)) == NULL)
        abort();
    if (!url_camera_id_valid(rd_str_cstr(src->id)))
        abort();
    struct url_parts u;
    if (url_split(rd_str_cstr(src->url), &u) != RD_OK || u.scheme != URL_SCHEME_RTSP
        || u.has_userinfo)
        abort();
    if (src->password[0] != '\0' && src->user[0] == '\0')
        abort();
    for (size_t i = 0; i < s->n && i < 64; i++)
        if (strcmp(s->ids[i], src->id) == 0)
            abort();
    if (s->n < 64)
        memcpy(s->ids[s->n], src->id, sizeof(s->ids[0]));
    s->n++;
    return RD_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen s;
    s.n = 0;
    struct rd_errbuf err = {{0}};
    int rc = relay_sources_parse("fuzz", (const char *)data, size, check_source, &s, &err);
    if (rc != RD_OK && err.msg[0] == '\0')
        abort(); /* every refusal says why */
    return 0;
}
