/* SPDX-License-Identifier: MIT */
/* rtsp-bench: N concurrent RTSP viewers (or the redirect benchmark) in one libev loop; a
 * summary on stdout, full results as JSON, and an exit status from the thresholds. See
 * docs/benchmarks.md "rtsp-bench" and `rtsp-bench --help`. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "evx.h"
#include "rbench_opts.h"
#include "rbench_report.h"
#include "rbench_session.h"
#include "rbench_url.h"
#include "rd_err.h"
#include "redirect_bench.h"
#include "url.h"

struct app {
    struct rbench_opts opts;
    struct rbench_ctx ctx;
    struct rbench_session *sessions;
    size_t n, launched, done;
    char **urls; /* expanded */
    size_t n_urls;
    uint32_t src_base, n_src;
    uint64_t t0_ns, t_last_launch_ns, t_stop_ns, t_end_ns;
    bool stopping;
    ev_timer ramp, end;
    ev_signal sigint, sigterm;
};

static double
tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void
on_done(struct rbench_session *s, void *arg)
{
    struct app *a = arg;
    a->done++;
    if (a->stopping && a->done == a->launched) {
        a->t_end_ns = rbench_now_ns();
        ev_break(a->ctx.loop, EVBREAK_ALL);
    }
}

/* Stops every session: TEARDOWN for those playing, the others end at once. */
static void
stop_all(struct app *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    a->t_stop_ns = rbench_now_ns();
    ev_timer_stop(a->ctx.loop, &a->ramp);
    ev_timer_stop(a->ctx.loop, &a->end);
    for (size_t i = 0; i < a->launched; i++)
        rbench_session_stop(&a->sessions[i]);
    if (a->done == a->launched) {
        a->t_end_ns = rbench_now_ns();
        ev_break(a->ctx.loop, EVBREAK_ALL);
    }
}

static void
end_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    stop_all(ev_userdata(loop));
}

static void
sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct app *a = ev_userdata(loop);
    if (a->stopping) { /* second signal: give up waiting for TEARDOWN answers */
        a->t_end_ns = rbench_now_ns();
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    stop_all(a);
}

/* Starts the sessions that are due by the ramp; when all are, the -d window begins. */
static void
ramp_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct app *a = ev_userdata(loop);
    uint64_t now = rbench_now_ns();
    size_t due = a->n;
    if (a->opts.ramp > 0) {
        double d = (double)(now - a->t0_ns) / 1e9 * a->opts.ramp + 1.0;
        due = d >= (double)a->n ? a->n : (size_t)d;
    }
    while (a->launched < due && !a->stopping) {
        struct rbench_session *s = &a->sessions[a->launched++];
        rbench_session_start(s);
    }
    if (a->launched == a->n && !a->stopping) {
        ev_timer_stop(loop, &a->ramp);
        a->t_last_launch_ns = now;
        ev_timer_init(&a->end, end_cb, a->opts.duration_s, 0.);
        ev_timer_start(loop, &a->end);
    }
}

static int
expand_urls(struct app *a)
{
    size_t total = 0;
    for (size_t i = 0; i < a->opts.n_urls; i++) {
        uint64_t c = 0;
        if (rbench_url_pattern_count(a->opts.urls[i], &c) != RD_OK)
            return RD_EPROTO;
        total += (size_t)c;
    }
    if (total > RBENCH_MAX_URLS)
        return RD_ELIMIT;
    a->urls = calloc(total, sizeof(*a->urls));
    if (!a->urls)
        return RD_ENOMEM;
    for (size_t i = 0; i < a->opts.n_urls; i++) {
        uint64_t c = 0;
        (void)rbench_url_pattern_count(a->opts.urls[i], &c);
        for (uint64_t k = 0; k < c; k++) {
            char buf[RBENCH_URL_MAX];
            int len = rbench_url_pattern_nth(a->opts.urls[i], k, buf, sizeof(buf));
            if (len < 0)
                return RD_ELIMIT;
            a->urls[a->n_urls] = malloc((size_t)len + 1);
            if (!a->urls[a->n_urls])
                return RD_ENOMEM;
            memcpy(a->urls[a->n_urls++], buf, (size_t)len + 1);
        }
    }
    return RD_OK;
}

