/* SPDX-License-Identifier: MIT */
/* One viewer request -> one response (RFC 2326 §10): the token check on OPTIONS, DESCRIBE
 * and SETUP (uniform 403), DESCRIBE from the camera table, SETUP over UDP or TCP, PLAY with
 * RTP-Info, PAUSE, TEARDOWN and the keepalive methods. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evx.h"
#include "rd_err.h"
#include "rtsp_transport.h"
#include "sdp.h"
#include "stream.h"
#include "url.h"
#include "url_token.h"
#include "vserver_int.h"

#define VREQ_PUBLIC "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

/* conn_camera() results besides 0 (ready) and a status code to answer. */
#define CAM_PARKED (-1)
#define CAM_BUSY   (-2) /* 503 with Retry-After */

/* A relay request URI split: rtsp://host[:port]/v1/<camera>/<token>/<rest>. */
struct vpath {
    struct url_parts url;
    struct rd_str camera, token, rest; /* views into the URI */
};

static int
path_parse(struct rd_str uri, struct vpath *p)
{
    memset(p, 0, sizeof(*p));
    if (url_split(uri, &p->url) != RD_OK || p->url.is_star)
        return RD_EPROTO;
    return url_relay_path_parse(p->url.path, &p->camera, &p->token, &p->rest);
}

/* The request URI up to and including "/v1/<camera>/<token>/" as the viewer sent it (a '/'
 * added when it had none), minus any userinfo: Content-Base and the base of RTP-Info URLs,
 * so the viewer's SETUP URLs carry the token again. Returns the length or RD_ELIMIT. */
static int
url_base(struct rd_str uri, const struct vpath *p, char *out, size_t cap)
{
    const char *q = uri.p;
    const char *end = p->token.p + p->token.len;
    size_t o = 0;
    if (p->url.has_userinfo) {
        size_t pre = (size_t)(p->url.userinfo.p - uri.p);
        if (pre >= cap)
            return RD_ELIMIT;
        memcpy(out, uri.p, pre);
        o = pre;
        q = p->url.userinfo.p + p->url.userinfo.len + 1; /* past the '@' */
    }
    size_t n = (size_t)(end - q);
    if (o + n + 2 > cap)
        return RD_ELIMIT;
    memcpy(out + o, q, n);
    o += n;
    out[o++] = '/';
    out[o] = '\0';
    return (int)o;
}

/* ---- Responses ----------------------------------------------------------------------------- */

static void
resp_begin(struct vconn *c, struct rtsp_out *o, int status, int64_t cseq)
{
    rtsp_out_init(o, c->s->resp, VSERVER_RESP_BYTES, 0);
    (void)rtsp_resp_begin(o, status, cseq);
    (void)rtsp_resp_header(o, "Server", "rtsp-relay");
}

/* Ends and queues the response. Returns false when the connection is gone. */
static bool
resp_send(struct vconn *c, struct rtsp_out *o, const void *body, size_t len)
{
    int rc = rtsp_resp_end(o, body, len);
    if (rc != RD_OK) {
        /* Only our own values go in and the buffer fits the largest: a bug. */
        RD_LOG_RATELIMITED(RD_LOG_ERR, &c->log, 10.0, "response not built error=\"%s\"",
                           rd_strstatus(rc));
        rtsp_out_init(o, c->s->resp, VSERVER_RESP_BYTES, 0);
        (void)rtsp_resp_begin(o, 500, RTSP_CSEQ_NONE);
        if (rtsp_resp_end(o, NULL, 0) != RD_OK)
            return false;
    }
    return vconn_send(c, o->buf, o->len);
}

bool
vreq_bare(struct vconn *c, int status, int64_t cseq)
{
    struct rtsp_out o;
    resp_begin(c, &o, status, cseq);
    return resp_send(c, &o, NULL, 0);
}

static enum vreq_result
answer(struct vconn *c, const struct rtsp_msg *msg, int status)
{
    return vreq_bare(c, status, rtsp_resp_cseq_of(msg)) ? VREQ_DONE : VREQ_DEAD;
}

static void
session_header(struct rtsp_out *o, const struct vsession *x)
{
    double t =
        x->s->env.session_timeout_s > 0 ? x->s->env.session_timeout_s : RD_RTSP_SESSION_TIMEOUT_S;
    /* RFC 2326 §12.37: the timeout the client must beat; never more than ours. */
    (void)rtsp_resp_headerf(o, "Session", "%s;timeout=%u", x->id, t < 1 ? 1u : (unsigned)t);
}

