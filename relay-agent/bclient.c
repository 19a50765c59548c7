/* SPDX-License-Identifier: MIT */
/* The relay's side of the relay channel (docs/relay-channel.md): signed heartbeats and
 * camera-source fetches over libcurl's multi-socket interface driven by the relay's libev loop
 * (the pattern of curl's ephiperfifo example). The only relay file that includes curl.h. */
#define _POSIX_C_SOURCE 200809L
#include "bclient.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "evx.h"
#include "log.h"
#include "rd_err.h"
#include "rd_str.h"
#include "url.h"

#define BC_HB_PATH     "/api/v1/heartbeat"
#define BC_SOURCE_PATH "/api/v1/relay/cameras/"
#define BC_SIGN_TAG    "rdhb1"
/* The longest request URL: base URL, the source path and a camera id. */
#define BC_URL_CAP (RD_BCLIENT_URL_MAX + sizeof(BC_SOURCE_PATH) + RD_CAMERA_ID_MAX + 1)
/* First size of a response buffer; grows by doubling up to RD_BCLIENT_MAX_RESPONSE + 1. */
#define BC_RESP_FIRST 1024

/* One socket libcurl asked us to watch (CURLMOPT_SOCKETFUNCTION), linked into its client so
 * bclient_free can free any libcurl did not remove. */
struct bc_sock {
    ev_io io;
    struct bclient *b;
    struct bc_sock *prev, *next;
};

struct bc_waiter {
    bclient_source_fn *fn;
    void *arg;
};

enum bc_kind {
    BC_BEAT,
    BC_FETCH,
};

/* One request in flight: its easy handle and everything the handle points at. */
struct bc_req {
    struct bclient *b;
    enum bc_kind kind;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body; /* heartbeat JSON (owned, json_dumps); NULL for GET */
    size_t body_len;
    char *resp; /* response body, NUL-terminated; wiped before it is freed */
    size_t resp_len, resp_cap;
    bool resp_too_large;
    double sent_at; /* ev_now() when added */
    /* Fetches only: */
    char camera_id[RD_CAMERA_ID_MAX + 1];
    struct bc_waiter *waiters; /* the first fetch and those that joined it */
    size_t n_waiters, cap_waiters;
    struct camera_source src; /* the answer, wiped after the callbacks */
    struct bc_req *prev, *next;
};

struct bclient {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer curl_timer; /* CURLMOPT_TIMERFUNCTION */
    ev_timer beat_timer; /* next heartbeat; never active while one is in flight */
    struct bc_sock *socks;
    struct bc_req *beat;    /* the heartbeat in flight, or NULL */
    struct bc_req *fetches; /* source fetches in flight, one per camera id */
    size_t n_fetches;

    char base_url[RD_BCLIENT_URL_MAX + 1]; /* "http://host:port", no trailing slash */
    char relay_id[RD_RELAY_ID_MAX + 1];
    char user_agent[RD_BCLIENT_USER_AGENT_MAX + 1];
    struct url_token_key key; /* secret: wiped at free */
    uint32_t interval_ms;
    long timeout_ms, connect_timeout_ms;
    double backoff_max_s;
    double backoff_s; /* current failure wait; 0 while the broker answers */
    bool beat_again;  /* bclient_beat_now while a beat was in flight */
    void (*fill)(void *arg, struct hb_report *r);
    void (*answer)(void *arg, const struct hb_answer *a);
    void *arg;

    char boot_id[17]; /* 64 random bits in hex, per bclient_new */
    uint64_t seq;     /* of the last beat sent */
    struct hb_camera cams[RD_HEARTBEAT_MAX_CAMERAS];
    struct bclient_stats st;

    /* Log once per change: the last heartbeat outcome logged. */
    int last_logged; /* 0 nothing yet, 1 ok, 2 failing */
    long last_fail_key;

    unsigned depth; /* inside one of our watchers */
    bool dying;     /* bclient_free was called from a callback: free when depth is 0 */
    struct log_ctx log;
};

static void bc_destroy(struct bclient *b);

/* ---- Signing --------------------------------------------------------------------------------- */

int
bclient_sign(const struct url_token_key *key, const char *method, const char *path,
             const char *relay_id, const char *timestamp, const char *body, size_t body_len,
             char *out, size_t cap)
{
    if (key == NULL || method == NULL || path == NULL || relay_id == NULL || timestamp == NULL
        || (body == NULL && body_len > 0) || out == NULL)
        return RD_EPROTO;
    const struct rd_str nl = RD_STR_LIT("\n");
    const struct rd_str parts[] = {
        RD_STR_LIT(BC_SIGN_TAG "\n"),
        rd_str_make(method, strlen(method)),
        nl,
        rd_str_make(path, strlen(path)),
        nl,
        rd_str_make(relay_id, strlen(relay_id)),
        nl,
        rd_str_make(key->kid, strnlen(key->kid, sizeof(key->kid))),
        nl,
        rd_str_make(timestamp, strlen(timestamp)),
        nl,
        rd_str_make(body != NULL ? body : "", body_len),
    };
    uint8_t mac[RD_SHA256_LEN];
    int rc =
        rd_hmac_sha256(key->key, sizeof(key->key), parts, sizeof(parts) / sizeof(parts[0]), mac);
    if (rc != RD_OK)
        return rc;
    rc = rd_b64url_encode(mac, sizeof(mac), out, cap);
    rd_cleanse(mac, sizeof(mac));
    return rc < 0 ? rc : RD_OK;
}

