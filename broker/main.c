/* SPDX-License-Identifier: MIT */
/* rtsp-broker: arguments, configuration, signals, the loop and the wiring of the modules;
 * registry management commands are dispatched to cli.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "admin.h"
#include "broker.h"
#include "broker_conf.h"
#include "cli.h"
#include "daemon.h"
#include "evx.h"
#include "listener.h"
#include "log.h"
#include "rd_err.h"

/* Descriptors wanted: RD_BROKER_MAX_CONNS viewers plus the admin server and the registry. */
#define MAIN_NOFILE_WANTED 65536

/* The process context: large (metrics tables), so not on the stack. */
static struct broker g_broker;

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: rtsp-broker [-c FILE] [-o key=value]...          run the broker\n"
            "       rtsp-broker [-c FILE] [-o key=value]... -t       check the configuration\n"
            "       rtsp-broker [-c FILE] [-o key=value]... --print-config\n"
            "       rtsp-broker [-c FILE] camera|relay|user ...      manage the registry\n"
            "       rtsp-broker --version\n"
            "Without -c, %s is read if it exists.\n",
            BROKER_CONF_DEFAULT_PATH);
}

/* Loads defaults, the file and the overrides, then the cross-key checks. */
static int
load_conf(struct broker_conf *conf, const char *path, char *const *overrides, size_t n_overrides,
          struct rd_errbuf *err)
{
    memset(conf, 0, sizeof(*conf));
    int rc = daemon_conf_load(&broker_conf_table, conf, path, BROKER_CONF_DEFAULT_PATH, overrides,
                              n_overrides, err);
    return rc == RD_OK ? broker_conf_check(conf, err) : rc;
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct broker *b = w->signum == SIGTERM ? RD_CONTAINER_OF(w, struct broker, sigterm)
                                            : RD_CONTAINER_OF(w, struct broker, sigint);
    RD_LOG(RD_LOG_NOTICE, NULL, "signal received signal=%s", w->signum == SIGTERM ? "TERM" : "INT");
    broker_shutdown(b);
}

static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct broker *b = RD_CONTAINER_OF(w, struct broker, sighup);
    (void)log_reopen();
    RD_LOG(RD_LOG_NOTICE, NULL, "signal received signal=HUP");
    (void)broker_reload(b);
    struct rd_errbuf err = {{0}};
    if (broker_read_admin_token(b, &err) != RD_OK)
        RD_LOG(RD_LOG_WARN, NULL, "admin token kept error=\"%s\"", err.msg);
}

/* Starts everything, runs the loop, tears down. Returns the exit code. */
static int
run(const struct broker_conf *conf)
{
    struct rd_errbuf err = {{0}};
    struct broker *b = &g_broker;
    daemon_ignore_sigpipe();
    if (log_open("rtsp-broker", conf->log_file, (enum log_level)conf->log_level, &err) != RD_OK) {
        fprintf(stderr, "rtsp-broker: %s\n", err.msg);
        return 1;
    }
    daemon_raise_nofile(MAIN_NOFILE_WANTED, conf->max_conns + 64);
    /* Two threads (the loop and the registry writer, broker.c): one malloc arena is plenty,
     * and a second one would keep its own high-water mark of SQLite pages (RSS budget). */
    (void)mallopt(M_ARENA_MAX, 1);
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    if (loop == NULL) {
        fprintf(stderr, "rtsp-broker: no event loop backend\n");
        return 1;
    }
    int rc = broker_init(b, loop, conf, &err);
    if (rc == RD_OK)
        rc = broker_open(b, &err);
    if (rc == RD_OK)
        rc = broker_read_admin_token(b, &err);
    if (rc == RD_OK)
        rc = broker_start(b, &err);
    if (rc == RD_OK)
        rc = admin_start(b, &err);
    if (rc != RD_OK) {
        fprintf(stderr, "rtsp-broker: %s\n", err.msg);
        if (conf->log_file[0] != '\0')
            RD_LOG(RD_LOG_ERR, NULL, "startup failed error=\"%s\"", err.msg);
        admin_stop(b);
        broker_close(b);
        log_close();
        return 1;
    }
    ev_signal_init(&b->sigterm, on_stop, SIGTERM);
    ev_signal_init(&b->sigint, on_stop, SIGINT);
    ev_signal_init(&b->sighup, on_hup, SIGHUP);
    ev_signal_start(loop, &b->sigterm);
    ev_signal_start(loop, &b->sigint);
    ev_signal_start(loop, &b->sighup);
    RD_LOG(RD_LOG_NOTICE, NULL, "started rtsp=%s:%u admin=%s:%u database=%s",
           conf->rtsp_listen.host, (unsigned)listener_port(b->rtsp), conf->admin_listen.host,
           admin_port(b), conf->database);
    ev_run(loop, 0);
    ev_signal_stop(loop, &b->sigterm);
    ev_signal_stop(loop, &b->sigint);
    ev_signal_stop(loop, &b->sighup);
    admin_stop(b);
    broker_close(b);
    RD_LOG(RD_LOG_NOTICE, NULL, "stopped");
    log_close();
    return 0;
}

int
main(int argc, char **argv)
{
    struct daemon_args args;
    int st = daemon_args_parse(argc, argv, "rtsp-broker", usage, &args);
    if (st >= 0)
        return st;
    struct broker_conf *conf = &g_broker.conf;
    struct rd_errbuf err = {{0}};
    if (load_conf(conf, args.conf_path, args.overrides, args.n_overrides, &err) != RD_OK) {
        fprintf(stderr, "rtsp-broker: %s\n", err.msg);
        return 1;
    }
    int op = args.first_operand;
    if (op < argc) {
        if (!cli_is_command(argv[op])) {
            fprintf(stderr, "rtsp-broker: unknown command '%s'\n", argv[op]);
            usage(stderr);
            return 2;
        }
        return cli_main(conf, argc - op, argv + op, stdin, stdout, stderr);
    }
    if (args.check_only) {
        /* The token file is part of the configuration: check it too. */
        if (broker_read_admin_token(&g_broker, &err) != RD_OK) {
            fprintf(stderr, "rtsp-broker: %s\n", err.msg);
            return 1;
        }
        printf("rtsp-broker: configuration ok\n");
        return 0;
    }
    if (args.print_config)
        return conf_print(&broker_conf_table, conf, stdout) == RD_OK ? 0 : 1;
    struct broker_conf copy = *conf;
    return run(&copy);
}
