/* SPDX-License-Identifier: MIT */
/* bclient.c against a fake broker in the same libev loop: libmicrohttpd (base/httpd) checking
 * every signature and heartbeat body with the broker's own relay_channel code, and a raw TCP
 * listener that accepts and never answers (a hung broker). Short intervals keep each case fast. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bclient.h"
#include "crypto.h"
#include "evx.h"
#include "guard_buf.h"
#include "httpd.h"
#include "net.h"
#include "rd_err.h"
#include "relay_channel.h"

#define SRC_PREFIX "/api/v1/relay/cameras/"
#define MAX_REC    64

/* ---- Fake broker (MHD) ----------------------------------------------------------------------- */

struct fb {
    struct httpd h;
    bool up;
    struct reg_relay_key key;
    /* Script */
    unsigned beat_status; /* 0 = 200 */
    unsigned n_429;       /* answer the first n beats 429 with Retry-After: 1 */
    size_t big_answer;    /* > 0: a 200 of this many bytes */
    const char *op_state; /* operator state answered */
    /* Record */
    unsigned n_beats, n_fetches, n_bad_sig, n_bad_body;
    uint64_t seqs[MAX_REC];
    uint16_t peer_port[MAX_REC]; /* the client's port per beat: connection reuse */
    double beat_at[MAX_REC];
    char boot_id[RD_HEARTBEAT_BOOT_ID_MAX + 1];
    bool boot_changed, draining;
    uint32_t viewers, egress_kbps, cap_viewers, cap_egress_kbps, cpu_pct;
    size_t n_cameras;
    char cam0_id[RD_CAMERA_ID_MAX + 1];
    enum relay_view_cam_state cam0_state;
    uint64_t cam0_drops;
    bool kids_reported;
    size_t n_kids;
    char kids[RD_TOKEN_LIVE_KIDS][RD_TOKEN_KID_MAX + 1];
    struct ev_loop *loop;
};

static struct relay_channel_hb fb_hb; /* ~10 KiB: not on the stack */

static struct reg_relay_key
test_key(uint8_t base, const char *kid)
{
    struct reg_relay_key k = {.gen = 1};
    snprintf(k.kid, sizeof(k.kid), "%s", kid);
    for (size_t i = 0; i < sizeof(k.key); i++)
        k.key[i] = (uint8_t)(base + i);
    return k;
}

static struct url_token_key
client_key(uint8_t base, const char *kid)
{
    struct reg_relay_key r = test_key(base, kid);
    struct url_token_key k = {.kid_len = strlen(kid)};
    memcpy(k.kid, r.kid, sizeof(k.kid));
    memcpy(k.key, r.key, sizeof(k.key));
    return k;
}

static enum MHD_Result
fb_reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len, bool retry_after)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(resp, "Content-Type", "application/json");
    if (retry_after)
        (void)MHD_add_response_header(resp, "Retry-After", "1");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
fb_reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s", text);
    return fb_reply(conn, status, buf, (size_t)n, false);
}

static enum MHD_Result
fb_big(struct MHD_Connection *conn, size_t len)
{
    char *p = malloc(len);
    if (p == NULL)
        return MHD_NO;
    memset(p, ' ', len);
    p[0] = '{';
    p[len - 1] = '}';
    enum MHD_Result r = fb_reply(conn, 200, p, len, false);
    free(p);
    return r;
}

/* A chunked body of 100 KiB (no Content-Length): the write callback must stop it. */
static ssize_t
fb_chunk_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= 100 * 1024)
        return MHD_CONTENT_READER_END_OF_STREAM;
    memset(buf, ' ', max);
    return (ssize_t)max;
}

static enum MHD_Result
fb_chunked(struct MHD_Connection *conn)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, fb_chunk_cb, NULL, NULL);
    if (resp == NULL)
        return MHD_NO;
    enum MHD_Result r = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