/* ---- Requests -------------------------------------------------------------------------------- */

static void
req_free(struct bc_req *r)
{
    if (r == NULL)
        return;
    if (r->easy != NULL) {
        (void)curl_multi_remove_handle(r->b->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->hdrs);
    free(r->body);
    if (r->resp != NULL) {
        rd_cleanse(r->resp, r->resp_cap);
        free(r->resp);
    }
    free(r->waiters);
    rd_cleanse(&r->src, sizeof(r->src));
    free(r);
}

/* CURLOPT_WRITEFUNCTION: collects the body up to RD_BCLIENT_MAX_RESPONSE; returning less than
 * given aborts the transfer (CURLE_WRITE_ERROR). Grows by copy, wiping the old buffer, since a
 * camera source carries a password (realloc could leave a copy behind). */
static size_t
req_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct bc_req *r = userdata;
    size_t n = size * nmemb; /* size is always 1 */
    if (n > RD_BCLIENT_MAX_RESPONSE - r->resp_len) {
        r->resp_too_large = true;
        return 0;
    }
    size_t need = r->resp_len + n + 1;
    if (need > r->resp_cap) {
        size_t cap = r->resp_cap == 0 ? BC_RESP_FIRST : r->resp_cap;
        while (cap < need)
            cap *= 2;
        if (cap > RD_BCLIENT_MAX_RESPONSE + 1)
            cap = RD_BCLIENT_MAX_RESPONSE + 1;
        char *p = malloc(cap);
        if (p == NULL)
            return 0;
        if (r->resp != NULL) {
            memcpy(p, r->resp, r->resp_len);
            rd_cleanse(r->resp, r->resp_cap);
            free(r->resp);
        }
        r->resp = p;
        r->resp_cap = cap;
    }
    memcpy(r->resp + r->resp_len, ptr, n);
    r->resp_len += n;
    r->resp[r->resp_len] = '\0';
    return n;
}

static int
hdr_add(struct curl_slist **list, const char *name, const char *value)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof(line))
        return RD_ELIMIT;
    struct curl_slist *l = curl_slist_append(*list, line);
    if (l == NULL)
        return RD_ENOMEM;
    *list = l;
    return RD_OK;
}

#define BC_SETOPT(e, opt, val)                                                                     \
    do {                                                                                           \
        if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)                                       \
            goto fail;                                                                             \
    } while (0)

/* Signs r (method, path, r->body) and hands it to the multi handle. Returns RD_OK, RD_ENOMEM,
 * RD_ELIMIT or RD_EIO; on failure r is left for the caller to free. */
static int
req_start(struct bclient *b, struct bc_req *r, const char *method, const char *path)
{
    char url[BC_URL_CAP];
    int n = snprintf(url, sizeof(url), "%s%s", b->base_url, path);
    if (n < 0 || (size_t)n >= sizeof(url))
        return RD_ELIMIT;
    char ts[24];
    n = snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    if (n < 0 || (size_t)n >= sizeof(ts))
        return RD_ELIMIT;
    char sig[BCLIENT_SIG_LEN + 1];
    int rc = bclient_sign(&b->key, method, path, b->relay_id, ts, r->body, r->body_len, sig,
                          sizeof(sig));
    if (rc != RD_OK)
        return rc;
    if ((rc = hdr_add(&r->hdrs, "X-RD-Relay", b->relay_id)) != RD_OK
        || (rc = hdr_add(&r->hdrs, "X-RD-Kid", b->key.kid)) != RD_OK
        || (rc = hdr_add(&r->hdrs, "X-RD-Timestamp", ts)) != RD_OK
        || (rc = hdr_add(&r->hdrs, "X-RD-Signature", sig)) != RD_OK
        || (rc = hdr_add(&r->hdrs, "Accept", "application/json")) != RD_OK)
        return rc;
    if (r->body != NULL) {
        if ((rc = hdr_add(&r->hdrs, "Content-Type", "application/json")) != RD_OK)
            return rc;
        /* No "Expect: 100-continue" (libcurl adds it to bodies over 1 KiB, then waits). */
        struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");
        if (l == NULL)
            return RD_ENOMEM;
        r->hdrs = l;
    }

    r->easy = curl_easy_init();
    if (r->easy == NULL)
        return RD_ENOMEM;
    CURL *e = r->easy;
    BC_SETOPT(e, CURLOPT_URL, url);
    BC_SETOPT(e, CURLOPT_PRIVATE, (void *)r);
    BC_SETOPT(e, CURLOPT_PROTOCOLS_STR, "http");
    BC_SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
    BC_SETOPT(e, CURLOPT_NOSIGNAL, 1L);
    BC_SETOPT(e, CURLOPT_PROXY, ""); /* never a proxy from http_proxy & co. */
    BC_SETOPT(e, CURLOPT_TCP_NODELAY, 1L);
    BC_SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
    BC_SETOPT(e, CURLOPT_TIMEOUT_MS, b->timeout_ms);
    BC_SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, b->connect_timeout_ms);
    BC_SETOPT(e, CURLOPT_USERAGENT, b->user_agent);
    BC_SETOPT(e, CURLOPT_HTTPHEADER, r->hdrs);
    BC_SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)RD_BCLIENT_MAX_RESPONSE);
    BC_SETOPT(e, CURLOPT_WRITEFUNCTION, req_on_write);
    BC_SETOPT(e, CURLOPT_WRITEDATA, (void *)r);
    if (r->body != NULL) {
        BC_SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        BC_SETOPT(e, CURLOPT_POSTFIELDS, r->body);
    } else {
        BC_SETOPT(e, CURLOPT_HTTPGET, 1L);
    }
    if (curl_multi_add_handle(b->multi, e) != CURLM_OK)
        goto fail;
    r->sent_at = ev_now(b->loop);
    return RD_OK;
