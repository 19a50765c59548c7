/* SPDX-License-Identifier: MIT */
/* Fuzzes the relay channel's heartbeat body parser (relay_channel_hb_parse) with its
 * properties: on success every field is in its documented range and every camera id and
 * state is valid, every kid a key id; on failure nothing is kept and a reason is given. The same
 * bytes, used as a body, never verify under a signature made for another body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "relay_channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static struct relay_channel_hb hb;

static bool
id_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-'))
            return false;
    }
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > RD_HTTP_MAX_HEARTBEAT_BODY)
        return 0; /* admin.c never passes more */
    int rc = relay_channel_hb_parse((const char *)data, size, &hb);
    CHECK(rc == RD_OK || rc == RD_EPROTO || rc == RD_ELIMIT);
    if (rc != RD_OK) {
        CHECK(hb.root == NULL);
        CHECK(hb.err[0] != '\0');
    } else {
        CHECK(hb.root != NULL);
        CHECK(id_ok(hb.relay_id, RD_RELAY_ID_MAX));
        size_t bl = strlen(hb.hb.boot_id);
        CHECK(bl >= 1 && bl <= RD_HEARTBEAT_BOOT_ID_MAX);
        for (size_t i = 0; i < bl; i++)
            CHECK(hb.hb.boot_id[i] > 0x20 && hb.hb.boot_id[i] < 0x7f);
        CHECK(hb.hb.seq <= (uint64_t)INT64_MAX);
        CHECK(hb.hb.cpu_pct <= RD_HEARTBEAT_MAX_CPU_PCT);
        CHECK(hb.hb.n_cameras <= RD_HEARTBEAT_MAX_CAMERAS);
        CHECK(hb.hb.n_cameras == 0 || hb.hb.cameras == hb.cameras);
        for (size_t i = 0; i < hb.hb.n_cameras; i++) {
            CHECK(id_ok(hb.cameras[i].id, RD_CAMERA_ID_MAX));
            CHECK(hb.cameras[i].state <= RELAY_VIEW_CAM_FAILED);
            CHECK(hb.cameras[i].drops <= (uint64_t)INT64_MAX);
        }
        CHECK(hb.hb.n_kids <= RD_TOKEN_LIVE_KIDS);
        CHECK(hb.hb.kids_reported || hb.hb.n_kids == 0);
        for (size_t i = 0; i < hb.hb.n_kids; i++)
            CHECK(id_ok(hb.hb.kids[i], RD_TOKEN_KID_MAX));
    }
    relay_channel_hb_free(&hb);
    CHECK(hb.root == NULL);

    /* A signature over a fixed body never verifies these bytes (unless they are that body). */
    static const char fixed[] = "{\"relay_id\":\"relay-a\"}";
    struct reg_relay_key key = {.kid = "k1"};
    memset(key.key, 0x5a, sizeof(key.key));
    struct relay_channel_req rq = {.method = "POST",
                                   .path = "/api/v1/heartbeat",
                                   .relay_id = "relay-a",
                                   .kid = "k1",
                                   .timestamp = "1700000000",
                                   .body = fixed,
                                   .body_len = sizeof(fixed) - 1};
    char sig[RELAY_CHANNEL_SIG_LEN + 1];
    CHECK(relay_channel_sign(key.key, sizeof(key.key), &rq, sig, sizeof(sig)) == RD_OK);
    rq.signature = sig;
    rq.body = (const char *)data;
    rq.body_len = size;
    bool same = size == sizeof(fixed) - 1 && memcmp(data, fixed, size) == 0;
    CHECK((relay_channel_check(&key, &rq, 1700000000) == RELAY_CHANNEL_OK) == same);
    return 0;
}