fb_beat(struct fb *f, struct MHD_Connection *conn, const struct httpd_body *body)
{
    unsigned i = f->n_beats++;
    if (relay_channel_hb_parse(body->data, body->len, &fb_hb) != RD_OK
        || strcmp(fb_hb.relay_id, "relay-a") != 0) {
        f->n_bad_body++;
        relay_channel_hb_free(&fb_hb);
        return fb_reply_text(conn, 400, "{\"error\":\"bad\"}");
    }
    const struct relay_view_hb *hb = &fb_hb.hb;
    if (i < MAX_REC) {
        f->seqs[i] = hb->seq;
        f->beat_at[i] = ev_time();
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr->sa_family == AF_INET)
            f->peer_port[i] =
                ntohs(((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_port);
    }
    if (f->boot_id[0] != '\0' && strcmp(f->boot_id, hb->boot_id) != 0)
        f->boot_changed = true;
    snprintf(f->boot_id, sizeof(f->boot_id), "%s", hb->boot_id);
    f->draining = hb->draining;
    f->viewers = hb->viewers;
    f->egress_kbps = hb->egress_kbps;
    f->cap_viewers = hb->cap_viewers;
    f->cap_egress_kbps = hb->cap_egress_kbps;
    f->cpu_pct = hb->cpu_pct;
    f->n_cameras = hb->n_cameras;
    if (hb->n_cameras > 0) {
        snprintf(f->cam0_id, sizeof(f->cam0_id), "%s", hb->cameras[0].id);
        f->cam0_state = hb->cameras[0].state;
        f->cam0_drops = hb->cameras[0].drops;
    }
    f->kids_reported = hb->kids_reported;
    f->n_kids = hb->n_kids;
    for (size_t k = 0; k < hb->n_kids; k++)
        snprintf(f->kids[k], sizeof(f->kids[k]), "%s", hb->kids[k]);
    relay_channel_hb_free(&fb_hb);
    if (f->n_429 > 0) {
        f->n_429--;
        char b[] = "{\"error\":\"rate limited\"}";
        return fb_reply(conn, 429, b, sizeof(b) - 1, true);
    }
    if (f->big_answer > 0)
        return fb_big(conn, f->big_answer);
    if (f->beat_status != 0)
        return fb_reply_text(conn, f->beat_status, "{\"error\":\"scripted\"}");
    char out[512];
    int n = snprintf(out, sizeof(out),
                     "{\"applied\":true,\"outcome\":\"accepted\",\"state\":\"%s\","
                     "\"registry_version\":42,\"signing_kid\":\"k2\","
                     "\"heartbeat_interval_ms\":1000}",
                     f->op_state != NULL ? f->op_state : "active");
    return fb_reply(conn, 200, out, (size_t)n, false);
}

/* Camera-source answers by camera id. */
static enum MHD_Result
fb_source(struct fb *f, struct MHD_Connection *conn, const char *id)
{
    f->n_fetches++;
    static char out[200000];
    char longv[RD_REG_URL_MAX + 2];
    const char *url = "rtsp://10.0.0.7:554/Streaming/Channels/101";
    const char *pw = "s3cret";
    const char *tr = "udp";
    const char *rid = id;
    if (strcmp(id, "gone") == 0)
        return fb_reply_text(conn, 404, "{\"error\":\"unknown camera\"}");
    if (strcmp(id, "broken") == 0)
        return fb_reply_text(conn, 500, "{\"error\":\"oops\"}");
    if (strcmp(id, "bad") == 0)
        return fb_reply_text(conn, 200, "{\"id\": \"bad\", ");
    if (strcmp(id, "notobj") == 0)
        return fb_reply_text(conn, 200, "[1,2]");
    if (strcmp(id, "big") == 0)
        return fb_big(conn, 100 * 1024);
    if (strcmp(id, "chunked") == 0)
        return fb_chunked(conn);
    if (strcmp(id, "dupkey") == 0)
        return fb_reply_text(conn, 200, "{\"id\":\"dupkey\",\"id\":\"dupkey\"}");
    if (strcmp(id, "longurl") == 0) {
        memset(longv, 'a', sizeof(longv) - 1);
        memcpy(longv, "rtsp://h/", 9);
        longv[RD_REG_URL_MAX + 1] = '\0'; /* one over */
        url = longv;
    } else if (strcmp(id, "maxurl") == 0) {
        memset(longv, 'a', sizeof(longv) - 1);
        memcpy(longv, "rtsp://h/", 9);
        longv[RD_REG_URL_MAX] = '\0'; /* exactly the limit */
        url = longv;
    } else if (strcmp(id, "longpw") == 0) {
        memset(longv, 'p', RD_REG_CRED_MAX + 1);
        longv[RD_REG_CRED_MAX + 1] = '\0';
        pw = longv;
    } else if (strcmp(id, "crlf") == 0) {
        url = "rtsp://h/a\\r\\nX: y";
    } else if (strcmp(id, "sctp") == 0) {
        tr = "sctp";
    } else if (strcmp(id, "wrongid") == 0) {
        rid = "other";
    } else if (strcmp(id, "tcp") == 0) {
        tr = "tcp";
    }
    int n = snprintf(out, sizeof(out),
                     "{\"id\":\"%s\",\"url\":\"%s\",\"user\":\"viewer\",\"password\":\"%s\","
                     "\"transport\":\"%s\",\"always_on\":true,\"enabled\":false,"
                     "\"registry_version\":42}",
                     rid, url, pw, tr);
    return fb_reply(conn, 200, out, (size_t)n, false);
}

static const char *
hdr(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result
fb_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct fb *f = cls;
    struct httpd_body *body = NULL;
    bool post = strcmp(method, "POST") == 0;
    if (post) {
        int rc = httpd_body_read(conn, con_cls, 65536, upload_data, upload_data_size, &body);
        if (rc == RD_AGAIN)
            return MHD_YES;
        if (rc != RD_OK)
            return MHD_NO;
    }
    struct relay_channel_req rq = {
        .method = method,
        .path = url,
        .relay_id = hdr(conn, RELAY_CHANNEL_HDR_RELAY),
        .kid = hdr(conn, RELAY_CHANNEL_HDR_KID),
        .timestamp = hdr(conn, RELAY_CHANNEL_HDR_TIMESTAMP),
        .signature = hdr(conn, RELAY_CHANNEL_HDR_SIGNATURE),
        .body = body != NULL ? body->data : "",
        .body_len = body != NULL ? body->len : 0,
    };
    if (rq.relay_id == NULL || strcmp(rq.relay_id, "relay-a") != 0 || rq.kid == NULL
        || strcmp(rq.kid, f->key.kid) != 0
        || relay_channel_check(&f->key, &rq, (int64_t)time(NULL)) != RELAY_CHANNEL_OK) {
        f->n_bad_sig++;
        return fb_reply_text(conn, 401, "{\"error\":\"unauthorized\"}");
    }
    if (post && strcmp(url, "/api/v1/heartbeat") == 0)
        return fb_beat(f, conn, body);
    if (!post && strncmp(url, SRC_PREFIX, strlen(SRC_PREFIX)) == 0)
        return fb_source(f, conn, url + strlen(SRC_PREFIX));
    return fb_reply_text(conn, 404, "{}");
}

static void
fb_start(struct fb *f, struct ev_loop *loop, uint16_t port)
{
    struct rd_errbuf err = {{0}};
    f->loop = loop;
    if (f->key.kid[0] == '\0')
        f->key = test_key(0, "k1");
    assert_int_equal(httpd_start(&f->h, loop, "127.0.0.1", port, fb_handler, f, &err), RD_OK);
    f->up = true;
}

static void
fb_stop(struct fb *f)
{
    if (f->up)
        httpd_stop(&f->h);
    f->up = false;
}

/* ---- Hung broker: accepts, reads, never answers ------------------------------------------------
 */

struct hang {
    int lfd;
    uint16_t port;
    ev_io accept_io;
    ev_io conns[16];
    unsigned n_conns;
    double accept_at[16];
};

static void
hang_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    char buf[4096];
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        ev_io_stop(loop, w);
        close(w->fd);
        w->fd = -1;
    }
}

static void
hang_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct hang *h = RD_CONTAINER_OF(w, struct hang, accept_io);
    int fd;
    while ((fd = net_accept(w->fd, NULL, NULL)) >= 0) {
        if (h->n_conns >= 16) {
            close(fd);
            continue;
        }
        h->accept_at[h->n_conns] = ev_time();
        ev_io *c = &h->conns[h->n_conns++];
        ev_io_init(c, hang_conn_cb, fd, EV_READ);
        ev_io_start(loop, c);
    }
}

