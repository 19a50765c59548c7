/* SPDX-License-Identifier: MIT */
/* rtsp-bench command line and thresholds (rbench_opts.h). */
#define _GNU_SOURCE /* getopt_long */
#include "rbench_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rbench_limits.h"
#include "rbench_url.h"
#include "rd_err.h"
#include "rd_str.h"

void
rbench_opts_usage(FILE *f)
{
    fprintf(f,
            "usage: rtsp-bench [-n VIEWERS] [-T tcp|udp] [-d SECONDS] [--ramp PER_SECOND]\n"
            "                  [--json FILE] [--max-loss PERCENT] [--max-setup-ms MS]\n"
            "                  [--min-sessions N] [--timeout S] [--src A.B.C.D[-N]] URL...\n"
            "       rtsp-bench --redirect-only [-n CONNECTIONS | -d SECONDS] [--rate PER_SECOND]\n"
            "                  [-c IN_FLIGHT] [--json FILE] URL\n"
            "Viewer mode: VIEWERS sessions spread over the URLs in turn (a URL may hold one\n"
            "range, rtsp://h/cam{1..200}), started at --ramp per second (default 100, 0 = all\n"
            "at once); each follows redirects, sets up every track, plays until SECONDS\n"
            "(default 10) after the last one started, then sends TEARDOWN.\n"
            "  -n N               viewers (default 1)\n"
            "  -T tcp|udp         RTP over TCP interleaved (default) or UDP (client ports on the\n"
            "                     session's source address, default 127.0.0.1)\n"
            "  -d S               play seconds after the last viewer started\n"
            "  --ramp R           viewers started per second\n"
            "  --timeout S        deadline of each setup step (default 10)\n"
            "  --src A.B.C.D[-N]  bind viewer k to address A.B.C.D + k %% N (per-IP caps)\n"
            "  --json FILE        full results (per session and aggregate) as JSON\n"
            "  --label TEXT       label stored in the JSON\n"
            "  --max-loss P       exit 1 when total loss exceeds P percent\n"
            "  --max-setup-ms MS  exit 1 when a session took longer than MS to PLAY\n"
            "  --min-sessions N   exit 1 when fewer than N sessions reached PLAY\n"
            "  -q                 no summary on stdout\n"
            "Redirect mode: OPTIONS + DESCRIBE on a new connection each, checking the 302.\n"
            "  -n N               connections (else -d seconds, default 5)\n"
            "  --rate R           open loop at R per second (default: closed loop, full speed)\n"
            "  -c N               connections in flight (default 32)\n"
            "Exit: 0 ok, 1 threshold not met or nothing established, 2 usage, 3 failure.\n");
}

static void complain(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
complain(FILE *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("rtsp-bench: ", err);
    vfprintf(err, fmt, ap);
    fputc('\n', err);
    va_end(ap);
}

static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    return rd_str_to_u64(rd_str_cstr(s), 19, max, out) == RD_OK;
}

/* A finite, non-negative decimal of at most 1e9. */
static bool
parse_num(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e9)
        return false;
    *out = v;
    return true;
}

