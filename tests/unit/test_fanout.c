/* SPDX-License-Identifier: MIT */
/* fanout.c with real sockets on a real libev loop: TCP viewers over socketpairs (in-order
 * delivery, one writev per burst, partial writes resumed at any byte, RTSP control bytes
 * kept whole), the key-frame gate, a slow viewer that drops non-key packets, resyncs at a key
 * frame and never costs the fast viewer a packet, stall and behind disconnects after the
 * configured time, socket errors, UDP viewers over loopback (all packets, RTCP to the RTCP
 * port, one sendmmsg for many viewers, GSO trains), purge on unsubscribe, the join ring
 * limit, and every packet reference back in the pool at the end. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>

#include "evx.h"
#include "fanout.h"
#include "media_test.h"
#include "net.h"
#include "rd_err.h"

/* Packet flags of the synthetic GOPs below. */
#define F_KEY   (PKT_GATED | PKT_KEY_START | PKT_VCL | PKT_IRAP | PKT_AU_START)
#define F_IRAP  (PKT_GATED | PKT_VCL | PKT_IRAP)
#define F_P     (PKT_GATED | PKT_VCL | PKT_AU_START)
#define F_PS    (PKT_GATED | PKT_KEY_START | PKT_PARAM_SETS | PKT_AU_START)
#define F_AUDIO (PKT_KEY_START)

static struct {
    struct ev_loop *loop;
    struct pktpool pool;
    struct fanout *fo;
    int dead_n;
    enum fanout_dead dead_why;
    struct fanout_viewer *dead_v;
    double dead_at;
    bool free_on_dead;
} fx;

static void
on_dead(struct fanout_viewer *v, enum fanout_dead why, void *arg)
{
    (void)arg;
    fx.dead_n++;
    fx.dead_why = why;
    fx.dead_v = v;
    fx.dead_at = ev_now(fx.loop);
    assert_true(fanout_viewer_dead(v));
    if (fx.free_on_dead)
        fanout_viewer_free(v);
}

static int
setup_with(const struct fanout_cfg *cfg)
{
    memset(&fx, 0, sizeof(fx));
    fx.loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(fx.loop);
    assert_int_equal(pktpool_init(&fx.pool, NULL), RD_OK);
    assert_int_equal(fanout_new(fx.loop, &fx.pool, cfg, &fx.fo), RD_OK);
    return 0;
}

/* Most cases model one read burst per flush with packets that carry no marker bits, so the
 * frame hold is off here; test_frame_hold_whole_frames runs with the defaults. */
static int
setup(void **state)
{
    (void)state;
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.frame_hold_s = 0;
    return setup_with(&cfg);
}

static int
teardown(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    assert_int_equal(pktpool_in_use(&fx.pool), 0); /* every reference came back */
    assert_int_equal(pktpool_fini(&fx.pool), RD_OK);
    ev_loop_destroy(fx.loop);
    return 0;
}

/* A packet with a tag (its identity for the receiver), len payload bytes and flags. */
static struct pkt *
mkp_m(uint32_t tag, size_t len, uint16_t flags, bool marker)
{
    uint8_t pl[65536];
    size_t n = mt_h264(MT_AUDIO, tag, len, pl);
    struct pkt *p = mt_rtp(&fx.pool, (uint16_t)tag, tag * 3000u, 0x1234, marker, pl, n, 0);
    p->flags = flags;
    p->seq = (uint16_t)tag;
    return p;
}

static struct pkt *
mkp(uint32_t tag, size_t len, uint16_t flags)
{
    return mkp_m(tag, len, flags, false);
}

/* Offers a new packet to every sub of l and drops the test's reference; offer_end's packet
 * carries the RTP marker bit (the last packet of a video frame). */
static void
offer(struct fanout_sub_list *l, uint32_t tag, size_t len, uint16_t flags)
{
    struct pkt *p = mkp(tag, len, flags);
    fanout_deliver(l, p);
    pkt_unref(p);
}

static void
offer_end(struct fanout_sub_list *l, uint32_t tag, size_t len, uint16_t flags)
{
    struct pkt *p = mkp_m(tag, len, flags, true);
    fanout_deliver(l, p);
    pkt_unref(p);
}

/* A connected AF_UNIX stream pair, both ends non-blocking; sndbuf > 0 shrinks the sender's
 * buffer. sv[0] is the relay side. */
static void
tcp_pair(int sv[2], int sndbuf)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
    if (sndbuf > 0) {
        assert_int_equal(net_set_sndbuf(sv[0], sndbuf), RD_OK);
        int small = 4096;
        (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    }
}

static struct fanout_viewer *
tcp_viewer(int fd, struct fanout_sub **sub, struct fanout_sub_list *l, enum fanout_gate gate)
{
    struct fanout_viewer *v = fanout_viewer_new_tcp(fx.fo, fd, on_dead, NULL);
    assert_non_null(v);
    assert_int_equal(fanout_sub_new_tcp(v, 0, 1, sub), RD_OK);
    fanout_sub_attach(*sub, l, gate);
    return v;
}

