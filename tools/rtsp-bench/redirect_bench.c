/* SPDX-License-Identifier: MIT */
/* The redirect load engine (redirect_bench.h): connection slots, the open-loop schedule,
 * response checks per step, deadlines, and the report. Moved out of rd_redirect_bench.c so
 * rtsp-bench --redirect-only runs the very same code. */
#define _GNU_SOURCE /* IP_BIND_ADDRESS_NO_PORT */
#include "redirect_bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evx.h"
#include "rd_err.h"

#define REDIRECT_BENCH_SWEEP_S 0.05 /* deadline sweep period */

enum cstate { CS_FREE = 0, CS_CONNECTING, CS_SENDING, CS_READING, CS_WAIT_CLOSE };

struct redirect_bench_conn {
    ev_io io;
    int fd;
    enum cstate st;
    unsigned step;
    const struct redirect_bench_target *t;
    const char *out;
    size_t out_len, out_off;
    uint64_t origin_ns;  /* latency origin: scheduled time (open loop) or connect start */
    uint64_t started_ns; /* connect start: the deadline counts from here */
    uint64_t done_ns;    /* redirect received */
    bool measured;
    bool connected;
    size_t in_len;
    char in[BENCH_RESP_MAX];
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64* (Vigna): a fast camera pick; not for anything secret. */
static uint64_t
rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static bool
more_to_issue(const struct redirect_bench *b, uint64_t t)
{
    if (b->stopping)
        return false;
    if (b->total)
        return b->issued < b->total;
    return t < b->end_ns;
}

/* Ends a connection: counts err (or nothing when err < 0), closes and frees the slot. The
 * next viewer starts from the prepare watcher, never from here, so no caller up the stack
 * ever sees its struct redirect_bench_conn reused. rst: close with a reset (we close first). */
static void
conn_end(struct redirect_bench *b, struct redirect_bench_conn *c, int err, bool rst)
{
    if (err >= 0 && c->measured)
        b->tally.errors[err]++;
    ev_io_stop(b->loop, &c->io);
    if (rst) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    c->fd = -1;
    c->st = CS_FREE;
    b->free_slots[b->n_free++] = (uint32_t)(c - b->conns);
    b->inflight--;
}

/* The redirect is in: record the latency. */
static void
conn_done(struct redirect_bench *b, struct redirect_bench_conn *c, uint64_t t)
{
    c->done_ns = t;
    if (c->measured) {
        b->tally.completed++;
        bench_hist_record(&b->tally.lat, t - c->origin_ns);
        if (t > b->last_done_ns)
            b->last_done_ns = t;
    }
}

static int
errno_kind(int e, bool connected)
{
    if (!connected
        && (e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH
            || e == ECONNRESET || e == EPIPE))
        return BENCH_ERR_CONNECT;
    return BENCH_ERR_RESET;
}

/* Sends what is left of the current output. Returns RD_OK when all is sent, RD_AGAIN when
 * the socket is full, RD_EIO after ending the connection. */
static int
conn_send(struct redirect_bench *b, struct redirect_bench_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->connected = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN))
            return RD_AGAIN;
        conn_end(b, c, errno_kind(errno, c->connected), false);
        return RD_EIO;
    }
    return RD_OK;
}

/* Starts step c->step: its bytes (if any), then reading. */
static void
conn_step(struct redirect_bench *b, struct redirect_bench_conn *c)
{
    const struct redirect_bench_step *s = &b->steps[c->step];
    const struct redirect_bench_target *t = c->t;
    size_t from = s->send_first ? 0 : t->first_len;
    size_t to = s->send_second ? t->len : t->first_len;
    if (s->send_first || s->send_second) {
        c->out = t->req + from;
        c->out_len = to - from;
        c->out_off = 0;
        int rc = conn_send(b, c);
        if (rc == RD_EIO)
            return;
        if (rc == RD_AGAIN) {
            c->st = CS_SENDING;
            evx_io_set_events(b->loop, &c->io, EV_WRITE);
            return;
        }
    }
    c->st = CS_READING;
    evx_io_set_events(b->loop, &c->io, EV_READ);
}

