/* SPDX-License-Identifier: MIT */
/* Relay channel checks (docs/relay-channel.md): HMAC request signatures, the clock window,
 * per-relay token buckets and the heartbeat JSON body. No HTTP and no I/O here. */
#include "relay_channel.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "rd_err.h"
#include "rd_str.h"
#include "url.h"

/* ---- Signatures ------------------------------------------------------------------------------ */

const char *
relay_channel_verdict_name(enum relay_channel_verdict v)
{
    switch (v) {
    case RELAY_CHANNEL_OK:
        return "ok";
    case RELAY_CHANNEL_UNKNOWN_RELAY:
        return "unknown_relay";
    case RELAY_CHANNEL_BAD_SIGNATURE:
        return "bad_signature";
    case RELAY_CHANNEL_BAD_TIMESTAMP:
        return "bad_timestamp";
    }
    return "?";
}

enum relay_channel_verdict
relay_channel_key(const struct catalog *cat, const struct relay_channel_req *rq,
                  const struct catalog_relay **relay, const struct reg_relay_key **key)
{
    *relay = NULL;
    *key = NULL;
    if (rq->relay_id == NULL)
        return RELAY_CHANNEL_UNKNOWN_RELAY;
    const struct catalog_relay *r = catalog_relay(cat, rq->relay_id);
    if (r == NULL)
        return RELAY_CHANNEL_UNKNOWN_RELAY;
    if (rq->kid == NULL || rq->timestamp == NULL || rq->signature == NULL)
        return RELAY_CHANNEL_BAD_SIGNATURE;
    for (uint32_t i = 0; i < r->n_keys; i++) {
        /* Key ids are not secret: a plain compare is fine. */
        if (strcmp(r->keys[i].kid, rq->kid) == 0) {
            *relay = r;
            *key = &r->keys[i];
            return RELAY_CHANNEL_OK;
        }
    }
    return RELAY_CHANNEL_BAD_SIGNATURE;
}

/* HMAC-SHA-256(key, "rdhb1\n" METHOD "\n" path "\n" relay "\n" kid "\n" timestamp "\n" body).
 * Every field but the body is a header value or request-line token, which cannot hold '\n',
 * and the body comes last: the concatenation is unambiguous. */
static int
mac_of(const uint8_t *key, size_t key_len, const struct relay_channel_req *rq,
       uint8_t out[RD_SHA256_LEN])
{
    if (rq->method == NULL || rq->path == NULL || rq->relay_id == NULL || rq->kid == NULL
        || rq->timestamp == NULL || (rq->body == NULL && rq->body_len > 0))
        return RD_EPROTO;
    const struct rd_str nl = RD_STR_LIT("\n");
    const struct rd_str parts[] = {
        RD_STR_LIT(RELAY_CHANNEL_TAG),
        nl,
        rd_str_cstr(rq->method),
        nl,
        rd_str_cstr(rq->path),
        nl,
        rd_str_cstr(rq->relay_id),
        nl,
        rd_str_cstr(rq->kid),
        nl,
        rd_str_cstr(rq->timestamp),
        nl,
        rd_str_make(rq->body, rq->body_len),
    };
    return rd_hmac_sha256(key, key_len, parts, sizeof(parts) / sizeof(parts[0]), out);
}

int
relay_channel_sign(const uint8_t *key, size_t key_len, const struct relay_channel_req *rq,
                   char *out, size_t cap)
{
    uint8_t mac[RD_SHA256_LEN];
    int rc = mac_of(key, key_len, rq, mac);
    if (rc != RD_OK)
        return rc;
    rc = rd_b64url_encode(mac, sizeof(mac), out, cap);
    return rc < 0 ? rc : RD_OK;
}

