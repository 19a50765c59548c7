/* SPDX-License-Identifier: MIT */
/* What one rtsp-bench viewer session produced (struct rbench_result, plain data filled by
 * the session module) and the aggregate over a run: sums, loss, jitter, and the percentiles
 * of setup, first-packet and first-key-frame times (bench_stats.h histograms). Pure code. */
#ifndef RD_TOOLS_RBENCH_SUMMARY_H
#define RD_TOOLS_RBENCH_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_stats.h"

/* Why a session failed or ended early. The first error ends the session. */
enum rbench_err {
    RBENCH_ERR_NONE = 0,
    RBENCH_ERR_LOCAL,           /* socket/bind/connect failed here (EMFILE, ...) */
    RBENCH_ERR_RESOLVE,         /* the host of a URL did not resolve to IPv4 */
    RBENCH_ERR_CONNECT,         /* connection refused or failed */
    RBENCH_ERR_RESET,           /* reset or broken pipe */
    RBENCH_ERR_EOF,             /* the server closed the connection */
    RBENCH_ERR_TIMEOUT,         /* a response did not come within the step deadline */
    RBENCH_ERR_PARSE,           /* a response or interleaved frame that does not parse */
    RBENCH_ERR_CSEQ,            /* CSeq missing or not the one sent */
    RBENCH_ERR_STATUS_OPTIONS,  /* OPTIONS not answered 200 or a redirect */
    RBENCH_ERR_STATUS_DESCRIBE, /* DESCRIBE not answered 200 or a redirect */
    RBENCH_ERR_STATUS_SETUP,    /* SETUP not answered 200 */
    RBENCH_ERR_STATUS_PLAY,     /* PLAY not answered 200 */
    RBENCH_ERR_REDIRECT_LOOP,   /* more than RBENCH_MAX_REDIRECTS redirects */
    RBENCH_ERR_LOCATION,        /* a redirect without one absolute rtsp:// Location */
    RBENCH_ERR_URL,             /* a URL (start, Location, control) we cannot use */
    RBENCH_ERR_SDP,             /* DESCRIBE body is not SDP we can parse */
    RBENCH_ERR_NO_TRACKS,       /* no RTP media section */
    RBENCH_ERR_TRANSPORT,       /* SETUP answer without a usable Transport */
    RBENCH_ERR_SESSION,         /* SETUP answer without a usable Session */
    RBENCH_ERR_TOO_BIG,         /* a response or frame larger than RBENCH_TCP_IN_BYTES */
    RBENCH_ERR_UDP_PORTS,       /* no free UDP client port pair */
    RBENCH_ERR_NOT_ESTABLISHED, /* the run ended before this session's PLAY was answered */
    RBENCH_ERR_COUNT
};

/* Short stable name ("status_setup"), a JSON key. */
const char *rbench_err_name(enum rbench_err e);

/* One session's figures. Times are from the start of its first connect, in ns; 0 = never. */
struct rbench_result {
    bool established;  /* PLAY answered 200 */
    bool disconnected; /* an error after PLAY (err says which): the stream was cut */
    bool torn_down;    /* TEARDOWN answered (200 or not) before its deadline */
    enum rbench_err err;
    int err_status; /* the status code for RBENCH_ERR_STATUS_* */
    unsigned redirects;
    unsigned tracks, tracks_skipped;
    uint64_t setup_ns;     /* connect .. PLAY response */
    uint64_t first_pkt_ns; /* connect .. first RTP packet */
    uint64_t first_key_ns; /* connect .. first key-frame start (H.264/H.265) */
    uint64_t play_key_ns;  /* PLAY response .. first key-frame start; 0 when none */
    uint64_t play_s_ns;    /* PLAY response .. end of the session (media time) */
    uint64_t packets, bytes, expected, lost, duplicates, reordered, late, malformed;
    uint64_t truncated; /* UDP datagrams larger than RBENCH_UDP_PKT_BYTES */
    uint64_t rtcp;      /* RTCP packets received */
    uint64_t ssrc_changes, keepalives;
    double jitter_ms;     /* the last estimate, highest over the tracks */
    double jitter_max_ms; /* the highest estimate seen */
};

/* Aggregate of a run. */
struct rbench_summary {
    uint64_t sessions, established, failed, disconnected, torn_down, key_seen;
    uint64_t errors[RBENCH_ERR_COUNT]; /* sessions by their error */
    uint64_t packets, bytes, expected, lost, duplicates, reordered, late, malformed, truncated;
    uint64_t rtcp, ssrc_changes, redirects;
    double loss_pct;       /* 100 * lost / expected; 0 when nothing was expected */
    double jitter_ms_mean; /* mean of the sessions' last estimates (sessions with packets) */
    double jitter_ms_max;  /* highest estimate seen in any session */
    struct bench_hist setup, first_pkt, first_key, play_key; /* ns, established sessions */
};

/* Aggregates results r[0..n) into *s (overwritten). */
void rbench_summary_make(const struct rbench_result *r, size_t n, struct rbench_summary *s);

/* A histogram's percentile in milliseconds (bench_hist_percentile / 1e6). */
double rbench_hist_ms(const struct bench_hist *h, double pct);

#endif