/* Judges the buffered input. */
static void
conn_parse(struct redirect_bench *b, struct redirect_bench_conn *c)
{
    while (c->st == CS_READING && c->in_len > 0) {
        const struct redirect_bench_step *s = &b->steps[c->step];
        struct bench_expect exp = {.status = s->status,
                                   .cseq = s->cseq,
                                   .camera = c->t->camera,
                                   .strict_path = b->strict_path};
        enum bench_err err = BENCH_ERR_PARSE;
        ssize_t n = bench_resp_check(b->proto, c->in, c->in_len, &exp, &err);
        if (n == RD_AGAIN) {
            if (c->in_len == sizeof(c->in))
                conn_end(b, c, BENCH_ERR_TOO_BIG, true);
            return;
        }
        if (n < 0) {
            conn_end(b, c, (int)err, true);
            return;
        }
        memmove(c->in, c->in + n, c->in_len - (size_t)n);
        c->in_len -= (size_t)n;
        if (++c->step < b->n_steps) {
            /* Pipelined: the next response may already be buffered (no bytes to send). */
            conn_step(b, c);
            continue;
        }
        conn_done(b, c, now_ns());
        if (c->in_len > 0) {
            conn_end(b, c, BENCH_ERR_UNSOLICITED, true);
            return;
        }
        if (b->close_wait_s <= 0) {
            conn_end(b, c, -1, false);
            return;
        }
        c->st = CS_WAIT_CLOSE;
    }
}

static void
conn_read(struct redirect_bench *b, struct redirect_bench_conn *c)
{
    for (;;) {
        char *dst = c->in + c->in_len;
        size_t room = sizeof(c->in) - c->in_len;
        char sink[512];
        if (c->st == CS_WAIT_CLOSE) {
            dst = sink;
            room = sizeof(sink);
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n > 0) {
            c->connected = true;
            if (c->st == CS_WAIT_CLOSE) {
                conn_end(b, c, BENCH_ERR_UNSOLICITED, true);
                return;
            }
            c->in_len += (size_t)n;
            conn_parse(b, c);
            if (c->st == CS_FREE || c->st == CS_SENDING)
                return;
            continue;
        }
        if (n == 0) {
            conn_end(b, c, c->st == CS_WAIT_CLOSE ? -1 : BENCH_ERR_EOF, false);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        /* A reset after the redirect arrived is the server closing hard: not a failure. */
        conn_end(b, c, c->st == CS_WAIT_CLOSE ? -1 : errno_kind(errno, c->connected), false);
        return;
    }
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct redirect_bench_conn *c = RD_CONTAINER_OF(w, struct redirect_bench_conn, io);
    struct redirect_bench *b = ev_userdata(loop);
    if (revents & EV_WRITE) {
        if (c->st == CS_CONNECTING) {
            c->st = CS_SENDING;
            conn_step(b, c);
        } else if (c->st == CS_SENDING) {
            int rc = conn_send(b, c);
            if (rc == RD_OK) {
                c->st = CS_READING;
                evx_io_set_events(loop, &c->io, EV_READ);
            }
        }
        return;
    }
    if (revents & EV_READ)
        conn_read(b, c);
}

static const struct redirect_bench_target *
pick_target(struct redirect_bench *b)
{
    if (b->n_targets == 1)
        return &b->targets[0];
    uint64_t i = b->random_pick ? rng_next(&b->rng) % b->n_targets : b->pick_seq++ % b->n_targets;
    return &b->targets[i];
}

/* Opens one viewer connection whose latency counts from origin (t: now). A socket that
 * cannot even be created is counted as a local error and its slot freed at once. */
static void
conn_start(struct redirect_bench *b, uint64_t origin, uint64_t t)
{
    uint32_t slot = b->free_slots[--b->n_free];
    struct redirect_bench_conn *c = &b->conns[slot];
    c->t = pick_target(b);
    c->step = 0;
    c->in_len = 0;
    c->origin_ns = origin;
    c->started_ns = t;
    c->measured = origin >= b->measure_start_ns;
    c->connected = false;
    b->issued++;
    b->inflight++;
    if (c->measured) {
        b->tally.started++;
        if (b->rate > 0) {
            bench_hist_record(&b->start_delay, t - origin);
            if (t - origin > 1000000)
                b->late_1ms++;
        }
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        goto local;
    if (b->n_src) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
        sa.sin_addr.s_addr = htonl(b->src_base + (uint32_t)(b->next_src++ % b->n_src));
        int one = 1;
        (void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            goto local;
    }
    int rc = connect(c->fd, (struct sockaddr *)&b->dst, sizeof(b->dst));
    ev_io_init(&c->io, conn_io_cb, c->fd, EV_WRITE);
    if (rc == 0) {
        c->connected = true;
        c->st = CS_SENDING;
        conn_step(b, c);
        return;
    }
    if (errno != EINPROGRESS) {
        int kind = (errno == ECONNREFUSED) ? BENCH_ERR_CONNECT : BENCH_ERR_LOCAL;
        c->st = CS_CONNECTING;
        conn_end(b, c, kind, false);
        return;
    }
    /* On loopback the handshake has usually completed inside connect() (the peer's SYN-ACK
     * is processed in our softirq before it returns), so try the first write now and skip
     * an epoll round trip; send() answers EAGAIN while the connect is still in progress. */
    c->st = CS_SENDING;
    conn_step(b, c);
    return;
local:
    if (c->measured)
        b->tally.errors[BENCH_ERR_LOCAL]++;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->st = CS_FREE;
    b->free_slots[b->n_free++] = slot;
    b->inflight--;
}

/* Starts every viewer that is due and has a free slot. */
static void
launch_due(struct redirect_bench *b)
{
    if (b->stopping)
        return;
    uint64_t t = now_ns();
    if (b->rate <= 0) {
        /* Closed loop: keep every slot busy. A local error frees its slot at once, so stop
         * after one round of failures rather than spin. */
        size_t tries = b->n_free;
        while (b->n_free > 0 && tries-- > 0 && more_to_issue(b, t))
            conn_start(b, t, t);
        return;
    }
    uint64_t due = bench_sched_due(b->t0_ns, b->rate, t);
    if (b->total && due > b->total)
        due = b->total;
    for (;;) {
        if (b->issued >= due)
            break;
        uint64_t at = bench_sched_at(b->t0_ns, b->rate, b->issued);
        if (!b->total && at >= b->end_ns)
            break;
        if (b->n_free == 0) {
            if (due - b->issued > b->backlog_max)
                b->backlog_max = due - b->issued;
            break;
        }
        conn_start(b, at, t);
    }
}

/* Every loop iteration, before it blocks: refill freed slots, start what is due, and end
 * the run when nothing is left. */
static void
prep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct redirect_bench *b = ev_userdata(loop);
    launch_due(b);
    if (b->inflight == 0 && !more_to_issue(b, now_ns()))
        ev_break(loop, EVBREAK_ALL);
}

/* Wakes an idle loop for the open-loop schedule (the work is done in prep_cb). */
static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void
idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
}

