/* SPDX-License-Identifier: MIT */
/* Aggregation of rtsp-bench session results (rbench_summary.h). */
#include "rbench_summary.h"

#include <string.h>

static const char *const err_names[RBENCH_ERR_COUNT] = {
    [RBENCH_ERR_NONE] = "none",
    [RBENCH_ERR_LOCAL] = "local",
    [RBENCH_ERR_RESOLVE] = "resolve",
    [RBENCH_ERR_CONNECT] = "connect",
    [RBENCH_ERR_RESET] = "reset",
    [RBENCH_ERR_EOF] = "eof",
    [RBENCH_ERR_TIMEOUT] = "timeout",
    [RBENCH_ERR_PARSE] = "parse",
    [RBENCH_ERR_CSEQ] = "cseq",
    [RBENCH_ERR_STATUS_OPTIONS] = "status_options",
    [RBENCH_ERR_STATUS_DESCRIBE] = "status_describe",
    [RBENCH_ERR_STATUS_SETUP] = "status_setup",
    [RBENCH_ERR_STATUS_PLAY] = "status_play",
    [RBENCH_ERR_REDIRECT_LOOP] = "redirect_loop",
    [RBENCH_ERR_LOCATION] = "location",
    [RBENCH_ERR_URL] = "url",
    [RBENCH_ERR_SDP] = "sdp",
    [RBENCH_ERR_NO_TRACKS] = "no_tracks",
    [RBENCH_ERR_TRANSPORT] = "transport",
    [RBENCH_ERR_SESSION] = "session",
    [RBENCH_ERR_TOO_BIG] = "too_big",
    [RBENCH_ERR_UDP_PORTS] = "udp_ports",
    [RBENCH_ERR_NOT_ESTABLISHED] = "not_established",
};

const char *
rbench_err_name(enum rbench_err e)
{
    if ((unsigned)e >= RBENCH_ERR_COUNT || !err_names[e])
        return "unknown";
    return err_names[e];
}

void
rbench_summary_make(const struct rbench_result *r, size_t n, struct rbench_summary *s)
{
    memset(s, 0, sizeof(*s));
    bench_hist_reset(&s->setup);
    bench_hist_reset(&s->first_pkt);
    bench_hist_reset(&s->first_key);
    bench_hist_reset(&s->play_key);
    double jit_sum = 0;
    uint64_t jit_n = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rbench_result *x = &r[i];
        s->sessions++;
        if (x->established)
            s->established++;
        else
            s->failed++;
        if (x->disconnected)
            s->disconnected++;
        if (x->torn_down)
            s->torn_down++;
        if (x->err != RBENCH_ERR_NONE && (unsigned)x->err < RBENCH_ERR_COUNT)
            s->errors[x->err]++;
        s->packets += x->packets;
        s->bytes += x->bytes;
        s->expected += x->expected;
        s->lost += x->lost;
        s->duplicates += x->duplicates;
        s->reordered += x->reordered;
        s->late += x->late;
        s->malformed += x->malformed;
        s->truncated += x->truncated;
        s->rtcp += x->rtcp;
        s->ssrc_changes += x->ssrc_changes;
        s->redirects += x->redirects;
        if (x->packets) {
            jit_sum += x->jitter_ms;
            jit_n++;
            if (x->jitter_max_ms > s->jitter_ms_max)
                s->jitter_ms_max = x->jitter_max_ms;
        }
        if (x->first_key_ns)
            s->key_seen++;
        if (!x->established)
            continue;
        bench_hist_record(&s->setup, x->setup_ns);
        if (x->first_pkt_ns)
            bench_hist_record(&s->first_pkt, x->first_pkt_ns);
        if (x->first_key_ns)
            bench_hist_record(&s->first_key, x->first_key_ns);
        if (x->play_key_ns)
            bench_hist_record(&s->play_key, x->play_key_ns);
    }
    s->loss_pct = s->expected ? 100.0 * (double)s->lost / (double)s->expected : 0.0;
    s->jitter_ms_mean = jit_n ? jit_sum / (double)jit_n : 0.0;
}

double
rbench_hist_ms(const struct bench_hist *h, double pct)
{
    return (double)bench_hist_percentile(h, pct) / 1e6;
}
