/* SPDX-License-Identifier: MIT */
/* rtsp-bench viewer sessions (rbench_session.h): the RTSP client state machine, interleaved
 * and UDP media intake, keepalives and TEARDOWN. */
#define _GNU_SOURCE /* recvmmsg, IP_BIND_ADDRESS_NO_PORT */
#include "rbench_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "evx.h"
#include "net.h"
#include "rd_err.h"
#include "rtsp_build.h"
#include "rtsp_frame.h"
#include "rtsp_transport.h"
#include "url.h"

#define USER_AGENT "rtsp-bench/" RD_VERSION

uint64_t
rbench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The UDP read batch, shared by every session: one loop, one thread. */
static struct mmsghdr udp_mm[RBENCH_UDP_BATCH];
static struct iovec udp_iov[RBENCH_UDP_BATCH];
static uint8_t udp_buf[RBENCH_UDP_BATCH][RBENCH_UDP_PKT_BYTES];

void
rbench_ctx_init(struct rbench_ctx *ctx)
{
    for (size_t i = 0; i < RBENCH_UDP_BATCH; i++) {
        udp_iov[i].iov_base = udp_buf[i];
        udp_iov[i].iov_len = sizeof(udp_buf[i]);
        memset(&udp_mm[i], 0, sizeof(udp_mm[i]));
        udp_mm[i].msg_hdr.msg_iov = &udp_iov[i];
        udp_mm[i].msg_hdr.msg_iovlen = 1;
    }
    if (ctx->next_udp_port == 0)
        ctx->next_udp_port = RBENCH_UDP_PORT_FIRST;
}

