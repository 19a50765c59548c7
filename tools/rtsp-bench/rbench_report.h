/* SPDX-License-Identifier: MIT */
/* rtsp-bench results: the human summary on stdout and the JSON document (jansson) with the
 * aggregate, the thresholds and one object per session. */
#ifndef RD_TOOLS_RBENCH_REPORT_H
#define RD_TOOLS_RBENCH_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "rbench_opts.h"
#include "rbench_session.h"
#include "rbench_summary.h"

/* What the run measured about itself. */
struct rbench_run {
    const struct rbench_opts *opts;
    double wall_s;     /* first session started .. last one over */
    double media_s;    /* last session started .. teardown sent (the -d window) */
    double cpu_user_s; /* getrusage over the run */
    double cpu_sys_s;
    long max_rss_kib; /* getrusage ru_maxrss */
    unsigned failed;  /* thresholds not met (rbench_thresholds_check) */
    const char *why;  /* their description, one line each */
};

/* Own CPU seconds per million RTP packets received (0 without packets). */
double rbench_cpu_per_mpkt(const struct rbench_run *run, const struct rbench_summary *sum);

/* Prints the summary of a viewer run to f. */
void rbench_report_print(FILE *f, const struct rbench_run *run, const struct rbench_summary *sum);

/* The JSON document of a viewer run (caller owns it; NULL on ENOMEM). sessions[0..n) are the
 * finished sessions (their res collected). */
json_t *rbench_report_json(const struct rbench_run *run, const struct rbench_summary *sum,
                           const struct rbench_session *sessions, size_t n);

#endif