static void
hang_start(struct hang *h, struct ev_loop *loop)
{
    struct rd_errbuf err = {{0}};
    memset(h, 0, sizeof(*h));
    h->lfd = net_tcp_listen("127.0.0.1", 0, 64, &err);
    assert_true(h->lfd >= 0);
    assert_int_equal(net_local_port(h->lfd, &h->port), RD_OK);
    ev_io_init(&h->accept_io, hang_accept_cb, h->lfd, EV_READ);
    ev_io_start(loop, &h->accept_io);
}

static void
hang_stop(struct hang *h, struct ev_loop *loop)
{
    ev_io_stop(loop, &h->accept_io);
    close(h->lfd);
    for (unsigned i = 0; i < h->n_conns; i++) {
        if (h->conns[i].fd >= 0) {
            ev_io_stop(loop, &h->conns[i]);
            close(h->conns[i].fd);
        }
    }
}

/* ---- The relay side -------------------------------------------------------------------------- */

struct rec {
    struct hb_answer a[MAX_REC];
    double at[MAX_REC];
    unsigned n;
    bool draining;
    bool free_in_answer;
    const char *kids[RD_TOKEN_LIVE_KIDS]; /* the keyring the fill reports */
    size_t n_kids;
    struct bclient *b;
    /* fetch results */
    unsigned n_src;
    int src_status[MAX_REC];
    struct camera_source src[4];
};

static void
rec_fill(void *arg, struct hb_report *r)
{
    struct rec *rc = arg;
    r->state = rc->draining ? "draining" : "active";
    r->capacity_viewers = 1000;
    r->capacity_egress_kbps = 500000;
    r->viewers = 37;
    r->egress_kbps = 148000;
    r->cpu_pct = 12.4;
    r->cameras[0] = (struct hb_camera){"lobby", "playing", 30, 4000, 7};
    r->cameras[1] = (struct hb_camera){"bad/id", "playing", 1, 1, 0}; /* left out */
    r->cameras[2] = (struct hb_camera){"dock", "retrying", 7, 0, 12};
    r->cameras[3] = (struct hb_camera){"yard", "dancing", 0, 0, 0}; /* left out */
    r->n_cameras = 4;
    for (size_t i = 0; i < rc->n_kids; i++)
        r->kids[i] = rc->kids[i];
    r->n_kids = rc->n_kids;
}

static void
rec_answer(void *arg, const struct hb_answer *a)
{
    struct rec *rc = arg;
    if (rc->n < MAX_REC) {
        rc->a[rc->n] = *a;
        rc->at[rc->n] = ev_time();
    }
    rc->n++;
    if (rc->free_in_answer) {
        bclient_free(rc->b); /* deferred until our watcher returns */
        rc->b = NULL;
    }
}

static void
rec_source(void *arg, const char *camera_id, int status, const struct camera_source *src)
{
    struct rec *rc = arg;
    (void)camera_id;
    if (rc->n_src < MAX_REC) {
        rc->src_status[rc->n_src] = status;
        if (rc->n_src < 4 && src != NULL)
            rc->src[rc->n_src] = *src;
    }
    rc->n_src++;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs loop until *counter >= want or max_s passes. Returns true if reached. */
static bool
run_until(struct ev_loop *loop, const unsigned *counter, unsigned want, double max_s)
{
    ev_timer tick;
    ev_timer_init(&tick, tick_cb, 0.005, 0.005);
    ev_timer_start(loop, &tick);
    double end = ev_time() + max_s;
    while (*counter < want && ev_time() < end)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
    return *counter >= want;
}

static void
run_for(struct ev_loop *loop, double s)
{
    unsigned never = 0;
    (void)run_until(loop, &never, 1, s);
}

static struct bclient *
client(struct ev_loop *loop, uint16_t port, uint32_t interval_ms, double timeout_s,
       double backoff_max_s, struct rec *rc, const struct url_token_key *key)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)port);
    struct bclient_cfg cfg = {
        .broker_url = url,
        .relay_id = "relay-a",
        .key = key,
        .interval_ms = interval_ms,
        .timeout_s = timeout_s,
        .backoff_max_s = backoff_max_s,
        .user_agent = "rtsp-relay-test",
        .fill = rec_fill,
        .answer = rec_answer,
        .arg = rc,
    };
    struct bclient *b = NULL;
    struct rd_errbuf err = {{0}};
    assert_int_equal(bclient_new(loop, &cfg, &b, &err), RD_OK);
    rc->b = b;
    return b;
}

