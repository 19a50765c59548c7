/* SPDX-License-Identifier: MIT */
/* Shared start-up steps of rtsp-broker and rtsp-relay. */
#define _POSIX_C_SOURCE 200809L
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "rd_err.h"

int
daemon_args_parse(int argc, char **argv, const char *name, void (*usage)(FILE *),
                  struct daemon_args *a)
{
    static const struct option longopts[] = {
        {"print-config", no_argument, NULL, 'P'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    int opt;
    /* "+": stop at the first operand, so a command's own options reach the command. */
    while ((opt = getopt_long(argc, argv, "+c:o:th", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            a->conf_path = optarg;
            break;
        case 'o':
            if (a->n_overrides == RD_CONF_MAX_OVERRIDES) {
                fprintf(stderr, "%s: more than %d -o options\n", name, RD_CONF_MAX_OVERRIDES);
                return 2;
            }
            a->overrides[a->n_overrides++] = optarg;
            break;
        case 't':
            a->check_only = true;
            break;
        case 'P':
            a->print_config = true;
            break;
        case 'V':
            printf("%s %s\n", name, RD_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    a->first_operand = optind;
    return -1;
}

int
daemon_conf_load(const struct conf_table *t, void *conf, const char *path, const char *default_path,
                 char *const *overrides, size_t n, struct rd_errbuf *err)
{
    int rc = conf_defaults(t, conf, err);
    if (rc != RD_OK)
        return rc;
    if (path == NULL && default_path != NULL && access(default_path, F_OK) == 0)
        path = default_path;
    if (path != NULL && (rc = conf_load_file(t, conf, path, err)) != RD_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = conf_apply_override(t, conf, overrides[i], err)) != RD_OK)
            return rc;
    }
    return RD_OK;
}

void
daemon_ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        RD_LOG(RD_LOG_WARN, NULL, "SIGPIPE not ignored errno=%d", errno);
}

void
daemon_raise_nofile(uint64_t want, uint64_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t w = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && w > rl.rlim_max)
        w = rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < w) {
        rl.rlim_cur = w;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            RD_LOG(RD_LOG_WARN, NULL, "RLIMIT_NOFILE not raised wanted=%llu errno=%d",
                   (unsigned long long)w, errno);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        RD_LOG(RD_LOG_WARN, NULL,
               "descriptor limit below what the configuration needs "
               "nofile=%llu needed=%llu",
               (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}