static void
sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct redirect_bench *b = ev_userdata(loop);
    uint64_t t = now_ns();
    uint64_t timeout = (uint64_t)(b->timeout_s * 1e9);
    uint64_t wait = (uint64_t)(b->close_wait_s * 1e9);
    for (size_t i = 0; i < b->concurrency; i++) {
        struct redirect_bench_conn *c = &b->conns[i];
        if (c->st == CS_FREE)
            continue;
        if (c->st == CS_WAIT_CLOSE) {
            if (t - c->done_ns > wait) {
                if (c->measured)
                    b->tally.kept_open++;
                conn_end(b, c, -1, true);
            }
        } else if (t - c->started_ns > timeout) {
            conn_end(b, c, BENCH_ERR_TIMEOUT, true);
        }
    }
    if (b->inflight == 0 && !more_to_issue(b, t))
        ev_break(loop, EVBREAK_ALL);
}

int
redirect_bench_proc_cpu_s(int pid, double *out)
{
    char path[32], buf[1024];
    if (snprintf(path, sizeof(path), "/proc/%d/stat", pid) >= (int)sizeof(path))
        return RD_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RD_EIO;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return RD_EIO;
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold anything, so fields count from the last ')'.
     * Twelve spaces on from it comes utime (field 14), then stime (field 15). */
    const char *p = strrchr(buf, ')');
    for (int field = 3; p != NULL && field <= 14; field++)
        p = strchr(p + 1, ' ');
    if (p == NULL)
        return RD_EIO;
    char *end_u, *end_s;
    errno = 0;
    unsigned long long utime = strtoull(p, &end_u, 10);
    unsigned long long stime = strtoull(end_u, &end_s, 10);
    if (errno != 0 || end_u == p || end_s == end_u)
        return RD_EIO;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return RD_EIO;
    *out = (double)(utime + stime) / (double)hz;
    return RD_OK;
}