enum relay_channel_verdict
relay_channel_check(const struct reg_relay_key *key, const struct relay_channel_req *rq,
                    int64_t now_s)
{
    if (rq->signature == NULL)
        return RELAY_CHANNEL_BAD_SIGNATURE;
    /* The decoder takes one spelling per value, so decoding then comparing the bytes is the
     * same as comparing the canonical text. */
    uint8_t got[RD_SHA256_LEN], want[RD_SHA256_LEN];
    if (rd_b64url_decode(rd_str_cstr(rq->signature), got, sizeof(got)) != (int)sizeof(got))
        return RELAY_CHANNEL_BAD_SIGNATURE;
    if (mac_of(key->key, sizeof(key->key), rq, want) != RD_OK)
        return RELAY_CHANNEL_BAD_SIGNATURE;
    bool same = rd_ct_equal(got, want, sizeof(got));
    rd_cleanse(want, sizeof(want));
    if (!same)
        return RELAY_CHANNEL_BAD_SIGNATURE;
    uint64_t ts;
    if (rd_str_to_u64(rd_str_cstr(rq->timestamp), RELAY_CHANNEL_TS_DIGITS, UINT64_MAX, &ts)
        != RD_OK)
        return RELAY_CHANNEL_BAD_TIMESTAMP;
    int64_t d = (int64_t)ts - now_s; /* ts < 10^12: no overflow */
    if (d > RD_HEARTBEAT_SKEW_S || d < -RD_HEARTBEAT_SKEW_S)
        return RELAY_CHANNEL_BAD_TIMESTAMP;
    return RELAY_CHANNEL_OK;
}

/* ---- Token buckets -----------------------------------------------------------------------------
 */

/* The table size as a size_t (the limit is an int expression). */
#define N_BUCKETS ((size_t)RD_RELAY_CHANNEL_BUCKETS)

struct bucket {
    char id[RD_RELAY_ID_MAX + 1]; /* "" = free slot */
    double tokens;                /* at time `at` */
    double at;
};

struct relay_channel_limiter {
    double rate, burst;
    size_t used; /* slots in use */
    uint64_t untracked;
    struct bucket slots[N_BUCKETS];
    struct bucket spare[N_BUCKETS]; /* rebuild target */
};

int
relay_channel_limiter_create(double rate_per_s, double burst, struct relay_channel_limiter **out)
{
    if (!(rate_per_s > 0) || !(burst >= 1))
        return RD_EPROTO;
    struct relay_channel_limiter *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return RD_ENOMEM;
    l->rate = rate_per_s;
    l->burst = burst;
    *out = l;
    return RD_OK;
}

void
relay_channel_limiter_destroy(struct relay_channel_limiter *l)
{
    free(l);
}

uint64_t
relay_channel_limiter_untracked(const struct relay_channel_limiter *l)
{
    return l->untracked;
}

static double
refilled(const struct relay_channel_limiter *l, const struct bucket *b, double now)
{
    double t = b->tokens + (now > b->at ? now - b->at : 0.) * l->rate;
    return t > l->burst ? l->burst : t;
}

/* Open addressing (linear probing) on FNV-1a; ids come from the catalog, not from strangers. */
static struct bucket *
probe(struct bucket *slots, const char *id, bool *found)
{
    uint64_t h = policy_hash_str(id);
    for (size_t k = 0; k < N_BUCKETS; k++) {
        struct bucket *b = &slots[(h + k) % N_BUCKETS];
        if (b->id[0] == '\0') {
            *found = false;
            return b;
        }
        if (strcmp(b->id, id) == 0) {
            *found = true;
            return b;
        }
    }
    *found = false;
    return NULL;
}

/* Drops the buckets that are full again at now: they behave exactly like absent ones. */
static void
rebuild(struct relay_channel_limiter *l, double now)
{
    memset(l->spare, 0, sizeof(l->spare));
    size_t used = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        const struct bucket *b = &l->slots[i];
        if (b->id[0] == '\0' || refilled(l, b, now) >= l->burst)
            continue;
        bool found;
        struct bucket *dst = probe(l->spare, b->id, &found);
        *dst = *b; /* a free slot exists: spare holds at most what slots held */
        used++;
    }
    memcpy(l->slots, l->spare, sizeof(l->slots));
    l->used = used;
}

