/* SPDX-License-Identifier: MIT */
/* rtsp-camsim's RTSP server side (RFC 2326 §10): OPTIONS, DESCRIBE with the H.264 SDP
 * (RFC 6184 §8.2), SETUP over TCP interleaved or UDP unicast, PLAY with RTP-Info, PAUSE,
 * TEARDOWN, GET/SET_PARAMETER keepalives, optional Digest auth and the 503 fault. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "camsim_int.h"
#include "log.h"
#include "rd_err.h"
#include "rtsp_transport.h"
#include "url.h"

#define CREQ_PUBLIC  "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
#define CREQ_TRACK   "trackID=0"
#define CREQ_SDP_MAX 2048

/* What a request URL names: a path and the part after it (track control or empty). */
struct creq_target {
    struct cpath *path;
    struct rd_str control; /* "" (aggregate) or "trackID=0" */
    struct rd_str base;    /* the request URL up to and including the path name */
};

/* Resolves the request URI. Returns 200 when it names a path (control may be empty), or the
 * status to answer: 400 for a malformed URL, 404 for an unknown path or control. */
static int
target_of(struct camsim *s, struct rd_str uri, struct creq_target *t)
{
    struct url_parts u;
    memset(t, 0, sizeof(*t));
    if (url_split(uri, &u) != RD_OK || u.is_star)
        return 400;
    struct rd_str rest = rd_str_make(u.path.p + 1, u.path.len - 1), name;
    bool found;
    rest = rd_str_split(rest, '/', &name, &found);
    if (!(t->path = camsim_path_find(s, name.p, name.len)))
        return 404;
    if (rest.len > 0 && rest.p[rest.len - 1] == '/')
        rest.len--;
    if (rest.len > 0 && !rd_str_eq_cstr(rest, CREQ_TRACK))
        return 404;
    t->control = rest;
    t->base = rd_str_make(uri.p, (size_t)(name.p + name.len - uri.p));
    return 200;
}

/* The session the request's Session header names on this connection, or NULL. *named is set
 * when the header is present at all. */
static struct csession *
session_of(struct cconn *c, const struct rtsp_msg *m, bool *named)
{
    struct rd_str v, id;
    *named = rtsp_msg_header(m, "Session", &v);
    if (!*named)
        return NULL;
    bool found;
    (void)rd_str_split(v, ';', &id, &found);
    id = rd_str_trim(id);
    for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
        struct csession *x = c->sess[i];
        if (x && rd_str_eq_cstr(id, x->id))
            return x;
    }
    return NULL;
}

static void
finish(struct cconn *c, struct rtsp_out *o, const char *body, size_t body_len)
{
    if (rtsp_resp_end(o, body, body_len) == RD_OK) {
        cconn_out_commit(c, o);
        return;
    }
    /* The output queue is full of media the client does not read: give up on it. */
    RD_LOG_RATELIMITED(RD_LOG_INFO, NULL, 5, "response does not fit peer=%s", c->peer_ip);
    c->close_after_flush = true;
}

static void
simple(struct cconn *c, const struct rtsp_msg *m, int status)
{
    struct rtsp_out o;
    cconn_out_begin(c, &o);
    (void)rtsp_resp_begin(&o, status, rtsp_resp_cseq_of(m));
    finish(c, &o, NULL, 0);
}

/* The RFC 2069 form (no qop), which GStreamer's RTSP client sends and which real cameras
 * accept; digest_verify (the broker's policy) requires qop=auth, so the simulator checks
 * this form itself with the library's primitives: our nonce, the request URI, then
 * H(HA1:nonce:H(method:uri)) compared in constant time. Returns as digest_verify. */
static int
verify_rfc2069(struct camsim *s, const struct digest_credentials *cr, const struct rtsp_msg *m,
               uint64_t now_s)
{
    if (!rd_str_eq(cr->uri, m->uri) || cr->response.len != 2 * rd_hash_len(RD_HASH_MD5)
        || !rd_str_eq_cstr(cr->realm, CAMSIM_REALM))
        return RD_EAUTH;
    int rc = digest_nonce_check(&s->dsrv, cr->nonce, now_s);
    if (rc != RD_OK && rc != RD_EEXPIRED)
        return RD_EAUTH;
    struct digest_response_in in = {.alg = RD_HASH_MD5,
                                    .ha1_hex = rd_str_cstr(s->ha1),
                                    .nonce = cr->nonce,
                                    .method = m->method_name,
                                    .uri = cr->uri};
    uint8_t raw[RD_HASH_MAX];
    char hex[2 * RD_HASH_MAX + 1];
    if (digest_response_compute(&in, raw) != RD_OK)
        return RD_EIO;
    rd_hex_encode(raw, rd_hash_len(RD_HASH_MD5), hex);
    if (!rd_ct_equal(hex, cr->response.p, cr->response.len))
        return RD_EAUTH;
    return rc; /* RD_OK, or RD_EEXPIRED: right password, old nonce */
}