void
rbench_session_init(struct rbench_session *s, struct rbench_ctx *ctx, uint32_t index,
                    const char *url, uint32_t src_ip)
{
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->index = index;
    s->start_url = url;
    s->fd = -1;
    s->src_ip = src_ip;
    for (size_t i = 0; i < RBENCH_MAX_TRACKS; i++) {
        s->tracks[i].fd_rtp = s->tracks[i].fd_rtcp = -1;
        s->tracks[i].s = s;
    }
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* Collects the counters of every track into s->res. */
void
rbench_session_collect(struct rbench_session *s)
{
    struct rbench_result *r = &s->res;
    r->packets = r->bytes = r->expected = r->lost = r->duplicates = r->reordered = 0;
    r->late = r->ssrc_changes = 0;
    r->malformed = 0;
    r->jitter_ms = r->jitter_max_ms = 0;
    r->tracks = s->n_tracks;
    uint64_t first_pkt = 0, first_key = 0;
    for (unsigned i = 0; i < s->n_tracks; i++) {
        const struct rbench_track *t = &s->tracks[i].acct;
        r->packets += t->packets;
        r->bytes += t->bytes;
        r->expected += rbench_track_expected(t);
        r->lost += rbench_track_lost(t);
        r->duplicates += t->duplicates;
        r->reordered += t->reordered;
        r->late += t->late;
        r->malformed += t->malformed;
        r->ssrc_changes += t->ssrc_changes;
        double j = rbench_track_jitter_ms(t), jm = rbench_track_jitter_max_ms(t);
        if (j > r->jitter_ms)
            r->jitter_ms = j;
        if (jm > r->jitter_max_ms)
            r->jitter_max_ms = jm;
        if (t->first_pkt_ns && (!first_pkt || t->first_pkt_ns < first_pkt))
            first_pkt = t->first_pkt_ns;
        if (t->first_key_ns && (!first_key || t->first_key_ns < first_key))
            first_key = t->first_key_ns;
    }
    r->malformed += s->res.truncated; /* truncated datagrams were not accounted as RTP */
    r->first_pkt_ns = first_pkt ? first_pkt - s->t_start_ns : 0;
    r->first_key_ns = first_key ? first_key - s->t_start_ns : 0;
    /* 1 ns when a UDP key frame overtook the PLAY response we had not yet read. */
    r->play_key_ns =
        (first_key && s->t_play_ns) ? (first_key > s->t_play_ns ? first_key - s->t_play_ns : 1) : 0;
}

static void
close_media(struct rbench_session *s)
{
    struct ev_loop *loop = s->ctx->loop;
    for (unsigned i = 0; i < RBENCH_MAX_TRACKS; i++) {
        struct rbench_track_io *t = &s->tracks[i];
        if (t->fd_rtp >= 0) {
            ev_io_stop(loop, &t->io_rtp);
            close(t->fd_rtp);
            t->fd_rtp = -1;
        }
        if (t->fd_rtcp >= 0) {
            ev_io_stop(loop, &t->io_rtcp);
            close(t->fd_rtcp);
            t->fd_rtcp = -1;
        }
    }
}

static void
close_conn(struct rbench_session *s)
{
    if (s->fd >= 0) {
        ev_io_stop(s->ctx->loop, &s->io);
        close(s->fd);
        s->fd = -1;
    }
    s->in_len = 0;
    s->out_len = s->out_off = 0;
}

/* Ends the session with err (RBENCH_ERR_NONE: normally). */
static void
finish(struct rbench_session *s, enum rbench_err err, int status)
{
    if (s->st == RBENCH_ST_DONE)
        return;
    if (err != RBENCH_ERR_NONE && s->res.err == RBENCH_ERR_NONE) {
        s->res.err = err;
        s->res.err_status = status;
        if (s->res.established)
            s->res.disconnected = true;
    }
    s->st = RBENCH_ST_DONE;
    s->t_end_ns = rbench_now_ns();
    if (s->t_play_ns)
        s->res.play_s_ns = s->t_end_ns - s->t_play_ns;
    ev_timer_stop(s->ctx->loop, &s->timer);
    close_conn(s);
    close_media(s);
    rbench_session_collect(s);
    if (s->ctx->on_done)
        s->ctx->on_done(s, s->ctx->arg);
}

static enum rbench_err
errno_err(int e, bool connected)
{
    if (!connected
        && (e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH
            || e == ECONNRESET || e == EPIPE))
        return RBENCH_ERR_CONNECT;
    return RBENCH_ERR_RESET;
}

static void
arm(struct rbench_session *s, double after_s)
{
    evx_timer_rearm(s->ctx->loop, &s->timer, after_s);
}

/* Sends what is queued in out. Returns false after ending the session. */
static bool
flush(struct rbench_session *s)
{
    while (s->out_off < s->out_len) {
        ssize_t n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            s->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            evx_io_set_events(s->ctx->loop, &s->io, EV_READ | EV_WRITE);
            return true;
        }
        finish(s, errno_err(errno, true), 0);
        return false;
    }
    s->out_len = s->out_off = 0;
    evx_io_set_events(s->ctx->loop, &s->io, EV_READ);
    return true;
}

/* Queues one request (appended after anything still unsent) and sends. transport: a
 * Transport value or NULL; range: add "Range: npt=0.000-". Returns false after ending the
 * session. */
static bool
request(struct rbench_session *s, enum rtsp_method method, const char *uri, const char *transport,
        bool range)
{
    if (s->out_off > 0 && s->out_off < s->out_len) {
        memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
        s->out_len -= s->out_off;
        s->out_off = 0;
    }
    struct rtsp_out out;
    rtsp_out_init(&out, s->out, sizeof(s->out), s->out_len);
    uint32_t cseq = ++s->cseq;
    (void)rtsp_req_begin(&out, method, uri, cseq);
    (void)rtsp_resp_header(&out, "User-Agent", USER_AGENT);
    if (method == RTSP_METHOD_DESCRIBE)
        (void)rtsp_resp_header(&out, "Accept", "application/sdp");
    if (transport)
        (void)rtsp_resp_header(&out, "Transport", transport);
    if (s->session_id[0])
        (void)rtsp_resp_header(&out, "Session", s->session_id);
    if (range)
        (void)rtsp_resp_header(&out, "Range", "npt=0.000-");
    if (rtsp_req_end(&out, NULL, 0) != RD_OK) {
        finish(s, RBENCH_ERR_URL, 0);
        return false;
    }
    s->out_len = out.len;
    s->cseq_wait = cseq;
    return flush(s);
}