static int
setup(void **state)
{
    (void)state;
    /* A proxy from the environment must never be used (CURLOPT_PROXY ""). */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

/* A port nobody listens on (bound, then closed). */
static uint16_t
dead_port(void)
{
    struct rd_errbuf err = {{0}};
    int fd = net_tcp_listen("127.0.0.1", 0, 1, &err);
    assert_true(fd >= 0);
    uint16_t port = 0;
    assert_int_equal(net_local_port(fd, &port), RD_OK);
    close(fd);
    return port;
}

/* ---- Cases ----------------------------------------------------------------------------------- */

static void
test_sign_known_answer(void **state)
{
    (void)state;
    struct url_token_key k = client_key(0, "k1");
    static const char body[] = "{\"relay_id\":\"relay-a\"}";
    char sig[BCLIENT_SIG_LEN + 1];
    /* docs/relay-channel.md's vector */
    assert_int_equal(bclient_sign(&k, "POST", "/api/v1/heartbeat", "relay-a", "1700000000", body,
                                  sizeof(body) - 1, sig, sizeof(sig)),
                     RD_OK);
    assert_string_equal(sig, "8UJXYHDFoHtsnpoQlzHPIsGFom40T_t0BPeTDxqLGKM");
    /* GET with an empty body (test_relay_channel.c's vector, from Python's hmac) */
    assert_int_equal(bclient_sign(&k, "GET", "/api/v1/relay/cameras/lobby", "relay-a", "1700000000",
                                  NULL, 0, sig, sizeof(sig)),
                     RD_OK);
    assert_string_equal(sig, "k2OmGmzHX-lliSerGGnkMn1EB1kNQWkSYW2NmQbIM_0");
    /* Agrees with the broker's signer on another input. */
    struct reg_relay_key rk = test_key(7, "k9");
    struct url_token_key ck = client_key(7, "k9");
    struct relay_channel_req rq = {.method = "POST",
                                   .path = "/api/v1/heartbeat",
                                   .relay_id = "r_1",
                                   .kid = "k9",
                                   .timestamp = "1",
                                   .body = "a\nb",
                                   .body_len = 3};
    char want[RELAY_CHANNEL_SIG_LEN + 1];
    assert_int_equal(relay_channel_sign(rk.key, sizeof(rk.key), &rq, want, sizeof(want)), RD_OK);
    assert_int_equal(
        bclient_sign(&ck, "POST", "/api/v1/heartbeat", "r_1", "1", "a\nb", 3, sig, sizeof(sig)),
        RD_OK);
    assert_string_equal(sig, want);
    /* Errors */
    assert_int_equal(bclient_sign(&k, "POST", "/p", "r", "1", body, 3, sig, BCLIENT_SIG_LEN),
                     RD_ELIMIT);
    assert_int_equal(bclient_sign(&k, NULL, "/p", "r", "1", NULL, 0, sig, sizeof(sig)), RD_EPROTO);
    assert_int_equal(bclient_sign(&k, "GET", "/p", "r", "1", NULL, 5, sig, sizeof(sig)), RD_EPROTO);
}

/* Builds a source body with the given field values (NULL: the default). */
static const char *
src_json(const char *url, const char *user, const char *pw, const char *extra)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf),
                     "{\"id\":\"lobby\",\"url\":\"%s\",\"user\":\"%s\",\"password\":\"%s\","
                     "\"transport\":\"tcp\",\"always_on\":false,\"enabled\":true,"
                     "\"registry_version\":7%s}",
                     url != NULL ? url : "rtsp://cam/x", user != NULL ? user : "u",
                     pw != NULL ? pw : "p", extra != NULL ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static char *
rep(char c, size_t n, char *buf)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void
test_parsers(void **state)
{
    (void)state;
    struct guard_buf g = {0};
    /* Heartbeat answers */
    static const struct {
        const char *body;
        int want;
    } answers[] = {
        {"{\"applied\":true,\"outcome\":\"new_boot\",\"state\":\"active\",\"registry_version\":9,"
         "\"signing_kid\":\"k3\",\"heartbeat_interval_ms\":500,\"future\":[1]}",
         RD_OK},
        {"{\"applied\":false,\"state\":\"disabled\",\"registry_version\":0,\"signing_kid\":\"\"}",
         RD_OK},
        {"{\"applied\":1,\"state\":\"active\",\"registry_version\":0,\"signing_kid\":\"k\"}",
         RD_EPROTO},
        {"{\"applied\":true,\"state\":\"active\",\"registry_version\":1.0,\"signing_kid\":\"k\"}",
         RD_EPROTO},
        {"{\"applied\":true,\"state\":\"active\",\"registry_version\":-1,\"signing_kid\":\"k\"}",
         RD_EPROTO},
        {"{\"applied\":true,\"state\":\"active\",\"registry_version\":1,\"signing_kid\":"
         "\"kkkkkkkkkkkkkkkkk\"}",
         RD_EPROTO}, /* 17 > RD_TOKEN_KID_MAX */
        {"{\"applied\":true,\"state\":\"activeactiveactive\",\"registry_version\":1,"
         "\"signing_kid\":\"k\"}",
         RD_EPROTO},
        {"{\"applied\":true,\"state\":\"active\",\"registry_version\":1,\"signing_kid\":\"k\","
         "\"heartbeat_interval_ms\":4294967296}",
         RD_EPROTO},
        {"{\"applied\":true,\"applied\":true,\"state\":\"active\",\"registry_version\":1,"
         "\"signing_kid\":\"k\"}",
         RD_EPROTO},
        {"{\"applied\":true,\"state\":\"active\",\"registry_version\":1}", RD_EPROTO},
        {"[]", RD_EPROTO},
        {"", RD_EPROTO},
    };
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        struct hb_answer a;
        const char *p = guard_buf_put(&g, answers[i].body, strlen(answers[i].body));
        int rc = bclient_answer_parse(p, strlen(answers[i].body), &a);
        guard_buf_free(&g);
        if (rc != answers[i].want)
            fail_msg("answer %zu: %d, want %d", i, rc, answers[i].want);
    }
    struct hb_answer a;
    const char *b0 = answers[0].body;
    assert_int_equal(bclient_answer_parse(b0, strlen(b0), &a), RD_OK);
    assert_true(a.applied);
    assert_string_equal(a.outcome, "new_boot");
    assert_string_equal(a.signing_kid, "k3");
    assert_int_equal(a.registry_version, 9);
    assert_int_equal(a.interval_ms, 500);

    /* Camera sources: every limit at its edge */
    char url_max[RD_REG_URL_MAX + 2], cred_max[RD_REG_CRED_MAX + 2];
    rep('a', RD_REG_URL_MAX, url_max);
    memcpy(url_max, "rtsp://h/", 9);
    rep('c', RD_REG_CRED_MAX, cred_max);
    struct camera_source src;
    const char *field = NULL;
    const char *j = src_json(url_max, cred_max, cred_max, NULL);
    const char *p = guard_buf_put(&g, j, strlen(j));
    assert_int_equal(bclient_source_parse("lobby", p, strlen(j), &src, &field), RD_OK);
    guard_buf_free(&g);
    assert_null(field);
    assert_int_equal(strlen(src.url), RD_REG_URL_MAX);
    assert_int_equal(strlen(src.password), RD_REG_CRED_MAX);
    assert_int_equal(src.registry_version, 7);
    assert_true(src.enabled);
    /* The registry's default transport "auto": the relay pulls over TCP. */
    static const char auto_src[] =
        "{\"id\":\"lobby\",\"url\":\"rtsp://h/\",\"user\":\"\",\"password\":\"\","
        "\"transport\":\"auto\",\"always_on\":false,\"enabled\":true,\"registry_version\":3}";
    assert_int_equal(bclient_source_parse("lobby", auto_src, strlen(auto_src), &src, &field),
                     RD_OK);
    assert_int_equal(src.transport, CAMERA_TRANSPORT_TCP);
    rep('a', RD_REG_URL_MAX + 1, url_max);
    memcpy(url_max, "rtsp://h/", 9);
    rep('c', RD_REG_CRED_MAX + 1, cred_max);
    static const struct {
        int which; /* 0 url, 1 user, 2 password, 3 extra, 4 raw */
        const char *v;
        int want;
        const char *field;
    } bad[] = {
        {0, NULL, RD_ELIMIT, "url"},
        {1, NULL, RD_ELIMIT, "user"},
        {2, NULL, RD_ELIMIT, "password"},
        {0, "", RD_EPROTO, "url"},
        {0, "rtsp://h/a b", RD_EPROTO, "url"},
        {0, "rtsp://h/a\\u0007", RD_EPROTO, "url"},
        {1, "us\\ner", RD_EPROTO, "user"},
        {2, "pw\\r", RD_EPROTO, "password"},
        {2, "a\\u0000b", RD_EPROTO, "body"}, /* jansson refuses NUL without JSON_ALLOW_NUL */
        {3, ",\"id\":\"lobby\"", RD_EPROTO, "body"},
        {4, "{\"id\":\"dock\",\"url\":\"rtsp://h/\"}", RD_EPROTO, "id"},
        {4,
         "{\"id\":\"lobby\",\"url\":\"rtsp://h/\",\"user\":\"\",\"password\":\"\","
         "\"transport\":\"udp\",\"always_on\":\"yes\"}",
         RD_EPROTO, "always_on"},
        {4,
         "{\"id\":\"lobby\",\"url\":\"rtsp://h/\",\"user\":\"\",\"password\":\"\","
         "\"transport\":\"TCP\"}",
         RD_EPROTO, "transport"},
        {4,
         "{\"id\":\"lobby\",\"url\":\"rtsp://h/\",\"user\":\"\",\"password\":\"\","
         "\"transport\":\"tcp\",\"always_on\":true,\"enabled\":true}",
         RD_EPROTO, "registry_version"},
        {4, "{\"id\":\"lobby\",\"url\":\"rtsp://h/\",\"password\":\"\"}", RD_EPROTO, "user"},
        {4, "nul", RD_EPROTO, "body"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *v = bad[i].v;
        if (bad[i].which == 4)
            j = v;
        else
            j = src_json(bad[i].which == 0 ? (v != NULL ? v : url_max) : NULL,
                         bad[i].which == 1 ? (v != NULL ? v : cred_max) : NULL,
                         bad[i].which == 2 ? (v != NULL ? v : cred_max) : NULL,
                         bad[i].which == 3 ? v : NULL);
        p = guard_buf_put(&g, j, strlen(j));
        memset(&src, 0x5a, sizeof(src));
        int rc = bclient_source_parse("lobby", p, strlen(j), &src, &field);
        guard_buf_free(&g);
        if (rc != bad[i].want || field == NULL || strcmp(field, bad[i].field) != 0)
            fail_msg("source %zu: %d field %s, want %d %s", i, rc, field != NULL ? field : "-",
                     bad[i].want, bad[i].field);
        for (size_t k = 0; k < sizeof(src); k++)
            assert_int_equal(((const unsigned char *)&src)[k], 0); /* wiped */
    }
}