static enum vreq_result
answer_session(struct vconn *c, const struct rtsp_msg *msg, const struct vsession *x)
{
    struct rtsp_out o;
    resp_begin(c, &o, 200, rtsp_resp_cseq_of(msg));
    session_header(&o, x);
    return resp_send(c, &o, NULL, 0) ? VREQ_DONE : VREQ_DEAD;
}

static enum vreq_result
answer_camera_error(struct vconn *c, const struct rtsp_msg *msg, int st)
{
    if (st != CAM_BUSY)
        return answer(c, msg, st);
    struct rtsp_out o;
    resp_begin(c, &o, 503, rtsp_resp_cseq_of(msg));
    (void)rtsp_resp_headerf(&o, "Retry-After", "%u", (unsigned)RD_VSERVER_RETRY_AFTER_S);
    return resp_send(c, &o, NULL, 0) ? VREQ_DONE : VREQ_DEAD;
}

/* ---- Token --------------------------------------------------------------------------------- */

/* The jti field of a token (third of five dot-separated fields): not secret, logged to tie a
 * refusal to the broker's decision. Never the MAC (the fifth). */
static struct rd_str
token_jti(struct rd_str tok)
{
    struct rd_str f = tok, head;
    bool found;
    for (int i = 0; i < 2; i++) {
        f = rd_str_split(f, '.', &head, &found);
        if (!found)
            return RD_STR_NULL;
    }
    (void)rd_str_split(f, '.', &head, &found);
    return found ? head : RD_STR_NULL;
}

static void
count_verdict(struct vserver *s, int v)
{
    size_t n = sizeof(s->st.token_verdicts) / sizeof(s->st.token_verdicts[0]);
    if (v >= 0 && (size_t)v < n)
        s->st.token_verdicts[v]++;
    if (v != URL_TOKEN_OK)
        s->st.token_rejects++;
}

/* ARCHITECTURE.md §4.1: the token of the path for its camera, this relay and the peer's IP.
 * Every failure (path or token) is the same 403. */
static bool
token_ok(struct vconn *c, const struct rtsp_msg *msg, struct vpath *p)
{
    struct vserver *s = c->s;
    if (path_parse(msg->uri, p) != RD_OK) {
        count_verdict(s, URL_TOKEN_MALFORMED);
        RD_LOG_RATELIMITED(RD_LOG_INFO, &c->log, 0.1, "token refused verdict=path");
        return false;
    }
    struct url_token_claims claims;
    struct rd_str ip = rd_str_cstr(c->ip);
    int v = url_token_verify(s->env.keys, p->camera, rd_str_cstr(s->env.relay_id), &ip,
                             (int64_t)time(NULL), p->token, &claims);
    count_verdict(s, v);
    char jti[LOG_SAMPLE_BUF];
    if (v == URL_TOKEN_OK) {
        RD_LOG(RD_LOG_DEBUG, &c->log, "token accepted camera=%.*s jti=%s", (int)p->camera.len,
               p->camera.p, log_sanitize(jti, sizeof(jti), claims.jti.p, claims.jti.len));
        return true;
    }
    struct rd_str j = token_jti(p->token);
    RD_LOG_RATELIMITED(RD_LOG_INFO, &c->log, 0.1, "token refused verdict=%s camera=%.*s jti=%s",
                       url_token_verdict_name(v), (int)p->camera.len, p->camera.p,
                       log_sanitize(jti, sizeof(jti), j.p, j.len > 16 ? 16 : j.len));
    return false;
}

/* ---- The connection's camera ------------------------------------------------------------- */

void
vconn_user_ready(struct camera_user *u, int status)
{
    struct vconn *c = RD_CONTAINER_OF(u, struct vconn, user);
    if (status == RD_OK)
        c->user_ready = true;
    else
        c->park_status = status; /* u is detached already */
    c->parked = false;
    vconn_kick(c); /* the parked request runs again, outside the camera table's call */
}

void
vconn_user_gone(struct camera_user *u)
{
    struct vconn *c = RD_CONTAINER_OF(u, struct vconn, user);
    c->user_ready = false;
    RD_LOG(RD_LOG_INFO, &c->log, "camera gone: closing camera=%s", c->user_camera);
    vconn_close_later(c, "camera_gone");
}