/* Digest (RFC 7616, MD5; qop=auth or the RFC 2069 form) for every method but OPTIONS. Returns true
 * when the request may go on; otherwise the 401 (or 400) is queued. */
static bool
authorized(struct cconn *c, const struct rtsp_msg *m, struct cpath *p)
{
    struct camsim *s = c->s;
    if (!s->auth || m->method == RTSP_METHOD_OPTIONS)
        return true;
    uint64_t now_s = (uint64_t)time(NULL);
    bool stale = false;
    struct rd_str v;
    if (rtsp_msg_header(m, "Authorization", &v)) {
        char scratch[RD_RTSP_MAX_AUTHORIZATION];
        struct digest_credentials cr;
        int rc = digest_credentials_parse(v, scratch, sizeof(scratch), &cr);
        if (rc == RD_EPROTO || rc == RD_ELIMIT) {
            simple(c, m, 400);
            return false;
        }
        if (rc == RD_OK && cr.alg == RD_HASH_MD5 && rd_str_eq_cstr(cr.username, s->conf.user)) {
            rc = cr.has_qop ? digest_verify(&s->dsrv, &cr, m->method_name, m->uri,
                                            rd_str_cstr(s->ha1), now_s)
                            : verify_rfc2069(s, &cr, m, now_s);
            if (rc == RD_OK)
                return true;
            stale = rc == RD_EEXPIRED;
        }
    }
    if (p)
        p->st.auth_fail++;
    char nonce[DIGEST_NONCE_BUF], chal[RD_AUTH_MAX_CHALLENGE];
    struct rtsp_out o;
    cconn_out_begin(c, &o);
    (void)rtsp_resp_begin(&o, 401, rtsp_resp_cseq_of(m));
    if (digest_nonce_mint(&s->dsrv, now_s, nonce, sizeof(nonce)) < 0
        || digest_challenge_build(&s->dsrv, RD_HASH_MD5, rd_str_cstr(nonce), stale, chal,
                                  sizeof(chal))
               < 0) {
        simple(c, m, 500);
        return false;
    }
    (void)rtsp_resp_header(&o, "WWW-Authenticate", chal);
    finish(c, &o, NULL, 0);
    return false;
}

static void
do_describe(struct cconn *c, const struct rtsp_msg *m, const struct creq_target *t)
{
    const struct media *md = &c->s->media;
    char sdp[CREQ_SDP_MAX];
    int n =
        snprintf(sdp, sizeof(sdp),
                 "v=0\r\n"
                 "o=- %u 1 IN IP4 127.0.0.1\r\n"
                 "s=rtsp-camsim %s\r\n"
                 "c=IN IP4 0.0.0.0\r\n"
                 "t=0 0\r\n"
                 "a=control:*\r\n"
                 "a=range:npt=0-\r\n"
                 "m=video 0 RTP/AVP %d\r\n"
                 "b=AS:%u\r\n"
                 "a=rtpmap:%d H264/90000\r\n"
                 "a=fmtp:%d packetization-mode=1;profile-level-id=%s;"
                 "sprop-parameter-sets=%s\r\n"
                 "a=framerate:%u\r\n"
                 "a=control:" CREQ_TRACK "\r\n",
                 camsim_random32(c->s) & 0x7fffffff, t->path->name, CAMSIM_PT, media_kbps(md) + 1,
                 CAMSIM_PT, CAMSIM_PT, md->profile_level_id, md->sprop, md->fps);
    if (n < 0 || (size_t)n >= sizeof(sdp)) {
        simple(c, m, 500);
        return;
    }
    struct rtsp_out o;
    cconn_out_begin(c, &o);
    (void)rtsp_resp_begin(&o, 200, rtsp_resp_cseq_of(m));
    (void)rtsp_resp_header(&o, "Content-Type", "application/sdp");
    (void)rtsp_resp_headerf(&o, "Content-Base", "%.*s/", (int)t->base.len, t->base.p);
    finish(c, &o, sdp, (size_t)n);
}