/* Our rusage and the server's CPU, read together at the window's start or end. */
static void
take_cpu(struct redirect_bench *b, struct rusage *ru, double *server)
{
    getrusage(RUSAGE_SELF, ru);
    if (b->server_pid > 0 && redirect_bench_proc_cpu_s(b->server_pid, server) != RD_OK)
        *server = -1;
}

static void
warm_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct redirect_bench *b = ev_userdata(loop);
    take_cpu(b, &b->ru_start, &b->server_cpu_start);
    b->ru_taken = true;
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct redirect_bench *b = ev_userdata(loop);
    if (b->stopping) /* second signal: give up on in-flight viewers */
        ev_break(loop, EVBREAK_ALL);
    b->stopping = true;
    if (b->inflight == 0)
        ev_break(loop, EVBREAK_ALL);
}

static double
tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

const char *
redirect_bench_flow_name(enum redirect_bench_flow f)
{
    switch (f) {
    case REDIRECT_FLOW_SEQUENTIAL:
        return "sequential";
    case REDIRECT_FLOW_PIPELINED:
        return "pipelined";
    case REDIRECT_FLOW_DESCRIBE:
        return "describe-only";
    case REDIRECT_FLOW_HTTP:
        return "http";
    }
    return "?";
}

void
redirect_bench_init(struct redirect_bench *b)
{
    memset(b, 0, sizeof(*b));
    b->concurrency = 32;
    b->timeout_s = 5;
    b->close_wait_s = 1;
    b->strict_path = true;
    b->random_pick = true;
    b->seed = 1;
    b->flow = REDIRECT_FLOW_SEQUENTIAL;
    b->server_cpu_start = b->server_cpu_end = -1;
    bench_tally_reset(&b->tally);
    bench_hist_reset(&b->start_delay);
}

int
redirect_bench_set_server(struct redirect_bench *b, const char *ip, unsigned port)
{
    size_t n = strlen(ip);
    if (n >= sizeof(b->host))
        return RD_ELIMIT;
    if (port == 0 || port > 65535)
        return RD_EPROTO;
    memset(&b->dst, 0, sizeof(b->dst));
    b->dst.sin_family = AF_INET;
    b->dst.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &b->dst.sin_addr) != 1)
        return RD_EPROTO;
    memcpy(b->host, ip, n + 1);
    b->port = port;
    return RD_OK;
}

int
redirect_bench_set_src(struct redirect_bench *b, const char *s)
{
    char ip[INET_ADDRSTRLEN];
    const char *dash = strchr(s, '-');
    size_t n = dash ? (size_t)(dash - s) : strlen(s);
    uint64_t count = 1;
    if (n >= sizeof(ip)
        || (dash
            && rd_str_to_u64(rd_str_cstr(dash + 1), 19, REDIRECT_BENCH_MAX_SRC, &count) != RD_OK)
        || count == 0)
        return RD_EPROTO;
    memcpy(ip, s, n);
    ip[n] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1)
        return RD_EPROTO;
    if ((uint64_t)ntohl(a.s_addr) + count - 1 > UINT32_MAX)
        return RD_EPROTO;
    b->src_base = ntohl(a.s_addr);
    b->n_src = (size_t)count;
    return RD_OK;
}

int
redirect_bench_add_camera(struct redirect_bench *b, const char *name)
{
    if (b->n_targets == b->cap_targets) {
        size_t ncap = b->cap_targets ? b->cap_targets * 2 : 16;
        struct redirect_bench_target *nt = realloc(b->targets, ncap * sizeof(*nt));
        if (!nt)
            return RD_ENOMEM;
        b->targets = nt;
        b->cap_targets = ncap;
    }
    struct redirect_bench_target *t = &b->targets[b->n_targets];
    size_t nl = strlen(name);
    if (nl == 0 || nl >= sizeof(t->name)) {
        fprintf(stderr, "redirect bench: bad camera name '%s'\n", name);
        return RD_EPROTO;
    }
    memcpy(t->name, name, nl + 1);
    enum bench_proto proto = b->flow == REDIRECT_FLOW_HTTP ? BENCH_PROTO_HTTP : BENCH_PROTO_RTSP;
    char tmp[REDIRECT_BENCH_REQ_MAX];
    int len = bench_build_requests(proto, b->host, b->port, name, tmp, sizeof(tmp), &t->first_len);
    if (len < 0) {
        fprintf(stderr, "redirect bench: cannot build requests for '%s': %s\n", name,
                rd_strstatus(len));
        return len;
    }
    t->req = malloc((size_t)len + 1);
    if (!t->req)
        return RD_ENOMEM;
    memcpy(t->req, tmp, (size_t)len + 1);
    t->len = (size_t)len;
    b->n_targets++;
    return RD_OK;
}