static int
camera_status(int rc)
{
    switch (rc) {
    case RD_ENOTFOUND:
        return 403; /* not served here: the same answer as a bad token */
    case RD_EBUSY:
        return CAM_BUSY;
    default:
        return 503;
    }
}

/* Makes c hold camera id ready. Returns 0 with *cam, CAM_PARKED (the ready callback
 * follows), or what to answer (403, 503, CAM_BUSY). */
static int
conn_camera(struct vconn *c, struct rd_str id, struct camera **cam)
{
    struct camera *held = camera_user_camera(&c->user);
    if (held != NULL && rd_str_eq_cstr(id, c->user_camera)) {
        if (!c->user_ready)
            return CAM_PARKED;
        *cam = held;
        return 0;
    }
    if (c->park_status != 0 && rd_str_eq_cstr(id, c->user_camera)) {
        int st = camera_status(c->park_status);
        c->park_status = 0;
        return st;
    }
    c->park_status = 0;
    camera_user_release(&c->user);
    c->user_ready = false;
    if (rd_str_copy(c->user_camera, sizeof(c->user_camera), id) != RD_OK)
        return 403; /* cannot happen: the path parser checked the id */
    int rc = cameras_acquire(c->s->env.cameras, id, &c->user);
    if (rc == RD_AGAIN)
        return CAM_PARKED;
    if (rc != RD_OK)
        return camera_status(rc);
    c->user_ready = true;
    *cam = camera_user_camera(&c->user);
    return 0;
}

/* ---- Methods ------------------------------------------------------------------------------- */

static enum vreq_result
on_options(struct vconn *c, const struct rtsp_msg *msg)
{
    struct rd_str sh;
    if (rtsp_msg_header(msg, "Session", &sh)) {
        /* A keepalive of a session (its token may have expired: the session authorises). */
        if (vsession_lookup(c, sh) == NULL)
            return answer(c, msg, 454);
    } else if (!rd_str_eq_cstr(msg->uri, "*")) {
        /* "OPTIONS *" says nothing about a camera and gets 200 without a token. */
        struct vpath p;
        if (!token_ok(c, msg, &p))
            return answer(c, msg, 403);
    }
    struct rtsp_out o;
    resp_begin(c, &o, 200, rtsp_resp_cseq_of(msg));
    (void)rtsp_resp_header(&o, "Public", VREQ_PUBLIC);
    return resp_send(c, &o, NULL, 0) ? VREQ_DONE : VREQ_DEAD;
}

static enum vreq_result
on_describe(struct vconn *c, const struct rtsp_msg *msg)
{
    struct vserver *s = c->s;
    struct vpath p;
    if (!token_ok(c, msg, &p))
        return answer(c, msg, 403);
    struct camera *cam = NULL;
    int st = conn_camera(c, p.camera, &cam);
    if (st == CAM_PARKED)
        return VREQ_PARKED;
    if (st != 0)
        return answer_camera_error(c, msg, st);
    char origin[NET_IP_STRLEN + 16], conn_line[16];
    bool v6 = c->local_family == AF_INET6;
    int on = snprintf(origin, sizeof(origin), "IN %s %s", v6 ? "IP6" : "IP4", c->local);
    int cn = snprintf(conn_line, sizeof(conn_line), "IN %s", v6 ? "IP6 ::" : "IP4 0.0.0.0");
    if (on < 0 || (size_t)on >= sizeof(origin) || cn < 0 || (size_t)cn >= sizeof(conn_line))
        return answer(c, msg, 500);
    struct sdp_rewrite opts = {
        .origin_username = rd_str_cstr("-"),
        .origin_session_id = s->sdp_session_id,
        .origin_session_version = 1,
        .origin_address = rd_str_make(origin, (size_t)on),
        .connection = rd_str_make(conn_line, (size_t)cn),
    };
    int n = sdp_write_for_relay(camera_sdp(cam), &opts, s->body, RD_SDP_MAX_BYTES + 1);
    char base[RD_RTSP_MAX_URI + 2];
    int bn = n < 0 ? n : url_base(msg->uri, &p, base, sizeof(base));
    if (n < 0 || bn < 0) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, &c->log, 1.0, "describe failed camera=%s error=\"%s\"",
                           c->user_camera, rd_strstatus(n < 0 ? n : bn));
        return answer(c, msg, 500);
    }
    struct rtsp_out o;
    resp_begin(c, &o, 200, rtsp_resp_cseq_of(msg));
    (void)rtsp_resp_header(&o, "Content-Type", "application/sdp");
    (void)rtsp_resp_header(&o, "Content-Base", base);
    return resp_send(c, &o, s->body, (size_t)n) ? VREQ_DONE : VREQ_DEAD;
}