/* The lowest even interleaved channel pair no session of c uses. */
static uint8_t
free_channel(const struct cconn *c)
{
    for (unsigned ch = 0; ch + 1 <= RD_TRANSPORT_MAX_CHANNEL; ch += 2) {
        bool used = false;
        for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
            const struct csession *x = c->sess[i];
            used = used || (x && x->tcp && x->ch_rtp == ch);
        }
        if (!used)
            return (uint8_t)ch;
    }
    return 0;
}

static void
do_setup(struct cconn *c, const struct rtsp_msg *m, const struct creq_target *t)
{
    struct camsim *s = c->s;
    bool named;
    struct csession *x = session_of(c, m, &named);
    if (named && !x) {
        simple(c, m, 454);
        return;
    }
    if (x) {
        simple(c, m, 455); /* one track: a second SETUP in a session is not valid now */
        return;
    }
    struct rd_str tv;
    struct rtsp_transport tr;
    if (!rtsp_msg_header(m, "Transport", &tv) || rtsp_transport_parse(tv.p, tv.len, &tr) != RD_OK) {
        simple(c, m, 461);
        return;
    }
    struct rtsp_transport_choice ch;
    const struct rtsp_transport_spec *spec = NULL;
    for (unsigned i = 0; i < tr.n_specs && !spec; i++) {
        if (rtsp_transport_check_viewer(&tr.specs[i], &ch) == RD_OK
            && rtsp_transport_destination_is_peer(&tr.specs[i], rd_str_cstr(c->peer_ip)))
            spec = &tr.specs[i];
    }
    if (!spec) {
        simple(c, m, 461);
        return;
    }
    if (ch.lower == RTSP_TRANSPORT_TCP) {
        if (!ch.has_channels) {
            ch.channel_rtp = free_channel(c);
            ch.channel_rtcp = (uint8_t)(ch.channel_rtp + 1);
            ch.has_channels = true;
        }
        for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
            if (c->sess[i] && c->sess[i]->tcp && c->sess[i]->ch_rtp == ch.channel_rtp) {
                simple(c, m, 461);
                return;
            }
        }
    }
    if (!(x = camsim_session_new(c, t->path))) {
        simple(c, m, 453);
        return;
    }
    x->tcp = ch.lower == RTSP_TRANSPORT_TCP;
    if (x->tcp) {
        x->ch_rtp = ch.channel_rtp;
        x->ch_rtcp = ch.channel_rtcp;
    } else {
        char ip[NET_IP_STRLEN];
        if (net_format_ip((const struct sockaddr *)&c->peer, c->peer_len, ip, sizeof(ip)) != RD_OK
            || net_sockaddr_make(ip, ch.client_rtp, &x->udp_dst, &x->udp_dst_len) != RD_OK) {
            camsim_session_free(x);
            simple(c, m, 500);
            return;
        }
        x->client_rtp = ch.client_rtp;
        x->client_rtcp = ch.client_rtcp;
        ch.has_server_port = true;
        ch.server_rtp = s->udp_port;
        ch.server_rtcp = (uint16_t)(s->udp_port + 1);
    }
    ch.has_ssrc = true;
    ch.ssrc = x->ssrc;
    char tbuf[RD_TRANSPORT_MAX_LEN];
    if (rtsp_transport_format(&ch, tbuf, sizeof(tbuf)) < 0) {
        camsim_session_free(x);
        simple(c, m, 500);
        return;
    }
    struct rtsp_out o;
    cconn_out_begin(c, &o);
    (void)rtsp_resp_begin(&o, 200, rtsp_resp_cseq_of(m));
    (void)rtsp_resp_header(&o, "Transport", tbuf);
    (void)rtsp_resp_headerf(&o, "Session", "%s;timeout=%u", x->id, s->conf.session_timeout_s);
    finish(c, &o, NULL, 0);
}

