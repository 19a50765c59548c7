/* SPDX-License-Identifier: MIT */
/* puller.c against a scripted fake camera served from the same event loop on 127.0.0.1: the
 * TCP happy path (packets reach the stream, on_sdp/on_state sequence, receiver reports,
 * TEARDOWN), Digest after a 401, a stale nonce, a wrong password up to the long pause,
 * redirects (followed, and refused past the cap or off the camera host), the no-media
 * watchdog, a camera closing the connection, UDP pulls and the fallback to TCP, keepalives at
 * half the session timeout, and malformed or hostile camera input. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "digest.h"
#include "fanout.h"
#include "media_test.h"
#include "net.h"
#include "puller.h"
#include "rd_err.h"
#include "rtp.h"
#include "rtsp_frame.h"
#include "rtsp_transport.h"
#include "sdp.h"
#include "stream.h"
#include "udp_ports.h"

/* ---- The fake camera ---------------------------------------------------------------------- */

enum fault {
    F_NONE,
    F_OVERSIZED,       /* DESCRIBE answer announces a 100 kB body */
    F_BAD_STATUS_LINE, /* "HTTP/1.1 200 OK" to OPTIONS */
    F_WRONG_CSEQ,      /* OPTIONS answered with another CSeq */
    F_NO_SESSION,      /* SETUP answered without Session */
    F_FOREIGN_CONTROL, /* a=control on another host */
    F_BAD_SDP,         /* not an SDP */
    F_404,             /* DESCRIBE -> 404 */
    F_SILENT_DESCRIBE, /* DESCRIBE never answered */
    F_FOREIGN_REDIRECT,
    F_UNKNOWN_CHANNEL,  /* media also on channel 9 (unmapped) */
    F_BIG_FRAME_HEADER, /* a header block over 16 KiB */
    F_UNSOLICITED,      /* a response nobody asked for while playing */
    F_FOREIGN_BASE,     /* Content-Base on another host */
    F_STRAY,            /* CRLFs before every frame, in a burst of 600 frames */
};

#define FC_MAX_CONNS 8

struct fcam;

struct fconn {
    struct fcam *cam;
    int fd;
    ev_io io;
    char in[70000];
    size_t in_len;
    bool challenged; /* a 401 went out on this connection */
    bool playing;
    bool udp;
    uint16_t client_rtp[2];
    uint8_t ch[2]; /* RTP channel per track */
    unsigned sent;
};

struct fcam {
    struct ev_loop *loop;
    int lfd;
    uint16_t port;
    ev_io lio;
    ev_timer media;
    int udp_fds[2]; /* server RTP/RTCP */
    uint16_t udp_port;
    struct fconn conns[FC_MAX_CONNS];
    /* script */
    const char *sdp;
    bool digest;
    bool basic; /* offer only Basic */
    bool stale_once;
    bool stale_done;
    int redirects; /* DESCRIBE answered with a redirect this many times (-1: always) */
    bool send_media;
    bool udp_silent; /* accept UDP SETUP, never send over UDP */
    unsigned session_timeout;
    unsigned close_after; /* close a connection after this many packets (0: never) */
    bool public_get_parameter;
    enum fault fault;
    struct digest_server srv;
    uint8_t key[32];
    char ha1[65];
    /* counters */
    unsigned n_conns, n_options, n_describe, n_setup, n_play, n_teardown, n_get_parameter,
        n_keepalive_options, n_401, n_auth_early, n_rr_tcp, n_rr_udp, n_rr_bad;
};

static void fc_send(struct fconn *c, const char *s, size_t n);

static void
fc_close(struct fconn *c)
{
    if (c->fd < 0)
        return;
    ev_io_stop(c->cam->loop, &c->io);
    close(c->fd);
    c->fd = -1;
    c->playing = false;
}

static void
fc_send(struct fconn *c, const char *s, size_t n)
{
    size_t off = 0;
    int spins = 0;
    while (off < n && c->fd >= 0) {
        ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR) && spins++ < 1000) {
            poll(NULL, 0, 1);
            continue;
        }
        fc_close(c);
        return;
    }
}

static void
fc_reply(struct fconn *c, int status, uint32_t cseq, const char *headers, const char *body)
{
    char buf[80000];
    size_t blen = body ? strlen(body) : 0;
    int n =
        snprintf(buf, sizeof(buf), "RTSP/1.0 %d X\r\nCSeq: %u\r\n%sContent-Length: %zu\r\n\r\n%s",
                 status, cseq, headers ? headers : "", blen, body ? body : "");
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    fc_send(c, buf, (size_t)n);
}

static void
fc_challenge(struct fconn *c, uint32_t cseq, bool stale)
{
    char nonce[DIGEST_NONCE_BUF], ch[512], hdr[600];
    assert_int_equal(digest_nonce_mint(&c->cam->srv, 1000, nonce, sizeof(nonce)), DIGEST_NONCE_LEN);
    assert_true(
        digest_challenge_build(&c->cam->srv, RD_HASH_MD5, rd_str_cstr(nonce), stale, ch, sizeof(ch))
        > 0);
    snprintf(hdr, sizeof(hdr), "WWW-Authenticate: %s\r\n", ch);
    c->challenged = true;
    c->cam->n_401++;
    fc_reply(c, 401, cseq, hdr, NULL);
}