fail:
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    return RD_EIO;
}

static struct bc_req *
req_new(struct bclient *b, enum bc_kind kind)
{
    struct bc_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->b = b;
    r->kind = kind;
    return r;
}

/* ---- JSON helpers ---------------------------------------------------------------------------- */

/* Copies string member name of o into out[cap]. Returns RD_OK, RD_ENOTFOUND (absent),
 * RD_EPROTO (not a string) or RD_ELIMIT (too long: never truncated). */
static int
json_str_copy(const json_t *o, const char *name, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, name);
    if (v == NULL)
        return RD_ENOTFOUND;
    if (!json_is_string(v))
        return RD_EPROTO;
    return rd_str_copy(out, cap, rd_str_make(json_string_value(v), json_string_length(v)));
}

static int
json_u64(const json_t *o, const char *name, uint64_t max, uint64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (v == NULL)
        return RD_ENOTFOUND;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return RD_EPROTO;
    *out = (uint64_t)json_integer_value(v);
    return RD_OK;
}

static int
json_bool(const json_t *o, const char *name, bool *out)
{
    const json_t *v = json_object_get(o, name);
    if (v == NULL)
        return RD_ENOTFOUND;
    if (!json_is_boolean(v))
        return RD_EPROTO;
    *out = json_is_true(v);
    return RD_OK;
}

/* True if s has no control byte (C0, DEL): values that end up in RTSP request lines/headers. */
static bool
no_ctl(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* Overwrites the text of a jansson string in place before json_decref frees it (jansson does
 * not wipe what it frees). The buffer is jansson's own heap copy, so writing it is safe. */
static void
json_str_wipe(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (json_is_string(v))
        rd_cleanse((char *)(uintptr_t)json_string_value(v), json_string_length(v));
}

/* ---- Heartbeats ------------------------------------------------------------------------------ */

static bool
cam_state_ok(const char *s)
{
    return s != NULL
           && (strcmp(s, "starting") == 0 || strcmp(s, "playing") == 0 || strcmp(s, "retrying") == 0
               || strcmp(s, "failed") == 0);
}

/* Builds the heartbeat body (docs/relay-channel.md) from the owner's report. Entries the broker
 * would refuse (bad id or state) are left out so one bad camera does not lose the beat.
 * Returns the JSON text (owned, free()) or NULL. */
static char *
beat_body(struct bclient *b, const struct hb_report *r, size_t *len)
{
    json_t *cams = json_array();
    if (cams == NULL)
        return NULL;
    size_t n = r->n_cameras <= RD_HEARTBEAT_MAX_CAMERAS ? r->n_cameras : RD_HEARTBEAT_MAX_CAMERAS;
    if (r->n_cameras > RD_HEARTBEAT_MAX_CAMERAS)
        RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 60.,
                           "heartbeat camera list cut cameras=%zu max=%d", r->n_cameras,
                           RD_HEARTBEAT_MAX_CAMERAS);
    for (size_t i = 0; i < n; i++) {
        const struct hb_camera *c = &r->cameras[i];
        if (c->id == NULL || !url_camera_id_valid(rd_str_make(c->id, strnlen(c->id, 256)))
            || !cam_state_ok(c->state)) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 60.,
                               "heartbeat camera entry left out (bad id or state) index=%zu", i);
            continue;
        }
        uint64_t drops = c->drops > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : c->drops;
        if (json_array_append_new(cams, json_pack("{s:s,s:s,s:I,s:I,s:I}", "id", c->id, "state",
                                                  c->state, "viewers", (json_int_t)c->viewers,
                                                  "ingress_kbps", (json_int_t)c->ingress_kbps,
                                                  "drops", (json_int_t)drops))
            != 0) {
            json_decref(cams);
            return NULL;
        }
    }
    json_t *kids = json_array();
    if (kids == NULL) {
        json_decref(cams);
        return NULL;
    }
    for (size_t i = 0; i < r->n_kids && i < RD_TOKEN_LIVE_KIDS; i++) {
        const char *k = r->kids[i];
        if (k == NULL
            || !url_id_valid(rd_str_make(k, strnlen(k, RD_TOKEN_KID_MAX + 1)), RD_TOKEN_KID_MAX)) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 60.,
                               "heartbeat kid left out (bad key id) index=%zu", i);
            continue;
        }
        if (json_array_append_new(kids, json_string(k)) != 0) {
            json_decref(kids);
            json_decref(cams);
            return NULL;
        }
    }
    const char *state =
        r->state != NULL && strcmp(r->state, "draining") == 0 ? "draining" : "active";
    double cpu = r->cpu_pct >= 0. ? r->cpu_pct : 0.; /* NaN too */
    if (cpu > RD_HEARTBEAT_MAX_CPU_PCT)
        cpu = RD_HEARTBEAT_MAX_CPU_PCT;
    /* "o" takes cams and kids, even on failure. */
    json_t *root = json_pack("{s:s,s:s,s:I,s:s,s:{s:I,s:I},s:I,s:I,s:f,s:o,s:o}", "relay_id",
                             b->relay_id, "boot_id", b->boot_id, "seq", (json_int_t)b->seq, "state",
                             state, "capacity", "viewers", (json_int_t)r->capacity_viewers,
                             "egress_kbps", (json_int_t)r->capacity_egress_kbps, "viewers",
                             (json_int_t)r->viewers, "egress_kbps", (json_int_t)r->egress_kbps,
                             "cpu_pct", cpu, "kids", kids, "cameras", cams);
    if (root == NULL)
        return NULL;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s == NULL)
        return NULL;
    *len = strlen(s);
    if (*len > RD_HTTP_MAX_HEARTBEAT_BODY) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 60.,
                           "heartbeat body over the broker's limit, not sent bytes=%zu max=%d",
                           *len, RD_HTTP_MAX_HEARTBEAT_BODY);
        free(s);
        return NULL;
    }
    return s;
}