static void
set_steps(struct redirect_bench *b)
{
    switch (b->flow) {
    case REDIRECT_FLOW_SEQUENTIAL:
        b->steps[0] = (struct redirect_bench_step){true, false, 200, 1};
        b->steps[1] = (struct redirect_bench_step){false, true, 302, 2};
        b->n_steps = 2;
        break;
    case REDIRECT_FLOW_PIPELINED:
        b->steps[0] = (struct redirect_bench_step){true, true, 200, 1};
        b->steps[1] = (struct redirect_bench_step){false, false, 302, 2};
        b->n_steps = 2;
        break;
    case REDIRECT_FLOW_DESCRIBE:
        b->steps[0] = (struct redirect_bench_step){false, true, 302, 2};
        b->n_steps = 1;
        break;
    case REDIRECT_FLOW_HTTP:
        b->steps[0] = (struct redirect_bench_step){true, false, 302, 0};
        b->n_steps = 1;
        break;
    }
}

int
redirect_bench_run(struct redirect_bench *b)
{
    b->proto = b->flow == REDIRECT_FLOW_HTTP ? BENCH_PROTO_HTTP : BENCH_PROTO_RTSP;
    if (!b->total && b->duration_s <= 0)
        b->duration_s = 5;
    if (b->total && (b->duration_s > 0 || b->warmup_s > 0))
        return RD_EPROTO;
    set_steps(b);
    if (b->n_targets == 0) {
        int rc = redirect_bench_add_camera(b, "cam0");
        if (rc != RD_OK)
            return rc;
    }
    /* Views into the names, now that the array no longer moves. */
    for (size_t i = 0; i < b->n_targets; i++)
        b->targets[i].camera = rd_str_cstr(b->targets[i].name);

    /* Enough descriptors for every slot (the hard limit is the ceiling). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)b->concurrency + 16) {
        fprintf(stderr, "redirect bench: %u connections need more descriptors (limit %llu)\n",
                b->concurrency, (unsigned long long)rl.rlim_cur);
        return RD_ELIMIT;
    }

    b->conns = calloc(b->concurrency, sizeof(*b->conns));
    b->free_slots = calloc(b->concurrency, sizeof(*b->free_slots));
    if (!b->conns || !b->free_slots)
        return RD_ENOMEM;
    for (size_t i = 0; i < b->concurrency; i++) {
        b->conns[i].fd = -1;
        b->free_slots[b->n_free++] = (uint32_t)(b->concurrency - 1 - i);
    }
    b->rng = b->seed ? b->seed : 0x9E3779B97F4A7C15ULL;
    bench_tally_reset(&b->tally);
    bench_hist_reset(&b->start_delay);

    b->loop = ev_default_loop(EVFLAG_AUTO);
    if (!b->loop)
        return RD_ENOMEM;
    ev_set_userdata(b->loop, b);
    ev_signal_init(&b->sigint, stop_cb, SIGINT);
    ev_signal_init(&b->sigterm, stop_cb, SIGTERM);
    ev_signal_start(b->loop, &b->sigint);
    ev_signal_start(b->loop, &b->sigterm);
    ev_unref(b->loop);
    ev_unref(b->loop);

    b->t0_ns = now_ns();
    b->measure_start_ns = b->t0_ns + (uint64_t)(b->warmup_s * 1e9);
    b->end_ns = b->total ? UINT64_MAX : b->measure_start_ns + (uint64_t)(b->duration_s * 1e9);
    if (b->warmup_s > 0) {
        ev_timer_init(&b->warm, warm_cb, b->warmup_s, 0.);
        ev_timer_start(b->loop, &b->warm);
    } else {
        take_cpu(b, &b->ru_start, &b->server_cpu_start);
        b->ru_taken = true;
    }
    double tick = 0.001;
    if (b->rate > 0 && 1.0 / b->rate < tick)
        tick = 1.0 / b->rate < 0.0002 ? 0.0002 : 1.0 / b->rate;
    ev_timer_init(&b->tick, tick_cb, 0., b->rate > 0 ? tick : 0.05);
    ev_timer_start(b->loop, &b->tick);
    ev_prepare_init(&b->prep, prep_cb);
    ev_prepare_start(b->loop, &b->prep);
    if (b->spin) {
        ev_idle_init(&b->idle, idle_cb);
        ev_idle_start(b->loop, &b->idle);
    }
    ev_timer_init(&b->sweep, sweep_cb, REDIRECT_BENCH_SWEEP_S, REDIRECT_BENCH_SWEEP_S);
    ev_timer_start(b->loop, &b->sweep);

    launch_due(b);
    ev_run(b->loop, 0);

    take_cpu(b, &b->ru_end, &b->server_cpu_end);
    if (!b->ru_taken) {
        b->ru_start = b->ru_end;
        b->server_cpu_start = b->server_cpu_end;
    }
    /* Viewers cut short by a second signal are neither completed nor errors: say so. */
    b->cut = 0;
    for (size_t i = 0; i < b->concurrency; i++) {
        if (b->conns[i].st != CS_FREE && b->conns[i].measured && b->conns[i].st != CS_WAIT_CLOSE)
            b->cut++;
    }
    ev_timer_stop(b->loop, &b->tick);
    ev_timer_stop(b->loop, &b->sweep);
    ev_timer_stop(b->loop, &b->warm);
    ev_prepare_stop(b->loop, &b->prep);
    ev_idle_stop(b->loop, &b->idle);
    ev_ref(b->loop);
    ev_ref(b->loop);
    ev_signal_stop(b->loop, &b->sigint);
    ev_signal_stop(b->loop, &b->sigterm);
    return RD_OK;
}