/* Resolves the host of url into s->peer (IPv4). */
static enum rbench_err
resolve(struct rbench_session *s, const char *url)
{
    struct url_parts u;
    if (url_split(rd_str_cstr(url), &u) != RD_OK || u.is_star || u.scheme != URL_SCHEME_RTSP)
        return RBENCH_ERR_URL;
    char host[RD_URL_MAX_HOST + 1];
    if (rd_str_copy(host, sizeof(host), u.host) != RD_OK)
        return RBENCH_ERR_URL;
    memset(&s->peer, 0, sizeof(s->peer));
    s->peer.sin_family = AF_INET;
    s->peer.sin_port = htons(u.port);
    if (u.host_kind == URL_HOST_IPV4) {
        if (inet_pton(AF_INET, host, &s->peer.sin_addr) != 1)
            return RBENCH_ERR_URL;
        return RBENCH_ERR_NONE;
    }
    if (u.host_kind != URL_HOST_NAME)
        return RBENCH_ERR_RESOLVE;
    /* Blocking, once per session and redirect: benchmarks use addresses, this is for
     * convenience ("localhost"). */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return RBENCH_ERR_RESOLVE;
    s->peer.sin_addr = ((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return RBENCH_ERR_NONE;
}

/* Opens a connection to the host of s->url and sends OPTIONS once it is up. */
static void
connect_start(struct rbench_session *s)
{
    enum rbench_err e = resolve(s, s->url);
    if (e != RBENCH_ERR_NONE) {
        finish(s, e, 0);
        return;
    }
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        finish(s, RBENCH_ERR_LOCAL, 0);
        return;
    }
    if (s->src_ip) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
        sa.sin_addr.s_addr = htonl(s->src_ip);
        int one = 1;
        (void)setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            finish(s, RBENCH_ERR_LOCAL, 0);
            return;
        }
    }
    (void)net_set_nodelay(s->fd);
    ev_io_init(&s->io, io_cb, s->fd, EV_WRITE);
    ev_io_start(s->ctx->loop, &s->io);
    s->st = RBENCH_ST_CONNECTING;
    arm(s, s->ctx->timeout_s);
    if (connect(s->fd, (struct sockaddr *)&s->peer, sizeof(s->peer)) != 0 && errno != EINPROGRESS) {
        finish(s, errno == ECONNREFUSED ? RBENCH_ERR_CONNECT : RBENCH_ERR_LOCAL, 0);
        return;
    }
}

void
rbench_session_start(struct rbench_session *s)
{
    ev_init(&s->timer, timer_cb);
    s->t_start_ns = rbench_now_ns();
    if (rd_str_copy(s->url, sizeof(s->url), rd_str_cstr(s->start_url)) != RD_OK) {
        s->st = RBENCH_ST_CONNECTING;
        finish(s, RBENCH_ERR_URL, 0);
        return;
    }
    connect_start(s);
}

/* Follows a redirect to loc on a new connection. */
static void
redirect(struct rbench_session *s, struct rd_str loc)
{
    if (++s->res.redirects > RBENCH_MAX_REDIRECTS) {
        finish(s, RBENCH_ERR_REDIRECT_LOOP, 0);
        return;
    }
    struct url_parts u;
    if (loc.len == 0 || url_split(loc, &u) != RD_OK || u.is_star) {
        finish(s, RBENCH_ERR_LOCATION, 0);
        return;
    }
    if (rd_str_copy(s->url, sizeof(s->url), loc) != RD_OK) {
        finish(s, RBENCH_ERR_URL, 0);
        return;
    }
    close_conn(s);
    connect_start(s);
}

