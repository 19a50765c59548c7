/* SPDX-License-Identifier: MIT */
/* rtsp-bench's command line (parsed into struct rbench_opts) and the thresholds that decide
 * its exit status. Pure code apart from messages written to the given stream. */
#ifndef RD_TOOLS_RBENCH_OPTS_H
#define RD_TOOLS_RBENCH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rbench_summary.h"

/* Exit statuses of rtsp-bench. */
#define RBENCH_EXIT_OK        0 /* ran, every threshold met, at least one session (or redirect) */
#define RBENCH_EXIT_THRESHOLD 1 /* a threshold not met, or nothing established at all */
#define RBENCH_EXIT_USAGE     2 /* bad command line */
#define RBENCH_EXIT_FAILURE   3 /* could not run or write the JSON */

enum rbench_transport { RBENCH_TCP, RBENCH_UDP };

struct rbench_opts {
    bool redirect_only;
    uint64_t n;   /* -n: viewers (default 1), or connections with --redirect-only */
    bool n_given; /* redirect mode: -n given (else --duration) */
    enum rbench_transport transport; /* -T tcp|udp (default tcp) */
    double duration_s;               /* -d: seconds every viewer plays after the last started
                                      * (default 10); redirect mode: run length (default 5) */
    bool duration_given;
    double ramp;          /* --ramp: sessions started per second (default 100; 0 = all at once) */
    double rate;          /* --rate (redirect mode): open loop per second; 0 = full speed */
    unsigned concurrency; /* -c (redirect mode): connections in flight (default 32) */
    double timeout_s;     /* --timeout: deadline of each setup step (default 10) */
    const char *json;     /* --json FILE */
    const char *label;    /* --label TEXT */
    const char *src;      /* --src A.B.C.D[-N]: source addresses in turn */
    bool quiet;           /* -q: no summary on stdout */
    bool has_max_loss;    /* --max-loss PERCENT */
    double max_loss;
    bool has_max_setup; /* --max-setup-ms MS: every established session's setup time */
    double max_setup_ms;
    bool has_min_sessions; /* --min-sessions N: sessions established */
    uint64_t min_sessions;
    const char *const *urls; /* the URL arguments (patterns), views into argv */
    size_t n_urls;
};

enum rbench_parse { RBENCH_PARSE_RUN, RBENCH_PARSE_HELP, RBENCH_PARSE_ERROR };

/* Parses argv (getopt_long, so argv may be permuted; optind is reset first). On error writes
 * one line saying why to err. Returns RBENCH_PARSE_RUN with *o filled, RBENCH_PARSE_HELP for
 * -h/--help (nothing else checked), RBENCH_PARSE_ERROR for anything malformed: unknown
 * option, a number out of range (-n 1..RBENCH_MAX_VIEWERS, -d > 0, --ramp >= 0, --rate > 0,
 * --max-loss 0..100, --max-setup-ms >= 0, --timeout > 0), -T other than tcp/udp, no URL, a
 * URL pattern rbench_url_pattern_count refuses, --redirect-only with more than one URL or a
 * pattern, --rate without --redirect-only, -n and -d together in redirect mode.
 * o->urls points into argv. */
enum rbench_parse rbench_opts_parse(int argc, char **argv, struct rbench_opts *o, FILE *err);

/* Writes the usage text to f. */
void rbench_opts_usage(FILE *f);

/* Checks the thresholds of o against s. Appends one line per failed threshold to why[cap]
 * (NUL-terminated, may be NULL when cap is 0; lines that do not fit are dropped, the count
 * stays right). Returns the number of failed thresholds; a run with no established session
 * counts as one failure even without thresholds. */
unsigned rbench_thresholds_check(const struct rbench_opts *o, const struct rbench_summary *s,
                                 char *why, size_t cap);

/* The exit status for `failed` failed thresholds: RBENCH_EXIT_OK or RBENCH_EXIT_THRESHOLD. */
int rbench_exit_status(unsigned failed);

#endif