void
redirect_bench_report(const struct redirect_bench *b, struct redirect_bench_report *r)
{
    const struct bench_tally *t = &b->tally;
    uint64_t end = b->last_done_ns > b->measure_start_ns ? b->last_done_ns : b->measure_start_ns;
    r->window_s = (double)(end - b->measure_start_ns) / 1e9;
    r->rps = r->window_s > 0 ? (double)t->completed / r->window_s : 0;
    r->cpu_user_s = tv_s(b->ru_end.ru_utime) - tv_s(b->ru_start.ru_utime);
    r->cpu_sys_s = tv_s(b->ru_end.ru_stime) - tv_s(b->ru_start.ru_stime);
    r->server_cpu_s = b->server_cpu_start >= 0 && b->server_cpu_end >= 0
                          ? b->server_cpu_end - b->server_cpu_start
                          : -1;
    r->errors = bench_tally_errors(t);
    r->p50 = (double)bench_hist_percentile(&t->lat, 50) / 1e3;
    r->p90 = (double)bench_hist_percentile(&t->lat, 90) / 1e3;
    r->p99 = (double)bench_hist_percentile(&t->lat, 99) / 1e3;
    r->p999 = (double)bench_hist_percentile(&t->lat, 99.9) / 1e3;
    r->max = (double)t->lat.max / 1e3;
    r->mean = bench_hist_mean(&t->lat) / 1e3;
}

void
redirect_bench_print(const struct redirect_bench *b, FILE *f)
{
    const struct bench_tally *t = &b->tally;
    struct redirect_bench_report rr, *r = &rr;
    redirect_bench_report(b, r);
    fprintf(f, "target      %s:%u  %s  %zu camera(s)  concurrency %u", b->host, b->port,
            redirect_bench_flow_name(b->flow), b->n_targets, b->concurrency);
    if (b->rate > 0)
        fprintf(f, "  rate %.0f/s (open loop)", b->rate);
    fprintf(f, "\ncompleted   %llu in %.3f s  =  %.0f redirects/s\n",
            (unsigned long long)t->completed, r->window_s, r->rps);
    fprintf(f, "errors      %llu", (unsigned long long)r->errors);
    for (size_t i = 0; i < BENCH_ERR_COUNT; i++) {
        if (t->errors[i])
            fprintf(f, "  %s=%llu", bench_err_name((enum bench_err)i),
                    (unsigned long long)t->errors[i]);
    }
    if (t->kept_open)
        fprintf(f, "  (kept open by server: %llu)", (unsigned long long)t->kept_open);
    fprintf(f, "\nlatency us  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
            r->p50, r->p90, r->p99, r->p999, r->max, r->mean);
    if (b->rate > 0)
        fprintf(f,
                "schedule    start delay us p50 %.1f p99 %.1f max %.1f  >1ms late: %llu  "
                "max backlog: %llu\n",
                (double)bench_hist_percentile(&b->start_delay, 50) / 1e3,
                (double)bench_hist_percentile(&b->start_delay, 99) / 1e3,
                (double)b->start_delay.max / 1e3, (unsigned long long)b->late_1ms,
                (unsigned long long)b->backlog_max);
    fprintf(f, "own cpu     user %.3f s  sys %.3f s  (%.0f%% of one core)\n", r->cpu_user_s,
            r->cpu_sys_s,
            r->window_s > 0 ? 100.0 * (r->cpu_user_s + r->cpu_sys_s) / r->window_s : 0.0);
    if (r->server_cpu_s >= 0)
        fprintf(f, "server cpu  %.3f s  (%.0f%% of one core; %.0f viewers per core-second)\n",
                r->server_cpu_s, r->window_s > 0 ? 100.0 * r->server_cpu_s / r->window_s : 0.0,
                r->server_cpu_s > 0 ? (double)b->tally.completed / r->server_cpu_s : 0.0);
    if (b->cut)
        fprintf(f, "interrupted %llu viewer(s) in flight were not counted\n",
                (unsigned long long)b->cut);
}