static void rtp_cb(struct ev_loop *loop, ev_io *w, int revents);
static void rtcp_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Binds a UDP client port pair for track t on the session's address. */
static bool
udp_open(struct rbench_session *s, struct rbench_track_io *t)
{
    struct rbench_ctx *ctx = s->ctx;
    char ip[INET_ADDRSTRLEN] = "127.0.0.1";
    if (s->src_ip) {
        struct in_addr a = {.s_addr = htonl(s->src_ip)};
        if (!inet_ntop(AF_INET, &a, ip, sizeof(ip)))
            return false;
    }
    unsigned span = (65534u - RBENCH_UDP_PORT_FIRST) / 2 + 1;
    for (unsigned tries = 0; tries < span; tries++) {
        uint16_t port = ctx->next_udp_port;
        ctx->next_udp_port = (uint16_t)(port >= 65532 ? RBENCH_UDP_PORT_FIRST : port + 2);
        int fds[2];
        struct rd_errbuf err;
        int rc = net_udp_bind_pair(ip, port, fds, &err);
        if (rc == RD_EBUSY)
            continue;
        if (rc != RD_OK)
            return false;
        int rcvbuf = RBENCH_UDP_RCVBUF;
        (void)setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        t->fd_rtp = fds[0];
        t->fd_rtcp = fds[1];
        t->port = port;
        ev_io_init(&t->io_rtp, rtp_cb, t->fd_rtp, EV_READ);
        ev_io_init(&t->io_rtcp, rtcp_cb, t->fd_rtcp, EV_READ);
        ev_io_start(ctx->loop, &t->io_rtp);
        ev_io_start(ctx->loop, &t->io_rtcp);
        return true;
    }
    return false;
}

/* Sends SETUP for track s->setup_idx. */
static bool
send_setup(struct rbench_session *s)
{
    struct rbench_track_io *t = &s->tracks[s->setup_idx];
    char transport[96];
    int n;
    if (s->ctx->transport == RBENCH_TCP) {
        t->ch_rtp = (uint8_t)(2 * s->setup_idx);
        t->ch_rtcp = (uint8_t)(t->ch_rtp + 1);
        n = snprintf(transport, sizeof(transport), "RTP/AVP/TCP;unicast;interleaved=%u-%u",
                     (unsigned)t->ch_rtp, (unsigned)t->ch_rtcp);
    } else {
        n = snprintf(transport, sizeof(transport), "RTP/AVP;unicast;client_port=%u-%u",
                     (unsigned)t->port, (unsigned)t->port + 1u);
    }
    if (n < 0 || (size_t)n >= sizeof(transport)) {
        finish(s, RBENCH_ERR_LOCAL, 0);
        return false;
    }
    s->st = RBENCH_ST_SETUP;
    arm(s, s->ctx->timeout_s);
    return request(s, RTSP_METHOD_SETUP, t->url, transport, false);
}

/* DESCRIBE answered 200: tracks from the SDP, then the first SETUP. */
static void
on_describe(struct rbench_session *s, const struct rtsp_msg *m)
{
    struct rbench_ctx *ctx = s->ctx;
    struct rd_str base;
    if (!rtsp_msg_header(m, "Content-Base", &base)
        && !rtsp_msg_header(m, "Content-Location", &base))
        base = rd_str_cstr(s->url);
    if (sdp_parse(m->body.p, m->body.len, &ctx->sdp) != RD_OK) {
        finish(s, RBENCH_ERR_SDP, 0);
        return;
    }
    const struct sdp *sdp = &ctx->sdp;
    if (sdp_resolve_control(base, sdp->session.has_control ? sdp->session.control : RD_STR_NULL,
                            s->base, sizeof(s->base))
        < 0) {
        finish(s, RBENCH_ERR_URL, 0);
        return;
    }
    for (unsigned i = 0; i < sdp->n_media; i++) {
        const struct sdp_media *md = &sdp->media[i];
        if (!md->rtp)
            continue;
        if (s->n_tracks == RBENCH_MAX_TRACKS) {
            s->res.tracks_skipped++;
            continue;
        }
        struct rbench_track_io *t = &s->tracks[s->n_tracks];
        struct sdp_codec c;
        if (sdp_media_codec(md, &c) != RD_OK)
            c = (struct sdp_codec){.id = SDP_CODEC_OTHER};
        rbench_track_init(&t->acct, c.id, c.clock_rate);
        if (sdp_resolve_control(base, md->has_control ? md->control : RD_STR_NULL, t->url,
                                sizeof(t->url))
            < 0) {
            finish(s, RBENCH_ERR_URL, 0);
            return;
        }
        s->n_tracks++;
        if (ctx->transport == RBENCH_UDP && !udp_open(s, t)) {
            finish(s, RBENCH_ERR_UDP_PORTS, 0);
            return;
        }
    }
    if (s->n_tracks == 0) {
        finish(s, RBENCH_ERR_NO_TRACKS, 0);
        return;
    }
    s->setup_idx = 0;
    (void)send_setup(s);
}