/* true when the request may proceed; otherwise a 401 went out. */
static bool
fc_auth(struct fconn *c, const struct rtsp_msg *m)
{
    struct fcam *cam = c->cam;
    struct rd_str v;
    bool has = rtsp_msg_header(m, "Authorization", &v);
    if (has && !c->challenged)
        cam->n_auth_early++;
    if (cam->basic) {
        char want[300];
        assert_true(
            digest_basic_build(rd_str_cstr("admin"), rd_str_cstr("s3cret"), want, sizeof(want))
            > 0);
        if (has && rd_str_eq_cstr(v, want))
            return true;
        c->challenged = true;
        cam->n_401++;
        fc_reply(c, 401, m->cseq, "WWW-Authenticate: Basic realm=\"fakecam\"\r\n", NULL);
        return false;
    }
    if (!cam->digest)
        return true;
    if (!has) {
        fc_challenge(c, m->cseq, false);
        return false;
    }
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    struct digest_credentials cr;
    if (digest_credentials_parse(v, scratch, sizeof(scratch), &cr) != RD_OK) {
        fc_challenge(c, m->cseq, false);
        return false;
    }
    int rc = digest_verify(&cam->srv, &cr, m->method_name, m->uri, rd_str_cstr(cam->ha1), 1000);
    if (rc == RD_OK && cam->stale_once && !cam->stale_done) {
        cam->stale_done = true;
        fc_challenge(c, m->cseq, true);
        return false;
    }
    if (rc != RD_OK) {
        fc_challenge(c, m->cseq, false);
        return false;
    }
    return true;
}

static const char fc_sdp_default[] = "v=0\r\n"
                                     "o=- 1 1 IN IP4 127.0.0.1\r\n"
                                     "s=cam\r\n"
                                     "t=0 0\r\n"
                                     "a=control:*\r\n"
                                     "m=video 0 RTP/AVP 96\r\n"
                                     "a=rtpmap:96 H264/90000\r\n"
                                     "a=control:trackID=0\r\n"
                                     "m=audio 0 RTP/AVP 0\r\n"
                                     "a=control:trackID=1\r\n";

static int
fc_track_of(struct rd_str uri)
{
    if (uri.len > 0 && uri.p[uri.len - 1] == '1')
        return 1;
    return 0;
}

static void
fc_request(struct fconn *c, const struct rtsp_msg *m)
{
    struct fcam *cam = c->cam;
    char hdr[2048];
    uint32_t cseq = m->cseq;
    if (!fc_auth(c, m))
        return;
    switch (m->method) {
    case RTSP_METHOD_OPTIONS: {
        struct rd_str s;
        if (rtsp_msg_header(m, "Session", &s))
            cam->n_keepalive_options++;
        else
            cam->n_options++;
        if (cam->fault == F_BAD_STATUS_LINE) {
            fc_send(c, "HTTP/1.1 200 OK\r\n\r\n", 19);
            return;
        }
        snprintf(hdr, sizeof(hdr), "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN%s\r\n",
                 cam->public_get_parameter ? ", GET_PARAMETER" : "");
        fc_reply(c, 200, cam->fault == F_WRONG_CSEQ ? cseq + 7 : cseq, hdr, NULL);
        return;
    }
    case RTSP_METHOD_DESCRIBE: {
        cam->n_describe++;
        struct rd_str acc;
        assert_true(rtsp_msg_header(m, "Accept", &acc));
        if (cam->redirects != 0) {
            if (cam->redirects > 0)
                cam->redirects--;
            snprintf(hdr, sizeof(hdr), "Location: rtsp://%s:%u/cam?r=%u\r\n",
                     cam->fault == F_FOREIGN_REDIRECT ? "10.9.9.9" : "127.0.0.1",
                     (unsigned)cam->port, cam->n_describe);
            fc_reply(c, 302, cseq, hdr, NULL);
            return;
        }
        switch (cam->fault) {
        case F_OVERSIZED:
            snprintf(hdr, sizeof(hdr),
                     "RTSP/1.0 200 OK\r\nCSeq: %u\r\nContent-Length: 100000\r\n\r\nv=0\r\n", cseq);
            fc_send(c, hdr, strlen(hdr));
            return;
        case F_BIG_FRAME_HEADER: {
            static char big[20000];
            int n = snprintf(big, sizeof(big), "RTSP/1.0 200 OK\r\nCSeq: %u\r\n", cseq);
            for (int i = 0; i < 400; i++)
                n += snprintf(big + n, sizeof(big) - (size_t)n, "X-Pad: %040d\r\n", i);
            fc_send(c, big, (size_t)n);
            return;
        }
        case F_404:
            fc_reply(c, 404, cseq, NULL, NULL);
            return;
        case F_SILENT_DESCRIBE:
            return;
        case F_BAD_SDP:
            fc_reply(c, 200, cseq, "Content-Type: application/sdp\r\n", "hello world\r\n");
            return;
        case F_FOREIGN_CONTROL:
            fc_reply(c, 200, cseq, "Content-Type: application/sdp\r\n",
                     "v=0\r\ns=x\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                     "a=control:rtsp://10.9.9.9/track0\r\n");
            return;
        case F_FOREIGN_BASE:
            fc_reply(c, 200, cseq,
                     "Content-Type: application/sdp\r\nContent-Base: rtsp://10.9.9.9/cam/\r\n",
                     cam->sdp);
            return;
        default:
            break;
        }
        snprintf(hdr, sizeof(hdr),
                 "Content-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1:%u/cam/\r\n",
                 (unsigned)cam->port);
        fc_reply(c, 200, cseq, hdr, cam->sdp);
        return;
    }
    case RTSP_METHOD_SETUP: {
        cam->n_setup++;
        int tr = fc_track_of(m->uri);
        struct rd_str tv;
        struct rtsp_transport t;
        assert_true(rtsp_msg_header(m, "Transport", &tv));
        assert_int_equal(rtsp_transport_parse(tv.p, tv.len, &t), RD_OK);
        const char *sess = "";
        char sbuf[64];
        if (cam->fault != F_NO_SESSION) {
            if (cam->session_timeout > 0)
                snprintf(sbuf, sizeof(sbuf), "Session: FAKE42;timeout=%u\r\n",
                         cam->session_timeout);
            else
                snprintf(sbuf, sizeof(sbuf), "Session: FAKE42\r\n");
            sess = sbuf;
        }
        if (t.specs[0].lower == RTSP_TRANSPORT_UDP) {
            c->udp = true;
            c->client_rtp[tr] = t.specs[0].client_port.lo;
            snprintf(hdr, sizeof(hdr),
                     "%sTransport: RTP/AVP;unicast;client_port=%u-%u;server_port=%u-%u\r\n", sess,
                     t.specs[0].client_port.lo, t.specs[0].client_port.hi, cam->udp_port,
                     cam->udp_port + 1);
        } else {
            c->ch[tr] = (uint8_t)t.specs[0].interleaved.lo;
            snprintf(hdr, sizeof(hdr), "%sTransport: RTP/AVP/TCP;unicast;interleaved=%u-%u\r\n",
                     sess, t.specs[0].interleaved.lo, t.specs[0].interleaved.hi);
        }
        fc_reply(c, 200, cseq, hdr, NULL);
        return;
    }
    case RTSP_METHOD_PLAY:
        cam->n_play++;
        c->playing = true;
        fc_reply(c, 200, cseq, "Session: FAKE42\r\nRange: npt=0.000-\r\n", NULL);
        return;
    case RTSP_METHOD_GET_PARAMETER:
        cam->n_get_parameter++;
        fc_reply(c, 200, cseq, "Session: FAKE42\r\n", NULL);
        return;
    case RTSP_METHOD_TEARDOWN:
        cam->n_teardown++;
        c->playing = false;
        fc_reply(c, 200, cseq, NULL, NULL);
        return;
    default:
        fc_reply(c, 501, cseq, NULL, NULL);
        return;
    }
}

static void
fc_note_rr(struct fcam *cam, const uint8_t *b, size_t n, bool udp)
{
    struct rtcp_iter it;
    struct rtcp_pkt pk;
    rtcp_compound_init(&it, b, n);
    if (rtcp_compound_check(b, n) <= 0 || rtcp_compound_next(&it, &pk) != 1 || pk.type != RTCP_RR) {
        cam->n_rr_bad++;
        return;
    }
    if (udp)
        cam->n_rr_udp++;
    else
        cam->n_rr_tcp++;
}

static void
fc_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct fconn *c = (struct fconn *)(void *)((char *)w - offsetof(struct fconn, io));
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return;
        fc_close(c);
        return;
    }
    c->in_len += (size_t)n;
    size_t off = 0;
    while (off < c->in_len && c->fd >= 0) {
        struct rtsp_frame item;
        struct rtsp_msg msg;
        ssize_t k =
            rtsp_frame_next(c->in + off, c->in_len - off, RTSP_MSG_REQUEST, NULL, &item, &msg);
        if (k == RD_AGAIN)
            break;
        assert_true(k > 0);
        if (item.kind == RTSP_FRAME_DATA) {
            if (item.channel & 1)
                fc_note_rr(c->cam, item.payload, item.payload_len, false);
        } else if (item.kind == RTSP_FRAME_MSG) {
            fc_request(c, &msg);
        }
        off += (size_t)k;
    }
    if (c->fd >= 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void
fc_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct fcam *cam = (struct fcam *)(void *)((char *)w - offsetof(struct fcam, lio));
    int fd = net_accept(cam->lfd, NULL, NULL);
    if (fd < 0)
        return;
    for (int i = 0; i < FC_MAX_CONNS; i++) {
        struct fconn *c = &cam->conns[i];
        if (c->fd >= 0)
            continue;
        memset(c, 0, sizeof(*c));
        c->cam = cam;
        c->fd = fd;
        cam->n_conns++;
        ev_io_init(&c->io, fc_conn_cb, fd, EV_READ);
        ev_io_start(loop, &c->io);
        return;
    }
    close(fd);
}