static bool
channel_used(const struct vconn *c, unsigned ch)
{
    return (c->channels[ch / 8] >> (ch % 8)) & 1u;
}

/* Interleaved channels for a TCP choice: the viewer's (refused when in use on this
 * connection) or, when it left them to us, the lowest free even pair. */
static bool
pick_channels(const struct vconn *c, struct rtsp_transport_choice *ch)
{
    if (ch->has_channels)
        return !channel_used(c, ch->channel_rtp) && !channel_used(c, ch->channel_rtcp);
    for (unsigned i = 0; i + 1 <= RD_TRANSPORT_MAX_CHANNEL; i += 2) {
        if (!channel_used(c, i) && !channel_used(c, i + 1)) {
            ch->has_channels = true;
            ch->channel_rtp = (uint8_t)i;
            ch->channel_rtcp = (uint8_t)(i + 1);
            return true;
        }
    }
    return false;
}

static unsigned
udp_sessions_of_ip(const struct vconn *c)
{
    unsigned n = 0;
    for (const struct vsession *x = c->s->sessions; x != NULL; x = x->all_next)
        n += !x->tcp && strcmp(x->ip, c->ip) == 0;
    return n;
}

/* Sets up track t of x over the chosen transport. Returns 0 or the status to answer. */
static int
track_setup(struct vconn *c, struct vsession *x, struct vtrack *t, struct rtsp_transport_choice *ch)
{
    struct vserver *s = c->s;
    if (ch->lower == RTSP_TRANSPORT_TCP) {
        if (vconn_take_fanout(c) != RD_OK)
            return 503;
        if (fanout_sub_new_tcp(c->fv, ch->channel_rtp, ch->channel_rtcp, &t->sub) != RD_OK)
            return 453;
        t->ch_rtp = ch->channel_rtp;
        t->ch_rtcp = ch->channel_rtcp;
        c->channels[t->ch_rtp / 8] |= (uint8_t)(1u << (t->ch_rtp % 8));
        c->channels[t->ch_rtcp / 8] |= (uint8_t)(1u << (t->ch_rtcp % 8));
        return 0;
    }
    struct vpair *pair;
    int rc = vpair_get(s, x->camera, t->index, &pair);
    if (rc != RD_OK)
        return rc == RD_ELIMIT ? 453 : rc == RD_EPROTO ? 461 : 503;
    if (pair->family != c->peer.ss_family) {
        vpair_put(pair); /* an IPv6 viewer of IPv4 server ports, or the reverse */
        return 461;
    }
    if (vsession_udp_viewer(x) != RD_OK) {
        vpair_put(pair);
        return 503;
    }
    rc = fanout_sub_new_udp(x->udp_viewer, pair->fds[0], ch->client_rtp, pair->fds[1],
                            ch->client_rtcp, &t->sub);
    if (rc != RD_OK) {
        vpair_put(pair);
        return 453;
    }
    t->pair = pair;
    t->client_rtp = ch->client_rtp;
    t->client_rtcp = ch->client_rtcp;
    t->pair_next = pair->users;
    if (pair->users != NULL)
        pair->users->pair_prev = t;
    pair->users = t;
    ch->has_server_port = true;
    ch->server_rtp = pair->rtp_port;
    ch->server_rtcp = (uint16_t)(pair->rtp_port + 1);
    return 0;
}

/* Chooses the first acceptable alternative of the Transport header. Returns 0 with *ch, or
 * the status to answer: 403 when the only acceptable ones name a third-party destination
 * (SECURITY.md §3.2 rule 1), else 461. */