static void
test_new_rejects(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct url_token_key k = client_key(0, "k1");
    struct url_token_key badkid = client_key(0, "k.1");
    char longurl[RD_BCLIENT_URL_MAX + 2];
    memset(longurl, 'a', sizeof(longurl) - 1);
    memcpy(longurl, "http://", 7);
    longurl[sizeof(longurl) - 1] = '\0';
    static const struct {
        const char *url, *relay;
        double timeout_s;
        bool bad_kid;
    } bad[] = {
        {"https://127.0.0.1:8080", "relay-a", 0, false},
        {"ftp://127.0.0.1", "relay-a", 0, false},
        {"127.0.0.1:8080", "relay-a", 0, false},
        {"http://", "relay-a", 0, false},
        {"http://user:pw@127.0.0.1:8080", "relay-a", 0, false},
        {"http://127.0.0.1:8080/api", "relay-a", 0, false},
        {"http://127.0.0.1:8080?x", "relay-a", 0, false},
        {"http://127.0.0.1 :8080", "relay-a", 0, false},
        {"http://127.0.0.1:8080", "relay a", 0, false},
        {"http://127.0.0.1:8080", "", 0, false},
        {"http://127.0.0.1:8080", "relay-a", -1, false},
        {"http://127.0.0.1:8080", "relay-a", 0, true},
        {NULL, "relay-a", 0, false}, /* the long URL */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bclient_cfg cfg = {.broker_url = bad[i].url != NULL ? bad[i].url : longurl,
                                  .relay_id = bad[i].relay,
                                  .key = bad[i].bad_kid ? &badkid : &k,
                                  .interval_ms = 1000,
                                  .timeout_s = bad[i].timeout_s};
        struct bclient *b = (struct bclient *)1;
        struct rd_errbuf err = {{0}};
        assert_int_equal(bclient_new(loop, &cfg, &b, &err), RD_EPROTO);
        assert_null(b);
        assert_true(err.msg[0] != '\0');
    }
    /* https is named in the message */
    struct bclient_cfg cfg = {.broker_url = "https://b:1", .relay_id = "relay-a", .key = &k};
    struct bclient *b = NULL;
    struct rd_errbuf err = {{0}};
    assert_int_equal(bclient_new(loop, &cfg, &b, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "http://"));
    /* Good ones, upper-case scheme and a trailing slash included; heartbeats off. */
    static const char *const good[] = {"http://127.0.0.1:8080", "HTTP://broker.example:80/",
                                       "http://[::1]:8080"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cfg = (struct bclient_cfg){.broker_url = good[i], .relay_id = "relay-a", .key = &k};
        assert_int_equal(bclient_new(loop, &cfg, &b, &err), RD_OK);
        bclient_free(b);
    }
    bclient_free(NULL);
    ev_loop_destroy(loop);
}