/* One RTP packet per track per tick on every playing connection. */
static void
fc_media_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct fcam *cam = (struct fcam *)(void *)((char *)w - offsetof(struct fcam, media));
    if (cam->udp_fds[0] >= 0) { /* drain RRs sent to the server RTCP port */
        uint8_t b[2048];
        ssize_t n;
        while ((n = recv(cam->udp_fds[1], b, sizeof(b), MSG_DONTWAIT)) > 0)
            fc_note_rr(cam, b, (size_t)n, true);
    }
    if (!cam->send_media)
        return;
    for (int i = 0; i < FC_MAX_CONNS; i++) {
        struct fconn *c = &cam->conns[i];
        if (c->fd < 0 || !c->playing)
            continue;
        for (int tr = 0; tr < 2; tr++) {
            uint8_t pl[64], pkt[4 + 12 + 64];
            size_t n = tr == 0 ? mt_h264(c->sent % 25 == 0 ? MT_IDR : MT_P, c->sent, 40, pl)
                               : mt_h264(MT_AUDIO, c->sent, 20, pl);
            uint8_t *b = pkt + 4;
            uint16_t seq = (uint16_t)(1000 + c->sent);
            uint32_t ts = 90000 + 3600 * c->sent, ssrc = tr == 0 ? 0x11111111u : 0x22222222u;
            b[0] = 0x80;
            b[1] = (uint8_t)(tr == 0 ? 96 : 0);
            b[2] = (uint8_t)(seq >> 8);
            b[3] = (uint8_t)seq;
            for (int k = 0; k < 4; k++) {
                b[4 + k] = (uint8_t)(ts >> (24 - 8 * k));
                b[8 + k] = (uint8_t)(ssrc >> (24 - 8 * k));
            }
            memcpy(b + 12, pl, n);
            size_t len = 12 + n;
            if (c->udp) {
                if (cam->udp_silent)
                    continue;
                struct sockaddr_storage ss;
                socklen_t sl;
                assert_int_equal(net_sockaddr_make("127.0.0.1", c->client_rtp[tr], &ss, &sl),
                                 RD_OK);
                (void)sendto(cam->udp_fds[0], b, len, 0, (struct sockaddr *)&ss, sl);
                continue;
            }
            uint8_t ch = cam->fault == F_UNKNOWN_CHANNEL && tr == 1 ? 9 : c->ch[tr];
            pkt[0] = '$';
            pkt[1] = ch;
            pkt[2] = (uint8_t)(len >> 8);
            pkt[3] = (uint8_t)len;
            fc_send(c, (const char *)pkt, len + 4);
        }
        if (cam->fault == F_STRAY && c->sent == 5 && !c->udp) {
            static char burst[600 * 40];
            size_t off = 0;
            for (int k = 0; k < 600; k++) {
                memcpy(burst + off, "\r\n\r\n\r\n\r\n$\x00\x00\x0c", 12);
                memset(burst + off + 12, 0, 12);
                burst[off + 12] = (char)0x80;
                burst[off + 13] = 96;
                off += 24;
            }
            fc_send(c, burst, off);
        }
        c->sent++;
        if (cam->fault == F_UNSOLICITED && c->sent == 20)
            fc_reply(c, 200, 999, NULL, NULL);
        if (cam->close_after > 0 && c->sent >= cam->close_after)
            fc_close(c);
    }
}

