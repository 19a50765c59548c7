/* SPDX-License-Identifier: MIT */
/* Fan-out micro-benchmark (a tool, not a test): one synthetic H.264 camera (25 fps, a key
 * frame every 2 s, ~16 packets of 1400 bytes per frame: ~4.5 Mbit/s, ~400 packets/s) paced in
 * real time through stream.c and fanout.c to N viewers on 127.0.0.1, over TCP (writev of the
 * '$' header plus the shared payload) or UDP (sendmmsg, with and without GSO), next to bare
 * writev / sendmmsg loops (the floor). A reader thread drains the viewers' sockets.
 *
 *   fanout_micro [-n N[,N...]] [-d seconds] [-m mode[,mode...]]
 *   modes: tcp tcp_floor udp_gso udp udp_floor udp_sendto udp_gso_floor   (default: all)
 *
 * Prints, per mode and N: packets handed to the kernel, packets received, loss, CPU seconds
 * of the fan-out thread (CLOCK_THREAD_CPUTIME_ID; with loopback sockets that includes the
 * kernel's delivery work done in the sender's context), CPU seconds per million delivered
 * packets, and the process's peak RSS. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "evx.h"
#include "fanout.h"
#include "net.h"
#include "pktpool.h"
#include "rd_err.h"
#include "stream.h"

#define FPS          25
#define GOP_FRAMES   50
#define PKTS_PER_FRM 16
#define PKT_PAYLOAD  1388 /* + 12-byte RTP header = 1400 */
#define MAX_VIEWERS  2000
#define SSRC         0x5eed1234u

/* The floors: tcp_floor = one writev of a whole frame ('$' headers + packets) per viewer;
 * udp_sendto = one sendto per packet and viewer; udp_floor = plain sendmmsg; udp_gso_floor =
 * sendmmsg of one UDP GSO train per viewer and frame (equal-sized runs of packets). */
enum mode {
    MODE_TCP,
    MODE_TCP_FLOOR,
    MODE_UDP_GSO,
    MODE_UDP,
    MODE_UDP_FLOOR,
    MODE_UDP_SENDTO,
    MODE_UDP_GSO_FLOOR,
    MODE_N
};
static const char *const mode_names[MODE_N] = {"tcp",       "tcp_floor",  "udp_gso",      "udp",
                                               "udp_floor", "udp_sendto", "udp_gso_floor"};

static bool
mode_is_floor(enum mode m)
{
    return m == MODE_TCP_FLOOR || m == MODE_UDP_FLOOR || m == MODE_UDP_SENDTO
           || m == MODE_UDP_GSO_FLOOR;
}

static void
die(const char *what)
{
    fprintf(stderr, "fanout_micro: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double
thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Reader thread: drains every viewer socket ------------------------------------------ */

struct reader {
    int ep;
    int nfds;
    bool udp;
    atomic_bool stop;
    atomic_uint_fast64_t bytes;
    atomic_uint_fast64_t dgrams;
    pthread_t th;
};

static void *
reader_main(void *arg)
{
    struct reader *r = arg;
    static uint8_t buf[256 * 1024];
    struct epoll_event ev[256];
    while (!atomic_load(&r->stop)) {
        int n = epoll_wait(r->ep, ev, 256, 20);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            for (;;) {
                ssize_t got = recv(fd, buf, r->udp ? 65536 : sizeof(buf), MSG_DONTWAIT);
                if (got <= 0)
                    break;
                atomic_fetch_add(&r->bytes, (uint_fast64_t)got);
                if (r->udp)
                    atomic_fetch_add(&r->dgrams, 1);
            }
        }
    }
    return NULL;
}

static void
reader_add(struct reader *r, int fd)
{
    struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &e) != 0)
        die("epoll_ctl");
    int big = 1 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    r->nfds++;
}

/* ---- Synthetic camera ------------------------------------------------------------------- */

struct bench {
    enum mode mode;
    int n;
    struct ev_loop *loop;
    struct pktpool pool;
    struct fanout *fo;
    struct stream *s;
    ev_timer frame_timer;
    uint32_t frame;
    uint32_t frames_total;
    uint16_t seq;
    uint32_t ts;
    double gen_cpu_s; /* CPU spent building packets (excluded from the fan-out figure) */
    /* viewers */
    int relay_fd[MAX_VIEWERS]; /* TCP: relay side */
    int peer_fd[MAX_VIEWERS];  /* reader side (TCP or UDP) */
    struct sockaddr_in peer_addr[MAX_VIEWERS];
    struct fanout_viewer *v[MAX_VIEWERS];
    int srv_rtp, srv_rtcp; /* UDP: shared server_port pair */
    /* floor counters */
    uint64_t floor_pkts;
    uint64_t floor_bytes;
    uint64_t floor_syscalls;
    struct reader rd;
};