/* SETUP answered 200: the session id and the transport. Returns false after ending. */
static bool
on_setup(struct rbench_session *s, const struct rtsp_msg *m)
{
    struct rd_str v;
    if (!rtsp_msg_header(m, "Session", &v)) {
        finish(s, RBENCH_ERR_SESSION, 0);
        return false;
    }
    struct rd_str id;
    bool found;
    struct rd_str params = rd_str_split(v, ';', &id, &found);
    id = rd_str_trim(id);
    if (id.len == 0 || rd_str_copy(s->session_id, sizeof(s->session_id), id) != RD_OK) {
        finish(s, RBENCH_ERR_SESSION, 0);
        return false;
    }
    uint64_t timeout = 60; /* RFC 2326 §12.37 default */
    while (found) {
        struct rd_str p;
        params = rd_str_split(params, ';', &p, &found);
        p = rd_str_trim(p);
        if (rd_str_starts_with_ci(p, "timeout=")) {
            struct rd_str num = {p.p + 8, p.len - 8};
            if (rd_str_to_u64(num, 9, 86400, &timeout) != RD_OK || timeout == 0)
                timeout = 60;
        }
    }
    s->keepalive_s = (double)timeout / 2.0;
    if (!rtsp_msg_header(m, "Transport", &v)) {
        finish(s, RBENCH_ERR_TRANSPORT, 0);
        return false;
    }
    static struct rtsp_transport tr; /* large; one thread */
    if (rtsp_transport_parse(v.p, v.len, &tr) != RD_OK || tr.n_specs == 0) {
        finish(s, RBENCH_ERR_TRANSPORT, 0);
        return false;
    }
    struct rbench_track_io *t = &s->tracks[s->setup_idx];
    if (s->ctx->transport == RBENCH_TCP) {
        uint8_t a, b;
        if (tr.specs[0].lower != RTSP_TRANSPORT_TCP) {
            finish(s, RBENCH_ERR_TRANSPORT, 0);
            return false;
        }
        if (tr.specs[0].interleaved.present) {
            if (rtsp_transport_check_interleaved(&tr.specs[0].interleaved, &a, &b) != RD_OK) {
                finish(s, RBENCH_ERR_TRANSPORT, 0);
                return false;
            }
            t->ch_rtp = a;
            t->ch_rtcp = b;
        }
    } else if (tr.specs[0].lower != RTSP_TRANSPORT_UDP) {
        finish(s, RBENCH_ERR_TRANSPORT, 0);
        return false;
    }
    return true;
}

/* One response on the control connection. Returns false when the caller must stop using the
 * input buffer (the session ended or moved to a new connection). */
