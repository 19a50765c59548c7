/* SPDX-License-Identifier: MIT */
/* rtsp-relay: arguments, configuration, signals and the loop; relay.c wires the modules. */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon.h"
#include "evx.h"
#include "log.h"
#include "rd_err.h"
#include "relay.h"
#include "status_http.h"

#define RELAY_CONF_DEFAULT_PATH "/etc/rtsp-director/relay.conf"
/* Descriptors wanted: max_conns viewers, camera sockets, UDP pairs. */
#define MAIN_NOFILE_WANTED 65536

static struct relay g_relay;
/* What SIGHUP reads the configuration from again: -c and the -o overrides (main's), and a
 * scratch copy. */
static const struct daemon_args *g_args;
static struct relay_conf g_fresh;

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: rtsp-relay [-c FILE] [-o key=value]...          run the relay\n"
            "       rtsp-relay [-c FILE] [-o key=value]... -t       check the configuration\n"
            "       rtsp-relay [-c FILE] [-o key=value]... --print-config\n"
            "       rtsp-relay --version\n"
            "Without -c, %s is read if it exists.\n",
            RELAY_CONF_DEFAULT_PATH);
}

static int
load_conf(struct relay_conf *conf, const char *path, char *const *overrides, size_t n_overrides,
          struct rd_errbuf *err)
{
    memset(conf, 0, sizeof(*conf));
    int rc = daemon_conf_load(&relay_conf_table, conf, path, RELAY_CONF_DEFAULT_PATH, overrides,
                              n_overrides, err);
    return rc == RD_OK ? relay_conf_check(conf, err) : rc;
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct relay *r = w->signum == SIGTERM ? RD_CONTAINER_OF(w, struct relay, sigterm)
                                           : RD_CONTAINER_OF(w, struct relay, sigint);
    RD_LOG(RD_LOG_NOTICE, NULL, "signal received signal=%s", w->signum == SIGTERM ? "TERM" : "INT");
    relay_shutdown(r);
}

static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct relay *r = RD_CONTAINER_OF(w, struct relay, sighup);
    (void)log_reopen();
    RD_LOG(RD_LOG_NOTICE, NULL, "signal received signal=HUP");
    /* A key rotation edits key_id/key_file/prev_key_* in the file: read it again. */
    struct rd_errbuf err = {{0}};
    if (load_conf(&g_fresh, g_args->conf_path, g_args->overrides, g_args->n_overrides, &err)
        != RD_OK) {
        RD_LOG(RD_LOG_ERR, NULL,
               "configuration not re-read, the key settings stay as they were error=\"%s\"",
               err.msg);
        relay_reload(r);
    } else {
        relay_reload_conf(r, &g_fresh);
    }
    memset(&g_fresh, 0, sizeof(g_fresh));
}

static int
run(void)
{
    struct relay *r = &g_relay;
    struct rd_errbuf err = {{0}};
    daemon_ignore_sigpipe();
    if (log_open("rtsp-relay", r->conf.log_file, (enum log_level)r->conf.log_level, &err)
        != RD_OK) {
        fprintf(stderr, "rtsp-relay: %s\n", err.msg);
        return 1;
    }
    daemon_raise_nofile(MAIN_NOFILE_WANTED, r->conf.max_conns + 64);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "rtsp-relay: libcurl failed to initialise\n");
        return 1;
    }
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    if (loop == NULL) {
        fprintf(stderr, "rtsp-relay: no event loop backend\n");
        return 1;
    }
    if (relay_start(r, loop, &err) != RD_OK) {
        fprintf(stderr, "rtsp-relay: %s\n", err.msg);
        if (r->conf.log_file[0] != '\0')
            RD_LOG(RD_LOG_ERR, NULL, "startup failed error=\"%s\"", err.msg);
        relay_close(r);
        curl_global_cleanup();
        log_close();
        return 1;
    }
    ev_signal_init(&r->sigterm, on_stop, SIGTERM);
    ev_signal_init(&r->sigint, on_stop, SIGINT);
    ev_signal_init(&r->sighup, on_hup, SIGHUP);
    ev_signal_start(loop, &r->sigterm);
    ev_signal_start(loop, &r->sigint);
    ev_signal_start(loop, &r->sighup);
    RD_LOG(RD_LOG_NOTICE, NULL,
           "started relay=%s rtsp=%s:%u status=%s:%u broker=%s kid=%s udp_ports=%s",
           r->conf.relay_id, r->conf.rtsp_listen.host, (unsigned)vserver_port(r->vserver),
           r->conf.status_listen.host, (unsigned)status_http_port(r->status),
           r->conf.broker_url[0] != '\0' ? r->conf.broker_url : "none", r->key.kid,
           r->conf.udp_ports);
    ev_run(loop, 0);
    ev_signal_stop(loop, &r->sigterm);
    ev_signal_stop(loop, &r->sigint);
    ev_signal_stop(loop, &r->sighup);
    relay_close(r);
    curl_global_cleanup();
    RD_LOG(RD_LOG_NOTICE, NULL, "stopped");
    log_close();
    return 0;
}

int
main(int argc, char **argv)
{
    struct daemon_args args;
    int st = daemon_args_parse(argc, argv, "rtsp-relay", usage, &args);
    if (st >= 0)
        return st;
    if (args.first_operand < argc) {
        fprintf(stderr, "rtsp-relay: unexpected argument '%s'\n", argv[args.first_operand]);
        usage(stderr);
        return 2;
    }
    struct relay_conf *conf = &g_relay.conf;
    struct rd_errbuf err = {{0}};
    if (load_conf(conf, args.conf_path, args.overrides, args.n_overrides, &err) != RD_OK) {
        fprintf(stderr, "rtsp-relay: %s\n", err.msg);
        return 1;
    }
    if (args.print_config)
        return conf_print(&relay_conf_table, conf, stdout) == RD_OK ? 0 : 1;
    g_args = &args;
    if (args.check_only) {
        /* The key files and the sources file are part of the configuration: check them. */
        if (relay_load_keys(&g_relay, &err) != RD_OK
            || (conf->sources_file[0] != '\0'
                && relay_sources_load(conf->sources_file, NULL, NULL, &err) != RD_OK)) {
            fprintf(stderr, "rtsp-relay: %s\n", err.msg);
            return 1;
        }
        printf("rtsp-relay: configuration ok\n");
        return 0;
    }
    return run();
}