/* The payload of packet i of a frame: SPS/PPS/IDR FU-A for key frames, P FU-A otherwise. */
static size_t
payload(uint8_t *out, bool key, unsigned i)
{
    memset(out, 0x5a, PKT_PAYLOAD);
    if (key && i == 0) {
        memcpy(out, "\x67\x64\x00\x1f\xac\xd9\x40\x50", 8);
        return 26;
    }
    if (key && i == 1) {
        memcpy(out, "\x68\xeb\xe3\xcb\x22\xc0", 6);
        return 6;
    }
    unsigned first = key ? 2 : 0;
    uint8_t type = key ? 5 : 1;
    uint8_t s = i == first ? 0x80 : 0;
    uint8_t e = i == PKTS_PER_FRM - 1 ? 0x40 : 0;
    out[0] = (uint8_t)(0x60 | 28);
    out[1] = (uint8_t)(s | e | type);
    out[2] = 0x88;
    return PKT_PAYLOAD;
}

static struct pkt *
make_pkt(struct bench *b, bool key, unsigned i)
{
    struct pkt *p = pktpool_alloc(&b->pool, 12 + PKT_PAYLOAD);
    if (p == NULL)
        return NULL;
    uint8_t *d = p->data;
    d[0] = 0x80;
    d[1] = (uint8_t)((i == PKTS_PER_FRM - 1 ? 0x80 : 0) | 96);
    d[2] = (uint8_t)(b->seq >> 8);
    d[3] = (uint8_t)b->seq;
    for (int k = 0; k < 4; k++) {
        d[4 + k] = (uint8_t)(b->ts >> (24 - 8 * k));
        d[8 + k] = (uint8_t)(SSRC >> (24 - 8 * k));
    }
    p->len = (uint32_t)(12 + payload(d + 12, key, i));
    p->arrival_at = ev_now(b->loop);
    p->seq = b->seq++;
    p->ts = b->ts;
    return p;
}

