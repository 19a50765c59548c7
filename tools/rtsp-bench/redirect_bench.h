/* SPDX-License-Identifier: MIT */
/* The redirect load engine shared by rd_redirect_bench (tests/tools) and `rtsp-bench
 * --redirect-only`: each viewer is a NEW TCP connection that sends OPTIONS then DESCRIBE
 * (sequential or pipelined; or one HTTP GET for the nginx baseline), checks the 302 and its
 * Location, and waits for the server to close. One libev loop (the default loop), closed
 * loop (concurrency slots) or open loop (rate, latency from the scheduled send time). */
#ifndef RD_TOOLS_REDIRECT_BENCH_H
#define RD_TOOLS_REDIRECT_BENCH_H

#include <ev.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include "bench_resp.h"
#include "bench_stats.h"
#include "rd_limits.h"

/* Caps of this tool (not of the daemons): how many distinct cameras it precomputes requests
 * for, how many source addresses it rotates over, and connections in flight. */
#define REDIRECT_BENCH_MAX_CAMERAS  1000000
#define REDIRECT_BENCH_MAX_SRC      65536
#define REDIRECT_BENCH_MAX_INFLIGHT 65536
#define REDIRECT_BENCH_REQ_MAX      1024 /* both request texts of one camera */
#define REDIRECT_BENCH_NAME_MAX     (RD_CAMERA_ID_MAX * 4 + 1)

enum redirect_bench_flow {
    REDIRECT_FLOW_SEQUENTIAL, /* OPTIONS, wait for 200, DESCRIBE (what ffmpeg and GStreamer do) */
    REDIRECT_FLOW_PIPELINED,  /* OPTIONS and DESCRIBE in one write */
    REDIRECT_FLOW_DESCRIBE,   /* DESCRIBE only */
    REDIRECT_FLOW_HTTP        /* one GET (nginx baseline) */
};

/* One step of a viewer: bytes to send (a range of the camera's request text, possibly
 * empty) and the response expected after them. */
struct redirect_bench_step {
    bool send_first;  /* send [0, first_len) */
    bool send_second; /* send [first_len, len) */
    int status;
    uint32_t cseq;
};

struct redirect_bench_target {
    char *req; /* owned */
    size_t len, first_len;
    struct rd_str camera; /* view into name, set by redirect_bench_run() */
    char name[REDIRECT_BENCH_NAME_MAX];
};

struct redirect_bench_conn; /* private to redirect_bench.c */

/* The figures of a finished run (redirect_bench_report()). Latencies in microseconds. */
struct redirect_bench_report {
    double window_s, rps, cpu_user_s, cpu_sys_s;
    double server_cpu_s; /* the server's CPU over the same window; < 0: not measured */
    uint64_t errors;
    double p50, p90, p99, p999, max, mean;
};

/* utime + stime of process pid (all its threads) in seconds, from /proc/<pid>/stat (in
 * 1/100 s). Returns RD_OK, or RD_EIO when the process or its stat line cannot be read. */
int redirect_bench_proc_cpu_s(int pid, double *out);

/* Options (set after redirect_bench_init(), before redirect_bench_run()), then run state
 * (private: read the results through redirect_bench_report/_print/_json). */
struct redirect_bench {
    /* options */
    enum redirect_bench_flow flow;
    unsigned concurrency;
    uint64_t total;    /* 0: use duration */
    double duration_s; /* measured seconds (after warmup) when total == 0 */
    double warmup_s;   /* needs total == 0 */
    double rate;       /* 0: closed loop */
    double timeout_s;
    double close_wait_s; /* 0: close as soon as the redirect is in */
    bool strict_path;
    bool random_pick;
    uint64_t seed;
    const char *label; /* stored in the JSON; borrowed */
    bool spin;         /* never sleep: schedule to the microsecond at the cost of a busy core */
    int server_pid;    /* > 0: its CPU is read when ours is (window start and end) */
    /* set by redirect_bench_set_server / _set_src / _add_camera */
    char host[64];
    unsigned port;
    struct sockaddr_in dst;
    uint32_t src_base; /* first source address, host order */
    size_t n_src, next_src;
    struct redirect_bench_target *targets;
    size_t n_targets, cap_targets;
    /* run state */
    struct ev_loop *loop;
    enum bench_proto proto;
    struct redirect_bench_step steps[2];
    unsigned n_steps;
    struct redirect_bench_conn *conns;
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
    uint64_t cut; /* viewers in flight when a second signal ended the run (not counted) */
    struct rusage ru_start, ru_end;
    bool ru_taken;
    double server_cpu_start, server_cpu_end; /* < 0: not read */
    struct bench_tally tally;
    struct bench_hist start_delay; /* open loop: connect start - scheduled time, ns */
    ev_timer tick, sweep, warm;
    ev_prepare prep;
    ev_idle idle;
    ev_signal sigint, sigterm;
};

/* Zeroes b and sets the defaults: sequential flow, 32 connections, 5 s timeout, 1 s close
 * wait, strict Location path, random camera pick with seed 1. b is large (histograms):
 * give it static storage. */
void redirect_bench_init(struct redirect_bench *b);

/* Sets the server: an IPv4 literal and a port (1-65535). Returns RD_OK, RD_EPROTO for a bad
 * address or port, RD_ELIMIT when ip does not fit b->host. Call before adding cameras. */
int redirect_bench_set_server(struct redirect_bench *b, const char *ip, unsigned port);

/* Parses "A.B.C.D[-N]": bind viewers to N (1..REDIRECT_BENCH_MAX_SRC) consecutive source
 * addresses in turn. Returns RD_OK or RD_EPROTO. */
int redirect_bench_set_src(struct redirect_bench *b, const char *spec);

/* Adds camera `name` (precomputes its request texts for b->flow, so set the flow first).
 * Returns RD_OK, RD_EPROTO/RD_ELIMIT for a name the request builder refuses (message on
 * stderr), RD_ENOMEM. */
int redirect_bench_add_camera(struct redirect_bench *b, const char *name);

/* Runs the benchmark in the default libev loop until the duration or count is done (or
 * SIGINT/SIGTERM: stop starting viewers, a second signal abandons those in flight). With no
 * camera added, uses "cam0". Returns RD_OK, RD_ENOMEM, RD_ELIMIT (not enough descriptors for
 * the concurrency), RD_EPROTO (inconsistent options: --warmup with a count). */
int redirect_bench_run(struct redirect_bench *b);

/* The figures of a finished run. */
void redirect_bench_report(const struct redirect_bench *b, struct redirect_bench_report *r);

/* Prints the human summary of a finished run to f. */
void redirect_bench_print(const struct redirect_bench *b, FILE *f);

/* The results of a finished run as a new JSON object (caller owns it; NULL on ENOMEM):
 * tool (the name given), label, target, port, flow, cameras, camera_pattern (pattern or ""),
 * concurrency, rate, open_loop, window_s, started, completed, redirects_per_s, errors,
 * errors_by_kind, kept_open, latency_us {p50,p90,p99,p99_9,max,mean}, start_delay_us
 * {p50,p99,max}, late_1ms, backlog_max, spin, cpu_user_s, cpu_sys_s. */
json_t *redirect_bench_json(const struct redirect_bench *b, const char *tool, const char *pattern);

/* Name of a flow ("sequential", "pipelined", "describe-only", "http"). */
const char *redirect_bench_flow_name(enum redirect_bench_flow f);

/* Frees what b owns (targets, connection slots; closes open sockets). b may then be
 * initialised again. */
void redirect_bench_free(struct redirect_bench *b);

#endif