static void
test_cfg_and_names(void **state)
{
    (void)state;
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    assert_true(cfg.stall_s == RD_VIEWER_STALL_S);
    assert_int_equal(cfg.queue.max_packets, RD_VIEWER_QUEUE_MAX_PACKETS);
    struct fanout *fo;
    struct fanout_cfg bad = cfg;
    bad.stall_s = 0;
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &bad, &fo), RD_EPROTO);
    bad = cfg;
    bad.queue.high_pct = 0;
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &bad, &fo), RD_EPROTO);
    bad = cfg;
    bad.udp_join_bytes_per_tick = 0;
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &bad, &fo), RD_EPROTO);
    assert_string_equal(fanout_drop_name(FANOUT_DROP_HIGH_WATER), "high_water");
    assert_string_equal(fanout_drop_name(FANOUT_DROP_N), "unknown");
    assert_string_equal(fanout_dead_name(FANOUT_DEAD_STALLED), "stalled");
    /* UDP viewers need an IPv4/IPv6 peer; subs must match the viewer kind. */
    struct sockaddr sa = {0};
    sa.sa_family = AF_UNIX;
    assert_null(fanout_viewer_new_udp(fx.fo, &sa, sizeof(sa), on_dead, NULL));
    int sv[2];
    tcp_pair(sv, 0);
    struct fanout_viewer *v = fanout_viewer_new_tcp(fx.fo, sv[0], on_dead, NULL);
    struct fanout_sub *sub;
    assert_int_equal(fanout_sub_new_udp(v, 3, 5000, 4, 5001, &sub), RD_EPROTO);
    for (int i = 0; i < FANOUT_MAX_SUBS; i++)
        assert_int_equal(fanout_sub_new_tcp(v, (uint8_t)(2 * i), (uint8_t)(2 * i + 1), &sub),
                         RD_OK);
    assert_int_equal(fanout_sub_new_tcp(v, 100, 101, &sub), RD_ELIMIT);
    fanout_sub_free(sub);
    assert_int_equal(fanout_sub_new_tcp(v, 100, 101, &sub), RD_OK); /* the slot is free again */
    assert_ptr_equal(fanout_sub_viewer(sub), v);
    assert_false(fanout_sub_attached(sub));
    fanout_viewer_free(v);
    close(sv[0]);
    close(sv[1]);
}

static void
test_tcp_in_order_one_write_per_burst(void **state)
{
    (void)state;
    int sv[2];
    tcp_pair(sv, 0);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *sub;
    struct fanout_viewer *v = tcp_viewer(sv[0], &sub, &l, FANOUT_GATE_OPEN);
    mt_loop_spin(fx.loop); /* the attach kick finds nothing to write */
    struct fanout_stats st0;
    fanout_stats(fx.fo, &st0);
    for (uint32_t burst = 0; burst < 10; burst++) {
        for (uint32_t i = 0; i < 10; i++)
            (i == 9 ? offer_end : offer)(&l, burst * 10 + i, 1000,
                                         i == 0 && burst == 0 ? F_KEY : F_P);
        fanout_flush(fx.fo);
    }
    struct pkt *sr = mkp(999, 28, PKT_RTCP);
    fanout_deliver(&l, sr);
    pkt_unref(sr);
    fanout_flush(fx.fo);
    struct fanout_stats st;
    fanout_stats(fx.fo, &st);
    /* A whole burst per writev: one system call per flush. */
    assert_int_equal(st.tcp_writes - st0.tcp_writes, 11);
    struct mt_rx rx = {0};
    mt_rx_read(&rx, sv[1], 0);
    assert_int_equal(rx.nf, 101);
    for (uint32_t i = 0; i < 100; i++) {
        assert_int_equal(rx.f[i].ch, 0);
        assert_int_equal(rx.f[i].len, 1012);
        assert_int_equal(mt_tag(rx.f[i].data, rx.f[i].len), i);
        assert_int_equal(mt_rtp_seq(rx.f[i].data), (uint16_t)i);
    }
    assert_int_equal(rx.f[100].ch, 1);
    assert_int_equal(mt_tag(rx.f[100].data, rx.f[100].len), 999);
    struct fanout_viewer_stats vs;
    fanout_viewer_stats(v, &vs);
    assert_int_equal(vs.pkts_out, 101);
    assert_int_equal(vs.bytes_out, 100 * 1016 + 44);
    assert_int_equal(vs.queue_pkts, 0);
    for (int d = 0; d < FANOUT_DROP_N; d++)
        assert_int_equal(vs.drops[d], 0);
    mt_rx_free(&rx);
    fanout_viewer_free(v);
    close(sv[0]);
    close(sv[1]);
}

/* Tags received by a TCP reader, in order. */
static size_t
rx_tags(const struct mt_rx *rx, uint32_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < rx->nf && n < cap; i++)
        out[n++] = mt_tag(rx->f[i].data, rx->f[i].len);
    return n;
}

/* A frame whose last packet (marker) has not arrived is held: one write per viewer and frame
 * across several read bursts; a frame still incomplete after frame_hold_s is written by the
 * fanout's timer; RTCP ends a hold at once. */
