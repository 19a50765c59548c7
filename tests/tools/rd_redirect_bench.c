/* SPDX-License-Identifier: MIT */
/* rd_redirect_bench: redirect load generator. Each viewer is a NEW TCP connection that sends
 * OPTIONS then DESCRIBE (sequential or pipelined; or one HTTP GET for the nginx baseline),
 * checks the 302 and its Location, and waits for the server to close. One libev loop,
 * non-blocking sockets; closed loop (-c in flight) or open loop (--rate, latency from the
 * scheduled send time). Run with --help for the options. */
#define _GNU_SOURCE /* getopt_long, IP_BIND_ADDRESS_NO_PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_resp.h"
#include "bench_stats.h"
#include "evx.h"
#include "rd_err.h"
#include "rd_limits.h"

/* Caps of this tool (not of the daemons): how many distinct cameras it precomputes requests
 * for, how many source addresses it rotates over, and connections in flight. */
#define BENCH_MAX_CAMERAS  1000000
#define BENCH_MAX_SRC      65536
#define BENCH_MAX_INFLIGHT 65536
#define BENCH_REQ_MAX      1024 /* both request texts of one camera */
#define BENCH_SWEEP_S      0.05 /* deadline sweep period */

enum flow {
    FLOW_SEQUENTIAL, /* OPTIONS, wait for 200, DESCRIBE (what ffmpeg and GStreamer do) */
    FLOW_PIPELINED,  /* OPTIONS and DESCRIBE in one write */
    FLOW_DESCRIBE,   /* DESCRIBE only */
    FLOW_HTTP        /* one GET (nginx baseline) */
};

/* One step of a viewer: bytes to send (a range of the camera's request text, possibly
 * empty) and the response expected after them. */
struct step {
    bool send_first;  /* send [0, first_len) */
    bool send_second; /* send [first_len, len) */
    int status;
    uint32_t cseq;
};

struct target {
    char *req; /* owned */
    size_t len, first_len;
    struct rd_str camera; /* view into name, set once every target is added */
    char name[RD_CAMERA_ID_MAX * 4 + 1];
};

enum cstate { CS_FREE = 0, CS_CONNECTING, CS_SENDING, CS_READING, CS_WAIT_CLOSE };