int
bclient_answer_parse(const char *body, size_t len, struct hb_answer *a)
{
    memset(a, 0, sizeof(*a));
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    bool ok = false;
    uint64_t v = 0, iv = 0;
    int rc;
    if (o == NULL || !json_is_object(o))
        goto out;
    if (json_bool(o, "applied", &a->applied) != RD_OK)
        goto out;
    rc = json_str_copy(o, "outcome", a->outcome, sizeof(a->outcome));
    if (rc != RD_OK && rc != RD_ENOTFOUND)
        goto out;
    if (json_str_copy(o, "state", a->state, sizeof(a->state)) != RD_OK)
        goto out;
    if (json_u64(o, "registry_version", (uint64_t)INT64_MAX, &v) != RD_OK)
        goto out;
    a->registry_version = v;
    if (json_str_copy(o, "signing_kid", a->signing_kid, sizeof(a->signing_kid)) != RD_OK)
        goto out;
    rc = json_u64(o, "heartbeat_interval_ms", UINT32_MAX, &iv);
    if (rc != RD_OK && rc != RD_ENOTFOUND)
        goto out;
    a->interval_ms = (uint32_t)iv;
    ok = true;
out:
    json_decref(o);
    if (!ok)
        memset(a, 0, sizeof(*a));
    return ok ? RD_OK : RD_EPROTO;
}

static void
beat_schedule(struct bclient *b, bool ok, long status, double retry_after_s, double sent_at)
{
    if (b->dying || b->interval_ms == 0)
        return;
    double iv = b->interval_ms / 1000.;
    double delay;
    if (ok) {
        b->backoff_s = 0.;
        delay = sent_at + iv - ev_now(b->loop); /* keep the period, whatever the round trip */
        if (delay < 0.)
            delay = 0.;
    } else {
        double cap = b->backoff_max_s > iv ? b->backoff_max_s : iv;
        b->backoff_s = b->backoff_s == 0. ? iv : b->backoff_s * 2.;
        if (b->backoff_s > cap)
            b->backoff_s = cap;
        delay = b->backoff_s;
        if ((status == 429 || status == 503) && retry_after_s > 0.) {
            if (retry_after_s > RD_BCLIENT_RETRY_AFTER_MAX_S)
                retry_after_s = RD_BCLIENT_RETRY_AFTER_MAX_S;
            if (retry_after_s > delay)
                delay = retry_after_s;
        }
    }
    if (b->beat_again) {
        b->beat_again = false;
        delay = 0.;
    }
    evx_timer_rearm(b->loop, &b->beat_timer, delay);
}

/* Counts the outcome and logs it when it differs from the last one logged. */
static void
beat_note(struct bclient *b, const struct hb_answer *a, CURLcode cc, const char *why)
{
    if (a->ok) {
        b->st.beats_ok++;
        b->st.last_ok_at = ev_now(b->loop);
        b->st.broker_reachable = true;
        if (b->last_logged != 1)
            RD_LOG(RD_LOG_NOTICE, &b->log, "broker answers heartbeats");
        /* Whether the relay holds the signing_kid named is the owner's check (relay.c knows
         * the whole keyring; this client only knows the key it signs with). */
        b->last_logged = 1;
        return;
    }
    b->st.beats_failed++;
    b->st.broker_reachable = false;
    long key = a->http_status != 0 ? a->http_status : -(long)cc;
    if (b->last_logged != 2 || b->last_fail_key != key) {
        char w[LOG_SAMPLE_BUF];
        RD_LOG(RD_LOG_WARN, &b->log, "broker heartbeat failing status=%ld error=%s", a->http_status,
               log_sanitize(w, sizeof(w), why, strlen(why)));
    }
    b->last_logged = 2;
    b->last_fail_key = key;
}

static void
beat_done(struct bclient *b, struct bc_req *r, CURLcode cc)
{
    struct hb_answer a = {0};
    long status = 0;
    curl_off_t ra = -1;
    (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    (void)curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra);
    const char *why = "";
    if (cc != CURLE_OK)
        why = r->resp_too_large ? "response too large" : curl_easy_strerror(cc);
    else if (status == 401)
        why = "relay key refused";
    else if (status == 429 || status == 503)
        why = "broker asks to retry later";
    else if (status != 200)
        why = "unexpected HTTP status";
    else if (bclient_answer_parse(r->resp != NULL ? r->resp : "", r->resp_len, &a) != RD_OK)
        why = "malformed answer";
    else
        a.ok = true;
    a.http_status = status;
    if (!a.ok) {
        struct hb_answer fail = {.http_status = status};
        a = fail;
    }
    double sent_at = r->sent_at;
    b->beat = NULL;
    req_free(r);
    beat_schedule(b, a.ok, status, ra > 0 ? (double)ra : 0., sent_at);
    beat_note(b, &a, cc, why);
    if (b->answer != NULL)
        b->answer(b->arg, &a);
}