static void
test_frame_hold_whole_frames(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    assert_int_equal(fanout_new(fx.loop, &fx.pool, NULL, &fx.fo), RD_OK); /* the defaults */
    int sv[2];
    tcp_pair(sv, 0);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *sub;
    (void)tcp_viewer(sv[0], &sub, &l, FANOUT_GATE_OPEN);
    mt_loop_spin(fx.loop);
    struct fanout_stats st0, st;
    fanout_stats(fx.fo, &st0);
    /* One frame in three read bursts: nothing written until its marker packet. */
    offer(&l, 0, 1000, F_KEY);
    fanout_flush(fx.fo);
    offer(&l, 1, 1000, F_P & ~PKT_AU_START);
    fanout_flush(fx.fo);
    fanout_stats(fx.fo, &st);
    assert_int_equal(st.tcp_writes, st0.tcp_writes);
    offer_end(&l, 2, 1000, F_P & ~PKT_AU_START);
    fanout_flush(fx.fo);
    fanout_stats(fx.fo, &st);
    assert_int_equal(st.tcp_writes - st0.tcp_writes, 1);
    assert_int_equal(st.pkts_out - st0.pkts_out, 3);
    /* An incomplete frame is written by the hold timer after frame_hold_s. */
    offer(&l, 3, 1000, F_P);
    fanout_flush(fx.fo);
    double t0 = ev_time();
    while (ev_time() - t0 < 1.0) {
        ev_run(fx.loop, EVRUN_ONCE);
        fanout_stats(fx.fo, &st);
        if (st.pkts_out - st0.pkts_out == 4)
            break;
    }
    double waited = ev_time() - t0;
    assert_int_equal(st.pkts_out - st0.pkts_out, 4);
    assert_true(waited >= RD_FANOUT_FRAME_HOLD_MS / 1000.0 * 0.9);
    assert_true(waited < 0.5);
    /* RTCP is written at once (it ends a hold). */
    offer(&l, 4, 1000, F_P);
    struct pkt *sr = mkp(998, 28, PKT_RTCP);
    fanout_deliver(&l, sr);
    pkt_unref(sr);
    fanout_flush(fx.fo);
    fanout_stats(fx.fo, &st);
    assert_int_equal(st.pkts_out - st0.pkts_out, 6);
    struct mt_rx rx = {0};
    mt_rx_read(&rx, sv[1], 0);
    assert_int_equal(rx.nf, 6);
    mt_rx_free(&rx);
    close(sv[1]);
}

static void
test_gate_waiting_tentative_open(void **state)
{
    (void)state;
    int sv[2];
    tcp_pair(sv, 0);
    struct fanout_sub_list video, audio;
    fanout_list_init(&video);
    fanout_list_init(&audio);
    struct fanout_sub *vs, *as;
    struct fanout_viewer *v = tcp_viewer(sv[0], &vs, &video, FANOUT_GATE_WAITING);
    assert_int_equal(fanout_sub_new_tcp(v, 2, 3, &as), RD_OK);
    fanout_sub_attach(as, &audio, FANOUT_GATE_OPEN);
    offer(&video, 1, 100, F_P);    /* waiting: skipped */
    offer(&video, 2, 100, F_P);    /* skipped */
    offer(&audio, 3, 50, F_AUDIO); /* audio is never held back */
    offer(&video, 4, 100, F_PS);   /* parameter sets: tentative start */
    assert_int_equal(fanout_sub_gate(vs), FANOUT_GATE_TENTATIVE);
    offer(&video, 5, 100, F_P); /* not an IDR: the start is refuted, skipped */
    assert_int_equal(fanout_sub_gate(vs), FANOUT_GATE_WAITING);
    offer(&video, 6, 100, F_PS);                  /* tentative again */
    offer(&video, 7, 100, F_PS | PKT_PARAM_SETS); /* PPS: still tentative */
    offer(&video, 8, 100, F_IRAP);                /* the IDR slice: open */
    assert_int_equal(fanout_sub_gate(vs), FANOUT_GATE_OPEN);
    offer(&video, 9, 100, F_P);
    offer(&video, 10, 100, PKT_GATED | PKT_VCL); /* forced start flag not needed once open */
    fanout_flush(fx.fo);
    struct mt_rx rx = {0};
    mt_rx_read(&rx, sv[1], 0);
    uint32_t tags[32];
    size_t n = rx_tags(&rx, tags, 32);
    static const uint32_t expect[] = {3, 4, 6, 7, 8, 9, 10};
    assert_int_equal(n, sizeof(expect) / sizeof(expect[0]));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tags[i], expect[i]);
    assert_int_equal(rx.f[0].ch, 2); /* audio on its own channel */
    struct fanout_viewer_stats st;
    fanout_viewer_stats(v, &st);
    assert_int_equal(st.drops[FANOUT_DROP_WAIT_KEY], 3);
    assert_int_equal(st.drops[FANOUT_DROP_RESYNC], 0);
    /* A forced start opens a waiting sub fully. */
    fanout_sub_attach(vs, &video, FANOUT_GATE_WAITING);
    offer(&video, 11, 100, PKT_GATED | PKT_VCL | PKT_AU_START | PKT_KEY_FORCED);
    assert_int_equal(fanout_sub_gate(vs), FANOUT_GATE_OPEN);
    mt_rx_free(&rx);
    fanout_viewer_free(v);
    close(sv[0]);
    close(sv[1]);
}

/* GOP layout for the slow-viewer tests: 50 packets, 5 of key frame then 45 of P frames. */
#define GOP 50
static uint16_t
gop_flags(uint32_t tag)
{
    uint32_t k = tag % GOP;
    return k == 0 ? F_KEY : k < 5 ? F_IRAP : F_P;
}