bool
relay_channel_limiter_take(struct relay_channel_limiter *l, const char *relay_id, double now,
                           unsigned *retry_after_s)
{
    *retry_after_s = 0;
    size_t n = strlen(relay_id);
    if (n == 0 || n > RD_RELAY_ID_MAX) {
        l->untracked++;
        return true;
    }
    bool found;
    struct bucket *b = probe(l->slots, relay_id, &found);
    if (!found) {
        /* Keep the table at most 3/4 full so probes stay short. */
        if (l->used + 1 > N_BUCKETS / 4 * 3) {
            rebuild(l, now);
            b = probe(l->slots, relay_id, &found);
            if (l->used + 1 > N_BUCKETS / 4 * 3)
                b = NULL;
        }
        if (b == NULL) {
            l->untracked++;
            return true;
        }
        memcpy(b->id, relay_id, n + 1);
        b->tokens = l->burst;
        b->at = now;
        l->used++;
    }
    double t = refilled(l, b, now);
    if (now > b->at)
        b->at = now;
    if (t >= 1.) {
        b->tokens = t - 1.;
        return true;
    }
    b->tokens = t;
    double wait = (1. - t) / l->rate; /* > 0, at most 1 / rate */
    unsigned whole = (unsigned)wait;
    if ((double)whole < wait)
        whole++;
    *retry_after_s = whole < 1 ? 1u : whole;
    return false;
}

/* ---- Heartbeat body -------------------------------------------------------------------------- */

/* Formats the reason into out->err and returns code. */
__attribute__((format(printf, 3, 4))) static int
hb_fail(struct relay_channel_hb *out, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->err, sizeof(out->err), fmt, ap);
    va_end(ap);
    if (n < 0)
        out->err[0] = '\0';
    /* Field names are ours and short: a cut message is still a message. */
    return code;
}

/* Printable ASCII without space, 1..max bytes (boot ids). */
static bool
token_ok(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    }
    return true;
}

/* An integer member in [0, max]; absent is *v = dflt when !required. */
static int
get_uint(struct relay_channel_hb *out, json_t *obj, const char *where, const char *key,
         bool required, uint64_t max, uint64_t dflt, uint64_t *v)
{
    json_t *j = json_object_get(obj, key);
    if (j == NULL) {
        if (required)
            return hb_fail(out, RD_EPROTO, "%s%s is required", where, key);
        *v = dflt;
        return RD_OK;
    }
    if (!json_is_integer(j))
        return hb_fail(out, RD_EPROTO, "%s%s must be an integer", where, key);
    json_int_t x = json_integer_value(j);
    if (x < 0 || (uint64_t)x > max)
        return hb_fail(out, RD_EPROTO, "%s%s is out of range", where, key);
    *v = (uint64_t)x;
    return RD_OK;
}

static int
get_u32(struct relay_channel_hb *out, json_t *obj, const char *where, const char *key,
        bool required, uint32_t *v)
{
    uint64_t x = 0;
    int rc = get_uint(out, obj, where, key, required, UINT32_MAX, 0, &x);
    if (rc == RD_OK)
        *v = (uint32_t)x;
    return rc;
}

/* A required string member; *s points into the document. */
static int
get_str(struct relay_channel_hb *out, json_t *obj, const char *where, const char *key,
        const char **s, size_t *len)
{
    json_t *j = json_object_get(obj, key);
    if (j == NULL)
        return hb_fail(out, RD_EPROTO, "%s%s is required", where, key);
    if (!json_is_string(j))
        return hb_fail(out, RD_EPROTO, "%s%s must be a string", where, key);
    *s = json_string_value(j);
    *len = json_string_length(j);
    return RD_OK;
}