/* Sends one heartbeat now (from the beat timer, so the fill callback runs from our watcher). */
static void
beat_send(struct bclient *b)
{
    struct hb_report rep = {.state = "active", .cameras = b->cams};
    memset(b->cams, 0, sizeof(b->cams));
    if (b->fill != NULL)
        b->fill(b->arg, &rep);
    if (b->dying)
        return;
    struct bc_req *r = req_new(b, BC_BEAT);
    int rc = RD_ENOMEM;
    if (r != NULL) {
        b->seq++;
        r->body = beat_body(b, &rep, &r->body_len);
        rc = r->body != NULL ? req_start(b, r, "POST", BC_HB_PATH) : RD_ENOMEM;
    }
    if (rc != RD_OK) {
        req_free(r);
        b->st.beats_failed++;
        RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 60., "heartbeat not sent error=%s",
                           rd_strstatus(rc));
        evx_timer_rearm(b->loop, &b->beat_timer, b->interval_ms / 1000.);
        return;
    }
    b->beat = r;
    b->st.beats_sent++;
}

/* ---- Camera sources -------------------------------------------------------------------------- */

int
bclient_source_parse(const char *camera_id, const char *body, size_t len, struct camera_source *src,
                     const char **field)
{
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    const char *bad = NULL;
    int rc = RD_OK;
    char transport[8];
    memset(src, 0, sizeof(*src));
    if (o == NULL || !json_is_object(o)) {
        bad = "body";
        rc = RD_EPROTO;
    } else if ((rc = json_str_copy(o, "id", src->id, sizeof(src->id))) != RD_OK) {
        bad = "id";
    } else if (strcmp(src->id, camera_id) != 0) {
        bad = "id";
        rc = RD_EPROTO;
    } else if ((rc = json_str_copy(o, "url", src->url, sizeof(src->url))) != RD_OK) {
        bad = "url";
    } else if (src->url[0] == '\0' || strchr(src->url, ' ') != NULL || !no_ctl(src->url)) {
        bad = "url";
        rc = RD_EPROTO;
    } else if ((rc = json_str_copy(o, "user", src->user, sizeof(src->user))) != RD_OK
               || !no_ctl(src->user)) {
        bad = "user";
    } else if ((rc = json_str_copy(o, "password", src->password, sizeof(src->password))) != RD_OK
               || !no_ctl(src->password)) {
        bad = "password";
    } else if ((rc = json_str_copy(o, "transport", transport, sizeof(transport))) != RD_OK
               || (strcmp(transport, "auto") != 0 && strcmp(transport, "tcp") != 0
                   && strcmp(transport, "udp") != 0)) {
        /* "auto" is the registry's default: the relay picks, and it picks TCP interleaved
         * (one connection, no NAT or firewall questions on the camera side). */
        bad = "transport";
    } else if ((rc = json_bool(o, "always_on", &src->always_on)) != RD_OK) {
        bad = "always_on";
    } else if ((rc = json_bool(o, "enabled", &src->enabled)) != RD_OK) {
        bad = "enabled";
    } else if ((rc = json_u64(o, "registry_version", (uint64_t)INT64_MAX, &src->registry_version))
               != RD_OK) {
        bad = "registry_version";
    } else {
        src->transport =
            strcmp(transport, "udp") == 0 ? CAMERA_TRANSPORT_UDP : CAMERA_TRANSPORT_TCP;
    }
    if (o != NULL) {
        json_str_wipe(o, "password");
        json_str_wipe(o, "url");
        json_decref(o);
    }
    if (field != NULL)
        *field = bad;
    if (bad == NULL)
        return RD_OK;
    rd_cleanse(src, sizeof(*src));
    return rc == RD_ELIMIT ? RD_ELIMIT : RD_EPROTO;
}

/* bclient_source_parse for a fetch: logs a refusal (field names only, never values: the URL
 * may carry userinfo, the password is clear text). Returns RD_OK or RD_EIO. */
static int
source_parse(struct bclient *b, const char *id, const char *p, size_t len,
             struct camera_source *src)
{
    const char *field = NULL;
    int rc = bclient_source_parse(id, p, len, src, &field);
    if (rc == RD_OK)
        return RD_OK;
    RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 1.,
                       "camera source answer refused camera=%s field=%s reason=%s", id,
                       field != NULL ? field : "?", rc == RD_ELIMIT ? "too_long" : "invalid");
    return RD_EIO;
}

static void
fetch_unlink(struct bclient *b, struct bc_req *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        b->fetches = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    b->n_fetches--;
}