static void
test_slow_viewer_drops_resyncs_fast_viewer_lossless(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.queue.max_bytes = 64 * 1024;
    cfg.queue.max_packets = 128;
    cfg.frame_hold_s = 0; /* every flush writes: the packets here carry no marker bits */
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &cfg, &fx.fo), RD_OK);
    int fast[2], slow[2];
    tcp_pair(fast, 0);
    tcp_pair(slow, 4096);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *fs, *ss;
    struct fanout_viewer *fv = tcp_viewer(fast[0], &fs, &l, FANOUT_GATE_WAITING);
    struct fanout_viewer *sv = tcp_viewer(slow[0], &ss, &l, FANOUT_GATE_WAITING);
    struct mt_rx frx = {0}, srx = {0};
    uint32_t tag = 0;
    size_t max_q = 0;
    /* 10 GOPs, 5 packets per burst; the slow viewer never reads. */
    for (; tag < 10 * GOP;) {
        for (int i = 0; i < 5; i++, tag++)
            offer(&l, tag, 1000, gop_flags(tag));
        fanout_flush(fx.fo);
        mt_loop_spin(fx.loop);
        mt_rx_read(&frx, fast[1], 0);
        struct fanout_viewer_stats st;
        fanout_viewer_stats(sv, &st);
        if (st.queue_bytes > max_q)
            max_q = st.queue_bytes;
        assert_true(st.queue_bytes <= cfg.queue.max_bytes);
        assert_true(st.queue_pkts <= cfg.queue.max_packets);
    }
    struct fanout_viewer_stats st;
    fanout_viewer_stats(sv, &st);
    assert_true(st.drops[FANOUT_DROP_HIGH_WATER] > 0);
    assert_true(st.drops[FANOUT_DROP_RESYNC] > 0);
    assert_true(st.behind);
    assert_true(max_q > cfg.queue.max_bytes / 2); /* it did fill up to the high-water mark */
    /* Above high water only key-frame packets are admitted. */
    /* The slow viewer now reads everything; 3 more GOPs follow. */
    for (uint32_t end = tag + 3 * GOP; tag < end;) {
        for (int i = 0; i < 5; i++, tag++)
            offer(&l, tag, 1000, gop_flags(tag));
        fanout_flush(fx.fo);
        for (int k = 0; k < 50; k++) {
            mt_loop_spin(fx.loop);
            mt_rx_read(&srx, slow[1], 0);
            mt_rx_read(&frx, fast[1], 0);
        }
    }
    for (int k = 0; k < 50; k++) {
        mt_loop_spin(fx.loop);
        mt_rx_read(&srx, slow[1], 0);
    }
    /* The fast viewer lost nothing. */
    assert_int_equal(frx.nf, tag);
    for (uint32_t i = 0; i < tag; i++)
        assert_int_equal(mt_tag(frx.f[i].data, frx.f[i].len), i);
    struct fanout_viewer_stats fst;
    fanout_viewer_stats(fv, &fst);
    for (int d = 0; d < FANOUT_DROP_N; d++)
        assert_int_equal(fst.drops[d], 0);
    /* The slow viewer: increasing tags; after any gap the next packet starts a key frame or
     * continues one (IRAP packets are kept above high water); it ends with the last GOP
     * complete. */
    static uint32_t tags[1000];
    size_t n = rx_tags(&srx, tags, 1000);
    assert_true(n > 0 && n < tag);
    assert_int_equal(tags[0], 0);
    for (size_t i = 1; i < n; i++) {
        assert_true(tags[i] > tags[i - 1]);
        if (tags[i] != tags[i - 1] + 1)
            assert_int_equal(tags[i] % GOP, 0); /* a gap ends at a key-frame start */
    }
    for (uint32_t i = 0; i < GOP; i++)
        assert_int_equal(tags[n - GOP + i], tag - GOP + i);
    fanout_viewer_stats(sv, &st);
    assert_true(st.resyncs >= 1);
    assert_int_equal(fx.dead_n, 0);
    mt_rx_free(&frx);
    mt_rx_free(&srx);
    fanout_viewer_free(fv);
    fanout_viewer_free(sv);
    close(fast[0]);
    close(fast[1]);
    close(slow[0]);
    close(slow[1]);
}

/* Feeds one 1000-byte packet per tick to a list (a camera at ~100 packets/s). */
struct feeder {
    ev_timer t;
    struct fanout_sub_list *l;
    uint32_t tag;
    uint32_t per_tick;
    int reader_fd; /* >= 0: reads read_per_tick bytes into rx each tick */
    size_t read_per_tick;
    struct mt_rx *rx;
    int fast_fd; /* >= 0: a normal viewer read fully each tick */
    struct mt_rx *fast_rx;
};

static void
feeder_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct feeder *f = RD_CONTAINER_OF(w, struct feeder, t);
    for (uint32_t i = 0; i < f->per_tick; i++, f->tag++)
        offer(f->l, f->tag, 1000, gop_flags(f->tag));
    fanout_flush(fx.fo);
    if (f->reader_fd >= 0)
        mt_rx_read(f->rx, f->reader_fd, f->read_per_tick);
    if (f->fast_fd >= 0)
        mt_rx_read(f->fast_rx, f->fast_fd, 0);
}

static void
run_until_dead(double max_s)
{
    ev_now_update(fx.loop);
    double end = ev_now(fx.loop) + max_s;
    while (fx.dead_n == 0 && ev_now(fx.loop) < end)
        ev_run(fx.loop, EVRUN_ONCE);
}