static bool
on_response(struct rbench_session *s, const struct rtsp_msg *m)
{
    if (!m->has_cseq) {
        finish(s, RBENCH_ERR_CSEQ, 0);
        return false;
    }
    if (m->cseq != s->cseq_wait) {
        /* A keepalive answered after TEARDOWN was queued: skip it. */
        if (m->cseq < s->cseq_wait && (s->st == RBENCH_ST_TEARDOWN || s->st == RBENCH_ST_PLAYING))
            return true;
        finish(s, RBENCH_ERR_CSEQ, 0);
        return false;
    }
    s->cseq_wait = 0;
    int st = m->status;
    bool redirect_status = st == 301 || st == 302 || st == 303 || st == 307;
    switch (s->st) {
    case RBENCH_ST_OPTIONS:
    case RBENCH_ST_DESCRIBE: {
        if (redirect_status) {
            struct rd_str loc;
            if (!rtsp_msg_header(m, "Location", &loc) || rtsp_msg_header_count(m, "Location") != 1)
                loc = RD_STR_NULL;
            redirect(s, loc);
            return false;
        }
        if (st != 200) {
            finish(s,
                   s->st == RBENCH_ST_OPTIONS ? RBENCH_ERR_STATUS_OPTIONS
                                              : RBENCH_ERR_STATUS_DESCRIBE,
                   st);
            return false;
        }
        if (s->st == RBENCH_ST_OPTIONS) {
            s->st = RBENCH_ST_DESCRIBE;
            arm(s, s->ctx->timeout_s);
            return request(s, RTSP_METHOD_DESCRIBE, s->url, NULL, false);
        }
        on_describe(s, m);
        return s->st == RBENCH_ST_SETUP;
    }
    case RBENCH_ST_SETUP:
        if (st != 200) {
            finish(s, RBENCH_ERR_STATUS_SETUP, st);
            return false;
        }
        if (!on_setup(s, m))
            return false;
        if (++s->setup_idx < s->n_tracks)
            return send_setup(s);
        s->st = RBENCH_ST_PLAY;
        arm(s, s->ctx->timeout_s);
        return request(s, RTSP_METHOD_PLAY, s->base, NULL, true);
    case RBENCH_ST_PLAY:
        if (st != 200) {
            finish(s, RBENCH_ERR_STATUS_PLAY, st);
            return false;
        }
        s->t_play_ns = s->rx_ns; /* read time, like the media read with it */
        s->res.established = true;
        s->res.setup_ns = s->t_play_ns - s->t_start_ns;
        s->st = RBENCH_ST_PLAYING;
        arm(s, s->keepalive_s);
        if (s->stop_requested) {
            rbench_session_stop(s);
            return s->st != RBENCH_ST_DONE;
        }
        return true;
    case RBENCH_ST_PLAYING: /* keepalive answered: any status keeps the session */
        return true;
    case RBENCH_ST_TEARDOWN:
        s->res.torn_down = true;
        finish(s, RBENCH_ERR_NONE, 0);
        return false;
    default:
        finish(s, RBENCH_ERR_PARSE, 0);
        return false;
    }
}

/* An interleaved frame. */
static void
on_frame(struct rbench_session *s, uint8_t ch, const uint8_t *p, size_t len, uint64_t now)
{
    for (unsigned i = 0; i < s->n_tracks; i++) {
        struct rbench_track_io *t = &s->tracks[i];
        if (ch == t->ch_rtp) {
            rbench_track_packet(&t->acct, p, len, now);
            return;
        }
        if (ch == t->ch_rtcp) {
            s->res.rtcp++;
            return;
        }
    }
    s->res.malformed++;
}

/* Handles every complete item in the input buffer. */
static void
process(struct rbench_session *s, uint64_t now)
{
    struct rbench_ctx *ctx = s->ctx;
    size_t off = 0;
    int fd = s->fd;
    s->rx_ns = now;
    while (off < s->in_len) {
        struct rtsp_frame item;
        ssize_t n = rtsp_frame_next(s->in + off, s->in_len - off, RTSP_MSG_RESPONSE, NULL, &item,
                                    &ctx->msg);
        if (n == RD_AGAIN) {
            if (off == 0 && s->in_len == sizeof(s->in)) {
                finish(s, RBENCH_ERR_TOO_BIG, 0);
                return;
            }
            break;
        }
        if (n < 0) {
            finish(s, RBENCH_ERR_PARSE, 0);
            return;
        }
        off += (size_t)n;
        if (item.kind == RTSP_FRAME_DATA) {
            on_frame(s, item.channel, item.payload, item.payload_len, now);
        } else if (item.kind == RTSP_FRAME_MSG) {
            if (!on_response(s, &ctx->msg) || s->fd != fd)
                return; /* ended, or a new connection with an empty buffer */
        }
    }
    if (off > 0) {
        memmove(s->in, s->in + off, s->in_len - off);
        s->in_len -= off;
    }
}