static int
parse_src(const char *spec, uint32_t *base, uint32_t *n)
{
    /* The redirect engine's parser, so both modes read --src the same way. */
    static struct redirect_bench tmp;
    redirect_bench_init(&tmp);
    if (redirect_bench_set_src(&tmp, spec) != RD_OK)
        return RD_EPROTO;
    *base = tmp.src_base;
    *n = (uint32_t)tmp.n_src;
    return RD_OK;
}

static int
write_json(const char *path, json_t *j)
{
    if (!j || json_dump_file(j, path, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "rtsp-bench: cannot write %s\n", path);
        json_decref(j);
        return RBENCH_EXIT_FAILURE;
    }
    json_decref(j);
    return RBENCH_EXIT_OK;
}

/* --redirect-only: the redirect engine against the broker named by the URL. */
static int
run_redirect(const struct rbench_opts *o)
{
    static struct redirect_bench b;
    redirect_bench_init(&b);
    struct url_parts u;
    const char *url = o->urls[0];
    char host[64], cam[REDIRECT_BENCH_NAME_MAX];
    struct rd_str seg;
    if (url_split(rd_str_cstr(url), &u) != RD_OK || u.host_kind != URL_HOST_IPV4
        || rd_str_copy(host, sizeof(host), u.host) != RD_OK
        || url_broker_camera(u.path, &seg, NULL) != RD_OK
        || rd_str_copy(cam, sizeof(cam), seg) != RD_OK) {
        fprintf(stderr, "rtsp-bench: --redirect-only needs rtsp://A.B.C.D[:port]/<camera>\n");
        return RBENCH_EXIT_USAGE;
    }
    b.concurrency = o->concurrency;
    b.rate = o->rate;
    b.timeout_s = o->timeout_s;
    b.label = o->label;
    if (o->n_given)
        b.total = o->n;
    else
        b.duration_s = o->duration_s;
    if (redirect_bench_set_server(&b, host, u.port) != RD_OK
        || (o->src && redirect_bench_set_src(&b, o->src) != RD_OK)
        || redirect_bench_add_camera(&b, cam) != RD_OK) {
        redirect_bench_free(&b);
        return RBENCH_EXIT_USAGE;
    }
    int rc = redirect_bench_run(&b);
    if (rc != RD_OK) {
        fprintf(stderr, "rtsp-bench: redirect run failed: %s\n", rd_strstatus(rc));
        redirect_bench_free(&b);
        return RBENCH_EXIT_FAILURE;
    }
    if (!o->quiet)
        redirect_bench_print(&b, stdout);
    int status = b.tally.completed > 0 ? RBENCH_EXIT_OK : RBENCH_EXIT_THRESHOLD;
    if (o->json) {
        json_t *j = redirect_bench_json(&b, "rtsp-bench", NULL);
        if (j)
            json_object_set_new(j, "mode", json_string("redirect-only"));
        if (write_json(o->json, j) != RBENCH_EXIT_OK)
            status = RBENCH_EXIT_FAILURE;
    }
    redirect_bench_free(&b);
    return status;
}