static void
test_stall_disconnect_after_configured_time(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.stall_s = 0.25;
    cfg.frame_hold_s = 0; /* every flush writes: the packets here carry no marker bits */
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &cfg, &fx.fo), RD_OK);
    fx.free_on_dead = true;
    int slow[2], fast[2];
    tcp_pair(slow, 4096);
    tcp_pair(fast, 0);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *ss, *fs;
    tcp_viewer(slow[0], &ss, &l, FANOUT_GATE_WAITING);
    struct fanout_viewer *fv = tcp_viewer(fast[0], &fs, &l, FANOUT_GATE_WAITING);
    struct mt_rx frx = {0};
    struct feeder f = {
        .l = &l, .per_tick = 1, .reader_fd = -1, .fast_fd = fast[1], .fast_rx = &frx};
    ev_timer_init(&f.t, feeder_cb, 0.005, 0.005);
    ev_timer_start(fx.loop, &f.t);
    ev_now_update(fx.loop);
    double start = ev_now(fx.loop);
    run_until_dead(3.0);
    assert_int_equal(fx.dead_n, 1);
    /* Its socket filled within a few ticks and nothing moved after that. */
    assert_int_equal(fx.dead_why, FANOUT_DEAD_STALLED);
    double after = fx.dead_at - start;
    assert_true(after >= cfg.stall_s);
    assert_true(after < cfg.stall_s + 0.5);
    /* The other viewer keeps getting everything. */
    mt_loop_for(fx.loop, 0.05);
    ev_timer_stop(fx.loop, &f.t);
    mt_rx_read(&frx, fast[1], 0);
    assert_int_equal(frx.nf, f.tag);
    struct fanout_stats st;
    fanout_stats(fx.fo, &st);
    assert_int_equal(st.dead[FANOUT_DEAD_STALLED], 1);
    assert_int_equal(st.viewers, 1);
    mt_rx_free(&frx);
    fanout_viewer_free(fv);
    for (int i = 0; i < 2; i++) {
        close(slow[i]);
        close(fast[i]);
    }
}

static void
test_behind_disconnect(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.stall_s = 0.25;
    cfg.queue.max_bytes = 16 * 1024;
    cfg.queue.max_packets = 64;
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &cfg, &fx.fo), RD_OK);
    fx.free_on_dead = true;
    int slow[2];
    tcp_pair(slow, 4096);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *ss;
    tcp_viewer(slow[0], &ss, &l, FANOUT_GATE_WAITING);
    struct mt_rx rx = {0};
    /* 4 packets per tick in, about one packet's worth read per tick: progress, never caught
     * up. */
    struct feeder f = {.l = &l,
                       .per_tick = 4,
                       .reader_fd = slow[1],
                       .read_per_tick = 1016,
                       .rx = &rx,
                       .fast_fd = -1};
    ev_timer_init(&f.t, feeder_cb, 0.005, 0.005);
    ev_timer_start(fx.loop, &f.t);
    ev_now_update(fx.loop);
    double start = ev_now(fx.loop);
    run_until_dead(3.0);
    ev_timer_stop(fx.loop, &f.t);
    assert_int_equal(fx.dead_n, 1);
    assert_int_equal(fx.dead_why, FANOUT_DEAD_BEHIND);
    assert_true(fx.dead_at - start >= cfg.stall_s);
    assert_true(fx.dead_at - start < cfg.stall_s + 0.5);
    assert_true(rx.total > 0); /* it was reading all along */
    mt_rx_free(&rx);
    close(slow[0]);
    close(slow[1]);
}

static void
test_io_error_reported_from_flush(void **state)
{
    (void)state;
    fx.free_on_dead = true;
    int sv[2];
    tcp_pair(sv, 0);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *sub;
    tcp_viewer(sv[0], &sub, &l, FANOUT_GATE_OPEN);
    close(sv[1]);
    offer(&l, 1, 500, F_KEY);
    assert_int_equal(fx.dead_n, 0); /* delivery never reports */
    fanout_flush(fx.fo);
    assert_int_equal(fx.dead_n, 1);
    assert_int_equal(fx.dead_why, FANOUT_DEAD_IO);
    assert_int_equal(l.n, 0); /* freed in the callback: unsubscribed */
    offer(&l, 2, 500, F_P);
    fanout_flush(fx.fo);
    assert_int_equal(fx.dead_n, 1);
    close(sv[0]);
}

/* Deterministic generator for sizes and read lengths (tests must not use rand()). */
static uint32_t
lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void
test_partial_writes_resume_at_any_byte(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.queue.max_ms = 60000; /* slow sanitizer runs must not age packets out */
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &cfg, &fx.fo), RD_OK);
    int sv[2];
    tcp_pair(sv, 4096);
    struct fanout_sub_list a, b;
    fanout_list_init(&a);
    fanout_list_init(&b);
    struct fanout_sub *sa, *sb;
    struct fanout_viewer *v = tcp_viewer(sv[0], &sa, &a, FANOUT_GATE_OPEN);
    assert_int_equal(fanout_sub_new_tcp(v, 6, 7, &sb), RD_OK);
    fanout_sub_attach(sb, &b, FANOUT_GATE_OPEN);
    struct mt_rx rx = {0};
    uint32_t seed = 12345;
    static uint32_t lens[400];
    static const char resp[] = "RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 0123456789abcdef\r\n\r\n";
    for (uint32_t tag = 0; tag < 400; tag++) {
        size_t len = tag % 97 == 3 ? 20000 + lcg(&seed) % 40000 : 8 + lcg(&seed) % 1500;
        lens[tag] = (uint32_t)len + 12;
        offer(tag % 3 == 0 ? &b : &a, tag, len, F_AUDIO);
        if (tag == 200)
            assert_int_equal(fanout_viewer_send_control(v, resp, sizeof(resp) - 1), RD_OK);
        if (tag % 4 == 3)
            fanout_flush(fx.fo);
        /* Read a small random amount, so the writer's stops land anywhere in frames. */
        mt_loop_spin(fx.loop);
        mt_rx_read(&rx, sv[1], 1 + lcg(&seed) % 700);
    }
    fanout_flush(fx.fo);
    for (int k = 0; k < 5000 && rx.nf < 400; k++) {
        mt_loop_spin(fx.loop);
        mt_rx_read(&rx, sv[1], 1 + lcg(&seed) % 3000);
    }
    assert_int_equal(rx.nf, 400);
    for (uint32_t tag = 0; tag < 400; tag++) {
        assert_int_equal(rx.f[tag].ch, tag % 3 == 0 ? 6 : 0);
        assert_int_equal(rx.f[tag].len, lens[tag]);
        assert_int_equal(mt_tag(rx.f[tag].data, rx.f[tag].len), tag);
        assert_int_equal(mt_rtp_seq(rx.f[tag].data), (uint16_t)tag);
    }
    assert_string_equal(rx.text, resp); /* whole, between two frames */
    assert_int_equal(rx.len, 0);
    struct fanout_viewer_stats st;
    fanout_viewer_stats(v, &st);
    for (int d = 0; d < FANOUT_DROP_N; d++)
        assert_int_equal(st.drops[d], 0);
    assert_int_equal(st.pkts_out, 400);
    assert_int_equal(fanout_viewer_control_pending(v), 0);
    mt_rx_free(&rx);
    fanout_viewer_free(v);
    close(sv[0]);
    close(sv[1]);
}