static void
fc_init(struct fcam *cam, struct ev_loop *loop)
{
    memset(cam, 0, sizeof(*cam));
    cam->loop = loop;
    cam->sdp = fc_sdp_default;
    cam->send_media = true;
    cam->public_get_parameter = true;
    for (int i = 0; i < FC_MAX_CONNS; i++)
        cam->conns[i].fd = -1;
    struct rd_errbuf err;
    cam->lfd = net_tcp_listen("127.0.0.1", 0, 16, &err);
    assert_true(cam->lfd >= 0);
    assert_int_equal(net_local_port(cam->lfd, &cam->port), RD_OK);
    ev_io_init(&cam->lio, fc_accept_cb, cam->lfd, EV_READ);
    ev_io_start(loop, &cam->lio);
    ev_timer_init(&cam->media, fc_media_cb, 0.01, 0.01);
    ev_timer_start(loop, &cam->media);
    cam->udp_fds[0] = cam->udp_fds[1] = -1;
    for (uint16_t port = 50000; port < 52000; port += 2) {
        if (net_udp_bind_pair("127.0.0.1", port, cam->udp_fds, &err) == RD_OK) {
            cam->udp_port = port;
            break;
        }
    }
    assert_true(cam->udp_fds[0] >= 0);
    memset(cam->key, 0x42, sizeof(cam->key));
    cam->srv.realm = rd_str_cstr("fakecam");
    cam->srv.key = cam->key;
    cam->srv.key_len = sizeof(cam->key);
    assert_true(digest_ha1_hex(RD_HASH_MD5, rd_str_cstr("admin"), rd_str_cstr("fakecam"),
                               rd_str_cstr("s3cret"), cam->ha1, sizeof(cam->ha1))
                > 0);
}

static void
fc_fini(struct fcam *cam)
{
    for (int i = 0; i < FC_MAX_CONNS; i++)
        fc_close(&cam->conns[i]);
    ev_io_stop(cam->loop, &cam->lio);
    ev_timer_stop(cam->loop, &cam->media);
    close(cam->lfd);
    close(cam->udp_fds[0]);
    close(cam->udp_fds[1]);
}

/* ---- Fixture ------------------------------------------------------------------------------ */

#define MAX_STATES 64

static struct {
    struct ev_loop *loop;
    struct pktpool pool;
    struct fanout *fo;
    struct udp_ports *ports;
    struct fcam cam;
    struct puller *p;
    struct stream *s;
    struct puller_timings tm;
    struct camera_source src;
    unsigned n_sdp;
    bool refuse_sdp;
    uint64_t pkts_before;
    unsigned n_states;
    enum puller_state states[MAX_STATES];
    const char *whys[MAX_STATES];
    double delays[MAX_STATES]; /* retry_at - now when the state was reported */
    ev_timer tick;
} fx;

static struct stream *
on_sdp(void *arg, const char *raw, size_t len, const struct sdp *sdp)
{
    (void)arg;
    (void)raw;
    (void)len;
    fx.n_sdp++;
    if (fx.refuse_sdp)
        return NULL;
    if (fx.s != NULL && stream_track_count(fx.s) == sdp->n_media) {
        stream_upstream_restart(fx.s);
        return fx.s;
    }
    stream_free(fx.s);
    fx.s = NULL;
    struct stream_track_cfg cfg[RD_SDP_MAX_MEDIA];
    for (unsigned i = 0; i < sdp->n_media; i++) {
        struct sdp_codec c;
        cfg[i].codec = STREAM_CODEC_OTHER;
        cfg[i].clock_rate = 8000;
        if (sdp_media_codec(&sdp->media[i], &c) == RD_OK) {
            if (c.id == SDP_CODEC_H264)
                cfg[i].codec = STREAM_CODEC_H264;
            if (c.clock_rate > 0)
                cfg[i].clock_rate = c.clock_rate;
        }
    }
    assert_int_equal(stream_new(cfg, sdp->n_media, NULL, &fx.s), RD_OK);
    return fx.s;
}

static void
on_state(void *arg, enum puller_state st, const char *why)
{
    (void)arg;
    if (fx.n_states < MAX_STATES) {
        struct puller_stats ps;
        puller_stats(fx.p, &ps);
        fx.delays[fx.n_states] = ps.retry_at > 0 ? ps.retry_at - ev_now(fx.loop) : 0;
        fx.states[fx.n_states] = st;
        fx.whys[fx.n_states] = why;
        fx.n_states++;
    }
}