enum rbench_parse
rbench_opts_parse(int argc, char **argv, struct rbench_opts *o, FILE *err)
{
    memset(o, 0, sizeof(*o));
    o->n = 1;
    o->transport = RBENCH_TCP;
    o->duration_s = 10;
    o->ramp = 100;
    o->concurrency = 32;
    o->timeout_s = 10;

    enum {
        OPT_RAMP = 256,
        OPT_JSON,
        OPT_MAX_LOSS,
        OPT_MAX_SETUP,
        OPT_MIN_SESSIONS,
        OPT_REDIRECT_ONLY,
        OPT_RATE,
        OPT_TIMEOUT,
        OPT_SRC,
        OPT_LABEL
    };
    static const struct option longopts[] = {
        {"viewers", required_argument, NULL, 'n'},
        {"transport", required_argument, NULL, 'T'},
        {"duration", required_argument, NULL, 'd'},
        {"concurrency", required_argument, NULL, 'c'},
        {"ramp", required_argument, NULL, OPT_RAMP},
        {"json", required_argument, NULL, OPT_JSON},
        {"max-loss", required_argument, NULL, OPT_MAX_LOSS},
        {"max-setup-ms", required_argument, NULL, OPT_MAX_SETUP},
        {"min-sessions", required_argument, NULL, OPT_MIN_SESSIONS},
        {"redirect-only", no_argument, NULL, OPT_REDIRECT_ONLY},
        {"rate", required_argument, NULL, OPT_RATE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"src", required_argument, NULL, OPT_SRC},
        {"label", required_argument, NULL, OPT_LABEL},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool rate_given = false;
    int opt;
    uint64_t v;
    optind = 0; /* full re-initialisation (glibc), so tests may parse several times */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "n:T:d:c:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (!parse_u64(optarg, 1000000000, &v) || v == 0) {
                complain(err, "-n: a count of at least 1 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            o->n = v;
            o->n_given = true;
            break;
        case 'T':
            if (strcmp(optarg, "tcp") == 0) {
                o->transport = RBENCH_TCP;
            } else if (strcmp(optarg, "udp") == 0) {
                o->transport = RBENCH_UDP;
            } else {
                complain(err, "-T: tcp or udp expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            break;
        case 'd':
            if (!parse_num(optarg, &o->duration_s) || o->duration_s <= 0) {
                complain(err, "-d: seconds > 0 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            o->duration_given = true;
            break;
        case 'c':
            if (!parse_u64(optarg, 65536, &v) || v == 0) {
                complain(err, "-c: 1..65536 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            o->concurrency = (unsigned)v;
            break;
        case OPT_RAMP:
            if (!parse_num(optarg, &o->ramp)) {
                complain(err, "--ramp: sessions per second >= 0 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            break;
        case OPT_RATE:
            if (!parse_num(optarg, &o->rate) || o->rate <= 0) {
                complain(err, "--rate: connections per second > 0 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            rate_given = true;
            break;
        case OPT_TIMEOUT:
            if (!parse_num(optarg, &o->timeout_s) || o->timeout_s <= 0) {
                complain(err, "--timeout: seconds > 0 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            break;
        case OPT_JSON:
            o->json = optarg;
            break;
        case OPT_LABEL:
            o->label = optarg;
            break;
        case OPT_SRC:
            o->src = optarg;
            break;
        case OPT_MAX_LOSS:
            if (!parse_num(optarg, &o->max_loss) || o->max_loss > 100) {
                complain(err, "--max-loss: a percentage 0..100 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            o->has_max_loss = true;
            break;
        case OPT_MAX_SETUP:
            if (!parse_num(optarg, &o->max_setup_ms)) {
                complain(err, "--max-setup-ms: milliseconds >= 0 expected, got '%s'", optarg);
                return RBENCH_PARSE_ERROR;
            }
            o->has_max_setup = true;
            break;
        case OPT_MIN_SESSIONS:
            if (!parse_u64(optarg, RBENCH_MAX_VIEWERS, &o->min_sessions)) {
                complain(err, "--min-sessions: 0..%d expected, got '%s'", RBENCH_MAX_VIEWERS,
                         optarg);
                return RBENCH_PARSE_ERROR;
            }
            o->has_min_sessions = true;
            break;
        case OPT_REDIRECT_ONLY:
            o->redirect_only = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            return RBENCH_PARSE_HELP;
        default:
            complain(err, "unknown option or missing value: '%s'", argv[optind - 1]);
            return RBENCH_PARSE_ERROR;
        }
    }
    o->urls = (const char *const *)(argv + optind);
    o->n_urls = (size_t)(argc - optind);
    if (o->n_urls == 0) {
        complain(err, "no URL given");
        return RBENCH_PARSE_ERROR;
    }
    for (size_t i = 0; i < o->n_urls; i++) {
        uint64_t count;
        int rc = rbench_url_pattern_count(o->urls[i], &count);
        if (rc != RD_OK) {
            complain(err, "bad URL pattern '%s' (%s)", o->urls[i],
                     rc == RD_ELIMIT ? "more than the URL cap" : "one {LO..HI} range allowed");
            return RBENCH_PARSE_ERROR;
        }
        if (o->redirect_only && count != 1) {
            complain(err, "--redirect-only takes one URL without a pattern");
            return RBENCH_PARSE_ERROR;
        }
    }
    if (o->redirect_only) {
        if (o->n_urls != 1) {
            complain(err, "--redirect-only takes one URL");
            return RBENCH_PARSE_ERROR;
        }
        if (o->n_given && o->duration_given) {
            complain(err, "--redirect-only: -n and -d exclude each other");
            return RBENCH_PARSE_ERROR;
        }
        if (!o->duration_given)
            o->duration_s = 5;
    } else {
        if (rate_given) {
            complain(err, "--rate is for --redirect-only (viewers use --ramp)");
            return RBENCH_PARSE_ERROR;
        }
        if (o->n > RBENCH_MAX_VIEWERS) {
            complain(err, "-n: at most %d viewers", RBENCH_MAX_VIEWERS);
            return RBENCH_PARSE_ERROR;
        }
    }
    return RBENCH_PARSE_RUN;
}

/* Appends one line to why[cap] if it fits whole. */
static void why_add(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
why_add(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || cap == 0)
        return;
    size_t used = strnlen(why, cap);
    if (used >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why + used, cap - used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - used)
        why[used] = '\0'; /* did not fit: drop the whole line */
}

unsigned
rbench_thresholds_check(const struct rbench_opts *o, const struct rbench_summary *s, char *why,
                        size_t cap)
{
    unsigned failed = 0;
    if (why && cap)
        why[0] = '\0';
    if (s->established == 0) {
        failed++;
        why_add(why, cap, "no session established (%llu tried)\n", (unsigned long long)s->sessions);
    }
    if (o->has_min_sessions && s->established < o->min_sessions) {
        failed++;
        why_add(why, cap, "sessions established %llu < --min-sessions %llu\n",
                (unsigned long long)s->established, (unsigned long long)o->min_sessions);
    }
    if (o->has_max_loss && s->loss_pct > o->max_loss) {
        failed++;
        why_add(why, cap, "loss %.4f%% > --max-loss %g%%\n", s->loss_pct, o->max_loss);
    }
    if (o->has_max_setup && s->setup.n > 0) {
        double max_ms = (double)s->setup.max / 1e6;
        if (max_ms > o->max_setup_ms) {
            failed++;
            why_add(why, cap, "slowest setup %.1f ms > --max-setup-ms %g\n", max_ms,
                    o->max_setup_ms);
        }
    }
    return failed;
}

int
rbench_exit_status(unsigned failed)
{
    return failed ? RBENCH_EXIT_THRESHOLD : RBENCH_EXIT_OK;
}