/* Bare writev / sendmmsg of a frame to every viewer: the floor the fan-out is compared to. */
static void
floor_send(struct bench *b, struct pkt **pk, unsigned n)
{
    if (b->mode == MODE_TCP_FLOOR) {
        struct iovec iov[2 * PKTS_PER_FRM];
        uint8_t hdr[PKTS_PER_FRM][4];
        size_t total = 0;
        for (unsigned i = 0; i < n; i++) {
            hdr[i][0] = '$';
            hdr[i][1] = 0;
            hdr[i][2] = (uint8_t)(pk[i]->len >> 8);
            hdr[i][3] = (uint8_t)pk[i]->len;
            iov[2 * i] = (struct iovec){hdr[i], 4};
            iov[2 * i + 1] = (struct iovec){pk[i]->data, pk[i]->len};
            total += 4 + pk[i]->len;
        }
        for (int v = 0; v < b->n; v++) {
            ssize_t w = writev(b->relay_fd[v], iov, (int)(2 * n));
            b->floor_syscalls++;
            if (w == (ssize_t)total) {
                b->floor_pkts += n;
                b->floor_bytes += total;
            }
        }
        return;
    }
    if (b->mode == MODE_UDP_SENDTO) {
        for (int v = 0; v < b->n; v++) {
            for (unsigned i = 0; i < n; i++) {
                ssize_t w =
                    sendto(b->srv_rtp, pk[i]->data, pk[i]->len, MSG_DONTWAIT,
                           (const struct sockaddr *)&b->peer_addr[v], sizeof(b->peer_addr[v]));
                b->floor_syscalls++;
                if (w == (ssize_t)pk[i]->len) {
                    b->floor_pkts++;
                    b->floor_bytes += pk[i]->len;
                }
            }
        }
        return;
    }
    if (b->mode == MODE_UDP_GSO_FLOOR) {
        /* Per viewer, runs of equal-sized packets (the last of a run may be shorter) become
         * one GSO message; all viewers' messages go out in sendmmsg chunks. */
        static struct net_dgram gd[MAX_VIEWERS * 4];
        static struct iovec giov[PKTS_PER_FRM];
        static unsigned gcount[MAX_VIEWERS * 4];
        unsigned m = 0;
        for (int v = 0; v < b->n; v++) {
            unsigned i = 0;
            while (i < n) {
                unsigned j = i + 1;
                while (j < n && pk[j]->len <= pk[i]->len && pk[j - 1]->len == pk[i]->len)
                    j++;
                for (unsigned k = i; k < j; k++)
                    giov[k] = (struct iovec){pk[k]->data, pk[k]->len};
                gd[m] = (struct net_dgram){(const struct sockaddr *)&b->peer_addr[v],
                                           sizeof(b->peer_addr[v]),
                                           &giov[i],
                                           j - i,
                                           (uint16_t)(j - i > 1 ? pk[i]->len : 0),
                                           0};
                gcount[m++] = j - i;
                i = j;
            }
        }
        unsigned done = 0;
        while (done < m) {
            int r = net_udp_sendmmsg(b->srv_rtp, gd + done, m - done);
            b->floor_syscalls += (m - done + NET_SENDMMSG_CHUNK - 1) / NET_SENDMMSG_CHUNK;
            if (r <= 0) {
                done++;
                continue;
            }
            for (int j = 0; j < r; j++) {
                b->floor_bytes += gd[done + (unsigned)j].sent;
                b->floor_pkts += gcount[done + (unsigned)j];
            }
            done += (unsigned)r;
        }
        return;
    }
    /* UDP floor: one plain datagram per packet and viewer, sendmmsg in chunks. */
    static struct net_dgram d[1024];
    static struct iovec iov[1024];
    unsigned k = 0;
    for (int v = 0; v < b->n; v++) {
        for (unsigned i = 0; i < n; i++) {
            iov[k] = (struct iovec){pk[i]->data, pk[i]->len};
            d[k] = (struct net_dgram){(const struct sockaddr *)&b->peer_addr[v],
                                      sizeof(b->peer_addr[v]),
                                      &iov[k],
                                      1,
                                      0,
                                      0};
            if (++k == 1024 || (v == b->n - 1 && i == n - 1)) {
                unsigned done = 0;
                while (done < k) {
                    int r = net_udp_sendmmsg(b->srv_rtp, d + done, k - done);
                    b->floor_syscalls += (k - done + NET_SENDMMSG_CHUNK - 1) / NET_SENDMMSG_CHUNK;
                    if (r <= 0) {
                        done++;
                        continue;
                    }
                    for (int j = 0; j < r; j++)
                        b->floor_bytes += d[done + (unsigned)j].sent;
                    b->floor_pkts += (unsigned)r;
                    done += (unsigned)r;
                }
                k = 0;
            }
        }
    }
}

static void
frame_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct bench *b = RD_CONTAINER_OF(w, struct bench, frame_timer);
    if (b->frame == b->frames_total) {
        ev_timer_stop(loop, w);
        ev_break(loop, EVBREAK_ONE);
        return;
    }
    bool key = b->frame % GOP_FRAMES == 0;
    struct pkt *pk[PKTS_PER_FRM];
    double t0 = thread_cpu_s();
    for (unsigned i = 0; i < PKTS_PER_FRM; i++)
        pk[i] = make_pkt(b, key, i);
    b->gen_cpu_s += thread_cpu_s() - t0;
    if (mode_is_floor(b->mode)) {
        floor_send(b, pk, PKTS_PER_FRM);
        for (unsigned i = 0; i < PKTS_PER_FRM; i++)
            pkt_unref(pk[i]);
    } else {
        for (unsigned i = 0; i < PKTS_PER_FRM; i++) {
            if (pk[i] != NULL)
                (void)stream_on_rtp(b->s, 0, pk[i]);
        }
        fanout_flush(b->fo);
    }
    b->ts += 90000 / FPS;
    b->frame++;
}

static void
on_dead(struct fanout_viewer *v, enum fanout_dead why, void *arg)
{
    (void)arg;
    fprintf(stderr, "viewer reported dead: %s\n", fanout_dead_name(why));
    fanout_viewer_free(v);
}

/* TCP viewers: a loopback listener, N connections; the relay side gets TCP_NODELAY and a
 * 512 KiB send buffer (SECURITY.md §2.2). */