static void
fetch_done(struct bclient *b, struct bc_req *r, CURLcode cc)
{
    long status = 0;
    (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    int rc;
    if (cc != CURLE_OK) {
        rc = RD_EIO;
        RD_LOG_RATELIMITED(RD_LOG_INFO, &b->log, 1.,
                           "camera source fetch failed camera=%s status=%ld error=\"%s\"",
                           r->camera_id, status,
                           r->resp_too_large ? "response too large" : curl_easy_strerror(cc));
    } else if (status == 200) {
        rc = source_parse(b, r->camera_id, r->resp != NULL ? r->resp : "", r->resp_len, &r->src);
    } else if (status == 404) {
        rc = RD_ENOTFOUND;
    } else if (status == 401) {
        rc = RD_EAUTH;
        RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 1.,
                           "broker refused our key for a camera source camera=%s kid=%s",
                           r->camera_id, b->key.kid);
    } else {
        rc = RD_EIO;
        RD_LOG_RATELIMITED(RD_LOG_INFO, &b->log, 1.,
                           "camera source fetch failed camera=%s status=%ld", r->camera_id, status);
    }
    if (rc == RD_OK)
        b->st.fetches_ok++;
    else
        b->st.fetches_failed++;
    /* Out of the table before the callbacks, so a callback that fetches again starts anew. */
    fetch_unlink(b, r);
    (void)curl_multi_remove_handle(b->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    if (r->resp != NULL) {
        rd_cleanse(r->resp, r->resp_cap);
        free(r->resp);
        r->resp = NULL;
    }
    for (size_t i = 0; i < r->n_waiters && !b->dying; i++)
        r->waiters[i].fn(r->waiters[i].arg, r->camera_id, rc, rc == RD_OK ? &r->src : NULL);
    req_free(r);
}

static int
fetch_add_waiter(struct bc_req *r, bclient_source_fn *fn, void *arg)
{
    if (r->n_waiters == r->cap_waiters) {
        size_t cap = r->cap_waiters == 0 ? 2 : r->cap_waiters * 2;
        struct bc_waiter *w = realloc(r->waiters, cap * sizeof(*w));
        if (w == NULL)
            return RD_ENOMEM;
        r->waiters = w;
        r->cap_waiters = cap;
    }
    r->waiters[r->n_waiters++] = (struct bc_waiter){fn, arg};
    return RD_OK;
}

int
bclient_fetch_source(struct bclient *b, const char *camera_id, bclient_source_fn *fn, void *arg)
{
    if (b == NULL || camera_id == NULL || fn == NULL)
        return RD_EPROTO;
    size_t len = strnlen(camera_id, RD_CAMERA_ID_MAX + 1);
    if (!url_camera_id_valid(rd_str_make(camera_id, len)))
        return RD_EPROTO;
    for (struct bc_req *r = b->fetches; r != NULL; r = r->next) {
        if (strcmp(r->camera_id, camera_id) == 0)
            return fetch_add_waiter(r, fn, arg);
    }
    if (b->n_fetches >= RD_BCLIENT_MAX_FETCHES)
        return RD_ELIMIT;
    struct bc_req *r = req_new(b, BC_FETCH);
    if (r == NULL)
        return RD_ENOMEM;
    memcpy(r->camera_id, camera_id, len + 1);
    char path[sizeof(BC_SOURCE_PATH) + RD_CAMERA_ID_MAX];
    int n = snprintf(path, sizeof(path), "%s%s", BC_SOURCE_PATH, camera_id);
    int rc = n < 0 || (size_t)n >= sizeof(path) ? RD_ELIMIT : fetch_add_waiter(r, fn, arg);
    if (rc == RD_OK)
        rc = req_start(b, r, "GET", path);
    if (rc != RD_OK) {
        req_free(r);
        return rc == RD_ELIMIT ? RD_EIO : rc;
    }
    r->next = b->fetches;
    if (b->fetches != NULL)
        b->fetches->prev = r;
    b->fetches = r;
    b->n_fetches++;
    b->st.fetches_sent++;
    return RD_OK;
}

/* ---- libcurl in libev ------------------------------------------------------------------------ */

static void
bc_enter(struct bclient *b)
{
    b->depth++;
}

static void
bc_leave(struct bclient *b)
{
    if (--b->depth == 0 && b->dying)
        bc_destroy(b);
}

/* Completed transfers (curl_multi_info_read), each answered once. */
static void
bc_check_done(struct bclient *b)
{
    CURLMsg *m;
    int left;
    while (!b->dying && (m = curl_multi_info_read(b->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode cc = m->data.result; /* m dies with the handle's removal: copy first */
        char *priv = NULL;
        (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct bc_req *r = (struct bc_req *)(void *)priv;
        if (r == NULL)
            continue;
        if (r->kind == BC_BEAT)
            beat_done(b, r, cc);
        else
            fetch_done(b, r, cc);
    }
}

static void
bc_socket_action(struct bclient *b, curl_socket_t fd, int action)
{
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(b->multi, fd, action, &running);
    if (mc != CURLM_OK)
        RD_LOG_RATELIMITED(RD_LOG_WARN, &b->log, 1., "curl_multi_socket_action failed error=\"%s\"",
                           curl_multi_strerror(mc));
    bc_check_done(b);
}

static void
bc_sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct bc_sock *k = RD_CONTAINER_OF(w, struct bc_sock, io);
    struct bclient *b = k->b; /* k may be freed inside the socket action */
    int action = ((revents & EV_READ) ? CURL_CSELECT_IN : 0)
                 | ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0)
                 | ((revents & EV_ERROR) ? CURL_CSELECT_ERR : 0);
    bc_enter(b);
    bc_socket_action(b, w->fd, action);
    bc_leave(b);
}

static void
bc_curl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct bclient *b = RD_CONTAINER_OF(w, struct bclient, curl_timer);
    bc_enter(b);
    bc_socket_action(b, CURL_SOCKET_TIMEOUT, 0);
    bc_leave(b);
}

static void
bc_beat_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct bclient *b = RD_CONTAINER_OF(w, struct bclient, beat_timer);
    bc_enter(b);
    if (b->beat == NULL) /* never two beats at once (the timer is not armed meanwhile) */
        beat_send(b);
    bc_leave(b);
}