static void
test_control_before_join(void **state)
{
    (void)state;
    int sv[2];
    tcp_pair(sv, 0);
    struct fanout_viewer *v = fanout_viewer_new_tcp(fx.fo, sv[0], on_dead, NULL);
    struct fanout_sub *sub;
    assert_int_equal(fanout_sub_new_tcp(v, 0, 1, &sub), RD_OK);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    static const char resp[] = "RTSP/1.0 200 OK\r\nCSeq: 4\r\nRTP-Info: url=x;seq=10\r\n\r\n";
    assert_int_equal(fanout_viewer_send_control(v, resp, sizeof(resp) - 1), RD_OK);
    assert_int_equal(fanout_viewer_control_pending(v), sizeof(resp) - 1);
    fanout_sub_attach(sub, &l, FANOUT_GATE_OPEN);
    for (uint32_t i = 10; i < 15; i++) {
        struct pkt *p = mkp(i, 800, i == 10 ? F_KEY : F_IRAP);
        assert_int_equal(fanout_sub_join_pkt(sub, p), RD_OK);
        pkt_unref(p);
    }
    /* Nothing is written inside the caller's call: the write watcher does it. */
    struct mt_rx rx = {0};
    assert_int_equal(mt_rx_read(&rx, sv[1], 0), 0);
    mt_loop_spin(fx.loop);
    mt_rx_read(&rx, sv[1], 0);
    assert_string_equal(rx.text, resp);
    assert_int_equal(rx.nf, 5);
    assert_int_equal(mt_rtp_seq(rx.f[0].data), 10);
    assert_int_equal(fanout_viewer_control_pending(v), 0);
    /* A large control message spans several pool buffers and still arrives whole. */
    static char big[100000];
    memset(big, 'x', sizeof(big));
    assert_int_equal(fanout_viewer_send_control(v, big, sizeof(big)), RD_OK);
    size_t got = 0;
    char buf[8192];
    for (int k = 0; k < 1000 && got < sizeof(big); k++) {
        mt_loop_spin(fx.loop);
        ssize_t r;
        while ((r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            for (ssize_t i = 0; i < r; i++)
                assert_int_equal(buf[i], 'x');
            got += (size_t)r;
        }
    }
    assert_int_equal(got, sizeof(big));
    mt_rx_free(&rx);
    fanout_viewer_free(v);
    close(sv[0]);
    close(sv[1]);
}

static void
test_sub_free_purges_queued(void **state)
{
    (void)state;
    int sv[2];
    tcp_pair(sv, 4096);
    struct fanout_sub_list a, b;
    fanout_list_init(&a);
    fanout_list_init(&b);
    struct fanout_sub *sa, *sb;
    struct fanout_viewer *v = tcp_viewer(sv[0], &sa, &a, FANOUT_GATE_OPEN);
    assert_int_equal(fanout_sub_new_tcp(v, 2, 3, &sb), RD_OK);
    fanout_sub_attach(sb, &b, FANOUT_GATE_OPEN);
    for (uint32_t i = 0; i < 40; i++)
        offer(i % 2 ? &b : &a, i, 1000, F_AUDIO);
    fanout_flush(fx.fo); /* fills the socket; the rest stays queued */
    struct fanout_viewer_stats st;
    fanout_viewer_stats(v, &st);
    assert_true(st.queue_pkts > 4);
    uint64_t written = st.pkts_out; /* whole frames in the socket before the purge */
    uint32_t before = pktpool_in_use(&fx.pool);
    fanout_sub_free(sa);
    assert_int_equal(a.n, 0);
    fanout_viewer_stats(v, &st);
    assert_true(st.drops[FANOUT_DROP_PURGED] > 0);
    assert_int_equal(pktpool_in_use(&fx.pool), before - st.drops[FANOUT_DROP_PURGED]);
    struct mt_rx rx = {0};
    for (int k = 0; k < 200; k++) {
        mt_loop_spin(fx.loop);
        mt_rx_read(&rx, sv[1], 0);
    }
    assert_int_equal(rx.len, 0); /* the frame cut by the socket was completed */
    /* After the frames written before the purge (and the one it cut, which is finished),
     * only channel 2 follows. */
    for (size_t i = written + 1; i < rx.nf; i++)
        assert_int_equal(rx.f[i].ch, 2);
    assert_int_equal(rx.nf + st.drops[FANOUT_DROP_PURGED], 40);
    mt_rx_free(&rx);
    fanout_viewer_free(v);
    assert_int_equal(pktpool_in_use(&fx.pool), 0);
    close(sv[0]);
    close(sv[1]);
}

static void
test_viewer_free_releases_queue(void **state)
{
    (void)state;
    int sv[2];
    tcp_pair(sv, 4096);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *sub;
    struct fanout_viewer *v = tcp_viewer(sv[0], &sub, &l, FANOUT_GATE_OPEN);
    for (uint32_t i = 0; i < 30; i++)
        offer(&l, i, 1000, F_AUDIO);
    fanout_flush(fx.fo);
    assert_true(pktpool_in_use(&fx.pool) > 0);
    fanout_viewer_free(v);
    assert_int_equal(l.n, 0);
    assert_int_equal(pktpool_in_use(&fx.pool), 0);
    struct fanout_stats st;
    fanout_stats(fx.fo, &st);
    assert_true(st.drops[FANOUT_DROP_PURGED] > 0);
    assert_int_equal(st.viewers, 0);
    close(sv[0]);
    close(sv[1]);
}

static void
test_join_ring_limit(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.queue.max_packets = 16;
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &cfg, &fx.fo), RD_OK);
    int sv[2];
    tcp_pair(sv, 0);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    struct fanout_sub *sub;
    struct fanout_viewer *v = tcp_viewer(sv[0], &sub, &l, FANOUT_GATE_OPEN);
    uint32_t ring = 16 + 2 * RD_STREAM_CACHE_MAX_PACKETS + 64;
    uint32_t ok = 0;
    int rc = RD_OK;
    for (uint32_t i = 0; i < ring + 10 && rc == RD_OK; i++) {
        struct pkt *p = mkp(i, 16, i == 0 ? F_KEY : F_P);
        rc = fanout_sub_join_pkt(sub, p);
        pkt_unref(p);
        if (rc == RD_OK)
            ok++;
    }
    assert_int_equal(rc, RD_ELIMIT);
    assert_int_equal(ok, ring);
    assert_int_equal(fanout_sub_gate(sub), FANOUT_GATE_WAITING); /* resyncs at a key frame */
    struct pkt *p = mkp(99999, 16, F_KEY);
    assert_int_equal(fanout_sub_join_pkt(sub, p), RD_ELIMIT); /* the rest of the join too */
    pkt_unref(p);
    fanout_viewer_free(v);
    close(sv[0]);
    close(sv[1]);
}

