/* SPDX-License-Identifier: MIT */
/* rtsp-camsim command line: many simulated H.264 cameras in one process, for tests and
 * benchmarks (docs/benchmarks.md "rtsp-camsim"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camsim.h"
#include "log.h"
#include "rd_err.h"
#include "rd_str.h"

static const char usage_text[] =
    "usage: rtsp-camsim --media FILE (--path NAME... | --paths PREFIXa..PREFIXb) [options]\n"
    "\n"
    "Serves every path as an H.264 camera replaying FILE (Annex B, e.g. made by\n"
    "scripts/bench/make-media.sh) in real time, looping with continuous RTP timestamps and\n"
    "sequence numbers; each session starts at the first IDR picture of the file.\n"
    "\n"
    "  --media FILE          H.264 Annex B elementary stream (mmap'd once, shared)\n"
    "  --path NAME           a camera path (repeatable): rtsp://HOST:PORT/NAME\n"
    "  --paths A..B          a numbered range, e.g. cam1..cam200 (repeatable)\n"
    "  --listen IP           RTSP and UDP address (default 127.0.0.1)\n"
    "  --port N              RTSP port (default 8554; 0 = any, printed as \"PORT n\")\n"
    "  --port-file F         write the RTSP port to F once listening\n"
    "  --udp-port N          even RTP port of the shared UDP server pair (default: random)\n"
    "  --fps N               frame rate of FILE (default 25): RTP timestamps 90000/N apart\n"
    "  --mtu N               RTP packet size incl. header (default 1400; FU-A above it)\n"
    "  --tick-ms N           media timer period (default 5)\n"
    "  --pace-pct N          spread a frame's packets over N% of a frame interval\n"
    "                        (default 50; 0 = send each frame as one burst)\n"
    "  --user U --password P require Digest (MD5, qop=auth) on all but OPTIONS\n"
    "  --session-timeout S   advertised session timeout and keepalive deadline (default 60)\n"
    "  --stats-file F        JSON counters, total and per path, rewritten every\n"
    "  --stats-interval S    S seconds (default 1), on SIGUSR1 and at exit\n"
    "  --control FIFO        create FIFO (0600) and read fault commands from it, one a line\n"
    "  --refuse              start in the 503 fault state\n"
    "  --stop-media          start with media stopped\n"
    "  --log-level L         err|warn|notice|info|debug (default notice)\n"
    "\n"
    "Fault switches (write a line to the --control FIFO; PATH optional, default all):\n"
    "  stop-media [PATH]     keep connections and sessions, send no RTP (a stalled camera);\n"
    "  start-media [PATH]    resume at the next IDR picture, timestamps from the wall clock\n"
    "  close-all [PATH]      close every RTSP connection (of PATH's sessions)\n"
    "  restart [PATH]        new SSRC, sequence number and timestamp base, from the first IDR\n"
    "  refuse on|off         answer 503 (Retry-After: 1) to requests without a live session\n"
    "  stats                 rewrite the stats file now\n"
    "Signals: SIGUSR1 = stats, SIGUSR2 = restart (all paths), SIGTERM/SIGINT = exit.\n"
    "Stats JSON: connections, open, sessions, active, playing, plays, teardowns, timeouts,\n"
    "auth_failures, refused, packets, bytes, dropped (totals and under \"paths\"), cpu_user_s,\n"
    "cpu_sys_s, maxrss_kib, uptime_s.\n";

enum {
    OPT_MEDIA = 256,
    OPT_PATH,
    OPT_PATHS,
    OPT_LISTEN,
    OPT_PORT,
    OPT_PORT_FILE,
    OPT_UDP_PORT,
    OPT_FPS,
    OPT_MTU,
    OPT_TICK,
    OPT_PACE,
    OPT_USER,
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_STATS,
    OPT_STATS_INTERVAL,
    OPT_CONTROL,
    OPT_REFUSE,
    OPT_STOP_MEDIA,
    OPT_LOG_LEVEL,
    OPT_VERSION,
};

struct names {
    char **v;
    size_t n, cap;
};

static int
names_add(struct names *ns, const char *p, size_t len)
{
    if (ns->n >= RD_CAMSIM_MAX_PATHS || len > RD_CAMSIM_PATH_MAX)
        return RD_ELIMIT;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? 2 * ns->cap : 64;
        char **v = realloc(ns->v, cap * sizeof(*v));
        if (!v)
            return RD_ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return RD_ENOMEM;
    memcpy(s, p, len);
    s[len] = '\0';
    ns->v[ns->n++] = s;
    return RD_OK;
}

/* "cam1..cam200" (or "cam1..200"): a prefix and a decimal range. */
static int
names_add_range(struct names *ns, const char *spec)
{
    const char *dots = strstr(spec, "..");
    if (!dots)
        return RD_EPROTO;
    size_t llen = (size_t)(dots - spec), d = llen;
    while (d > 0 && spec[d - 1] >= '0' && spec[d - 1] <= '9')
        d--;
    if (d == llen)
        return RD_EPROTO;
    const char *right = dots + 2;
    size_t rlen = strlen(right);
    if (rlen > d && memcmp(right, spec, d) == 0)
        right += d, rlen -= d;
    uint64_t lo, hi;
    if (rd_str_to_u64(rd_str_make(spec + d, llen - d), 6, 999999, &lo) != RD_OK
        || rd_str_to_u64(rd_str_make(right, rlen), 6, 999999, &hi) != RD_OK || hi < lo)
        return RD_EPROTO;
    for (uint64_t i = lo; i <= hi; i++) {
        char buf[RD_CAMSIM_PATH_MAX + 16];
        int n = snprintf(buf, sizeof(buf), "%.*s%llu", (int)d, spec, (unsigned long long)i);
        if (n < 0 || (size_t)n >= sizeof(buf))
            return RD_ELIMIT;
        int rc = names_add(ns, buf, (size_t)n);
        if (rc != RD_OK)
            return rc;
    }
    return RD_OK;
}

