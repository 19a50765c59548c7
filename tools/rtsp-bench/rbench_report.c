/* SPDX-License-Identifier: MIT */
/* rtsp-bench summary and JSON (rbench_report.h). */
#include "rbench_report.h"

#include <math.h>

static double
ms(uint64_t ns)
{
    return round((double)ns / 1e3) / 1e3; /* ms with microsecond resolution */
}

static double
r3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

double
rbench_cpu_per_mpkt(const struct rbench_run *run, const struct rbench_summary *sum)
{
    if (sum->packets == 0)
        return 0.0;
    return (run->cpu_user_s + run->cpu_sys_s) * 1e6 / (double)sum->packets;
}

static const char *
transport_name(enum rbench_transport t)
{
    return t == RBENCH_UDP ? "udp" : "tcp";
}

void
rbench_report_print(FILE *f, const struct rbench_run *run, const struct rbench_summary *s)
{
    const struct rbench_opts *o = run->opts;
    fprintf(f, "viewers     %llu over %zu URL argument(s), %s, ramp %g/s, %.1f s of media\n",
            (unsigned long long)s->sessions, o->n_urls, transport_name(o->transport), o->ramp,
            run->media_s);
    fprintf(f,
            "sessions    established %llu  failed %llu  disconnected %llu  torn down %llu  "
            "redirects %llu\n",
            (unsigned long long)s->established, (unsigned long long)s->failed,
            (unsigned long long)s->disconnected, (unsigned long long)s->torn_down,
            (unsigned long long)s->redirects);
    bool any = false;
    for (size_t i = 1; i < RBENCH_ERR_COUNT; i++) {
        if (s->errors[i]) {
            fprintf(f, "%s%s=%llu", any ? "  " : "errors      ",
                    rbench_err_name((enum rbench_err)i), (unsigned long long)s->errors[i]);
            any = true;
        }
    }
    if (any)
        fputc('\n', f);
    fprintf(f,
            "packets     %llu (%.0f/s)  %.1f MB  lost %llu of %llu (%.4f%%)  dup %llu  "
            "reordered %llu  late %llu\n",
            (unsigned long long)s->packets,
            run->wall_s > 0 ? (double)s->packets / run->wall_s : 0.0, (double)s->bytes / 1e6,
            (unsigned long long)s->lost, (unsigned long long)s->expected, s->loss_pct,
            (unsigned long long)s->duplicates, (unsigned long long)s->reordered,
            (unsigned long long)s->late);
    fprintf(f, "jitter ms   mean %.3f  max %.3f\n", s->jitter_ms_mean, s->jitter_ms_max);
    const struct {
        const char *name;
        const struct bench_hist *h;
    } rows[] = {{"setup", &s->setup},
                {"first pkt", &s->first_pkt},
                {"first key", &s->first_key},
                {"play->key", &s->play_key}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        fprintf(f, "%-11s p50 %.1f  p90 %.1f  p99 %.1f  max %.1f ms  (n=%llu)\n", rows[i].name,
                rbench_hist_ms(rows[i].h, 50), rbench_hist_ms(rows[i].h, 90),
                rbench_hist_ms(rows[i].h, 99), (double)rows[i].h->max / 1e6,
                (unsigned long long)rows[i].h->n);
    double cpu = run->cpu_user_s + run->cpu_sys_s;
    fprintf(f,
            "own cpu     user %.3f s  sys %.3f s  (%.0f%% of one core)  %.3f s per million "
            "packets  rss %ld KiB\n",
            run->cpu_user_s, run->cpu_sys_s, run->wall_s > 0 ? 100.0 * cpu / run->wall_s : 0.0,
            rbench_cpu_per_mpkt(run, s), run->max_rss_kib);
    if (run->failed)
        fprintf(f, "FAILED      %s", run->why && run->why[0] ? run->why : "thresholds\n");
    else
        fprintf(f, "result      ok\n");
}

static json_t *
pct_obj(const struct bench_hist *h)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "n", (json_int_t)h->n, "p50",
                     r3(rbench_hist_ms(h, 50)), "p90", r3(rbench_hist_ms(h, 90)), "p99",
                     r3(rbench_hist_ms(h, 99)), "max", r3((double)h->max / 1e6), "mean",
                     r3(bench_hist_mean(h) / 1e6));
}

static json_t *
opt_num(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

static json_t *
session_json(const struct rbench_session *x)
{
    const struct rbench_result *r = &x->res;
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:b, s:o, s:i, s:b, s:b, s:i, s:i, s:i}", "index", (json_int_t)x->index,
        "url", x->start_url, "final_url", x->url, "established", r->established, "error",
        r->err == RBENCH_ERR_NONE ? json_null() : json_string(rbench_err_name(r->err)), "status",
        r->err_status, "disconnected", r->disconnected, "torn_down", r->torn_down, "redirects",
        (int)r->redirects, "tracks", (int)r->tracks, "tracks_skipped", (int)r->tracks_skipped);
    if (!o)
        return NULL;
    json_t *t = json_pack(
        "{s:o, s:o, s:o, s:o, s:f, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, "
        "s:f, s:I, s:I}",
        "setup_ms", r->established ? json_real(ms(r->setup_ns)) : json_null(), "first_packet_ms",
        r->first_pkt_ns ? json_real(ms(r->first_pkt_ns)) : json_null(), "first_key_ms",
        r->first_key_ns ? json_real(ms(r->first_key_ns)) : json_null(), "play_to_key_ms",
        r->play_key_ns ? json_real(ms(r->play_key_ns)) : json_null(), "media_s",
        r3((double)r->play_s_ns / 1e9), "packets", (json_int_t)r->packets, "bytes",
        (json_int_t)r->bytes, "expected", (json_int_t)r->expected, "lost", (json_int_t)r->lost,
        "loss_pct", r->expected ? 100.0 * (double)r->lost / (double)r->expected : 0.0, "duplicates",
        (json_int_t)r->duplicates, "reordered", (json_int_t)r->reordered, "late",
        (json_int_t)r->late, "malformed", (json_int_t)r->malformed, "truncated",
        (json_int_t)r->truncated, "rtcp", (json_int_t)r->rtcp, "jitter_ms", r3(r->jitter_ms),
        "jitter_max_ms", r3(r->jitter_max_ms), "ssrc_changes", (json_int_t)r->ssrc_changes,
        "keepalives", (json_int_t)r->keepalives);
    if (!t || json_object_update(o, t) != 0) {
        json_decref(t);
        json_decref(o);
        return NULL;
    }
    json_decref(t);
    return o;
}