/* Rounds to one decimal, as the figures were always printed. */
static double
r1(double v)
{
    return round(v * 10.0) / 10.0;
}

static double
r3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

json_t *
redirect_bench_json(const struct redirect_bench *b, const char *tool, const char *pattern)
{
    const struct bench_tally *t = &b->tally;
    struct redirect_bench_report r;
    redirect_bench_report(b, &r);
    json_t *kinds = json_object();
    for (size_t i = 0; kinds && i < BENCH_ERR_COUNT; i++)
        json_object_set_new(kinds, bench_err_name((enum bench_err)i),
                            json_integer((json_int_t)t->errors[i]));
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:i, s:s, s:I, s:s, s:i, s:f, s:b, s:f, s:I, s:I, s:f, s:I, s:o, s:I}",
        "tool", tool, "label", b->label ? b->label : "", "target", b->host, "port", (int)b->port,
        "flow", redirect_bench_flow_name(b->flow), "cameras", (json_int_t)b->n_targets,
        "camera_pattern", pattern ? pattern : "", "concurrency", (int)b->concurrency, "rate",
        b->rate, "open_loop", b->rate > 0, "window_s", r.window_s, "started",
        (json_int_t)t->started, "completed", (json_int_t)t->completed, "redirects_per_s", r1(r.rps),
        "errors", (json_int_t)r.errors, "errors_by_kind", kinds, "kept_open",
        (json_int_t)t->kept_open);
    if (!o)
        return NULL;
    json_t *lat =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "p50", r1(r.p50), "p90", r1(r.p90), "p99",
                  r1(r.p99), "p99_9", r1(r.p999), "max", r1(r.max), "mean", r1(r.mean));
    json_t *sd = json_pack("{s:f, s:f, s:f}", "p50",
                           r1((double)bench_hist_percentile(&b->start_delay, 50) / 1e3), "p99",
                           r1((double)bench_hist_percentile(&b->start_delay, 99) / 1e3), "max",
                           r1((double)b->start_delay.max / 1e3));
    if (!lat || !sd || json_object_set_new(o, "latency_us", lat) != 0
        || json_object_set_new(o, "start_delay_us", sd) != 0
        || json_object_set_new(o, "late_1ms", json_integer((json_int_t)b->late_1ms)) != 0
        || json_object_set_new(o, "backlog_max", json_integer((json_int_t)b->backlog_max)) != 0
        || json_object_set_new(o, "spin", json_boolean(b->spin)) != 0
        || json_object_set_new(o, "cpu_user_s", json_real(r3(r.cpu_user_s))) != 0
        || json_object_set_new(o, "cpu_sys_s", json_real(r3(r.cpu_sys_s))) != 0
        || (r.server_cpu_s >= 0
            && json_object_set_new(o, "server_cpu_s", json_real(r3(r.server_cpu_s))) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void
redirect_bench_free(struct redirect_bench *b)
{
    for (size_t i = 0; i < b->n_targets; i++)
        free(b->targets[i].req);
    free(b->targets);
    if (b->conns) {
        for (size_t i = 0; i < b->concurrency; i++) {
            if (b->conns[i].fd >= 0)
                close(b->conns[i].fd);
        }
    }
    free(b->conns);
    free(b->free_slots);
    b->targets = NULL;
    b->conns = NULL;
    b->free_slots = NULL;
    b->n_targets = b->cap_targets = 0;
}