static int
parse_cam_state(const char *s, enum relay_view_cam_state *out)
{
    static const struct {
        const char *name;
        enum relay_view_cam_state state;
    } names[] = {
        {"starting", RELAY_VIEW_CAM_STARTING},
        {"playing", RELAY_VIEW_CAM_PLAYING},
        {"retrying", RELAY_VIEW_CAM_RETRYING},
        {"failed", RELAY_VIEW_CAM_FAILED},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].state;
            return RD_OK;
        }
    }
    return RD_EPROTO;
}

static int
parse_camera(struct relay_channel_hb *out, json_t *j, size_t i, struct relay_view_hb_camera *c)
{
    char where[48];
    int n = snprintf(where, sizeof(where), "cameras[%zu].", i);
    if (n < 0 || (size_t)n >= sizeof(where))
        return hb_fail(out, RD_EPROTO, "cameras: bad entry");
    if (!json_is_object(j))
        return hb_fail(out, RD_EPROTO, "cameras[%zu] must be an object", i);
    const char *s = NULL;
    size_t len = 0;
    int rc = get_str(out, j, where, "id", &s, &len);
    if (rc != RD_OK)
        return rc;
    if (!url_id_valid(rd_str_make(s, len), RD_CAMERA_ID_MAX))
        return hb_fail(out, RD_EPROTO, "%sid must match [A-Za-z0-9_-]{1,%d}", where,
                       RD_CAMERA_ID_MAX);
    c->id = s;
    if ((rc = get_str(out, j, where, "state", &s, &len)) != RD_OK)
        return rc;
    if (parse_cam_state(s, &c->state) != RD_OK)
        return hb_fail(out, RD_EPROTO, "%sstate must be starting, playing, retrying or failed",
                       where);
    if ((rc = get_u32(out, j, where, "viewers", false, &c->viewers)) != RD_OK
        || (rc = get_u32(out, j, where, "ingress_kbps", false, &c->ingress_kbps)) != RD_OK)
        return rc;
    return get_uint(out, j, where, "drops", false, INT64_MAX, 0, &c->drops);
}