static int
run_viewers(struct app *a)
{
    const struct rbench_opts *o = &a->opts;
    int rc = expand_urls(a);
    if (rc != RD_OK) {
        fprintf(stderr, "rtsp-bench: URL expansion failed: %s\n", rd_strstatus(rc));
        return RBENCH_EXIT_USAGE;
    }
    if (o->src && parse_src(o->src, &a->src_base, &a->n_src) != RD_OK) {
        fprintf(stderr, "rtsp-bench: bad --src '%s'\n", o->src);
        return RBENCH_EXIT_USAGE;
    }
    a->n = (size_t)o->n;
    /* Descriptors: one TCP socket and two per UDP track each (up to RBENCH_MAX_TRACKS). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)a->n * (o->transport == RBENCH_UDP ? 3 : 1) + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
        fprintf(stderr, "rtsp-bench: warning: %llu descriptors may not be enough for %zu viewers\n",
                (unsigned long long)rl.rlim_cur, a->n);
    a->sessions = calloc(a->n, sizeof(*a->sessions));
    if (!a->sessions)
        return RBENCH_EXIT_FAILURE;

    a->ctx.loop = ev_default_loop(EVFLAG_AUTO);
    if (!a->ctx.loop)
        return RBENCH_EXIT_FAILURE;
    ev_set_userdata(a->ctx.loop, a);
    a->ctx.transport = o->transport;
    a->ctx.timeout_s = o->timeout_s;
    a->ctx.on_done = on_done;
    a->ctx.arg = a;
    rbench_ctx_init(&a->ctx);
    for (size_t i = 0; i < a->n; i++) {
        uint32_t src = a->n_src ? a->src_base + (uint32_t)(i % a->n_src) : 0;
        rbench_session_init(&a->sessions[i], &a->ctx, (uint32_t)i, a->urls[i % a->n_urls], src);
    }
    ev_signal_init(&a->sigint, sig_cb, SIGINT);
    ev_signal_init(&a->sigterm, sig_cb, SIGTERM);
    ev_signal_start(a->ctx.loop, &a->sigint);
    ev_signal_start(a->ctx.loop, &a->sigterm);
    ev_unref(a->ctx.loop);
    ev_unref(a->ctx.loop);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    a->t0_ns = rbench_now_ns();
    double tick = o->ramp > 0 ? 1.0 / o->ramp : 0.001;
    if (tick < 0.001)
        tick = 0.001;
    ev_timer_init(&a->ramp, ramp_cb, 0., tick);
    ev_timer_start(a->ctx.loop, &a->ramp);
    ev_run(a->ctx.loop, 0);
    getrusage(RUSAGE_SELF, &ru1);
    if (!a->t_end_ns)
        a->t_end_ns = rbench_now_ns();

    /* Sessions still open after a second signal: end them now so their figures count. */
    for (size_t i = 0; i < a->launched; i++) {
        if (a->sessions[i].st != RBENCH_ST_DONE)
            rbench_session_stop(&a->sessions[i]);
        if (a->sessions[i].st != RBENCH_ST_DONE)
            rbench_session_collect(&a->sessions[i]);
    }
    static struct rbench_result *res;
    res = calloc(a->launched ? a->launched : 1, sizeof(*res));
    if (!res)
        return RBENCH_EXIT_FAILURE;
    for (size_t i = 0; i < a->launched; i++)
        res[i] = a->sessions[i].res;
    static struct rbench_summary sum;
    rbench_summary_make(res, a->launched, &sum);
    free(res);
    /* Sessions never launched (interrupted during the ramp) count as not established. */
    sum.sessions += a->n - a->launched;
    sum.failed += a->n - a->launched;
    sum.errors[RBENCH_ERR_NOT_ESTABLISHED] += a->n - a->launched;

    char why[1024];
    struct rbench_run run = {
        .opts = o,
        .wall_s = (double)(a->t_end_ns - a->t0_ns) / 1e9,
        .media_s = a->t_last_launch_ns && a->t_stop_ns > a->t_last_launch_ns
                       ? (double)(a->t_stop_ns - a->t_last_launch_ns) / 1e9
                       : 0.0,
        .cpu_user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime),
        .cpu_sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime),
        .max_rss_kib = ru1.ru_maxrss,
        .why = why,
    };
    run.failed = rbench_thresholds_check(o, &sum, why, sizeof(why));
    if (!o->quiet)
        rbench_report_print(stdout, &run, &sum);
    else if (run.failed)
        fprintf(stderr, "rtsp-bench: %s", why);
    int status = rbench_exit_status(run.failed);
    if (o->json
        && write_json(o->json, rbench_report_json(&run, &sum, a->sessions, a->launched))
               != RBENCH_EXIT_OK)
        status = RBENCH_EXIT_FAILURE;
    return status;
}

int
main(int argc, char **argv)
{
    static struct app app;
    struct app *a = &app;
    switch (rbench_opts_parse(argc, argv, &a->opts, stderr)) {
    case RBENCH_PARSE_HELP:
        rbench_opts_usage(stdout);
        return RBENCH_EXIT_OK;
    case RBENCH_PARSE_ERROR:
        rbench_opts_usage(stderr);
        return RBENCH_EXIT_USAGE;
    case RBENCH_PARSE_RUN:
        break;
    }
    int status = a->opts.redirect_only ? run_redirect(&a->opts) : run_viewers(a);
    if (a->urls) {
        for (size_t i = 0; i < a->n_urls; i++)
            free(a->urls[i]);
        free(a->urls);
    }
    free(a->sessions);
    return status;
}