static const struct puller_cb cbs = {on_sdp, on_state};

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static int
setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(pktpool_init(&fx.pool, NULL), RD_OK);
    assert_int_equal(fanout_new(fx.loop, &fx.pool, NULL, &fx.fo), RD_OK);
    uint16_t lo = (uint16_t)(40000 + (getpid() % 500) * 20);
    struct rd_errbuf err;
    assert_int_equal(udp_ports_new("127.0.0.1", lo, (uint16_t)(lo + 19), &fx.ports, &err), RD_OK);
    fc_init(&fx.cam, fx.loop);
    puller_timings_default(&fx.tm);
    fx.tm.connect_timeout_s = 1;
    fx.tm.step_timeout_s = 0.5;
    fx.tm.no_media_s = 0.4;
    fx.tm.udp_fallback_s = 0.25;
    fx.tm.backoff_min_s = 0.05;
    fx.tm.backoff_max_s = 0.2;
    fx.tm.auth_pause_s = 60;
    fx.tm.refused_pause_s = 60;
    fx.tm.rr_interval_s = 0.1;
    snprintf(fx.src.id, sizeof(fx.src.id), "cam1");
    snprintf(fx.src.url, sizeof(fx.src.url), "rtsp://127.0.0.1:%u/cam", (unsigned)fx.cam.port);
    fx.src.enabled = true;
    ev_timer_init(&fx.tick, tick_cb, 0.01, 0.01);
    ev_timer_start(fx.loop, &fx.tick);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    puller_free(fx.p);
    fc_fini(&fx.cam);
    stream_free(fx.s);
    fanout_free(fx.fo);
    assert_int_equal(pktpool_in_use(&fx.pool), 0);
    assert_int_equal(pktpool_fini(&fx.pool), RD_OK);
    assert_int_equal(udp_ports_in_use(fx.ports), 0);
    udp_ports_free(fx.ports);
    ev_loop_destroy(fx.loop);
    return 0;
}

static void
start(void)
{
    struct puller_env env = {
        .loop = fx.loop,
        .pool = &fx.pool,
        .fanout = fx.fo,
        .ports = fx.ports,
        .user_agent = "rtsp-director-relay/test",
        .timings = &fx.tm,
    };
    assert_int_equal(puller_new(&env, &fx.src, &cbs, NULL, &fx.p), RD_OK);
    assert_int_equal(fx.n_states, 0); /* never a callback from puller_new */
}

/* Runs the loop until cond() holds or timeout_s passes; returns cond(). */
static bool
run_until(bool (*cond)(void), double timeout_s)
{
    double end = ev_time() + timeout_s;
    while (!cond() && ev_time() < end)
        ev_run(fx.loop, EVRUN_ONCE);
    return cond();
}

static void
run_for(double s)
{
    double end = ev_time() + s;
    while (ev_time() < end)
        ev_run(fx.loop, EVRUN_ONCE);
}

static uint64_t
track_pkts(unsigned t)
{
    struct stream_track_stats ts;
    if (fx.s == NULL || stream_track_stats(fx.s, t, &ts) != RD_OK)
        return 0;
    return ts.pkts_in;
}

static enum puller_state
cur_state(void)
{
    struct puller_stats st;
    puller_stats(fx.p, &st);
    return st.state;
}

static bool
is_playing_with_media(void)
{
    return cur_state() == PULLER_PLAYING && track_pkts(0) >= 20 && track_pkts(1) >= 20;
}

static bool
is_playing(void)
{
    return cur_state() == PULLER_PLAYING;
}

static bool
is_failed(void)
{
    return cur_state() == PULLER_FAILED;
}

static bool
is_retrying(void)
{
    return cur_state() == PULLER_RETRYING;
}

static const char *
last_why(void)
{
    return fx.n_states ? fx.whys[fx.n_states - 1] : NULL;
}

static unsigned
count_state(enum puller_state st)
{
    unsigned n = 0;
    for (unsigned i = 0; i < fx.n_states; i++)
        n += fx.states[i] == st;
    return n;
}

/* ---- Cases -------------------------------------------------------------------------------- */

static bool
have_rrs(void)
{
    return fx.cam.n_rr_tcp >= 2 && fx.cam.n_rr_udp + fx.cam.n_rr_tcp >= 2;
}

static void
test_happy_tcp(void **state)
{
    (void)state;
    start();
    assert_true(run_until(is_playing_with_media, 3));
    assert_int_equal(fx.n_sdp, 1);
    assert_int_equal(fx.n_states, 1);
    assert_int_equal(fx.states[0], PULLER_PLAYING);
    assert_null(fx.whys[0]);
    assert_int_equal(fx.cam.n_conns, 1);
    assert_int_equal(fx.cam.n_options, 1);
    assert_int_equal(fx.cam.n_describe, 1);
    assert_int_equal(fx.cam.n_setup, 2);
    assert_int_equal(fx.cam.n_play, 1);
    assert_int_equal(fx.cam.n_auth_early, 0);
    assert_true(run_until(have_rrs, 2)); /* receiver reports on channels 1 and 3 */
    assert_int_equal(fx.cam.n_rr_bad, 0);
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.reconnects, 0);
    assert_int_equal(st.transport, CAMERA_TRANSPORT_TCP);
    assert_true(st.pkts_in >= 40);
    assert_true(st.bytes_in > 0);
    assert_true(st.playing_since > 0);
    assert_true(st.last_media_at > 0);
    assert_null(st.last_error);
    assert_string_equal(puller_state_name(st.state), "playing");
    puller_kick(fx.p); /* no-op while playing */
    puller_free(fx.p);
    fx.p = NULL;
    run_for(0.1);
    assert_int_equal(fx.cam.n_teardown, 1);
}

static void
test_digest(void **state)
{
    (void)state;
    fx.cam.digest = true;
    snprintf(fx.src.user, sizeof(fx.src.user), "admin");
    snprintf(fx.src.password, sizeof(fx.src.password), "s3cret");
    start();
    assert_true(run_until(is_playing_with_media, 3));
    assert_int_equal(fx.cam.n_401, 1); /* one challenge, then every request answered */
    assert_int_equal(fx.cam.n_auth_early, 0);
    assert_int_equal(fx.cam.n_conns, 1);
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.auth_failures, 0);
    puller_free(fx.p);
    fx.p = NULL;
    run_for(0.1);
    assert_int_equal(fx.cam.n_teardown, 1); /* TEARDOWN authenticated too */
}