/* ---- UDP ------------------------------------------------------------------------------- */

static int
udp_sock(uint16_t *port)
{
    struct rd_errbuf err = {""};
    int fd = net_udp_bind("127.0.0.1", 0, &err);
    assert_true(fd >= 0);
    int big = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (port != NULL)
        assert_int_equal(net_local_port(fd, port), RD_OK);
    return fd;
}

/* 127.0.0.1; the port is ignored (subs carry the ports). */
static struct sockaddr_in loopback_peer;

static int
setup_udp(void **state)
{
    memset(&loopback_peer, 0, sizeof(loopback_peer));
    loopback_peer.sin_family = AF_INET;
    loopback_peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return setup(state);
}

/* Receives every pending datagram of fd into tags/lens; returns the count. */
static size_t
udp_rx(int fd, uint32_t *tags, uint32_t *lens, size_t cap)
{
    static uint8_t buf[65536];
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        tags[n] = mt_tag(buf, (size_t)r);
        lens[n] = (uint32_t)r;
        n++;
    }
    return n;
}

static void
test_udp_viewer_receives_all(void **state)
{
    (void)state;
    uint16_t crtp, crtcp;
    int srtp = udp_sock(NULL), srtcp = udp_sock(NULL);
    int rrtp = udp_sock(&crtp), rrtcp = udp_sock(&crtcp);
    struct fanout_viewer *v = fanout_viewer_new_udp(fx.fo, (const struct sockaddr *)&loopback_peer,
                                                    sizeof(loopback_peer), on_dead, NULL);
    assert_non_null(v);
    struct fanout_sub *sub;
    assert_int_equal(fanout_sub_new_udp(v, srtp, 0, srtcp, crtcp, &sub), RD_EPROTO);
    assert_int_equal(fanout_sub_new_udp(v, srtp, crtp, srtcp, crtcp, &sub), RD_OK);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    fanout_sub_attach(sub, &l, FANOUT_GATE_WAITING);
    mt_loop_spin(fx.loop);
    struct fanout_stats st0;
    fanout_stats(fx.fo, &st0);
    uint32_t tag = 0;
    for (int burst = 0; burst < 20; burst++) {
        /* A frame: nine full packets and a short last one (a GSO train). */
        for (int i = 0; i < 10; i++, tag++)
            offer(&l, tag, i < 9 ? 1200 : 600, tag == 0 ? F_KEY : F_P);
        if (burst % 10 == 5) {
            struct pkt *sr = mkp(5000 + (uint32_t)burst, 40, PKT_RTCP);
            fanout_deliver(&l, sr);
            pkt_unref(sr);
        }
        fanout_flush(fx.fo);
    }
    static uint32_t tags[400], lens[400];
    size_t n = udp_rx(rrtp, tags, lens, 400);
    assert_int_equal(n, 200);
    for (uint32_t i = 0; i < 200; i++) {
        assert_int_equal(tags[i], i);
        assert_int_equal(lens[i], (i % 10 < 9 ? 1200 : 600) + 12);
    }
    n = udp_rx(rrtcp, tags, lens, 400);
    assert_int_equal(n, 2);
    assert_int_equal(tags[0], 5005);
    assert_int_equal(tags[1], 5015);
    struct fanout_viewer_stats vs;
    fanout_viewer_stats(v, &vs);
    assert_int_equal(vs.pkts_out, 202);
    assert_int_equal(vs.queue_pkts, 0);
    struct fanout_stats st;
    fanout_stats(fx.fo, &st);
    /* One sendmmsg per burst, plus one for each burst with RTCP (another socket). */
    assert_int_equal(st.udp_syscalls - st0.udp_syscalls, 22);
    if (fanout_udp_gso(fx.fo))
        assert_int_equal(st.gso_trains, 20);
    fanout_viewer_free(v);
    close(srtp);
    close(srtcp);
    close(rrtp);
    close(rrtcp);
}