static void
sock_free(struct bclient *b, struct bc_sock *k)
{
    ev_io_stop(b->loop, &k->io);
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        b->socks = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    free(k);
}

/* CURLMOPT_SOCKETFUNCTION: one ev_io per socket, allocated here and remembered with
 * curl_multi_assign. */
static int
bc_on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct bclient *b = userp;
    struct bc_sock *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k != NULL)
            sock_free(b, k);
        return 0;
    }
    if (k == NULL) {
        k = calloc(1, sizeof(*k));
        if (k == NULL)
            return -1;
        k->b = b;
        ev_io_init(&k->io, bc_sock_cb, s, 0);
        k->next = b->socks;
        if (b->socks != NULL)
            b->socks->prev = k;
        b->socks = k;
        if (curl_multi_assign(b->multi, s, k) != CURLM_OK) {
            sock_free(b, k);
            return -1;
        }
    }
    int events = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    evx_io_set_events(b->loop, &k->io, events);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one ev_timer; -1 stops it. A 0 timeout runs on the next loop
 * iteration, never from inside this callback (libcurl forbids the recursion). */
static int
bc_on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct bclient *b = userp;
    if (timeout_ms < 0)
        ev_timer_stop(b->loop, &b->curl_timer);
    else
        evx_timer_rearm(b->loop, &b->curl_timer, (double)timeout_ms / 1000.);
    return 0;
}

/* ---- Life cycle ------------------------------------------------------------------------------ */

static bool
key_ok(const struct url_token_key *key)
{
    size_t n = strnlen(key->kid, sizeof(key->kid));
    return n < sizeof(key->kid) && url_id_valid(rd_str_make(key->kid, n), RD_TOKEN_KID_MAX);
}

/* "http://host[:port][/]" -> b->base_url "http://host[:port]"; the authority is not
 * resolved here (libcurl does it, in the loop). */
static int
parse_broker_url(struct bclient *b, const char *url, struct rd_errbuf *err)
{
    static const char scheme[] = "http://";
    size_t len = strnlen(url, RD_BCLIENT_URL_MAX + 1);
    if (len > RD_BCLIENT_URL_MAX) {
        rd_errbuf_set(err, "broker_url: longer than %d characters", RD_BCLIENT_URL_MAX);
        return RD_EPROTO;
    }
    if (len < sizeof(scheme) - 1
        || !rd_str_eq_ci(rd_str_make(url, sizeof(scheme) - 1), RD_STR_LIT(scheme))) {
        rd_errbuf_set(err, "broker_url: only http://host:port is supported (%s)",
                      strstr(url, "://") != NULL ? "unsupported scheme" : "no http:// scheme");
        return RD_EPROTO;
    }
    const char *auth = url + sizeof(scheme) - 1;
    size_t alen = strcspn(auth, "/");
    if (alen == 0 || (auth[alen] == '/' && auth[alen + 1] != '\0')) {
        rd_errbuf_set(err, "broker_url: expected http://host:port with no path");
        return RD_EPROTO;
    }
    for (size_t i = 0; i < alen; i++) {
        unsigned char c = (unsigned char)auth[i];
        if (c == '@') {
            rd_errbuf_set(err, "broker_url: user information is not allowed");
            return RD_EPROTO;
        }
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '\\' || c == '%') {
            rd_errbuf_set(err, "broker_url: invalid character in host:port");
            return RD_EPROTO;
        }
    }
    int n = snprintf(b->base_url, sizeof(b->base_url), "http://%.*s", (int)alen, auth);
    if (n < 0 || (size_t)n >= sizeof(b->base_url))
        return RD_EPROTO;
    return RD_OK;
}

