/* SPDX-License-Identifier: MIT */
/* The camera puller's sockets: the non-blocking RTSP connection (connect, output queue, read
 * bursts split by rtsp_frame_next into responses and interleaved frames), UDP media sockets
 * accepting packets only from the camera's address, media into the stream, and the relay's
 * RTCP receiver reports to the camera (RFC 3550 §6.4.2). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evx.h"
#include "puller_int.h"
#include "rd_err.h"
#include "rtsp_build.h"
#include "rtsp_frame.h"
#include "stream.h"

/* Datagram scratch: one loop thread, and a datagram is copied into a pool packet at once. */
static uint8_t pull_dgram[RD_RTP_MAX_PACKET + 1];

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void udp_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void
close_fd(struct puller *p, int fd)
{
    if (close(fd) != 0)
        RD_LOG(RD_LOG_DEBUG, &p->log, "close failed errno=%d", errno);
}

int
pull_conn_open(struct puller *p)
{
    struct rd_errbuf err = {{0}};
    if (rd_buf_alloc(&p->in, RTSP_FRAME_MAX_ITEM_BYTES) != RD_OK) {
        RD_LOG(RD_LOG_WARN, &p->log, "out of memory for a camera connection");
        return RD_ENOMEM;
    }
    if (net_sockaddr_make(p->host, p->port, &p->peer, &p->peer_len) != RD_OK) {
        rd_buf_free(&p->in);
        return RD_EIO;
    }
    int fd = net_tcp_connect(p->host, p->port, &err);
    if (fd < 0) {
        RD_LOG(RD_LOG_INFO, &p->log, "connect failed error=\"%s\"", err.msg);
        rd_buf_free(&p->in);
        return RD_EIO;
    }
    p->fd = fd;
    p->out_len = p->out_sent = 0;
    p->stray_bytes = 0;
    memset(p->chan_map, 0, sizeof(p->chan_map));
    p->phase = PULL_CONNECTING;
    ev_io_init(&p->io, conn_io_cb, fd, EV_WRITE);
    ev_io_start(p->env.loop, &p->io);
    evx_timer_rearm(p->env.loop, &p->step_timer, p->tm.connect_timeout_s);
    return RD_OK;
}

static void
udp_close(struct puller *p, struct pull_track *t)
{
    if (!t->udp_open)
        return;
    for (int i = 0; i < 2; i++)
        ev_io_stop(p->env.loop, &t->udp[i].io);
    udp_ports_close_pair(p->env.ports, t->fds, t->udp_port);
    t->udp_open = false;
    t->fds[0] = t->fds[1] = -1;
}

/* Queues a TEARDOWN of the session and tries one non-blocking send of everything queued:
 * best effort, never waited for (the camera's session would time out anyway). */
static void
send_teardown(struct puller *p)
{
    char auth[DIGEST_AUTHORIZATION_MAX];
    struct rtsp_out o;
    rtsp_out_init(&o, p->out, PULL_OUT_CAP, p->out_len);
    const char *uri = p->play_uri[0] != '\0' ? p->play_uri : p->url;
    (void)rtsp_req_begin(&o, RTSP_METHOD_TEARDOWN, uri, ++p->cseq);
    (void)rtsp_resp_header(&o, "Session", p->session);
    if (p->env.user_agent != NULL)
        (void)rtsp_resp_header(&o, "User-Agent", p->env.user_agent);
    if (p->have_challenge) {
        struct digest_client_request rq = {
            .method = rd_str_cstr("TEARDOWN"),
            .uri = rd_str_cstr(uri),
            .username = rd_str_cstr(p->src.user),
            .password = rd_str_cstr(p->src.password),
        };
        if (digest_authorization_build(&p->ch, &rq, auth, sizeof(auth)) > 0)
            (void)rtsp_resp_header(&o, "Authorization", auth);
        rd_cleanse(auth, sizeof(auth));
    }
    if (rtsp_req_end(&o, NULL, 0) != RD_OK)
        return;
    p->out_len = o.len;
    ssize_t n = send(p->fd, p->out + p->out_sent, p->out_len - p->out_sent, MSG_NOSIGNAL);
    RD_LOG(RD_LOG_DEBUG, &p->log, "teardown sent=%zd", n);
}