static void
test_heartbeat_fields_and_answer(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct fb f;
    memset(&f, 0, sizeof(f));
    f.op_state = "draining";
    fb_start(&f, loop, 0);
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    rc.draining = true;
    rc.kids[0] = "k1";
    rc.kids[1] = "k0";
    rc.n_kids = 2;
    struct url_token_key k = client_key(0, "k1");
    struct bclient *b = client(loop, f.h.port, 30, 2., 0, &rc, &k);

    assert_true(run_until(loop, &rc.n, 3, 3.));
    assert_int_equal(f.n_bad_sig, 0);
    assert_int_equal(f.n_bad_body, 0);
    assert_true(f.n_beats >= 3);
    /* seq starts at 1 and goes up by one per beat; one boot id (16 hex) throughout */
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(f.seqs[i], i + 1);
    assert_int_equal(strlen(f.boot_id), 16);
    assert_int_equal(strspn(f.boot_id, "0123456789abcdef"), 16);
    assert_false(f.boot_changed);
    assert_true(f.draining);
    assert_int_equal(f.viewers, 37);
    assert_int_equal(f.egress_kbps, 148000);
    assert_int_equal(f.cap_viewers, 1000);
    assert_int_equal(f.cap_egress_kbps, 500000);
    assert_int_equal(f.cpu_pct, 12);
    assert_int_equal(f.n_cameras, 2); /* the bad id and the bad state were left out */
    assert_string_equal(f.cam0_id, "lobby");
    assert_int_equal(f.cam0_state, RELAY_VIEW_CAM_PLAYING);
    assert_int_equal(f.cam0_drops, 7);
    /* the keyring's kids, as the broker reads them */
    assert_true(f.kids_reported);
    assert_int_equal(f.n_kids, 2);
    assert_string_equal(f.kids[0], "k1");
    assert_string_equal(f.kids[1], "k0");
    /* the answer, parsed */
    const struct hb_answer *a = &rc.a[0];
    assert_true(a->ok);
    assert_int_equal(a->http_status, 200);
    assert_true(a->applied);
    assert_string_equal(a->outcome, "accepted");
    assert_string_equal(a->state, "draining");
    assert_string_equal(a->signing_kid, "k2");
    assert_int_equal(a->registry_version, 42);
    assert_int_equal(a->interval_ms, 1000);
    /* one kept-alive connection for all beats */
    assert_true(f.peer_port[0] != 0);
    assert_int_equal(f.peer_port[1], f.peer_port[0]);
    assert_int_equal(f.peer_port[2], f.peer_port[0]);
    /* the period holds while the broker answers */
    for (unsigned i = 1; i < 3; i++)
        assert_true(f.beat_at[i] - f.beat_at[i - 1] < 0.25);
    struct bclient_stats st;
    bclient_stats(b, &st);
    assert_true(st.beats_ok >= 3);
    assert_int_equal(st.beats_failed, 0);
    assert_true(st.broker_reachable);
    assert_true(st.last_ok_at > 0);

    /* A long interval, then beat_now: the next beat comes at once, not after 10 s. */
    bclient_set_interval(b, 10000);
    unsigned n = rc.n;
    assert_true(run_until(loop, &rc.n, n + 1, 1.)); /* the one already scheduled */
    n = f.n_beats;
    double t0 = ev_time();
    bclient_beat_now(b);
    assert_true(run_until(loop, &f.n_beats, n + 1, 2.));
    assert_true(ev_time() - t0 < 1.);
    assert_int_equal(f.seqs[n], f.seqs[n - 1] + 1);
    /* The period is 10 s now: nothing more for a while... */
    unsigned m = f.n_beats;
    run_for(loop, 0.2);
    assert_int_equal(f.n_beats, m);
    /* ...until a shorter period shortens the wait already scheduled. */
    bclient_set_interval(b, 30);
    assert_true(run_until(loop, &f.n_beats, m + 2, 1.));

    /* A kid the broker would refuse is left out (the beat still goes); none held: []. */
    rc.kids[1] = "bad kid";
    m = f.n_beats;
    assert_true(run_until(loop, &f.n_beats, m + 2, 1.));
    assert_int_equal(f.n_bad_body, 0);
    assert_true(f.kids_reported);
    assert_int_equal(f.n_kids, 1);
    assert_string_equal(f.kids[0], "k1");
    rc.n_kids = 0;
    m = f.n_beats;
    assert_true(run_until(loop, &f.n_beats, m + 2, 1.));
    assert_true(f.kids_reported);
    assert_int_equal(f.n_kids, 0);
    bclient_free(b);
    fb_stop(&f);
    ev_loop_destroy(loop);
}

static void
test_broker_down_backoff_then_back(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    uint16_t port = dead_port();
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    struct url_token_key k = client_key(0, "k1");
    /* interval 20 ms, backoff cap 0.16 s: waits 20, 40, 80, 160, 160 ms */
    struct bclient *b = client(loop, port, 20, 1., 0.16, &rc, &k);
    assert_true(run_until(loop, &rc.n, 6, 3.));
    for (unsigned i = 0; i < 6; i++) {
        assert_false(rc.a[i].ok);
        assert_int_equal(rc.a[i].http_status, 0);
    }
    double g1 = rc.at[2] - rc.at[1], g2 = rc.at[3] - rc.at[2], g3 = rc.at[4] - rc.at[3],
           g4 = rc.at[5] - rc.at[4];
    assert_true(g1 >= 0.035);
    assert_true(g2 >= 0.075 && g2 > g1 * 1.5);
    assert_true(g3 >= 0.15 && g3 > g2 * 1.5);
    assert_true(g4 >= 0.15 && g4 < g3 * 1.5 && g4 < 0.3); /* capped at 0.16 s */
    struct bclient_stats st;
    bclient_stats(b, &st);
    assert_false(st.broker_reachable);
    assert_true(st.beats_failed >= 6);

    /* The broker comes back on the same port: beats resume, at the interval again. */
    static struct fb f;
    memset(&f, 0, sizeof(f));
    fb_start(&f, loop, port);
    unsigned n = rc.n;
    assert_true(run_until(loop, &f.n_beats, 4, 3.));
    assert_true(run_until(loop, &rc.n, n + 4, 3.));
    assert_true(rc.a[rc.n - 1].ok);
    assert_true(f.beat_at[3] - f.beat_at[2] < 0.12); /* the interval again, not 0.16 s */
    assert_true(f.beat_at[2] - f.beat_at[1] < 0.12);
    bclient_stats(b, &st);
    assert_true(st.broker_reachable);
    assert_int_equal(f.n_bad_sig, 0);
    bclient_free(b);
    fb_stop(&f);
    ev_loop_destroy(loop);
}