static int
parse_body(struct relay_channel_hb *out, json_t *root)
{
    if (!json_is_object(root))
        return hb_fail(out, RD_EPROTO, "the body must be a JSON object");
    struct relay_view_hb *hb = &out->hb;
    const char *s = NULL;
    size_t len = 0;
    int rc = get_str(out, root, "", "relay_id", &s, &len);
    if (rc != RD_OK)
        return rc;
    if (!url_id_valid(rd_str_make(s, len), RD_RELAY_ID_MAX))
        return hb_fail(out, RD_EPROTO, "relay_id must match [A-Za-z0-9_-]{1,%d}", RD_RELAY_ID_MAX);
    memcpy(out->relay_id, s, len + 1);
    if ((rc = get_str(out, root, "", "boot_id", &s, &len)) != RD_OK)
        return rc;
    if (!token_ok(s, len, RD_HEARTBEAT_BOOT_ID_MAX))
        return hb_fail(out, RD_EPROTO, "boot_id must be 1-%d printable characters, no space",
                       RD_HEARTBEAT_BOOT_ID_MAX);
    hb->boot_id = s;
    if ((rc = get_uint(out, root, "", "seq", true, INT64_MAX, 0, &hb->seq)) != RD_OK)
        return rc;
    if ((rc = get_str(out, root, "", "state", &s, &len)) != RD_OK)
        return rc;
    if (strcmp(s, "active") == 0)
        hb->draining = false;
    else if (strcmp(s, "draining") == 0)
        hb->draining = true;
    else
        return hb_fail(out, RD_EPROTO, "state must be active or draining");

    json_t *cap = json_object_get(root, "capacity");
    if (cap != NULL) {
        if (!json_is_object(cap))
            return hb_fail(out, RD_EPROTO, "capacity must be an object");
        if ((rc = get_u32(out, cap, "capacity.", "viewers", false, &hb->cap_viewers)) != RD_OK
            || (rc = get_u32(out, cap, "capacity.", "egress_kbps", false, &hb->cap_egress_kbps))
                   != RD_OK)
            return rc;
    }
    if ((rc = get_u32(out, root, "", "viewers", true, &hb->viewers)) != RD_OK
        || (rc = get_u32(out, root, "", "egress_kbps", true, &hb->egress_kbps)) != RD_OK)
        return rc;

    json_t *cpu = json_object_get(root, "cpu_pct");
    if (cpu != NULL) {
        if (!json_is_number(cpu))
            return hb_fail(out, RD_EPROTO, "cpu_pct must be a number");
        double x = json_number_value(cpu);
        if (!(x >= 0. && x <= (double)RD_HEARTBEAT_MAX_CPU_PCT))
            return hb_fail(out, RD_EPROTO, "cpu_pct is out of range");
        hb->cpu_pct = (uint32_t)(x + 0.5); /* in range: checked above */
    }

    /* Optional: older relays do not send it (docs/relay-channel.md). */
    json_t *kids = json_object_get(root, "kids");
    if (kids != NULL) {
        if (!json_is_array(kids))
            return hb_fail(out, RD_EPROTO, "kids must be an array");
        size_t nk = json_array_size(kids);
        if (nk > RD_TOKEN_LIVE_KIDS)
            return hb_fail(out, RD_EPROTO, "kids: more than %d entries", RD_TOKEN_LIVE_KIDS);
        for (size_t i = 0; i < nk; i++) {
            json_t *k = json_array_get(kids, i);
            if (!json_is_string(k))
                return hb_fail(out, RD_EPROTO, "kids[%zu] must be a string", i);
            if (!url_id_valid(rd_str_make(json_string_value(k), json_string_length(k)),
                              RD_TOKEN_KID_MAX))
                return hb_fail(out, RD_EPROTO, "kids[%zu] must match [A-Za-z0-9_-]{1,%d}", i,
                               RD_TOKEN_KID_MAX);
            hb->kids[i] = json_string_value(k);
        }
        hb->kids_reported = true;
        hb->n_kids = nk;
    }

    json_t *cams = json_object_get(root, "cameras");
    if (cams == NULL)
        return hb_fail(out, RD_EPROTO, "cameras is required");
    if (!json_is_array(cams))
        return hb_fail(out, RD_EPROTO, "cameras must be an array");
    size_t n = json_array_size(cams);
    if (n > RD_HEARTBEAT_MAX_CAMERAS)
        return hb_fail(out, RD_ELIMIT, "cameras: more than %d entries", RD_HEARTBEAT_MAX_CAMERAS);
    for (size_t i = 0; i < n; i++) {
        out->cameras[i] = (struct relay_view_hb_camera){0};
        if ((rc = parse_camera(out, json_array_get(cams, i), i, &out->cameras[i])) != RD_OK)
            return rc;
    }
    hb->cameras = out->cameras;
    hb->n_cameras = n;
    return RD_OK;
}

int
relay_channel_hb_parse(const char *body, size_t len, struct relay_channel_hb *out)
{
    relay_channel_hb_free(out);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return hb_fail(out, RD_EPROTO, "invalid JSON at line %d column %d", jerr.line, jerr.column);
    int rc = parse_body(out, root);
    if (rc != RD_OK) {
        json_decref(root);
        char err[sizeof(out->err)];
        memcpy(err, out->err, sizeof(err));
        memset(out, 0, sizeof(*out));
        memcpy(out->err, err, sizeof(err));
        return rc;
    }
    out->root = root;
    return RD_OK;
}

void
relay_channel_hb_free(struct relay_channel_hb *out)
{
    if (out->root != NULL)
        json_decref(out->root);
    out->root = NULL;
    out->relay_id[0] = '\0';
    out->hb = (struct relay_view_hb){0};
    out->err[0] = '\0';
}