void
pull_conn_close(struct puller *p, bool teardown)
{
    struct ev_loop *loop = p->env.loop;
    if (p->fd >= 0) {
        if (teardown && p->session[0] != '\0')
            send_teardown(p);
        ev_io_stop(loop, &p->io);
        close_fd(p, p->fd);
        p->fd = -1;
    }
    for (unsigned i = 0; i < RD_SDP_MAX_MEDIA; i++)
        udp_close(p, &p->tracks[i]);
    ev_timer_stop(loop, &p->step_timer);
    ev_timer_stop(loop, &p->keepalive_timer);
    ev_timer_stop(loop, &p->media_timer);
    ev_timer_stop(loop, &p->udp_timer);
    ev_timer_stop(loop, &p->rr_timer);
    rd_buf_free(&p->in);
    rd_cleanse(p->out, p->out_len); /* may hold an Authorization */
    p->out_len = p->out_sent = 0;
    p->phase = PULL_IDLE;
    p->pending = RTSP_METHOD_UNKNOWN;
    p->session[0] = '\0';
    p->play_uri[0] = '\0';
    p->stream = NULL;
    p->n_tracks = 0;
    p->have_challenge = false;
    rd_cleanse(&p->ch, sizeof(p->ch));
    p->st.playing_since = 0;
    p->gen++;
}

int
pull_conn_flush(struct puller *p)
{
    while (p->out_sent < p->out_len) {
        ssize_t n = send(p->fd, p->out + p->out_sent, p->out_len - p->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            p->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            evx_io_set_events(p->env.loop, &p->io, EV_READ | EV_WRITE);
            return RD_OK;
        }
        RD_LOG(RD_LOG_DEBUG, &p->log, "send failed errno=%d", errno);
        pull_fail(p, "closed", RD_LOG_INFO);
        return RD_EIO;
    }
    rd_cleanse(p->out, p->out_len);
    p->out_len = p->out_sent = 0;
    evx_io_set_events(p->env.loop, &p->io, EV_READ);
    return RD_OK;
}

/* ---- Media into the stream ------------------------------------------------------------- */

static void
track_note_rtp(struct pull_track *t, const uint8_t *data, size_t len, double now)
{
    struct rtp_view v;
    if (rtp_view_parse(data, len, &v) != RD_OK)
        return; /* stream.c counts it as malformed */
    if (!t->have_src || v.ssrc != t->src_ssrc) {
        t->have_src = true;
        t->src_ssrc = v.ssrc;
        rtp_seq_init(&t->seq, v.seq);
        rtp_jitter_init(&t->jit);
        t->lsr = 0;
    }
    (void)rtp_seq_update(&t->seq, v.seq);
    if (t->clock_rate > 0)
        (void)rtp_jitter_update(&t->jit, (uint64_t)(now * 1e6), v.timestamp, t->clock_rate);
}

/* The camera's sender report (for LSR/DLSR in our receiver reports). */
static void
track_note_rtcp(struct pull_track *t, const uint8_t *data, size_t len, double now)
{
    struct rtcp_iter it;
    struct rtcp_pkt pk;
    rtcp_compound_init(&it, data, len);
    while (rtcp_compound_next(&it, &pk) == 1) {
        struct rtcp_sr sr;
        if (pk.type == RTCP_SR && rtcp_sr_parse(&pk, &sr) == RD_OK && t->have_src
            && sr.ssrc == t->src_ssrc) {
            t->lsr = rtcp_ntp_mid32(sr.ntp);
            t->lsr_at = now;
        }
    }
}

static void
deliver(struct puller *p, struct pull_track *t, bool rtcp, const uint8_t *data, size_t len)
{
    if (p->stream == NULL || len == 0)
        return;
    double now = ev_now(p->env.loop);
    struct pkt *pk = pktpool_alloc(p->env.pool, len);
    if (pk == NULL) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, &p->log, 10.0, "packet pool exhausted: packet dropped");
        return;
    }
    memcpy(pk->data, data, len);
    pk->len = (uint32_t)len;
    pk->arrival_at = now;
    p->st.pkts_in++;
    p->st.bytes_in += len;
    p->delivered = true;
    if (rtcp) {
        track_note_rtcp(t, data, len, now);
        (void)stream_on_rtcp(p->stream, t->idx, pk);
    } else {
        track_note_rtp(t, data, len, now);
        p->st.last_media_at = now;
        (void)stream_on_rtp(p->stream, t->idx, pk);
    }
}

static void
flush_fanout(struct puller *p)
{
    if (p->delivered) {
        p->delivered = false;
        fanout_flush(p->env.fanout);
    }
}

/* ---- RTSP connection input -------------------------------------------------------------- */