static void
test_slow_broker_timeout_no_overlap(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct hang h;
    hang_start(&h, loop);
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    struct url_token_key k = client_key(0, "k1");
    /* interval 10 ms, timeout 150 ms: the timer never starts a beat over a running one */
    struct bclient *b = client(loop, h.port, 10, 0.15, 0.02, &rc, &k);
    assert_true(run_until(loop, &rc.n, 3, 3.));
    for (unsigned i = 0; i < 3; i++) {
        assert_false(rc.a[i].ok);
        assert_int_equal(rc.a[i].http_status, 0);
    }
    assert_true(h.n_conns >= 3);
    for (unsigned i = 1; i < 3; i++)
        assert_true(h.accept_at[i] - h.accept_at[i - 1] >= 0.14);
    struct bclient_stats st;
    bclient_stats(b, &st);
    assert_true(st.beats_sent - st.beats_failed <= 1);
    bclient_free(b);
    hang_stop(&h, loop);
    ev_loop_destroy(loop);
}

static void
test_429_retry_after(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct fb f;
    memset(&f, 0, sizeof(f));
    f.n_429 = 1;
    fb_start(&f, loop, 0);
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    struct url_token_key k = client_key(0, "k1");
    struct bclient *b = client(loop, f.h.port, 20, 1., 0, &rc, &k);
    assert_true(run_until(loop, &rc.n, 2, 4.));
    assert_false(rc.a[0].ok);
    assert_int_equal(rc.a[0].http_status, 429);
    assert_true(rc.a[1].ok);
    assert_true(f.beat_at[1] - f.beat_at[0] >= 0.95); /* Retry-After: 1, not 20 ms */
    bclient_free(b);
    fb_stop(&f);
    ev_loop_destroy(loop);
}

static void
test_bad_answers(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct fb f;
    memset(&f, 0, sizeof(f));
    f.big_answer = 100 * 1024; /* over RD_BCLIENT_MAX_RESPONSE */
    fb_start(&f, loop, 0);
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    struct url_token_key k = client_key(0, "k1");
    struct bclient *b = client(loop, f.h.port, 20, 1., 0.05, &rc, &k);
    assert_true(run_until(loop, &rc.n, 2, 3.));
    assert_false(rc.a[0].ok);
    assert_false(rc.a[1].ok);
    /* 500, then a wrong key (401 from the broker's own check): failures too */
    f.big_answer = 0;
    f.beat_status = 500;
    unsigned n = rc.n;
    assert_true(run_until(loop, &rc.n, n + 1, 3.));
    assert_false(rc.a[n].ok);
    assert_int_equal(rc.a[n].http_status, 500);
    f.beat_status = 0;
    struct url_token_key wrong = client_key(1, "k1");
    bclient_set_key(b, &wrong);
    n = rc.n;
    assert_true(run_until(loop, &rc.n, n + 2, 3.));
    assert_int_equal(rc.a[n + 1].http_status, 401);
    assert_false(rc.a[n + 1].ok);
    assert_true(f.n_bad_sig >= 1);
    /* the right key again: ok */
    bclient_set_key(b, &k);
    n = rc.n;
    assert_true(run_until(loop, &rc.n, n + 2, 3.));
    assert_true(rc.a[n + 1].ok);
    struct bclient_stats st;
    bclient_stats(b, &st);
    assert_true(st.beats_failed >= 4);
    bclient_free(b);
    fb_stop(&f);
    ev_loop_destroy(loop);
}