static void
sendmmsg_across_viewers(bool gso)
{
    fanout_free(fx.fo);
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.udp_gso = gso;
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &cfg, &fx.fo), RD_OK);
    if (!gso)
        assert_false(fanout_udp_gso(fx.fo));
    /* One server socket pair shared by three viewers (one server_port pair for all). */
    int srtp = udp_sock(NULL), srtcp = udp_sock(NULL);
    int rx[3];
    struct fanout_viewer *v[3];
    struct fanout_sub_list l;
    fanout_list_init(&l);
    for (int i = 0; i < 3; i++) {
        uint16_t port;
        rx[i] = udp_sock(&port);
        v[i] = fanout_viewer_new_udp(fx.fo, (const struct sockaddr *)&loopback_peer,
                                     sizeof(loopback_peer), on_dead, NULL);
        struct fanout_sub *sub;
        assert_int_equal(fanout_sub_new_udp(v[i], srtp, port, srtcp, 1025, &sub), RD_OK);
        fanout_sub_attach(sub, &l, FANOUT_GATE_OPEN);
    }
    mt_loop_spin(fx.loop);
    struct fanout_stats st0;
    fanout_stats(fx.fo, &st0);
    for (uint32_t t = 0; t < 10; t++) /* one frame: its last packet carries the marker */
        (t == 9 ? offer_end : offer)(&l, t, 1000, F_P);
    fanout_flush(fx.fo);
    struct fanout_stats st;
    fanout_stats(fx.fo, &st);
    assert_int_equal(st.udp_syscalls - st0.udp_syscalls, 1); /* 3 viewers x 10, one call */
    if (fanout_udp_gso(fx.fo))
        assert_int_equal(st.gso_trains - st0.gso_trains, 3);
    for (int i = 0; i < 3; i++) {
        uint32_t tags[20], lens[20];
        assert_int_equal(udp_rx(rx[i], tags, lens, 20), 10);
        for (uint32_t t = 0; t < 10; t++)
            assert_int_equal(tags[t], t);
        fanout_viewer_free(v[i]);
        close(rx[i]);
    }
    close(srtp);
    close(srtcp);
}

static void
test_sendmmsg_batching_plain(void **state)
{
    (void)state;
    sendmmsg_across_viewers(false);
}

static void
test_sendmmsg_batching_gso(void **state)
{
    (void)state;
    sendmmsg_across_viewers(true);
}

static void
test_udp_join_is_paced(void **state)
{
    (void)state;
    fanout_free(fx.fo);
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.udp_join_bytes_per_tick = 10000;
    cfg.udp_join_tick_s = 0.01;
    assert_int_equal(fanout_new(fx.loop, &fx.pool, &cfg, &fx.fo), RD_OK);
    uint16_t port;
    int srtp = udp_sock(NULL), srtcp = udp_sock(NULL), rrtp = udp_sock(&port);
    struct fanout_viewer *v = fanout_viewer_new_udp(fx.fo, (const struct sockaddr *)&loopback_peer,
                                                    sizeof(loopback_peer), on_dead, NULL);
    struct fanout_sub *sub;
    assert_int_equal(fanout_sub_new_udp(v, srtp, port, srtcp, port + 1, &sub), RD_OK);
    struct fanout_sub_list l;
    fanout_list_init(&l);
    fanout_sub_attach(sub, &l, FANOUT_GATE_OPEN);
    /* A 100-packet cache of ~1 KB: 10 ticks at 10 KB per tick. */
    for (uint32_t t = 0; t < 100; t++) {
        struct pkt *p = mkp(t, 988, t == 0 ? F_KEY : F_P);
        assert_int_equal(fanout_sub_join_pkt(sub, p), RD_OK);
        pkt_unref(p);
    }
    static uint32_t tags[200], lens[200];
    size_t n = 0;
    mt_loop_spin(fx.loop); /* the first tick (due at once) */
    n += udp_rx(rrtp, tags + n, lens + n, 200 - n);
    assert_true(n >= 10 && n <= 11);
    /* Live packets queue behind the backlog, in order. */
    for (uint32_t t = 100; t < 105; t++)
        offer(&l, t, 988, F_P);
    fanout_flush(fx.fo);
    for (int k = 0; k < 100 && n < 105; k++) {
        mt_loop_for(fx.loop, 0.01);
        n += udp_rx(rrtp, tags + n, lens + n, 200 - n);
    }
    assert_int_equal(n, 105);
    for (uint32_t t = 0; t < 105; t++)
        assert_int_equal(tags[t], t);
    fanout_viewer_free(v);
    close(srtp);
    close(srtcp);
    close(rrtp);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cfg_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_in_order_one_write_per_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_hold_whole_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_waiting_tentative_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_viewer_drops_resyncs_fast_viewer_lossless, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stall_disconnect_after_configured_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_behind_disconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_error_reported_from_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_writes_resume_at_any_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_before_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sub_free_purges_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_viewer_free_releases_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_ring_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_viewer_receives_all, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_sendmmsg_batching_plain, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_sendmmsg_batching_gso, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_udp_join_is_paced, setup_udp, teardown),
    };
    return rd_test_run(argc, argv, "fanout", tests, sizeof(tests) / sizeof(tests[0]));
}