static void
on_frame(struct puller *p, const struct rtsp_frame *f)
{
    uint8_t m = p->chan_map[f->channel];
    if (m == 0) {
        RD_LOG_RATELIMITED(RD_LOG_DEBUG, &p->log, 10.0, "frame on an unknown channel dropped ch=%u",
                           (unsigned)f->channel);
        return;
    }
    unsigned idx = (unsigned)(m & 0x7f) - 1;
    if (idx >= p->n_tracks)
        return;
    deliver(p, &p->tracks[idx], (m & 0x80) != 0, f->payload, f->payload_len);
}

/* Splits the input into items and handles each. Returns false once the connection was
 * closed by a handler (p->gen changed). */
static bool
process_input(struct puller *p)
{
    uint64_t gen = p->gen;
    struct rtsp_limits lim = rtsp_limits_default(RTSP_MSG_RESPONSE);
    while (rd_buf_len(&p->in) > 0) {
        struct rtsp_frame item;
        struct rtsp_msg msg;
        ssize_t n = rtsp_frame_next(rd_buf_head(&p->in), rd_buf_len(&p->in), RTSP_MSG_RESPONSE,
                                    &lim, &item, &msg);
        if (n == RD_AGAIN) {
            if (rd_buf_space(&p->in) == 0) { /* cannot happen with this buffer size */
                pull_fail(p, "limit", RD_LOG_WARN);
                return false;
            }
            return true;
        }
        if (n < 0) {
            char sample[LOG_SAMPLE_BUF];
            RD_LOG(RD_LOG_INFO, &p->log, "bad input from camera error=\"%s\" input=%s",
                   rtsp_msg_strerror(msg.error),
                   log_sanitize(sample, sizeof(sample), rd_buf_head(&p->in), rd_buf_len(&p->in)));
            pull_fail(p, n == RD_ELIMIT ? "limit" : "protocol", RD_LOG_DEBUG);
            return false;
        }
        switch (item.kind) {
        case RTSP_FRAME_DATA:
            on_frame(p, &item);
            break;
        case RTSP_FRAME_EMPTY:
            p->stray_bytes += (size_t)n;
            if (p->stray_bytes > RD_PULL_MAX_STRAY_BYTES) {
                RD_LOG(RD_LOG_INFO, &p->log, "too many stray bytes from camera bytes=%zu",
                       p->stray_bytes);
                pull_fail(p, "protocol", RD_LOG_DEBUG);
                return false;
            }
            break;
        case RTSP_FRAME_MSG:
            pull_on_response(p, &msg);
            if (p->gen != gen)
                return false;
            break;
        }
        rd_buf_consume(&p->in, (size_t)n);
    }
    return true;
}

static void
read_burst(struct puller *p)
{
    uint64_t gen = p->gen;
    for (unsigned i = 0; i < RD_PULL_READS_PER_WAKEUP; i++) {
        size_t avail;
        char *tail = rd_buf_tail(&p->in, &avail);
        if (avail == 0) {
            pull_fail(p, "limit", RD_LOG_WARN);
            break;
        }
        ssize_t n = recv(p->fd, tail, avail, 0);
        if (n == 0) {
            pull_fail(p, "closed", RD_LOG_INFO);
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            RD_LOG(RD_LOG_DEBUG, &p->log, "recv failed errno=%d", errno);
            pull_fail(p, "closed", RD_LOG_INFO);
            break;
        }
        rd_buf_commit(&p->in, (size_t)n);
        if (!process_input(p) || p->gen != gen)
            break;
        if ((size_t)n < avail)
            break; /* drained */
    }
    flush_fanout(p);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct puller *p = RD_CONTAINER_OF(w, struct puller, io);
    uint64_t gen = p->gen;
    if (p->phase == PULL_CONNECTING) {
        if (net_connect_result(p->fd) != RD_OK) {
            RD_LOG(RD_LOG_DEBUG, &p->log, "connect failed errno=%d", errno);
            pull_fail(p, "connect", RD_LOG_INFO);
            return;
        }
        if (net_set_nodelay(p->fd) != RD_OK)
            RD_LOG(RD_LOG_DEBUG, &p->log, "TCP_NODELAY failed errno=%d", errno);
        evx_io_set_events(p->env.loop, &p->io, EV_READ);
        pull_on_connected(p);
        return;
    }
    if ((revents & EV_WRITE) && pull_conn_flush(p) != RD_OK)
        return;
    if ((revents & EV_READ) && p->gen == gen)
        read_burst(p);
}

/* ---- UDP media -------------------------------------------------------------------------- */