static void
setup_tcp(struct bench *b)
{
    struct rd_errbuf err = {""};
    int lfd = net_tcp_listen("127.0.0.1", 0, 4096, &err);
    if (lfd < 0)
        die(err.msg);
    uint16_t port;
    net_local_port(lfd, &port);
    for (int i = 0; i < b->n; i++) {
        int c = net_tcp_connect("127.0.0.1", port, &err);
        if (c < 0)
            die("connect");
        int a;
        for (;;) {
            a = net_accept(lfd, NULL, NULL);
            if (a >= 0)
                break;
            if (a != RD_AGAIN)
                die("accept");
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        net_set_nodelay(a);
        net_set_sndbuf(a, 512 * 1024);
        b->relay_fd[i] = a;
        b->peer_fd[i] = c;
        reader_add(&b->rd, c);
    }
    close(lfd);
}

static void
setup_udp(struct bench *b)
{
    struct rd_errbuf err = {""};
    b->srv_rtp = net_udp_bind("127.0.0.1", 0, &err);
    b->srv_rtcp = net_udp_bind("127.0.0.1", 0, &err);
    if (b->srv_rtp < 0 || b->srv_rtcp < 0)
        die("udp bind");
    int big = 4 << 20;
    (void)setsockopt(b->srv_rtp, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    for (int i = 0; i < b->n; i++) {
        int c = net_udp_bind("127.0.0.1", 0, &err);
        if (c < 0)
            die("udp bind");
        uint16_t port;
        net_local_port(c, &port);
        memset(&b->peer_addr[i], 0, sizeof(b->peer_addr[i]));
        b->peer_addr[i].sin_family = AF_INET;
        b->peer_addr[i].sin_port = htons(port);
        b->peer_addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        b->peer_fd[i] = c;
        reader_add(&b->rd, c);
    }
}

static void
run(enum mode mode, int n, double seconds)
{
    struct bench *b = calloc(1, sizeof(*b));
    if (b == NULL)
        die("calloc");
    b->mode = mode;
    b->n = n;
    b->loop = ev_loop_new(EVFLAG_AUTO);
    b->frames_total = (uint32_t)(seconds * FPS);
    b->seq = 1000;
    b->ts = 12345;
    b->rd.ep = epoll_create1(0);
    b->rd.udp = mode >= MODE_UDP_GSO;
    if (pktpool_init(&b->pool, NULL) != RD_OK)
        die("pool");
    struct fanout_cfg cfg;
    fanout_cfg_default(&cfg);
    cfg.udp_gso = mode == MODE_UDP_GSO;
    if (fanout_new(b->loop, &b->pool, &cfg, &b->fo) != RD_OK)
        die("fanout");
    struct stream_track_cfg tc = {STREAM_CODEC_H264, 90000};
    if (stream_new(&tc, 1, NULL, &b->s) != RD_OK)
        die("stream");
    if (b->rd.udp)
        setup_udp(b);
    else
        setup_tcp(b);
    for (int i = 0; i < n && !mode_is_floor(mode); i++) {
        struct fanout_sub *sub;
        if (mode == MODE_TCP) {
            b->v[i] = fanout_viewer_new_tcp(b->fo, b->relay_fd[i], on_dead, NULL);
            fanout_sub_new_tcp(b->v[i], 0, 1, &sub);
        } else {
            b->v[i] = fanout_viewer_new_udp(b->fo, (const struct sockaddr *)&b->peer_addr[i],
                                            sizeof(b->peer_addr[i]), on_dead, NULL);
            fanout_sub_new_udp(b->v[i], b->srv_rtp, ntohs(b->peer_addr[i].sin_port), b->srv_rtcp,
                               1025, &sub);
        }
        stream_subscribe(b->s, 0, sub);
    }
    if (pthread_create(&b->rd.th, NULL, reader_main, &b->rd) != 0)
        die("pthread_create");

    ev_now_update(b->loop);
    double cpu0 = thread_cpu_s();
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    ev_timer_init(&b->frame_timer, frame_cb, 0., 1.0 / FPS);
    ev_timer_start(b->loop, &b->frame_timer);
    ev_run(b->loop, 0);
    /* Let queued TCP data drain (the write watchers run) for a moment. */
    ev_now_update(b->loop);
    for (int k = 0; k < 50; k++) {
        ev_run(b->loop, EVRUN_NOWAIT);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    double cpu = thread_cpu_s() - cpu0 - b->gen_cpu_s;
    clock_gettime(CLOCK_MONOTONIC, &w1);
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    atomic_store(&b->rd.stop, true);
    pthread_join(b->rd.th, NULL);

    uint64_t out_pkts, out_bytes;
    struct fanout_stats st;
    fanout_stats(b->fo, &st);
    if (mode_is_floor(mode)) {
        out_pkts = b->floor_pkts;
        out_bytes = b->floor_bytes;
    } else {
        out_pkts = st.pkts_out;
        out_bytes = st.bytes_out;
    }
    uint64_t sent_expected = (uint64_t)b->frames_total * PKTS_PER_FRM * (uint64_t)n;
    uint64_t rx_pkts;
    if (b->rd.udp) {
        rx_pkts = atomic_load(&b->rd.dgrams);
    } else {
        /* Bytes received over bytes per packet on the wire (4 + 1400; key frames have two
         * short parameter-set packets, so this is an estimate within 0.2 %). */
        rx_pkts = out_bytes > 0 ? (uint64_t)((double)atomic_load(&b->rd.bytes) / (double)out_bytes
                                                 * (double)out_pkts
                                             + 0.5)
                                : 0;
    }
    uint64_t drops = 0;
    for (int d = 0; d < FANOUT_DROP_N; d++)
        drops += st.drops[d];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double wall = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
    uint64_t syscalls = mode == MODE_TCP                             ? st.tcp_writes
                        : (mode == MODE_UDP || mode == MODE_UDP_GSO) ? st.udp_syscalls
                                                                     : b->floor_syscalls;
    printf("%-10s %5d %10llu %10llu %8llu %7.3f %8.3f %8.2f %9llu %7.1f %6.1f\n", mode_names[mode],
           n, (unsigned long long)out_pkts, (unsigned long long)rx_pkts,
           (unsigned long long)(sent_expected > rx_pkts ? sent_expected - rx_pkts : 0), cpu,
           out_pkts > 0 ? cpu / ((double)out_pkts / 1e6) : 0.0, (double)ru.ru_maxrss / 1024.0,
           (unsigned long long)syscalls, wall, 100.0 * cpu / wall);
    if (drops > 0)
        printf("           fan-out drops: %llu (queue policy: the reader did not keep up)\n",
               (unsigned long long)drops);
    fflush(stdout);

    for (int i = 0; i < n; i++) {
        fanout_viewer_free(b->v[i]);
        if (!b->rd.udp)
            close(b->relay_fd[i]);
        close(b->peer_fd[i]);
    }
    if (b->rd.udp) {
        close(b->srv_rtp);
        close(b->srv_rtcp);
    }
    stream_free(b->s);
    fanout_free(b->fo);
    if (pktpool_fini(&b->pool) != RD_OK)
        fprintf(stderr, "fanout_micro: packets still referenced at exit\n");
    close(b->rd.ep);
    ev_loop_destroy(b->loop);
    free(b);
}

int
main(int argc, char **argv)
{
    int ns[16] = {1, 10, 100, 300, 1000};
    int nn = 5;
    bool modes[MODE_N] = {true, true, true, true, true, true, true};
    double seconds = 4.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            nn = 0;
            for (char *t = argv[++i]; *t != '\0' && nn < 16;) {
                char *end;
                long v = strtol(t, &end, 10);
                if (end == t || v < 1 || v > MAX_VIEWERS) {
                    fprintf(stderr, "bad -n list\n");
                    return 2;
                }
                ns[nn++] = (int)v;
                t = *end == ',' ? end + 1 : end;
            }
        } else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
            if (!(seconds > 0 && seconds <= 600)) {
                fprintf(stderr, "bad -d\n");
                return 2;
            }
        } else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            memset(modes, 0, sizeof(modes));
            char *list = argv[++i];
            for (int m = 0; m < MODE_N; m++) {
                const char *p = list;
                size_t len = strlen(mode_names[m]);
                while ((p = strstr(p, mode_names[m])) != NULL) {
                    if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
                        modes[m] = true;
                    p += len;
                }
            }
        } else {
            fprintf(stderr, "usage: fanout_micro [-n N[,N...]] [-d seconds] [-m "
                            "tcp,tcp_floor,udp_gso,udp,udp_floor,udp_sendto,udp_gso_floor]\n");
            return 2;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    printf("# camera: %d fps, %d packets/frame of %d bytes (%.0f packets/s), key frame every %d "
           "frames; %.1f s per run\n",
           FPS, PKTS_PER_FRM, 12 + PKT_PAYLOAD, (double)FPS * PKTS_PER_FRM, GOP_FRAMES, seconds);
    printf("%-10s %5s %10s %10s %8s %7s %8s %8s %9s %7s %6s\n", "mode", "N", "pkts_out", "pkts_rx",
           "lost", "cpu_s", "s_per_M", "rss_MB", "syscalls", "wall_s", "cpu%");
    for (int i = 0; i < nn; i++)
        for (int m = 0; m < MODE_N; m++)
            if (modes[m])
                run((enum mode)m, ns[i], seconds);
    return 0;
}