static void
test_basic(void **state)
{
    (void)state;
    fx.cam.basic = true;
    snprintf(fx.src.user, sizeof(fx.src.user), "admin");
    snprintf(fx.src.password, sizeof(fx.src.password), "s3cret");
    start();
    assert_true(run_until(is_playing_with_media, 3));
    assert_int_equal(fx.cam.n_401, 1);
    assert_int_equal(fx.cam.n_auth_early, 0);
}

static void
test_digest_stale(void **state)
{
    (void)state;
    fx.cam.digest = true;
    fx.cam.stale_once = true;
    snprintf(fx.src.user, sizeof(fx.src.user), "admin");
    snprintf(fx.src.password, sizeof(fx.src.password), "s3cret");
    start();
    assert_true(run_until(is_playing_with_media, 3));
    assert_true(fx.cam.stale_done);
    assert_int_equal(fx.cam.n_401, 2);
    assert_int_equal(fx.cam.n_conns, 1);
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.auth_failures, 0);
    assert_int_equal(st.attempts, 1);
}

static void
test_wrong_password(void **state)
{
    (void)state;
    fx.cam.digest = true;
    snprintf(fx.src.user, sizeof(fx.src.user), "admin");
    snprintf(fx.src.password, sizeof(fx.src.password), "wrong");
    start();
    assert_true(run_until(is_failed, 3));
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.auth_failures, 3);
    assert_int_equal(st.attempts, 3);
    assert_string_equal(st.last_error, "auth");
    assert_string_equal(last_why(), "auth");
    assert_int_equal(count_state(PULLER_RETRYING), 2);
    assert_int_equal(fx.cam.n_conns, 3);
    assert_int_equal(fx.cam.n_401, 6); /* each attempt: challenge, then the refusal */
    assert_int_equal(fx.cam.n_auth_early, 0);
    /* the long pause: neither time nor a kick starts another attempt */
    puller_kick(fx.p);
    run_for(0.5);
    puller_stats(fx.p, &st);
    assert_int_equal(st.attempts, 3);
    assert_int_equal(st.state, PULLER_FAILED);
    assert_true(st.auth_paused);
    assert_true(st.retry_at > ev_now(fx.loop) + 50); /* auth_pause_s = 60 */
    assert_int_equal(fx.cam.n_conns, 3);
    /* a new source (new password) starts again at once */
    snprintf(fx.src.password, sizeof(fx.src.password), "s3cret");
    puller_update_source(fx.p, &fx.src);
    assert_true(run_until(is_playing_with_media, 3));
}

static void
test_no_credentials(void **state)
{
    (void)state;
    fx.cam.digest = true;
    start();
    assert_true(run_until(is_retrying, 2));
    assert_string_equal(last_why(), "auth");
    assert_int_equal(fx.cam.n_auth_early, 0);
}

static void
test_redirect_followed(void **state)
{
    (void)state;
    fx.cam.redirects = 3;
    start();
    assert_true(run_until(is_playing_with_media, 3));
    assert_int_equal(fx.cam.n_describe, 4);
    assert_int_equal(fx.cam.n_conns, 4);
    assert_int_equal(fx.n_sdp, 1);
}

static void
test_redirect_too_many(void **state)
{
    (void)state;
    fx.cam.redirects = -1;
    start();
    assert_true(run_until(is_retrying, 3));
    assert_string_equal(last_why(), "redirect");
    assert_int_equal(fx.cam.n_describe, 4); /* 3 followed, the 4th refused */
    assert_int_equal(fx.n_sdp, 0);
}

static void
test_redirect_foreign_host(void **state)
{
    (void)state;
    fx.cam.redirects = -1;
    fx.cam.fault = F_FOREIGN_REDIRECT;
    start();
    assert_true(run_until(is_retrying, 3));
    assert_string_equal(last_why(), "redirect");
    assert_int_equal(fx.cam.n_describe, 1);
}

static bool
replayed(void)
{
    return fx.n_sdp >= 2 && is_playing_with_media();
}

static bool
replayed_more(void)
{
    return replayed() && track_pkts(0) >= fx.pkts_before + 10;
}

static void
test_no_media(void **state)
{
    (void)state;
    fx.cam.send_media = false;
    start();
    assert_true(run_until(is_playing, 2));
    assert_true(run_until(is_retrying, 2));
    assert_string_equal(last_why(), "no_media");
    fx.cam.send_media = true;
    assert_true(run_until(replayed, 3));
    assert_true(fx.cam.n_teardown >= 1); /* the dead session was torn down */
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.reconnects, 1);
}

static void
test_camera_closes(void **state)
{
    (void)state;
    fx.cam.close_after = 30;
    start();
    assert_true(run_until(is_playing, 2));
    assert_true(run_until(is_retrying, 2));
    assert_string_equal(last_why(), "closed");
    fx.pkts_before = track_pkts(0);
    assert_true(run_until(replayed_more, 3));
    /* PLAYING, RETRYING(closed), STARTING, PLAYING, ... */
    assert_int_equal(fx.states[0], PULLER_PLAYING);
    assert_int_equal(fx.states[1], PULLER_RETRYING);
    assert_int_equal(fx.states[2], PULLER_STARTING);
    assert_int_equal(fx.states[3], PULLER_PLAYING);
    assert_true(fx.cam.n_conns >= 2);
}