static int
choose_transport(struct vconn *c, const struct rtsp_msg *msg, const struct vsession *x,
                 struct rtsp_transport_choice *ch)
{
    struct vserver *s = c->s;
    struct rd_str tv;
    if (!rtsp_msg_header(msg, "Transport", &tv))
        return 461;
    struct rtsp_transport tr;
    if (rtsp_transport_parse(tv.p, tv.len, &tr) != RD_OK)
        return 461;
    const struct rtsp_transport_spec *foreign = NULL;
    for (unsigned i = 0; i < tr.n_specs; i++) {
        const struct rtsp_transport_spec *spec = &tr.specs[i];
        struct rtsp_transport_choice cand;
        if (rtsp_transport_check_viewer(spec, &cand) != RD_OK)
            continue;
        bool tcp = cand.lower == RTSP_TRANSPORT_TCP;
        if ((x != NULL && tcp != x->tcp) || (!tcp && s->env.ports == NULL))
            continue; /* one lower transport per session; UDP only with a port range */
        if (!rtsp_transport_destination_is_peer(spec, rd_str_cstr(c->ip))) {
            if (foreign == NULL)
                foreign = spec;
            continue;
        }
        if (tcp && !pick_channels(c, &cand))
            continue; /* channels in use on this connection: 461 */
        *ch = cand;
        return 0;
    }
    if (foreign != NULL) {
        s->st.dest_refused++;
        char v[LOG_SAMPLE_BUF];
        RD_LOG_RATELIMITED(
            RD_LOG_NOTICE, &c->log, 1.0, "destination_refused peer_ip=%s destination=%s", c->ip,
            log_sanitize(v, sizeof(v), foreign->destination.p, foreign->destination.len));
        return 403;
    }
    return 461;
}

static enum vreq_result
on_setup(struct vconn *c, const struct rtsp_msg *msg, double now)
{
    struct vpath p;
    if (!token_ok(c, msg, &p))
        return answer(c, msg, 403);
    struct vsession *x = NULL;
    struct camera *cam = NULL;
    struct rd_str sh;
    if (rtsp_msg_header(msg, "Session", &sh)) {
        /* Another track of an existing session (RFC 2326 §10.4). */
        x = vsession_lookup(c, sh);
        if (x == NULL || (cam = camera_user_camera(&x->user)) == NULL)
            return answer(c, msg, 454);
        if (!rd_str_eq_cstr(p.camera, x->camera) || x->state != VSESSION_READY)
            return answer(c, msg, 455);
    } else {
        if (c->n_sessions >= RD_MAX_SESSIONS_PER_CONN)
            return answer(c, msg, 453);
        int st = conn_camera(c, p.camera, &cam);
        if (st == CAM_PARKED)
            return VREQ_PARKED;
        if (st != 0)
            return answer_camera_error(c, msg, st);
    }
    const struct sdp *sdp = camera_sdp(cam);
    struct stream *stream = camera_stream(cam);
    unsigned idx = 0;
    if (!(p.rest.len == 0 && sdp->n_media == 1)
        && sdp_relay_track_index(p.rest, sdp->n_media, &idx) != RD_OK)
        return answer(c, msg, 404);
    if (x != NULL) {
        if (x->n_tracks >= RD_MAX_TRACKS_PER_SESSION)
            return answer(c, msg, 453);
        for (unsigned i = 0; i < x->n_tracks; i++) {
            if (x->tracks[i].index == idx)
                return answer(c, msg, 455); /* set up already: no second sink */
        }
    }
    struct rtsp_transport_choice ch;
    int st = choose_transport(c, msg, x, &ch);
    if (st != 0)
        return answer(c, msg, st);
    bool created = false;
    if (x == NULL) {
        if (ch.lower == RTSP_TRANSPORT_UDP
            && udp_sessions_of_ip(c) >= RD_VSERVER_UDP_SESSIONS_PER_IP)
            return answer(c, msg, 453);
        char camera[RD_CAMERA_ID_MAX + 1];
        if (rd_str_copy(camera, sizeof(camera), p.camera) != RD_OK)
            return answer(c, msg, 403);
        int rc = vsession_new(c, camera, ch.lower == RTSP_TRANSPORT_TCP, &x);
        if (rc == RD_EBUSY)
            return answer_camera_error(c, msg, CAM_BUSY);
        if (rc != RD_OK)
            return answer(c, msg, 503);
        created = true;
    }
    struct vtrack *t = &x->tracks[x->n_tracks];
    memset(t, 0, sizeof(*t));
    t->sess = x;
    t->index = idx;
    st = track_setup(c, x, t, &ch);
    if (st != 0) {
        if (created)
            vsession_free(x, "setup failed");
        return answer(c, msg, st);
    }
    x->n_tracks++;
    vsession_touch(x, now);
    if (created && camera_user_camera(&c->user) != NULL && strcmp(c->user_camera, x->camera) == 0) {
        /* The session holds the camera now; the connection's own hold would count twice. */
        camera_user_release(&c->user);
        c->user_ready = false;
    }
    struct stream_rtp_info info;
    if (stream_rtp_info(stream, idx, now, &info) == RD_OK && info.known) {
        ch.has_ssrc = true;
        ch.ssrc = info.ssrc;
    }
    char tbuf[256];
    int tn = rtsp_transport_format(&ch, tbuf, sizeof(tbuf));
    struct rtsp_out o;
    resp_begin(c, &o, 200, rtsp_resp_cseq_of(msg));
    if (tn < 0) {
        RD_LOG_RATELIMITED(RD_LOG_ERR, &c->log, 10.0, "transport not formatted error=\"%s\"",
                           rd_strstatus(tn));
        return answer(c, msg, 500);
    }
    (void)rtsp_resp_header(&o, "Transport", tbuf);
    session_header(&o, x);
    return resp_send(c, &o, NULL, 0) ? VREQ_DONE : VREQ_DEAD;
}