static void
on_readable(struct rbench_session *s)
{
    int fd = s->fd;
    for (unsigned k = 0; k < RBENCH_TCP_READS_PER_WAKEUP; k++) {
        size_t room = sizeof(s->in) - s->in_len;
        ssize_t n = recv(fd, s->in + s->in_len, room, 0);
        if (n > 0) {
            s->in_len += (size_t)n;
            process(s, rbench_now_ns());
            if (s->fd != fd || s->st == RBENCH_ST_DONE)
                return;
            if ((size_t)n < room)
                return; /* drained */
            continue;
        }
        if (n == 0) {
            /* The server closed: after TEARDOWN that is the end we wanted. */
            if (s->st == RBENCH_ST_TEARDOWN)
                finish(s, RBENCH_ERR_NONE, 0);
            else
                finish(s, RBENCH_ERR_EOF, 0);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        finish(s, s->st == RBENCH_ST_TEARDOWN ? RBENCH_ERR_NONE : errno_err(errno, true), 0);
        return;
    }
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rbench_session *s = RD_CONTAINER_OF(w, struct rbench_session, io);
    if (s->st == RBENCH_ST_CONNECTING) {
        if (!(revents & EV_WRITE))
            return;
        if (net_connect_result(s->fd) != RD_OK) {
            finish(s, errno_err(errno, false), 0);
            return;
        }
        s->st = RBENCH_ST_OPTIONS;
        arm(s, s->ctx->timeout_s);
        (void)request(s, RTSP_METHOD_OPTIONS, s->url, NULL, false);
        return;
    }
    if ((revents & EV_WRITE) && !flush(s))
        return;
    if (revents & EV_READ)
        on_readable(s);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rbench_session *s = RD_CONTAINER_OF(w, struct rbench_session, timer);
    switch (s->st) {
    case RBENCH_ST_PLAYING:
        /* Keepalive: GET_PARAMETER at half the session timeout (RFC 2326 §10.8). */
        s->res.keepalives++;
        arm(s, s->keepalive_s);
        if (s->cseq_wait == 0)
            (void)request(s, RTSP_METHOD_GET_PARAMETER, s->base, NULL, false);
        return;
    case RBENCH_ST_TEARDOWN:
        finish(s, RBENCH_ERR_NONE, 0); /* not answered in time: closed anyway */
        return;
    default:
        finish(s, RBENCH_ERR_TIMEOUT, 0);
        return;
    }
}

void
rbench_session_stop(struct rbench_session *s)
{
    switch (s->st) {
    case RBENCH_ST_DONE:
    case RBENCH_ST_TEARDOWN:
        return;
    case RBENCH_ST_IDLE:
        s->st = RBENCH_ST_CONNECTING; /* never started: finish() records it */
        finish(s, RBENCH_ERR_NOT_ESTABLISHED, 0);
        return;
    case RBENCH_ST_PLAYING:
        s->st = RBENCH_ST_TEARDOWN;
        arm(s, RBENCH_TEARDOWN_WAIT_S);
        (void)request(s, RTSP_METHOD_TEARDOWN, s->base, NULL, false);
        return;
    default:
        finish(s, RBENCH_ERR_NOT_ESTABLISHED, 0);
        return;
    }
}

static void
rtp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rbench_track_io *t = RD_CONTAINER_OF(w, struct rbench_track_io, io_rtp);
    for (unsigned k = 0; k < RBENCH_UDP_READS_PER_WAKEUP; k++) {
        int n = recvmmsg(t->fd_rtp, udp_mm, RBENCH_UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return; /* EAGAIN, or an error the next wakeup sees again */
        uint64_t now = rbench_now_ns();
        for (int i = 0; i < n; i++) {
            if (udp_mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
                t->s->res.truncated++;
                continue;
            }
            rbench_track_packet(&t->acct, udp_buf[i], udp_mm[i].msg_len, now);
        }
        if (n < RBENCH_UDP_BATCH)
            return;
    }
}

static void
rtcp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rbench_track_io *t = RD_CONTAINER_OF(w, struct rbench_track_io, io_rtcp);
    uint8_t buf[RBENCH_UDP_PKT_BYTES];
    for (unsigned k = 0; k < RBENCH_UDP_BATCH; k++) {
        ssize_t n = recv(t->fd_rtcp, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0)
            return;
        t->s->res.rtcp++;
    }
}