static void
test_backoff_grows(void **state)
{
    (void)state;
    /* a camera that is not there: connect refused, backoff 0.05 -> 0.1 -> 0.2 -> 0.2 */
    snprintf(fx.src.url, sizeof(fx.src.url), "rtsp://127.0.0.1:1/cam");
    start();
    /* Until the fourth RETRYING (not a fixed time: a loaded machine runs fewer iterations). */
    double end = ev_time() + 5;
    while (count_state(PULLER_RETRYING) < 4 && ev_time() < end)
        ev_run(fx.loop, EVRUN_ONCE);
    assert_true(count_state(PULLER_RETRYING) >= 4);
    struct puller_stats st;
    puller_stats(fx.p, &st);
    /* One attempt per backoff: without the backoff there would be hundreds by now. */
    assert_true(st.attempts >= 4);
    assert_true(st.attempts <= 5);
    assert_string_equal(st.last_error, "connect");
    assert_int_equal(st.state, PULLER_RETRYING);
    /* RETRYING, STARTING, RETRYING, ...: 0.05, 0.1, 0.2, 0.2 (max) each +-20 % */
    static const double want[] = {0.05, 0.1, 0.2, 0.2};
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(fx.states[2 * i], PULLER_RETRYING);
        double d = fx.delays[2 * i];
        if (d < want[i] * 0.79 || d > want[i] * 1.21)
            fail_msg("delay %u is %f, want %f +-20%%", i, d, want[i]);
    }
    /* a kick skips the pending backoff */
    uint64_t a = st.attempts;
    puller_kick(fx.p);
    ev_run(fx.loop, EVRUN_NOWAIT);
    ev_run(fx.loop, EVRUN_NOWAIT);
    puller_stats(fx.p, &st);
    assert_true(st.attempts > a);
}

/* A session that played longer than backoff_reset_s starts the backoff over. */
static void
test_backoff_reset(void **state)
{
    (void)state;
    fx.tm.backoff_reset_s = 0.1;
    fx.tm.backoff_max_s = 5;
    fx.cam.close_after = 20; /* 0.2 s of media per session */
    start();
    double end = ev_time() + 4;
    while (count_state(PULLER_RETRYING) < 4 && ev_time() < end)
        ev_run(fx.loop, EVRUN_ONCE);
    assert_true(count_state(PULLER_RETRYING) >= 4);
    for (unsigned i = 0; i < fx.n_states; i++) {
        if (fx.states[i] != PULLER_RETRYING)
            continue;
        assert_string_equal(fx.whys[i], "closed");
        if (fx.delays[i] > 0.05 * 1.21)
            fail_msg("delay %f after a long session: backoff not reset", fx.delays[i]);
    }
}

static void
test_oversized_response(void **state)
{
    (void)state;
    fx.cam.fault = F_OVERSIZED;
    start();
    assert_true(run_until(is_retrying, 2));
    assert_string_equal(last_why(), "limit");
    assert_int_equal(fx.n_sdp, 0);
}

static void
test_header_block_too_big(void **state)
{
    (void)state;
    fx.cam.fault = F_BIG_FRAME_HEADER;
    start();
    assert_true(run_until(is_retrying, 2));
    assert_string_equal(last_why(), "limit");
}

static bool
udp_media(void)
{
    struct puller_stats st;
    puller_stats(fx.p, &st);
    return is_playing_with_media() && st.transport == CAMERA_TRANSPORT_UDP && fx.cam.n_rr_udp >= 2;
}

static void
test_udp(void **state)
{
    (void)state;
    fx.src.transport = CAMERA_TRANSPORT_UDP;
    start();
    assert_true(run_until(udp_media, 3));
    assert_int_equal(udp_ports_in_use(fx.ports), 2);
    assert_int_equal(fx.n_sdp, 1);
    assert_int_equal(fx.cam.n_rr_bad, 0);
    puller_free(fx.p);
    fx.p = NULL;
    assert_int_equal(udp_ports_in_use(fx.ports), 0);
}

static uint64_t
pkts_in(void)
{
    struct puller_stats st;
    puller_stats(fx.p, &st);
    return st.pkts_in;
}

/* UDP media is accepted only from the camera's address (the RTSP peer). */
static void
test_udp_foreign_source(void **state)
{
    (void)state;
    fx.src.transport = CAMERA_TRANSPORT_UDP;
    start();
    assert_true(run_until(is_playing_with_media, 3));
    fx.cam.send_media = false;
    run_for(0.05);
    uint64_t before = pkts_in();
    struct fconn *c = &fx.cam.conns[0];
    assert_true(c->udp);
    uint8_t pkt[64];
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0x80;
    pkt[1] = 96;
    struct sockaddr_storage ss;
    socklen_t sl;
    assert_int_equal(net_sockaddr_make("127.0.0.1", c->client_rtp[0], &ss, &sl), RD_OK);
    struct rd_errbuf err;
    int other = net_udp_bind("127.0.0.2", 0, &err);
    if (other >= 0) { /* Linux routes all of 127/8 to lo */
        for (int i = 0; i < 5; i++)
            assert_int_equal(sendto(other, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl),
                             (ssize_t)sizeof(pkt));
        run_for(0.05);
        assert_int_equal(pkts_in(), before);
        close(other);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(sendto(fx.cam.udp_fds[0], pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl),
                         (ssize_t)sizeof(pkt));
    run_for(0.05);
    assert_int_equal(pkts_in(), before + 5);
}

static bool
tcp_after_udp(void)
{
    struct puller_stats st;
    puller_stats(fx.p, &st);
    return fx.n_sdp >= 2 && st.transport == CAMERA_TRANSPORT_TCP && is_playing_with_media();
}

static void
test_udp_fallback(void **state)
{
    (void)state;
    fx.src.transport = CAMERA_TRANSPORT_UDP;
    fx.cam.udp_silent = true;
    start();
    assert_true(run_until(is_playing, 2));
    assert_true(run_until(tcp_after_udp, 3));
    assert_int_equal(fx.states[0], PULLER_PLAYING);
    assert_int_equal(fx.states[1], PULLER_STARTING);
    assert_string_equal(fx.whys[1], "no_udp");
    assert_int_equal(udp_ports_in_use(fx.ports), 0);
    /* TCP is remembered: a reconnect stays on TCP */
    fx.cam.close_after = fx.cam.conns[1].sent + 5;
    run_for(0.5);
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.transport, CAMERA_TRANSPORT_TCP);
}