json_t *
rbench_report_json(const struct rbench_run *run, const struct rbench_summary *s,
                   const struct rbench_session *sessions, size_t n)
{
    const struct rbench_opts *o = run->opts;
    json_t *urls = json_array();
    for (size_t i = 0; urls && i < o->n_urls; i++)
        json_array_append_new(urls, json_string(o->urls[i]));
    json_t *errs = json_object();
    for (size_t i = 1; errs && i < RBENCH_ERR_COUNT; i++)
        json_object_set_new(errs, rbench_err_name((enum rbench_err)i),
                            json_integer((json_int_t)s->errors[i]));
    json_t *cfg = json_pack(
        "{s:I, s:s, s:f, s:f, s:f, s:o, s:o, s:s}", "viewers", (json_int_t)o->n, "transport",
        transport_name(o->transport), "duration_s", o->duration_s, "ramp_per_s", o->ramp,
        "timeout_s", o->timeout_s, "urls", urls ? urls : json_null(), "src",
        o->src ? json_string(o->src) : json_null(), "label", o->label ? o->label : "");
    double cpu = run->cpu_user_s + run->cpu_sys_s;
    json_t *agg = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I, s:f, s:f, s:f, s:f}",
        "sessions", (json_int_t)s->sessions, "established", (json_int_t)s->established, "failed",
        (json_int_t)s->failed, "disconnected", (json_int_t)s->disconnected, "torn_down",
        (json_int_t)s->torn_down, "key_frame_seen", (json_int_t)s->key_seen, "redirects",
        (json_int_t)s->redirects, "errors", errs ? errs : json_null(), "packets",
        (json_int_t)s->packets, "bytes", (json_int_t)s->bytes, "expected", (json_int_t)s->expected,
        "lost", (json_int_t)s->lost, "loss_pct", s->loss_pct, "duplicates",
        (json_int_t)s->duplicates, "reordered", (json_int_t)s->reordered, "late",
        (json_int_t)s->late, "malformed", (json_int_t)s->malformed, "truncated",
        (json_int_t)s->truncated, "rtcp", (json_int_t)s->rtcp, "ssrc_changes",
        (json_int_t)s->ssrc_changes, "jitter_ms_mean", r3(s->jitter_ms_mean), "jitter_ms_max",
        r3(s->jitter_ms_max), "packets_per_s",
        run->wall_s > 0 ? round((double)s->packets / run->wall_s) : 0.0, "mbit_per_s",
        run->wall_s > 0 ? r3((double)s->bytes * 8 / 1e6 / run->wall_s) : 0.0);
    json_t *times = json_pack("{s:o, s:o, s:o, s:o}", "setup_ms", pct_obj(&s->setup),
                              "first_packet_ms", pct_obj(&s->first_pkt), "first_key_ms",
                              pct_obj(&s->first_key), "play_to_key_ms", pct_obj(&s->play_key));
    json_t *own =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:i}", "user_s", r3(run->cpu_user_s), "sys_s",
                  r3(run->cpu_sys_s), "total_s", r3(cpu), "pct_of_core",
                  run->wall_s > 0 ? r3(100.0 * cpu / run->wall_s) : 0.0, "s_per_million_packets",
                  r3(rbench_cpu_per_mpkt(run, s)), "max_rss_kib", (int)run->max_rss_kib);
    json_t *thr = json_pack(
        "{s:o, s:o, s:o, s:b, s:i, s:s}", "max_loss_pct", opt_num(o->has_max_loss, o->max_loss),
        "max_setup_ms", opt_num(o->has_max_setup, o->max_setup_ms), "min_sessions",
        o->has_min_sessions ? json_integer((json_int_t)o->min_sessions) : json_null(), "met",
        run->failed == 0, "failed", (int)run->failed, "why", run->why ? run->why : "");
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        json_t *x = session_json(&sessions[i]);
        if (!x || json_array_append_new(list, x) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!cfg || !agg || !times || !own || !thr || !list) {
        json_decref(cfg);
        json_decref(agg);
        json_decref(times);
        json_decref(own);
        json_decref(thr);
        json_decref(list);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:f, s:f, s:o, s:o, s:o, s:o, s:o}", "tool", "rtsp-bench",
                     "mode", "viewers", "config", cfg, "wall_s", r3(run->wall_s), "media_s",
                     r3(run->media_s), "aggregate", agg, "times", times, "own_cpu", own,
                     "thresholds", thr, "sessions", list);
}