struct conn {
    ev_io io;
    int fd;
    enum cstate st;
    unsigned step;
    const struct target *t;
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

struct bench {
    struct ev_loop *loop;
    /* options */
    const char *host;
    unsigned port;
    enum flow flow;
    enum bench_proto proto;
    unsigned concurrency;
    uint64_t total;    /* 0: use duration */
    double duration_s; /* measured seconds (after warmup) when total == 0 */
    double warmup_s;
    double rate; /* 0: closed loop */
    double timeout_s;
    double close_wait_s; /* 0: close as soon as the redirect is in */
    bool strict_path;
    bool random_pick;
    uint64_t seed;
    const char *json_path;
    const char *label;
    bool quiet;
    bool spin; /* never sleep: schedule to the microsecond at the cost of a busy core */
    /* targets */
    struct target *targets;
    size_t n_targets;
    struct sockaddr_in dst;
    uint32_t src_base; /* first source address, host order */
    size_t n_src, next_src;
    struct step steps[2];
    unsigned n_steps;
    /* run state */
    struct conn *conns;
    uint32_t *free_slots;
    size_t n_free;
    uint64_t t0_ns, measure_start_ns, end_ns; /* end_ns: no new viewer scheduled after */
    uint64_t issued;                          /* viewers started (all, warmup included) */
    uint64_t pick_seq, rng;
    bool stopping;
    uint64_t inflight;
    uint64_t backlog_max; /* open loop: most viewers due but waiting for a slot */
    uint64_t late_1ms;    /* open loop: measured viewers started > 1 ms after schedule */
    uint64_t last_done_ns;
    struct rusage ru_start;
    bool ru_taken;
    struct bench_tally tally;
    struct bench_hist start_delay; /* open loop: connect start - scheduled time, ns */
    ev_timer tick, sweep, warm;
    ev_prepare prep;
    ev_idle idle;
    ev_signal sigint, sigterm;
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
more_to_issue(const struct bench *b, uint64_t t)
{
    if (b->stopping)
        return false;
    if (b->total)
        return b->issued < b->total;
    return t < b->end_ns;
}

/* Ends a connection: counts err (or nothing when err < 0), closes and frees the slot. The
 * next viewer starts from the prepare watcher, never from here, so no caller up the stack
 * ever sees its struct conn reused. rst: close with a reset (we close first). */
static void
conn_end(struct bench *b, struct conn *c, int err, bool rst)
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
conn_done(struct bench *b, struct conn *c, uint64_t t)
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
conn_send(struct bench *b, struct conn *c)
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
conn_step(struct bench *b, struct conn *c)
{
    const struct step *s = &b->steps[c->step];
    const struct target *t = c->t;
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
conn_parse(struct bench *b, struct conn *c)
{
    while (c->st == CS_READING && c->in_len > 0) {
        const struct step *s = &b->steps[c->step];
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
conn_read(struct bench *b, struct conn *c)
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
    struct conn *c = RD_CONTAINER_OF(w, struct conn, io);
    struct bench *b = ev_userdata(loop);
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

static const struct target *
pick_target(struct bench *b)
{
    if (b->n_targets == 1)
        return &b->targets[0];
    uint64_t i = b->random_pick ? rng_next(&b->rng) % b->n_targets : b->pick_seq++ % b->n_targets;
    return &b->targets[i];
}

/* Opens one viewer connection whose latency counts from origin (t: now). A socket that
 * cannot even be created is counted as a local error and its slot freed at once. */
static void
conn_start(struct bench *b, uint64_t origin, uint64_t t)
{
    uint32_t slot = b->free_slots[--b->n_free];
    struct conn *c = &b->conns[slot];
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
launch_due(struct bench *b)
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
    struct bench *b = ev_userdata(loop);
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
    struct bench *b = ev_userdata(loop);
    uint64_t t = now_ns();
    uint64_t timeout = (uint64_t)(b->timeout_s * 1e9);
    uint64_t wait = (uint64_t)(b->close_wait_s * 1e9);
    for (size_t i = 0; i < b->concurrency; i++) {
        struct conn *c = &b->conns[i];
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

static void
warm_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct bench *b = ev_userdata(loop);
    getrusage(RUSAGE_SELF, &b->ru_start);
    b->ru_taken = true;
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct bench *b = ev_userdata(loop);
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

static const char *
flow_name(enum flow f)
{
    switch (f) {
    case FLOW_SEQUENTIAL:
        return "sequential";
    case FLOW_PIPELINED:
        return "pipelined";
    case FLOW_DESCRIBE:
        return "describe-only";
    case FLOW_HTTP:
        return "http";
    }
    return "?";
}

/* Writes s as a JSON string (only our own labels and camera patterns go here). */
static void
json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

struct report {
    double window_s, rps, cpu_user_s, cpu_sys_s;
    uint64_t errors;
    double p50, p90, p99, p999, max, mean; /* microseconds */
};

static void
report_make(const struct bench *b, const struct rusage *ru_end, struct report *r)
{
    const struct bench_tally *t = &b->tally;
    uint64_t end = b->last_done_ns > b->measure_start_ns ? b->last_done_ns : b->measure_start_ns;
    r->window_s = (double)(end - b->measure_start_ns) / 1e9;
    r->rps = r->window_s > 0 ? (double)t->completed / r->window_s : 0;
    r->cpu_user_s = tv_s(ru_end->ru_utime) - tv_s(b->ru_start.ru_utime);
    r->cpu_sys_s = tv_s(ru_end->ru_stime) - tv_s(b->ru_start.ru_stime);
    r->errors = bench_tally_errors(t);
    r->p50 = (double)bench_hist_percentile(&t->lat, 50) / 1e3;
    r->p90 = (double)bench_hist_percentile(&t->lat, 90) / 1e3;
    r->p99 = (double)bench_hist_percentile(&t->lat, 99) / 1e3;
    r->p999 = (double)bench_hist_percentile(&t->lat, 99.9) / 1e3;
    r->max = (double)t->lat.max / 1e3;
    r->mean = bench_hist_mean(&t->lat) / 1e3;
}

static void
report_print(const struct bench *b, const struct report *r)
{
    const struct bench_tally *t = &b->tally;
    printf("target      %s:%u  %s  %zu camera(s)  concurrency %u", b->host, b->port,
           flow_name(b->flow), b->n_targets, b->concurrency);
    if (b->rate > 0)
        printf("  rate %.0f/s (open loop)", b->rate);
    printf("\ncompleted   %llu in %.3f s  =  %.0f redirects/s\n", (unsigned long long)t->completed,
           r->window_s, r->rps);
    printf("errors      %llu", (unsigned long long)r->errors);
    for (size_t i = 0; i < BENCH_ERR_COUNT; i++) {
        if (t->errors[i])
            printf("  %s=%llu", bench_err_name((enum bench_err)i),
                   (unsigned long long)t->errors[i]);
    }
    if (t->kept_open)
        printf("  (kept open by server: %llu)", (unsigned long long)t->kept_open);
    printf("\nlatency us  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n", r->p50,
           r->p90, r->p99, r->p999, r->max, r->mean);
    if (b->rate > 0)
        printf("schedule    start delay us p50 %.1f p99 %.1f max %.1f  >1ms late: %llu  "
               "max backlog: %llu\n",
               (double)bench_hist_percentile(&b->start_delay, 50) / 1e3,
               (double)bench_hist_percentile(&b->start_delay, 99) / 1e3,
               (double)b->start_delay.max / 1e3, (unsigned long long)b->late_1ms,
               (unsigned long long)b->backlog_max);
    printf("own cpu     user %.3f s  sys %.3f s  (%.0f%% of one core)\n", r->cpu_user_s,
           r->cpu_sys_s,
           r->window_s > 0 ? 100.0 * (r->cpu_user_s + r->cpu_sys_s) / r->window_s : 0.0);
}

static int
report_json(const struct bench *b, const struct report *r, const char *pattern)
{
    const struct bench_tally *t = &b->tally;
    FILE *f = fopen(b->json_path, "w");
    if (!f) {
        fprintf(stderr, "rd_redirect_bench: cannot write %s: %s\n", b->json_path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n  \"tool\": \"rd_redirect_bench\",\n  \"label\": ");
    json_str(f, b->label ? b->label : "");
    fprintf(f, ",\n  \"target\": ");
    json_str(f, b->host);
    fprintf(f,
            ",\n  \"port\": %u,\n  \"flow\": \"%s\",\n  \"cameras\": %zu,\n  \"camera_pattern\": ",
            b->port, flow_name(b->flow), b->n_targets);
    json_str(f, pattern ? pattern : "");
    fprintf(f,
            ",\n  \"concurrency\": %u,\n  \"rate\": %.3f,\n  \"open_loop\": %s,\n"
            "  \"window_s\": %.6f,\n  \"started\": %llu,\n  \"completed\": %llu,\n"
            "  \"redirects_per_s\": %.1f,\n  \"errors\": %llu,\n  \"errors_by_kind\": {",
            b->concurrency, b->rate, b->rate > 0 ? "true" : "false", r->window_s,
            (unsigned long long)t->started, (unsigned long long)t->completed, r->rps,
            (unsigned long long)r->errors);
    for (size_t i = 0; i < BENCH_ERR_COUNT; i++)
        fprintf(f, "%s\"%s\": %llu", i ? ", " : "", bench_err_name((enum bench_err)i),
                (unsigned long long)t->errors[i]);
    fprintf(f,
            "},\n  \"kept_open\": %llu,\n  \"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, "
            "\"p99\": %.1f, \"p99_9\": %.1f, \"max\": %.1f, \"mean\": %.1f},\n"
            "  \"start_delay_us\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f},\n"
            "  \"late_1ms\": %llu,\n  \"backlog_max\": %llu,\n  \"spin\": %s,\n"
            "  \"cpu_user_s\": %.3f,\n  \"cpu_sys_s\": %.3f\n}\n",
            (unsigned long long)t->kept_open, r->p50, r->p90, r->p99, r->p999, r->max, r->mean,
            (double)bench_hist_percentile(&b->start_delay, 50) / 1e3,
            (double)bench_hist_percentile(&b->start_delay, 99) / 1e3,
            (double)b->start_delay.max / 1e3, (unsigned long long)b->late_1ms,
            (unsigned long long)b->backlog_max, b->spin ? "true" : "false", r->cpu_user_s,
            r->cpu_sys_s);
    if (fclose(f) != 0) {
        fprintf(stderr, "rd_redirect_bench: cannot write %s\n", b->json_path);
        return -1;
    }
    return 0;
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: rd_redirect_bench [options] HOST:PORT\n"
            "  -c, --concurrency N    connections in flight (default 32)\n"
            "  -n, --requests N       viewers to run (after warmup)\n"
            "  -d, --duration S       seconds to run (after warmup; default 5 when no -n)\n"
            "      --warmup S         seconds run first and not counted (default 0)\n"
            "      --rate R           open loop: R viewers per second, latency from the\n"
            "                         scheduled time (coordinated-omission aware)\n"
            "      --camera ID        camera to request (repeatable)\n"
            "      --cameras PATTERN  camera names, %%d = number (e.g. cam%%d)\n"
            "      --range LO-HI      numbers for --cameras (default 0-9999)\n"
            "      --seq              pick cameras in order (default: uniform random)\n"
            "      --seed N           random seed (default 1)\n"
            "      --pipeline         send OPTIONS and DESCRIBE in one write\n"
            "      --no-options       send DESCRIBE only\n"
            "      --http             HTTP GET /<camera> with Connection: close (baseline)\n"
            "      --loose-location   accept any absolute Location (not /v1/<camera>/<token>/)\n"
            "      --timeout S        per-viewer deadline (default 5)\n"
            "      --close-wait S     wait this long for the server to close after the\n"
            "                         redirect, then reset (default 1; 0 = close at once)\n"
            "      --src A.B.C.D[-N]  bind to N (<= 65536) consecutive source addresses in turn\n"
            "                         (127.0.0.0/8 is all loopback: spreads viewers over many\n"
            "                         client IPs, as per-IP connection limits expect)\n"
            "      --spin             never sleep (open loop: start each viewer on time to the\n"
            "                         microsecond; the tool's own CPU then reads 100%%)\n"
            "      --json FILE        write the results as JSON\n"
            "      --label TEXT       label stored in the JSON\n");
}

static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    return rd_str_to_u64(rd_str_cstr(s), 19, max, out) == RD_OK;
}

static bool
parse_secs(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e6)
        return false;
    *out = v;
    return true;
}

static bool
parse_hostport(const char *s, struct bench *b, char *host, size_t cap)
{
    const char *colon = strrchr(s, ':');
    uint64_t port;
    if (!colon || colon == s || !parse_u64(colon + 1, 65535, &port) || port == 0)
        return false;
    size_t hl = (size_t)(colon - s);
    if (hl >= cap)
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    b->port = (unsigned)port;
    b->dst.sin_family = AF_INET;
    b->dst.sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &b->dst.sin_addr) == 1;
}

static bool
parse_src(const char *s, struct bench *b)
{
    char ip[INET_ADDRSTRLEN];
    const char *dash = strchr(s, '-');
    size_t n = dash ? (size_t)(dash - s) : strlen(s);
    uint64_t count = 1;
    if (n >= sizeof(ip) || (dash && !parse_u64(dash + 1, BENCH_MAX_SRC, &count)) || count == 0)
        return false;
    memcpy(ip, s, n);
    ip[n] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1)
        return false;
    if ((uint64_t)ntohl(a.s_addr) + count - 1 > UINT32_MAX)
        return false;
    b->src_base = ntohl(a.s_addr);
    b->n_src = (size_t)count;
    return true;
}

static bool
add_target(struct bench *b, size_t *cap, const char *name)
{
    if (b->n_targets == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct target *nt = realloc(b->targets, ncap * sizeof(*nt));
        if (!nt)
            return false;
        b->targets = nt;
        *cap = ncap;
    }
    struct target *t = &b->targets[b->n_targets];
    size_t nl = strlen(name);
    if (nl == 0 || nl >= sizeof(t->name)) {
        fprintf(stderr, "rd_redirect_bench: bad camera name '%s'\n", name);
        return false;
    }
    memcpy(t->name, name, nl + 1);
    char tmp[BENCH_REQ_MAX];
    int len =
        bench_build_requests(b->proto, b->host, b->port, name, tmp, sizeof(tmp), &t->first_len);
    if (len < 0) {
        fprintf(stderr, "rd_redirect_bench: cannot build requests for '%s': %s\n", name,
                rd_strstatus(len));
        return false;
    }
    t->req = malloc((size_t)len + 1);
    if (!t->req)
        return false;
    memcpy(t->req, tmp, (size_t)len + 1);
    t->len = (size_t)len;
    b->n_targets++;
    return true;
}

static void
set_steps(struct bench *b)
{
    switch (b->flow) {
    case FLOW_SEQUENTIAL:
        b->steps[0] = (struct step){true, false, 200, 1};
        b->steps[1] = (struct step){false, true, 302, 2};
        b->n_steps = 2;
        break;
    case FLOW_PIPELINED:
        b->steps[0] = (struct step){true, true, 200, 1};
        b->steps[1] = (struct step){false, false, 302, 2};
        b->n_steps = 2;
        break;
    case FLOW_DESCRIBE:
        b->steps[0] = (struct step){false, true, 302, 2};
        b->n_steps = 1;
        break;
    case FLOW_HTTP:
        b->steps[0] = (struct step){true, false, 302, 0};
        b->n_steps = 1;
        break;
    }
}

int
main(int argc, char **argv)
{
    static struct bench bench; /* large: the histogram */
    struct bench *b = &bench;
    char host[64];
    const char *pattern = NULL;
    const char **names = NULL;
    size_t n_names = 0;
    uint64_t lo = 0, hi = 9999;
    int status = 1;

    b->concurrency = 32;
    b->timeout_s = 5;
    b->close_wait_s = 1;
    b->strict_path = true;
    b->random_pick = true;
    b->seed = 1;
    b->flow = FLOW_SEQUENTIAL;

    enum {
        OPT_WARMUP = 256,
        OPT_RATE,
        OPT_CAMERA,
        OPT_CAMERAS,
        OPT_RANGE,
        OPT_SEQ,
        OPT_SEED,
        OPT_PIPELINE,
        OPT_NO_OPTIONS,
        OPT_HTTP,
        OPT_LOOSE,
        OPT_TIMEOUT,
        OPT_CLOSE_WAIT,
        OPT_SRC,
        OPT_JSON,
        OPT_LABEL,
        OPT_SPIN
    };
    static const struct option longopts[] = {
        {"concurrency", required_argument, NULL, 'c'},
        {"requests", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"rate", required_argument, NULL, OPT_RATE},
        {"camera", required_argument, NULL, OPT_CAMERA},
        {"cameras", required_argument, NULL, OPT_CAMERAS},
        {"range", required_argument, NULL, OPT_RANGE},
        {"seq", no_argument, NULL, OPT_SEQ},
        {"seed", required_argument, NULL, OPT_SEED},
        {"pipeline", no_argument, NULL, OPT_PIPELINE},
        {"no-options", no_argument, NULL, OPT_NO_OPTIONS},
        {"http", no_argument, NULL, OPT_HTTP},
        {"loose-location", no_argument, NULL, OPT_LOOSE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"close-wait", required_argument, NULL, OPT_CLOSE_WAIT},
        {"src", required_argument, NULL, OPT_SRC},
        {"json", required_argument, NULL, OPT_JSON},
        {"label", required_argument, NULL, OPT_LABEL},
        {"spin", no_argument, NULL, OPT_SPIN},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    names = calloc((size_t)argc, sizeof(*names));
    if (!names)
        return 1;
    int opt;
    uint64_t v;
    while ((opt = getopt_long(argc, argv, "c:n:d:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if (!parse_u64(optarg, BENCH_MAX_INFLIGHT, &v) || v == 0)
                goto bad;
            b->concurrency = (unsigned)v;
            break;
        case 'n':
            if (!parse_u64(optarg, UINT64_MAX / 2, &b->total) || b->total == 0)
                goto bad;
            break;
        case 'd':
            if (!parse_secs(optarg, &b->duration_s) || b->duration_s <= 0)
                goto bad;
            break;
        case OPT_WARMUP:
            if (!parse_secs(optarg, &b->warmup_s))
                goto bad;
            break;
        case OPT_RATE:
            if (!parse_secs(optarg, &b->rate) || b->rate <= 0)
                goto bad;
            break;
        case OPT_CAMERA:
            names[n_names++] = optarg;
            break;
        case OPT_CAMERAS:
            pattern = optarg;
            break;
        case OPT_RANGE: {
            const char *dash = strchr(optarg, '-');
            char a[24];
            size_t n = dash ? (size_t)(dash - optarg) : 0;
            if (!dash || n == 0 || n >= sizeof(a))
                goto bad;
            memcpy(a, optarg, n);
            a[n] = '\0';
            if (!parse_u64(a, UINT64_MAX, &lo) || !parse_u64(dash + 1, UINT64_MAX, &hi) || hi < lo
                || hi - lo >= BENCH_MAX_CAMERAS)
                goto bad;
            break;
        }
        case OPT_SEQ:
            b->random_pick = false;
            break;
        case OPT_SEED:
            if (!parse_u64(optarg, UINT64_MAX, &b->seed))
                goto bad;
            break;
        case OPT_PIPELINE:
            b->flow = FLOW_PIPELINED;
            break;
        case OPT_NO_OPTIONS:
            b->flow = FLOW_DESCRIBE;
            break;
        case OPT_HTTP:
            b->flow = FLOW_HTTP;
            break;
        case OPT_LOOSE:
            b->strict_path = false;
            break;
        case OPT_TIMEOUT:
            if (!parse_secs(optarg, &b->timeout_s) || b->timeout_s <= 0)
                goto bad;
            break;
        case OPT_CLOSE_WAIT:
            if (!parse_secs(optarg, &b->close_wait_s))
                goto bad;
            break;
        case OPT_SRC:
            if (!parse_src(optarg, b))
                goto bad;
            break;
        case OPT_JSON:
            b->json_path = optarg;
            break;
        case OPT_LABEL:
            b->label = optarg;
            break;
        case OPT_SPIN:
            b->spin = true;
            break;
        case 'q':
            b->quiet = true;
            break;
        case 'h':
            usage(stdout);
            free(names);
            return 0;
        default:
            goto bad;
        }
    }
    if (optind != argc - 1 || !parse_hostport(argv[optind], b, host, sizeof(host)))
        goto bad;
    b->host = host;
    b->proto = b->flow == FLOW_HTTP ? BENCH_PROTO_HTTP : BENCH_PROTO_RTSP;
    if (!b->total && b->duration_s <= 0)
        b->duration_s = 5;
    if (b->total && b->duration_s > 0) {
        fprintf(stderr, "rd_redirect_bench: -n and -d exclude each other\n");
        goto bad;
    }
    set_steps(b);

    size_t tcap = 0;
    for (size_t i = 0; i < n_names; i++) {
        if (!add_target(b, &tcap, names[i]))
            goto out;
    }
    if (pattern) {
        for (uint64_t i = lo; i <= hi; i++) {
            char name[RD_CAMERA_ID_MAX * 4 + 1];
            if (bench_camera_name(pattern, i, name, sizeof(name)) < 0) {
                fprintf(stderr, "rd_redirect_bench: bad --cameras pattern\n");
                goto out;
            }
            if (!add_target(b, &tcap, name))
                goto out;
        }
    }
    if (b->n_targets == 0 && !add_target(b, &tcap, "cam0"))
        goto out;
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
        fprintf(stderr, "rd_redirect_bench: -c %u needs more descriptors (limit %llu)\n",
                b->concurrency, (unsigned long long)rl.rlim_cur);
        goto out;
    }

    b->conns = calloc(b->concurrency, sizeof(*b->conns));
    b->free_slots = calloc(b->concurrency, sizeof(*b->free_slots));
    if (!b->conns || !b->free_slots)
        goto out;
    for (size_t i = 0; i < b->concurrency; i++) {
        b->conns[i].fd = -1;
        b->free_slots[b->n_free++] = (uint32_t)(b->concurrency - 1 - i);
    }
    b->rng = b->seed ? b->seed : 0x9E3779B97F4A7C15ULL;
    bench_tally_reset(&b->tally);
    bench_hist_reset(&b->start_delay);

    b->loop = ev_default_loop(EVFLAG_AUTO);
    if (!b->loop)
        goto out;
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
    if (b->total && b->warmup_s > 0) {
        fprintf(stderr, "rd_redirect_bench: --warmup needs -d\n");
        goto out;
    }
    if (b->warmup_s > 0) {
        ev_timer_init(&b->warm, warm_cb, b->warmup_s, 0.);
        ev_timer_start(b->loop, &b->warm);
    } else {
        getrusage(RUSAGE_SELF, &b->ru_start);
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
    ev_timer_init(&b->sweep, sweep_cb, BENCH_SWEEP_S, BENCH_SWEEP_S);
    ev_timer_start(b->loop, &b->sweep);

    launch_due(b);
    ev_run(b->loop, 0);

    struct rusage ru_end;
    getrusage(RUSAGE_SELF, &ru_end);
    if (!b->ru_taken)
        b->ru_start = ru_end;
    /* Viewers cut short by a second signal are neither completed nor errors: say so. */
    uint64_t cut = 0;
    for (size_t i = 0; i < b->concurrency; i++) {
        if (b->conns[i].st != CS_FREE && b->conns[i].measured && b->conns[i].st != CS_WAIT_CLOSE)
            cut++;
    }
    struct report r;
    report_make(b, &ru_end, &r);
    if (!b->quiet)
        report_print(b, &r);
    if (cut)
        printf("interrupted %llu viewer(s) in flight were not counted\n", (unsigned long long)cut);
    if (b->json_path && report_json(b, &r, pattern) != 0)
        goto out;
    status = b->tally.completed > 0 ? 0 : 1;
out:
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
    free(names);
    return status;
bad:
    usage(stderr);
    free(names);
    return 2;
}