static bool
keepalive_seen(void)
{
    return fx.cam.n_get_parameter >= 1;
}

static void
test_keepalive(void **state)
{
    (void)state;
    fx.cam.session_timeout = 1; /* clamped to RD_PULL_SESSION_TIMEOUT_MIN_S (2): every 1 s */
    start();
    assert_true(run_until(is_playing_with_media, 2));
    uint64_t before = track_pkts(0);
    assert_int_equal(fx.cam.n_get_parameter, 0);
    assert_true(run_until(keepalive_seen, 2));
    run_for(0.1);
    assert_true(is_playing());
    assert_true(track_pkts(0) > before);
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.keepalives, 1);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(fx.n_states, 1);
}

static bool
options_keepalive_seen(void)
{
    return fx.cam.n_keepalive_options >= 1;
}

static void
test_keepalive_options(void **state)
{
    (void)state;
    fx.cam.session_timeout = 2;
    fx.cam.public_get_parameter = false;
    start();
    assert_true(run_until(is_playing, 2));
    assert_true(run_until(options_keepalive_seen, 2));
    assert_int_equal(fx.cam.n_get_parameter, 0);
    run_for(0.1);
    assert_true(is_playing());
}

/* Malformed or hostile camera input: each fails the attempt with its reason, never crashes. */
static void
test_malformed(void **state)
{
    (void)state;
    static const struct {
        enum fault f;
        const char *why;
        enum puller_state st;
    } cases[] = {
        {F_BAD_STATUS_LINE, "protocol", PULLER_RETRYING},
        {F_WRONG_CSEQ, "protocol", PULLER_RETRYING},
        {F_NO_SESSION, "protocol", PULLER_RETRYING},
        {F_FOREIGN_CONTROL, "protocol", PULLER_RETRYING},
        {F_FOREIGN_BASE, "protocol", PULLER_RETRYING},
        {F_BAD_SDP, "sdp", PULLER_RETRYING},
        {F_404, "status_404", PULLER_FAILED},
        {F_SILENT_DESCRIBE, "timeout", PULLER_RETRYING},
        {F_UNSOLICITED, "protocol", PULLER_RETRYING},
        {F_STRAY, "protocol", PULLER_RETRYING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        puller_free(fx.p);
        fx.p = NULL;
        fx.n_states = 0;
        fx.cam.fault = cases[i].f;
        start();
        enum puller_state want = cases[i].st;
        double end = ev_time() + 3;
        while (cur_state() != want && ev_time() < end)
            ev_run(fx.loop, EVRUN_ONCE);
        assert_int_equal(cur_state(), want);
        if (strcmp(last_why(), cases[i].why) != 0)
            fail_msg("case %zu: why %s, want %s", i, last_why(), cases[i].why);
    }
}

static void
test_unknown_channel_ignored(void **state)
{
    (void)state;
    fx.cam.fault = F_UNKNOWN_CHANNEL;
    start();
    assert_true(run_until(is_playing, 2));
    run_for(0.3);
    assert_true(is_playing());
    assert_true(track_pkts(0) >= 10);
    assert_int_equal(track_pkts(1), 0); /* its packets went to channel 9: dropped */
}

static void
test_sdp_refused_by_owner(void **state)
{
    (void)state;
    fx.refuse_sdp = true;
    start();
    assert_true(run_until(is_retrying, 2));
    assert_string_equal(last_why(), "sdp");
    assert_int_equal(fx.cam.n_setup, 0);
    fx.refuse_sdp = false;
    assert_true(run_until(is_playing_with_media, 3));
    assert_int_equal(fx.n_sdp, 2);
}

static void
test_bad_urls(void **state)
{
    (void)state;
    struct puller_env env = {.loop = fx.loop, .pool = &fx.pool, .fanout = fx.fo, .timings = &fx.tm};
    static const char *const bad[] = {
        "rtsp://camera.local/x",
        "rtsps://127.0.0.1/x",
        "http://127.0.0.1/x",
        "rtsp://u:p@127.0.0.1/x",
        "",
        "rtsp://127.0.0.1:99999/x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct camera_source s = fx.src;
        snprintf(s.url, sizeof(s.url), "%s", bad[i]);
        struct puller *p = NULL;
        assert_int_equal(puller_new(&env, &s, &cbs, NULL, &p), RD_EPROTO);
        assert_null(p);
    }
    struct puller_timings t = fx.tm;
    t.backoff_max_s = 0.01; /* below the minimum */
    env.timings = &t;
    struct puller *p = NULL;
    assert_int_equal(puller_new(&env, &fx.src, &cbs, NULL, &p), RD_EPROTO);
    /* defaults are the rd_limits.h values */
    puller_timings_default(&t);
    assert_true(t.step_timeout_s == RD_PULL_STEP_TIMEOUT_S);
    assert_true(t.auth_pause_s == RD_PULL_AUTH_PAUSE_S);
    assert_int_equal(t.auth_fails_max, RD_PULL_AUTH_FAILS_MAX);
    /* an update to an unusable URL: FAILED "url" */
    start();
    assert_true(run_until(is_playing, 2));
    struct camera_source s = fx.src;
    snprintf(s.url, sizeof(s.url), "rtsp://camera.local/x");
    puller_update_source(fx.p, &s);
    assert_true(run_until(is_failed, 2));
    assert_string_equal(last_why(), "url");
}

int
main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_happy_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_too_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_foreign_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_media, setup, teardown),
        cmocka_unit_test_setup_teardown(test_camera_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_block_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_foreign_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_channel_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sdp_refused_by_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
    };
    return rd_test_run(argc, argv, "tests", tests, sizeof(tests) / sizeof(tests[0]));
}
