/* SPDX-License-Identifier: MIT */
/* rd_redirect_bench: redirect load generator. Each viewer is a NEW TCP connection that sends
 * OPTIONS then DESCRIBE (sequential or pipelined; or one HTTP GET for the nginx baseline),
 * checks the 302 and its Location, and waits for the server to close. The engine is
 * tools/rtsp-bench/redirect_bench.c (shared with rtsp-bench --redirect-only); this file is its
 * command line. Run with --help for the options. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "redirect_bench.h"

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
            "      --server-pid PID   read that process's CPU time (/proc) at the start and the\n"
            "                         end of the measured window: server_cpu_s in the JSON\n"
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
parse_hostport(const char *s, struct redirect_bench *b)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    uint64_t port;
    if (!colon || colon == s || !parse_u64(colon + 1, 65535, &port) || port == 0)
        return false;
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof(host))
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    return redirect_bench_set_server(b, host, (unsigned)port) == RD_OK;
}

int
main(int argc, char **argv)
{
    static struct redirect_bench bench; /* large: the histograms */
    struct redirect_bench *b = &bench;
    const char *pattern = NULL;
    const char *json_path = NULL;
    bool quiet = false;
    const char **names = NULL;
    size_t n_names = 0;
    uint64_t lo = 0, hi = 9999;
    int status = 1;

    redirect_bench_init(b);

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
        OPT_SPIN,
        OPT_SERVER_PID
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
        {"server-pid", required_argument, NULL, OPT_SERVER_PID},
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
            if (!parse_u64(optarg, REDIRECT_BENCH_MAX_INFLIGHT, &v) || v == 0)
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
                || hi - lo >= REDIRECT_BENCH_MAX_CAMERAS)
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
            b->flow = REDIRECT_FLOW_PIPELINED;
            break;
        case OPT_NO_OPTIONS:
            b->flow = REDIRECT_FLOW_DESCRIBE;
            break;
        case OPT_HTTP:
            b->flow = REDIRECT_FLOW_HTTP;
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
            if (redirect_bench_set_src(b, optarg) != RD_OK)
                goto bad;
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case OPT_LABEL:
            b->label = optarg;
            break;
        case OPT_SPIN:
            b->spin = true;
            break;
        case OPT_SERVER_PID: {
            uint64_t pid;
            if (!parse_u64(optarg, 4194304, &pid) || pid == 0)
                goto bad;
            b->server_pid = (int)pid;
            break;
        }
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            free(names);
            return 0;
        default:
            goto bad;
        }
    }
    if (optind != argc - 1 || !parse_hostport(argv[optind], b))
        goto bad;
    if (b->total && b->duration_s > 0) {
        fprintf(stderr, "rd_redirect_bench: -n and -d exclude each other\n");
        goto bad;
    }
    if (b->total && b->warmup_s > 0) {
        fprintf(stderr, "rd_redirect_bench: --warmup needs -d\n");
        goto bad;
    }
    for (size_t i = 0; i < n_names; i++) {
        if (redirect_bench_add_camera(b, names[i]) != RD_OK)
            goto out;
    }
    if (pattern) {
        for (uint64_t i = lo; i <= hi; i++) {
            char name[REDIRECT_BENCH_NAME_MAX];
            if (bench_camera_name(pattern, i, name, sizeof(name)) < 0) {
                fprintf(stderr, "rd_redirect_bench: bad --cameras pattern\n");
                goto out;
            }
            if (redirect_bench_add_camera(b, name) != RD_OK)
                goto out;
        }
    }
    if (redirect_bench_run(b) != RD_OK)
        goto out;
    if (!quiet)
        redirect_bench_print(b, stdout);
    if (json_path) {
        json_t *j = redirect_bench_json(b, "rd_redirect_bench", pattern);
        if (!j || json_dump_file(j, json_path, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "rd_redirect_bench: cannot write %s\n", json_path);
            json_decref(j);
            goto out;
        }
        json_decref(j);
    }
    status = b->tally.completed > 0 ? 0 : 1;
out:
    redirect_bench_free(b);
    free(names);
    return status;
bad:
    usage(stderr);
    free(names);
    return 2;
}