static void
test_source_fetch(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct fb f;
    memset(&f, 0, sizeof(f));
    fb_start(&f, loop, 0);
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    struct url_token_key k = client_key(0, "k1");
    struct bclient *b = client(loop, f.h.port, 0, 2., 0, &rc, &k); /* heartbeats off */

    assert_int_equal(bclient_fetch_source(b, "lobby", rec_source, &rc), RD_OK);
    assert_int_equal(bclient_fetch_source(b, "tcp", rec_source, &rc), RD_OK);
    assert_int_equal(bclient_fetch_source(b, "maxurl", rec_source, &rc), RD_OK);
    assert_int_equal(rc.n_src, 0); /* never from inside the call */
    assert_true(run_until(loop, &rc.n_src, 3, 3.));
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(rc.src_status[i], RD_OK);
    const struct camera_source *s = NULL;
    for (unsigned i = 0; i < 3; i++) {
        if (strcmp(rc.src[i].id, "lobby") == 0)
            s = &rc.src[i];
    }
    assert_non_null(s);
    assert_string_equal(s->url, "rtsp://10.0.0.7:554/Streaming/Channels/101");
    assert_string_equal(s->user, "viewer");
    assert_string_equal(s->password, "s3cret");
    assert_int_equal(s->transport, CAMERA_TRANSPORT_UDP);
    assert_true(s->always_on);
    assert_false(s->enabled);
    assert_int_equal(s->registry_version, 42);
    for (unsigned i = 0; i < 3; i++) {
        if (strcmp(rc.src[i].id, "tcp") == 0)
            assert_int_equal(rc.src[i].transport, CAMERA_TRANSPORT_TCP);
        if (strcmp(rc.src[i].id, "maxurl") == 0)
            assert_int_equal(strlen(rc.src[i].url), RD_REG_URL_MAX);
    }

    static const struct {
        const char *id;
        int want;
    } cases[] = {
        {"gone", RD_ENOTFOUND}, {"broken", RD_EIO},  {"bad", RD_EIO},    {"notobj", RD_EIO},
        {"big", RD_EIO},        {"chunked", RD_EIO}, {"dupkey", RD_EIO}, {"longurl", RD_EIO},
        {"longpw", RD_EIO},     {"crlf", RD_EIO},    {"sctp", RD_EIO},   {"wrongid", RD_EIO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&rc, 0, sizeof(rc));
        assert_int_equal(bclient_fetch_source(b, cases[i].id, rec_source, &rc), RD_OK);
        assert_true(run_until(loop, &rc.n_src, 1, 3.));
        if (rc.src_status[0] != cases[i].want)
            fail_msg("camera %s: status %d, want %d", cases[i].id, rc.src_status[0], cases[i].want);
    }
    /* our key refused: RD_EAUTH */
    struct url_token_key wrong = client_key(0, "k2");
    bclient_set_key(b, &wrong);
    memset(&rc, 0, sizeof(rc));
    assert_int_equal(bclient_fetch_source(b, "lobby", rec_source, &rc), RD_OK);
    assert_true(run_until(loop, &rc.n_src, 1, 3.));
    assert_int_equal(rc.src_status[0], RD_EAUTH);
    /* bad ids are refused at once */
    assert_int_equal(bclient_fetch_source(b, "a/b", rec_source, &rc), RD_EPROTO);
    assert_int_equal(bclient_fetch_source(b, "", rec_source, &rc), RD_EPROTO);
    char longid[RD_CAMERA_ID_MAX + 2];
    memset(longid, 'c', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(bclient_fetch_source(b, longid, rec_source, &rc), RD_EPROTO);
    longid[RD_CAMERA_ID_MAX] = '\0';
    assert_int_equal(bclient_fetch_source(b, longid, rec_source, &rc), RD_OK);
    assert_true(run_until(loop, &rc.n_src, 2, 3.));

    struct bclient_stats st;
    bclient_stats(b, &st);
    assert_int_equal(st.beats_sent, 0);
    assert_int_equal(st.fetches_ok, 3);
    assert_int_equal(st.fetches_sent, 3 + 12 + 1 + 1);
    assert_int_equal(f.n_beats, 0);
    bclient_free(b);
    fb_stop(&f);
    ev_loop_destroy(loop);
}

static void
test_fetch_joined(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct fb f;
    memset(&f, 0, sizeof(f));
    fb_start(&f, loop, 0);
    static struct rec r1, r2, r3;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    memset(&r3, 0, sizeof(r3));
    struct url_token_key k = client_key(0, "k1");
    struct bclient *b = client(loop, f.h.port, 0, 2., 0, &r1, &k);
    assert_int_equal(bclient_fetch_source(b, "lobby", rec_source, &r1), RD_OK);
    assert_int_equal(bclient_fetch_source(b, "lobby", rec_source, &r2), RD_OK);
    assert_int_equal(bclient_fetch_source(b, "lobby", rec_source, &r3), RD_OK);
    assert_true(run_until(loop, &r3.n_src, 1, 3.));
    run_for(loop, 0.05);
    assert_int_equal(f.n_fetches, 1);
    assert_int_equal(r1.n_src, 1);
    assert_int_equal(r2.n_src, 1);
    assert_int_equal(r1.src_status[0], RD_OK);
    assert_int_equal(r2.src_status[0], RD_OK);
    assert_string_equal(r2.src[0].password, "s3cret");
    /* Once answered, a new fetch goes to the broker again. */
    assert_int_equal(bclient_fetch_source(b, "lobby", rec_source, &r1), RD_OK);
    assert_true(run_until(loop, &r1.n_src, 2, 3.));
    assert_int_equal(f.n_fetches, 2);
    struct bclient_stats st;
    bclient_stats(b, &st);
    assert_int_equal(st.fetches_sent, 2);
    bclient_free(b);
    fb_stop(&f);
    ev_loop_destroy(loop);
}

static void
test_free_in_flight(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct hang h;
    hang_start(&h, loop);
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    struct url_token_key k = client_key(0, "k1");
    struct bclient *b = client(loop, h.port, 10, 5., 0, &rc, &k);
    char id[16];
    for (unsigned i = 0; i < RD_BCLIENT_MAX_FETCHES; i++) {
        snprintf(id, sizeof(id), "cam%u", i);
        assert_int_equal(bclient_fetch_source(b, id, rec_source, &rc), RD_OK);
    }
    assert_int_equal(bclient_fetch_source(b, "one-more", rec_source, &rc), RD_ELIMIT);
    assert_int_equal(bclient_fetch_source(b, "cam3", rec_source, &rc), RD_OK); /* joins */
    /* at most RD_BCLIENT_MAX_CONNS connections; the rest wait in libcurl's queue */
    assert_true(run_until(loop, &h.n_conns, RD_BCLIENT_MAX_CONNS, 3.));
    run_for(loop, 0.1);
    assert_int_equal(h.n_conns, RD_BCLIENT_MAX_CONNS);
    bclient_free(b); /* no callbacks, nothing leaked (ASan) */
    run_for(loop, 0.05);
    assert_int_equal(rc.n, 0);
    assert_int_equal(rc.n_src, 0);
    hang_stop(&h, loop);
    ev_loop_destroy(loop);
}

static void
test_free_from_callback(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static struct fb f;
    memset(&f, 0, sizeof(f));
    fb_start(&f, loop, 0);
    static struct rec rc;
    memset(&rc, 0, sizeof(rc));
    rc.free_in_answer = true;
    struct url_token_key k = client_key(0, "k1");
    struct bclient *b = client(loop, f.h.port, 10, 2., 0, &rc, &k);
    assert_int_equal(bclient_fetch_source(b, "lobby", rec_source, &rc), RD_OK);
    assert_true(run_until(loop, &rc.n, 1, 3.));
    assert_null(rc.b);
    run_for(loop, 0.1); /* nothing fires after the free */
    assert_int_equal(rc.n, 1);
    fb_stop(&f);
    ev_loop_destroy(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sign_known_answer),
    cmocka_unit_test(test_parsers),
    cmocka_unit_test_setup_teardown(test_new_rejects, setup, teardown),
    cmocka_unit_test_setup_teardown(test_heartbeat_fields_and_answer, setup, teardown),
    cmocka_unit_test_setup_teardown(test_broker_down_backoff_then_back, setup, teardown),
    cmocka_unit_test_setup_teardown(test_slow_broker_timeout_no_overlap, setup, teardown),
    cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_answers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_source_fetch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_joined, setup, teardown),
    cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
    cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
};

RD_TEST_MAIN(tests)
