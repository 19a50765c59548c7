/* SPDX-License-Identifier: MIT */
/* Fuzzes the broker-client's answer parsers (bclient_answer_parse, bclient_source_parse): the
 * first byte picks the parser, the rest is the body. Invariants: strings are NUL-terminated
 * inside their arrays and never longer than the limits, a parsed source names the camera asked
 * for with a known transport, and every refusal leaves the output zeroed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bclient.h"
#include "rd_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool
all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i] != 0)
            return false;
    }
    return true;
}

static bool
terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool
no_ctl(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    }
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        struct hb_answer a;
        memset(&a, 0xa5, sizeof(a));
        int rc = bclient_answer_parse(body, len, &a);
        CHECK(rc == RD_OK || rc == RD_EPROTO);
        if (rc != RD_OK) {
            CHECK(all_zero(&a, sizeof(a)));
            return 0;
        }
        CHECK(!a.ok && a.http_status == 0);
        CHECK(terminated(a.outcome, sizeof(a.outcome)));
        CHECK(terminated(a.state, sizeof(a.state)));
        CHECK(terminated(a.signing_kid, sizeof(a.signing_kid)));
        CHECK(a.registry_version <= (uint64_t)INT64_MAX);
        return 0;
    }
    struct camera_source s;
    memset(&s, 0xa5, sizeof(s));
    const char *field = NULL;
    int rc = bclient_source_parse("lobby", body, len, &s, &field);
    CHECK(rc == RD_OK || rc == RD_EPROTO || rc == RD_ELIMIT);
    if (rc != RD_OK) {
        CHECK(field != NULL);
        CHECK(all_zero(&s, sizeof(s)));
        return 0;
    }
    CHECK(field == NULL);
    CHECK(strcmp(s.id, "lobby") == 0);
    CHECK(terminated(s.url, sizeof(s.url)) && s.url[0] != '\0' && no_ctl(s.url));
    CHECK(strchr(s.url, ' ') == NULL);
    CHECK(terminated(s.user, sizeof(s.user)) && no_ctl(s.user));
    CHECK(terminated(s.password, sizeof(s.password)) && no_ctl(s.password));
    CHECK(s.transport == CAMERA_TRANSPORT_TCP || s.transport == CAMERA_TRANSPORT_UDP);
    CHECK(s.registry_version <= (uint64_t)INT64_MAX);
    return 0;
}