/* The session a PLAY/PAUSE/TEARDOWN/..._PARAMETER names. Returns it, or NULL with *status
 * set (454 unknown or foreign, or when the URL names another camera). */
static struct vsession *
named_session(struct vconn *c, const struct rtsp_msg *msg, struct vpath *p, int *status)
{
    struct rd_str sh;
    if (!rtsp_msg_header(msg, "Session", &sh)) {
        *status = 0;
        return NULL;
    }
    struct vsession *x = vsession_lookup(c, sh);
    bool have_path = path_parse(msg->uri, p) == RD_OK;
    if (x == NULL || (have_path && !rd_str_eq_cstr(p->camera, x->camera))) {
        *status = 454;
        return NULL;
    }
    if (!have_path)
        memset(p, 0, sizeof(*p));
    return x;
}

/* RTP-Info (RFC 2326 §12.33) for x's tracks into s->hdr: the URL of each track (the PLAY
 * URL's base + trackID=n, as the viewer built its SETUP URLs) and, once the track has had a
 * packet, the sequence number and timestamp of the first packet this viewer will get. */
static bool
rtp_info(struct vconn *c, const struct rtsp_msg *msg, const struct vpath *p,
         const struct vsession *x, struct stream *stream, double now)
{
    char *out = c->s->hdr;
    size_t cap = VSERVER_HDR_BYTES, o = 0;
    char base[RD_RTSP_MAX_URI + 2];
    base[0] = '\0';
    if (p->token.len > 0 && url_base(msg->uri, p, base, sizeof(base)) < 0)
        base[0] = '\0';
    for (unsigned i = 0; i < x->n_tracks; i++) {
        struct stream_rtp_info info;
        if (stream_rtp_info(stream, x->tracks[i].index, now, &info) != RD_OK)
            return false;
        int n;
        if (info.known)
            n = snprintf(out + o, cap - o, "%surl=%s" SDP_RELAY_TRACK_PREFIX "%u;seq=%u;rtptime=%u",
                         i > 0 ? "," : "", base, x->tracks[i].index, (unsigned)info.seq,
                         (unsigned)info.rtptime);
        else
            n = snprintf(out + o, cap - o, "%surl=%s" SDP_RELAY_TRACK_PREFIX "%u", i > 0 ? "," : "",
                         base, x->tracks[i].index);
        if (n < 0 || (size_t)n >= cap - o)
            return false;
        o += (size_t)n;
    }
    return true;
}