int
bclient_new(struct ev_loop *loop, const struct bclient_cfg *cfg, struct bclient **out,
            struct rd_errbuf *err)
{
    *out = NULL;
    if (cfg == NULL || cfg->broker_url == NULL || cfg->relay_id == NULL || cfg->key == NULL) {
        rd_errbuf_set(err, "broker client: broker_url, relay_id and key are required");
        return RD_EPROTO;
    }
    struct bclient *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        rd_errbuf_set(err, "broker client: out of memory");
        return RD_ENOMEM;
    }
    b->loop = loop;
    int rc = parse_broker_url(b, cfg->broker_url, err);
    if (rc != RD_OK)
        goto fail;
    rc = RD_EPROTO;
    size_t idlen = strnlen(cfg->relay_id, RD_RELAY_ID_MAX + 1);
    if (!url_id_valid(rd_str_make(cfg->relay_id, idlen), RD_RELAY_ID_MAX)) {
        rd_errbuf_set(err, "relay_id: expected [A-Za-z0-9_-]{1,%d}", RD_RELAY_ID_MAX);
        goto fail;
    }
    memcpy(b->relay_id, cfg->relay_id, idlen + 1);
    if (!key_ok(cfg->key)) {
        rd_errbuf_set(err, "relay key: kid must be [A-Za-z0-9_-]{1,%d}", RD_TOKEN_KID_MAX);
        goto fail;
    }
    b->key = *cfg->key;
    const char *ua = cfg->user_agent != NULL ? cfg->user_agent : "rtsp-relay";
    if (rd_str_copy(b->user_agent, sizeof(b->user_agent), rd_str_make(ua, strlen(ua))) != RD_OK
        || !no_ctl(ua)) {
        rd_errbuf_set(err, "user agent: over %d characters or control characters",
                      RD_BCLIENT_USER_AGENT_MAX);
        goto fail;
    }
    double t = cfg->timeout_s == 0. ? RD_BCLIENT_TIMEOUT_S : cfg->timeout_s;
    if (!(t >= 0.001 && t <= 3600.)) {
        rd_errbuf_set(err, "broker client: timeout must be 0.001..3600 s");
        goto fail;
    }
    b->timeout_ms = (long)(t * 1000. + 0.5);
    b->connect_timeout_ms = b->timeout_ms < RD_BCLIENT_CONNECT_TIMEOUT_S * 1000L
                                ? b->timeout_ms
                                : RD_BCLIENT_CONNECT_TIMEOUT_S * 1000L;
    double bmax = cfg->backoff_max_s == 0. ? RD_BCLIENT_BACKOFF_MAX_S : cfg->backoff_max_s;
    if (!(bmax > 0. && bmax <= RD_BCLIENT_BACKOFF_MAX_S)) {
        rd_errbuf_set(err, "broker client: backoff_max_s must be in (0, %d]",
                      RD_BCLIENT_BACKOFF_MAX_S);
        goto fail;
    }
    b->backoff_max_s = bmax;
    b->interval_ms = cfg->interval_ms;
    b->fill = cfg->fill;
    b->answer = cfg->answer;
    b->arg = cfg->arg;

    uint8_t boot[8];
    rc = rd_random_bytes(boot, sizeof(boot));
    if (rc != RD_OK) {
        rd_errbuf_set(err, "broker client: no random bytes for the boot id");
        goto fail;
    }
    rd_hex_encode(boot, sizeof(boot), b->boot_id);
    (void)log_ctx_set(&b->log, "broker=%s relay=%s", b->base_url + 7, b->relay_id);

    rc = RD_EIO;
    b->multi = curl_multi_init();
    if (b->multi == NULL) {
        rd_errbuf_set(err, "broker client: curl_multi_init failed");
        goto fail;
    }
    if (curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION, bc_on_socket) != CURLM_OK
        || curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, (void *)b) != CURLM_OK
        || curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION, bc_on_timer) != CURLM_OK
        || curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, (void *)b) != CURLM_OK
        || curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)RD_BCLIENT_MAX_CONNS)
               != CURLM_OK
        || curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)RD_BCLIENT_MAX_CONNS)
               != CURLM_OK) {
        rd_errbuf_set(err, "broker client: curl_multi_setopt failed");
        goto fail;
    }
    ev_timer_init(&b->curl_timer, bc_curl_timer_cb, 0., 0.);
    ev_timer_init(&b->beat_timer, bc_beat_timer_cb, 0., 0.);
    if (b->interval_ms > 0)
        ev_timer_start(loop, &b->beat_timer); /* first beat on the next loop iteration */
    *out = b;
    return RD_OK;
fail:
    if (b->multi != NULL)
        curl_multi_cleanup(b->multi);
    rd_cleanse(&b->key, sizeof(b->key));
    free(b);
    return rc;
}

static void
bc_destroy(struct bclient *b)
{
    ev_timer_stop(b->loop, &b->beat_timer);
    req_free(b->beat);
    b->beat = NULL;
    while (b->fetches != NULL) {
        struct bc_req *r = b->fetches;
        fetch_unlink(b, r);
        req_free(r);
    }
    curl_multi_cleanup(b->multi); /* closes the cached connections */
    while (b->socks != NULL)      /* any socket libcurl did not report removed */
        sock_free(b, b->socks);
    ev_timer_stop(b->loop, &b->curl_timer);
    rd_cleanse(&b->key, sizeof(b->key));
    free(b);
}

void
bclient_free(struct bclient *b)
{
    if (b == NULL)
        return;
    if (b->depth > 0) {
        b->dying = true; /* called from one of our callbacks: finish when it returns */
        return;
    }
    bc_destroy(b);
}

void
bclient_set_key(struct bclient *b, const struct url_token_key *key)
{
    if (key == NULL || !key_ok(key)) {
        RD_LOG(RD_LOG_ERR, &b->log, "new relay key refused (bad kid); the old one stays in use");
        return;
    }
    b->key = *key;
}

void
bclient_set_interval(struct bclient *b, uint32_t interval_ms)
{
    if (interval_ms == 0 || interval_ms == b->interval_ms)
        return;
    bool was_off = b->interval_ms == 0;
    b->interval_ms = interval_ms;
    if (b->beat != NULL)
        return; /* the new period applies from its completion */
    if (was_off)
        evx_timer_rearm(b->loop, &b->beat_timer, 0.);
    else if (b->backoff_s == 0.
             && evx_timer_remaining(b->loop, &b->beat_timer) > interval_ms / 1000.)
        evx_timer_rearm(b->loop, &b->beat_timer, interval_ms / 1000.);
}

void
bclient_beat_now(struct bclient *b)
{
    if (b->interval_ms == 0)
        return;
    if (b->beat != NULL) {
        b->beat_again = true;
        return;
    }
    evx_timer_rearm(b->loop, &b->beat_timer, 0.); /* fill runs from our watcher, not from here */
}

void
bclient_stats(const struct bclient *b, struct bclient_stats *out)
{
    *out = b->st;
}