static void
do_play(struct cconn *c, const struct rtsp_msg *m, struct csession *x, const struct creq_target *t)
{
    struct camsim *s = c->s;
    bool was = x->playing;
    camsim_session_play(x);
    if (!was)
        x->path->st.plays++;
    /* RFC 2326 §12.33: the first packet this session will get. */
    uint32_t rtptime = x->ts_base + media_frame_ts(&s->media, x->cur.frame);
    struct rtsp_out o;
    cconn_out_begin(c, &o);
    (void)rtsp_resp_begin(&o, 200, rtsp_resp_cseq_of(m));
    (void)rtsp_resp_headerf(&o, "Session", "%s;timeout=%u", x->id, s->conf.session_timeout_s);
    (void)rtsp_resp_header(&o, "Range", "npt=0.000-");
    (void)rtsp_resp_headerf(&o, "RTP-Info", "url=%.*s/" CREQ_TRACK ";seq=%u;rtptime=%u",
                            (int)t->base.len, t->base.p, x->seq, rtptime);
    finish(c, &o, NULL, 0);
}

void
creq_handle(struct cconn *c, const struct rtsp_msg *m)
{
    struct camsim *s = c->s;
    bool star = m->uri.len == 1 && m->uri.p[0] == '*';
    struct creq_target t;
    int st = star ? 200 : target_of(s, m->uri, &t);
    if (!star && st == 200 && !c->path) {
        c->path = t.path;
        t.path->st.connections++;
        t.path->st.open++;
    }
    bool named;
    struct csession *x = session_of(c, m, &named);
    if (x)
        x->last_req_at = ev_now(s->loop);
    if (s->refuse && !x) {
        /* Fault switch: the camera is overloaded or booting. */
        if (!star && st == 200)
            t.path->st.refused++;
        struct rtsp_out o;
        cconn_out_begin(c, &o);
        (void)rtsp_resp_begin(&o, 503, rtsp_resp_cseq_of(m));
        (void)rtsp_resp_header(&o, "Retry-After", "1");
        finish(c, &o, NULL, 0);
        return;
    }
    if (m->method == RTSP_METHOD_OPTIONS) {
        struct rtsp_out o;
        cconn_out_begin(c, &o);
        (void)rtsp_resp_begin(&o, 200, rtsp_resp_cseq_of(m));
        (void)rtsp_resp_header(&o, "Public", CREQ_PUBLIC);
        if (x)
            (void)rtsp_resp_headerf(&o, "Session", "%s;timeout=%u", x->id,
                                    s->conf.session_timeout_s);
        finish(c, &o, NULL, 0);
        return;
    }
    if (star) {
        simple(c, m, m->method == RTSP_METHOD_GET_PARAMETER ? 200 : 400);
        return;
    }
    if (st != 200) {
        simple(c, m, st);
        return;
    }
    if (!authorized(c, m, t.path))
        return;
    switch (m->method) {
    case RTSP_METHOD_DESCRIBE:
        do_describe(c, m, &t);
        return;
    case RTSP_METHOD_SETUP:
        do_setup(c, m, &t);
        return;
    default:
        break;
    }
    if (m->method == RTSP_METHOD_UNKNOWN) {
        simple(c, m, 501);
        return;
    }
    if (m->method == RTSP_METHOD_ANNOUNCE || m->method == RTSP_METHOD_RECORD
        || m->method == RTSP_METHOD_REDIRECT) {
        struct rtsp_out o;
        cconn_out_begin(c, &o);
        (void)rtsp_resp_begin(&o, 405, rtsp_resp_cseq_of(m));
        (void)rtsp_resp_header(&o, "Allow", CREQ_PUBLIC);
        finish(c, &o, NULL, 0);
        return;
    }
    /* PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER act on a session. */
    if (!x) {
        if (!named
            && (m->method == RTSP_METHOD_GET_PARAMETER || m->method == RTSP_METHOD_SET_PARAMETER)) {
            simple(c, m, 200); /* a connection-level keepalive */
            return;
        }
        simple(c, m, 454);
        return;
    }
    if (x->path != t.path) {
        simple(c, m, 455);
        return;
    }
    if (m->method == RTSP_METHOD_PLAY) {
        do_play(c, m, x, &t);
        return;
    }
    if (m->method == RTSP_METHOD_PAUSE)
        camsim_session_pause(x);
    struct rtsp_out o;
    cconn_out_begin(c, &o);
    (void)rtsp_resp_begin(&o, 200, rtsp_resp_cseq_of(m));
    if (m->method != RTSP_METHOD_TEARDOWN)
        (void)rtsp_resp_headerf(&o, "Session", "%s;timeout=%u", x->id, s->conf.session_timeout_s);
    finish(c, &o, NULL, 0);
    if (m->method == RTSP_METHOD_TEARDOWN) {
        x->path->st.teardowns++;
        camsim_session_free(x);
    }
}