static enum vreq_result
on_play(struct vconn *c, const struct rtsp_msg *msg, double now)
{
    struct vserver *s = c->s;
    struct vpath p;
    int st;
    struct vsession *x = named_session(c, msg, &p, &st);
    if (x == NULL)
        return answer(c, msg, st != 0 ? st : 455); /* no Session: nothing set up to play */
    struct camera *cam = camera_user_camera(&x->user);
    if (cam == NULL)
        return answer(c, msg, 454);
    vsession_touch(x, now);
    struct stream *stream = camera_stream(cam);
    struct rtsp_out o;
    resp_begin(c, &o, 200, rtsp_resp_cseq_of(msg));
    session_header(&o, x);
    (void)rtsp_resp_header(&o, "Range", "npt=now-");
    if (x->state == VSESSION_PLAYING) /* already playing: nothing changes */
        return resp_send(c, &o, NULL, 0) ? VREQ_DONE : VREQ_DEAD;
    /* RTP-Info, the response queued, then the subscriptions, all in this callback with no
     * packet in between (stream.h), so the values match the first packets sent. */
    if (!rtp_info(c, msg, &p, x, stream, now))
        return answer(c, msg, 500);
    (void)rtsp_resp_header(&o, "RTP-Info", s->hdr);
    if (!resp_send(c, &o, NULL, 0))
        return VREQ_DEAD;
    for (unsigned i = 0; i < x->n_tracks; i++)
        (void)stream_subscribe(stream, x->tracks[i].index, x->tracks[i].sub);
    x->state = VSESSION_PLAYING;
    x->played = true;
    if (x->tcp)
        s->st.playing_tcp++;
    else
        s->st.playing_udp++;
    RD_LOG(RD_LOG_DEBUG, &c->log, "playing session=%.8s camera=%s tracks=%u", x->id, x->camera,
           x->n_tracks);
    return VREQ_DONE;
}

static enum vreq_result
on_pause(struct vconn *c, const struct rtsp_msg *msg, double now)
{
    struct vpath p;
    int st;
    struct vsession *x = named_session(c, msg, &p, &st);
    if (x == NULL)
        return answer(c, msg, st != 0 ? st : 455);
    vsession_touch(x, now);
    if (x->state == VSESSION_PLAYING) {
        for (unsigned i = 0; i < x->n_tracks; i++)
            stream_unsubscribe(x->tracks[i].sub);
        x->state = VSESSION_READY;
        if (x->tcp)
            c->s->st.playing_tcp--;
        else
            c->s->st.playing_udp--;
    }
    return answer_session(c, msg, x);
}

static enum vreq_result
on_teardown(struct vconn *c, const struct rtsp_msg *msg)
{
    struct vpath p;
    int st;
    struct vsession *x = named_session(c, msg, &p, &st);
    if (x == NULL)
        return answer(c, msg, 454);
    /* Aggregate: a track URL ends the whole session too (RFC 2326 §10.7 allows either). */
    vsession_free(x, "teardown");
    return answer(c, msg, 200);
}

static enum vreq_result
on_parameter(struct vconn *c, const struct rtsp_msg *msg, double now)
{
    struct vpath p;
    int st;
    struct vsession *x = named_session(c, msg, &p, &st);
    if (x == NULL)
        return answer(c, msg, st != 0 ? st : 200); /* a connection keepalive */
    vsession_touch(x, now);
    return answer_session(c, msg, x);
}

enum vreq_result
vreq_handle(struct vconn *c, const struct rtsp_msg *msg, double now)
{
    /* Any request on a connection keeps its sessions alive. */
    for (struct vsession *x = c->sessions; x != NULL; x = x->cnext)
        vsession_touch(x, now);
    struct rd_str req;
    if (rtsp_msg_header(msg, "Require", &req))
        return answer(c, msg, 551); /* RFC 2326 §12.32: no extensions here */
    switch (msg->method) {
    case RTSP_METHOD_OPTIONS:
        return on_options(c, msg);
    case RTSP_METHOD_DESCRIBE:
        return on_describe(c, msg);
    case RTSP_METHOD_SETUP:
        return on_setup(c, msg, now);
    case RTSP_METHOD_PLAY:
        return on_play(c, msg, now);
    case RTSP_METHOD_PAUSE:
        return on_pause(c, msg, now);
    case RTSP_METHOD_TEARDOWN:
        return on_teardown(c, msg);
    case RTSP_METHOD_GET_PARAMETER:
    case RTSP_METHOD_SET_PARAMETER:
        return on_parameter(c, msg, now);
    case RTSP_METHOD_ANNOUNCE:
    case RTSP_METHOD_RECORD:
    case RTSP_METHOD_REDIRECT: {
        struct rtsp_out o;
        resp_begin(c, &o, 405, rtsp_resp_cseq_of(msg));
        (void)rtsp_resp_header(&o, "Allow", VREQ_PUBLIC);
        return resp_send(c, &o, NULL, 0) ? VREQ_DONE : VREQ_DEAD;
    }
    case RTSP_METHOD_UNKNOWN:
    default:
        return answer(c, msg, 501);
    }
}