static bool
num_arg(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return rd_str_to_u64(rd_str_cstr(s), 10, hi, out) == RD_OK && *out >= lo;
}

int
main(int argc, char **argv)
{
    struct camsim_conf conf = {
        .listen_ip = "127.0.0.1",
        .port = 8554,
        .fps = 25,
        .mtu = 1400,
        .tick_ms = 5,
        .pace_pct = 50,
        .session_timeout_s = RD_RTSP_SESSION_TIMEOUT_S,
        .stats_interval_s = 1,
    };
    struct names ns = {0};
    const char *level_name = "notice";
    static const struct option opts[] = {
        {"media", required_argument, NULL, OPT_MEDIA},
        {"path", required_argument, NULL, OPT_PATH},
        {"paths", required_argument, NULL, OPT_PATHS},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"port", required_argument, NULL, OPT_PORT},
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"udp-port", required_argument, NULL, OPT_UDP_PORT},
        {"fps", required_argument, NULL, OPT_FPS},
        {"mtu", required_argument, NULL, OPT_MTU},
        {"tick-ms", required_argument, NULL, OPT_TICK},
        {"pace-pct", required_argument, NULL, OPT_PACE},
        {"user", required_argument, NULL, OPT_USER},
        {"password", required_argument, NULL, OPT_PASSWORD},
        {"session-timeout", required_argument, NULL, OPT_TIMEOUT},
        {"stats-file", required_argument, NULL, OPT_STATS},
        {"stats-interval", required_argument, NULL, OPT_STATS_INTERVAL},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"refuse", no_argument, NULL, OPT_REFUSE},
        {"stop-media", no_argument, NULL, OPT_STOP_MEDIA},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    uint64_t v;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_MEDIA:
            conf.media_path = optarg;
            break;
        case OPT_PATH: {
            const char *n = optarg[0] == '/' ? optarg + 1 : optarg;
            if (names_add(&ns, n, strlen(n)) != RD_OK)
                goto bad;
            break;
        }
        case OPT_PATHS:
            if (names_add_range(&ns, optarg) != RD_OK)
                goto bad;
            break;
        case OPT_LISTEN:
            conf.listen_ip = optarg;
            break;
        case OPT_PORT:
            if (!num_arg(optarg, 0, 65535, &v))
                goto bad;
            conf.port = (uint16_t)v;
            break;
        case OPT_PORT_FILE:
            conf.port_file = optarg;
            break;
        case OPT_UDP_PORT:
            if (!num_arg(optarg, 1024, 65534, &v) || (v & 1))
                goto bad;
            conf.udp_port = (uint16_t)v;
            break;
        case OPT_FPS:
            if (!num_arg(optarg, 1, 240, &v))
                goto bad;
            conf.fps = (unsigned)v;
            break;
        case OPT_MTU:
            if (!num_arg(optarg, RD_CAMSIM_MTU_MIN, RD_CAMSIM_MTU_MAX, &v))
                goto bad;
            conf.mtu = (size_t)v;
            break;
        case OPT_TICK:
            if (!num_arg(optarg, 1, 100, &v))
                goto bad;
            conf.tick_ms = (unsigned)v;
            break;
        case OPT_PACE:
            if (!num_arg(optarg, 0, 100, &v))
                goto bad;
            conf.pace_pct = (unsigned)v;
            break;
        case OPT_USER:
            conf.user = optarg;
            break;
        case OPT_PASSWORD:
            conf.password = optarg;
            break;
        case OPT_TIMEOUT:
            if (!num_arg(optarg, 2, 3600, &v))
                goto bad;
            conf.session_timeout_s = (unsigned)v;
            break;
        case OPT_STATS:
            conf.stats_file = optarg;
            break;
        case OPT_STATS_INTERVAL:
            if (!num_arg(optarg, 1, 3600, &v))
                goto bad;
            conf.stats_interval_s = (double)v;
            break;
        case OPT_CONTROL:
            conf.control_path = optarg;
            break;
        case OPT_REFUSE:
            conf.refuse = true;
            break;
        case OPT_STOP_MEDIA:
            conf.media_stopped = true;
            break;
        case OPT_LOG_LEVEL:
            level_name = optarg;
            break;
        case OPT_VERSION:
            printf("rtsp-camsim %s\n", RD_VERSION);
            return 0;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            goto usage;
        }
    }
    if (optind != argc || !conf.media_path || ns.n == 0 || (conf.password && !conf.user))
        goto usage;
    enum log_level level;
    struct rd_errbuf err = {{0}};
    if (log_level_parse(level_name, &level) != RD_OK
        || log_open("rtsp-camsim", NULL, level, &err) != RD_OK)
        goto usage;
    conf.paths = (const char *const *)ns.v;
    conf.n_paths = ns.n;
    struct camsim *s = camsim_new(&conf, &err);
    if (!s) {
        fprintf(stderr, "rtsp-camsim: %s\n", err.msg);
        return 1;
    }
    printf("PORT %u\n", camsim_port(s));
    fflush(stdout);
    if (conf.port_file) {
        char tmp[4096];
        int n = snprintf(tmp, sizeof(tmp), "%s.tmp", conf.port_file);
        FILE *f = n > 0 && (size_t)n < sizeof(tmp) ? fopen(tmp, "w") : NULL;
        if (!f || fprintf(f, "%u\n", camsim_port(s)) < 0 || fclose(f) != 0
            || rename(tmp, conf.port_file) != 0) {
            fprintf(stderr, "rtsp-camsim: cannot write %s\n", conf.port_file);
            camsim_free(s);
            return 1;
        }
    }
    camsim_run(s);
    camsim_free(s);
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    free(ns.v);
    return 0;
bad:
    fprintf(stderr, "rtsp-camsim: bad value for --%s: %s\n", opts[opt - OPT_MEDIA].name, optarg);
    return 2;
usage:
    fputs(usage_text, stderr);
    return 2;
}