int
pull_udp_open(struct puller *p, struct pull_track *t)
{
    if (p->env.ports == NULL)
        return RD_ELIMIT;
    int rc = udp_ports_open_pair(p->env.ports, t->fds, &t->udp_port);
    if (rc != RD_OK)
        return rc;
    t->udp_open = true;
    for (int i = 0; i < 2; i++) {
        t->udp[i].t = t;
        t->udp[i].rtcp = i == 1;
        ev_io_init(&t->udp[i].io, udp_io_cb, t->fds[i], EV_READ);
    }
    return RD_OK;
}

void
pull_udp_start(struct puller *p)
{
    for (unsigned i = 0; i < p->n_tracks; i++) {
        struct pull_track *t = &p->tracks[i];
        if (!t->udp_open)
            continue;
        ev_io_start(p->env.loop, &t->udp[0].io);
        ev_io_start(p->env.loop, &t->udp[1].io);
    }
}

/* Same address (not port) as the camera's RTSP connection. */
static bool
from_camera(const struct puller *p, const struct sockaddr_storage *ss)
{
    if (ss->ss_family != p->peer.ss_family)
        return false;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
        const struct sockaddr_in *b = (const struct sockaddr_in *)(const void *)&p->peer;
        return a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)(const void *)&p->peer;
        return memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
    }
    return false;
}

static void
udp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct pull_udp *u = RD_CONTAINER_OF(w, struct pull_udp, io);
    struct pull_track *t = u->t;
    struct puller *p = t->p;
    for (unsigned i = 0; i < RD_PULL_READS_PER_WAKEUP; i++) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);
        ssize_t n =
            recvfrom(w->fd, pull_dgram, sizeof(pull_dgram), 0, (struct sockaddr *)&from, &from_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                RD_LOG_RATELIMITED(RD_LOG_DEBUG, &p->log, 10.0, "udp recv failed errno=%d", errno);
            break;
        }
        if (!from_camera(p, &from)) {
            RD_LOG_RATELIMITED(RD_LOG_INFO, &p->log, 10.0,
                               "udp packet from another address than the camera dropped");
            continue;
        }
        if ((size_t)n > RD_RTP_MAX_PACKET)
            continue;
        p->udp_got = true;
        if (u->rtcp && !t->has_rtcp_dest) {
            /* no server_port in the SETUP answer: report to where its RTCP comes from */
            t->rtcp_dest = from;
            t->rtcp_dest_len = from_len;
            t->has_rtcp_dest = true;
        }
        deliver(p, t, u->rtcp, pull_dgram, (size_t)n);
    }
    flush_fanout(p);
}

/* ---- Receiver reports ------------------------------------------------------------------- */

void
pull_rr_send(struct puller *p)
{
    double now = ev_now(p->env.loop);
    bool queued = false;
    for (unsigned i = 0; i < p->n_tracks; i++) {
        struct pull_track *t = &p->tracks[i];
        if (!t->have_src)
            continue;
        struct rtcp_report_block b = {0};
        rtp_seq_fill_report(&t->seq, &b);
        b.ssrc = t->src_ssrc;
        b.jitter = rtp_jitter_value(&t->jit);
        if (t->lsr != 0) {
            double d = (now - t->lsr_at) * 65536.0;
            b.lsr = t->lsr;
            b.dlsr = d <= 0 ? 0 : d >= 4294967295.0 ? UINT32_MAX : (uint32_t)d;
        }
        uint8_t rr[4 + PULL_RR_MAX];
        int n = rtcp_build_rr(rr + 4, PULL_RR_MAX, p->rr_ssrc, &b, 1, rd_str_cstr("rtsp-relay"));
        if (n <= 0)
            continue;
        if (p->trans == CAMERA_TRANSPORT_UDP) {
            if (t->udp_open && t->has_rtcp_dest)
                (void)sendto(t->fds[1], rr + 4, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
                             (const struct sockaddr *)&t->rtcp_dest, t->rtcp_dest_len);
            continue;
        }
        /* RFC 2326 §10.12: '$', channel, 16-bit length */
        if (PULL_OUT_CAP - p->out_len < (size_t)n + 4)
            continue; /* output backed up: skip this report */
        rr[0] = '$';
        rr[1] = t->ch_rtcp;
        rr[2] = (uint8_t)((unsigned)n >> 8);
        rr[3] = (uint8_t)n;
        memcpy(p->out + p->out_len, rr, (size_t)n + 4);
        p->out_len += (size_t)n + 4;
        queued = true;
    }
    if (queued)
        (void)pull_conn_flush(p);
}
