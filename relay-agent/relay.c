/* SPDX-License-Identifier: MIT */
/* The rtsp-relay process: wiring of the modules, the once-a-second tick (rates, pool trim),
 * heartbeat contents and the broker's answers, reload and shutdown. */
#include "relay.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "crypto.h"
#include "evx.h"
#include "log.h"
#include "rd_err.h"
#include "status_http.h"

#define RELAY_USER_AGENT "rtsp-director-relay/" RD_VERSION
/* Free packet buffers kept per class when the pool is trimmed (a burst's worth). */
#define RELAY_POOL_KEEP_FREE 256

static double
cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
           + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- Load ------------------------------------------------------------------------------ */

struct count_ctx {
    uint32_t cameras, pulling;
};

static void
count_cb(void *arg, const struct camera_info *ci)
{
    struct count_ctx *cc = arg;
    cc->cameras++;
    if (strcmp(ci->state, "idle") != 0)
        cc->pulling++;
}

void
relay_load(const struct relay *r, struct relay_load *out)
{
    memset(out, 0, sizeof(*out));
    if (r->vserver != NULL) {
        struct vserver_stats vs;
        vserver_stats(r->vserver, &vs);
        out->conns = vs.conns;
        out->sessions = vs.sessions;
        out->viewers = vs.playing_tcp + vs.playing_udp;
    }
    out->egress_kbps = r->egress_kbps;
    out->cpu_pct = r->cpu_pct;
    if (r->cameras != NULL) {
        struct count_ctx cc = {0, 0};
        cameras_each(r->cameras, count_cb, &cc);
        out->cameras = cc.cameras;
        out->pulling = cc.pulling;
    }
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct relay *r = RD_CONTAINER_OF(w, struct relay, tick);
    double now = ev_now(loop);
    struct fanout_stats fs;
    fanout_stats(r->fanout, &fs);
    double cpu = cpu_seconds();
    double dt = now - r->rate_at;
    if (dt > 0.2) {
        uint64_t bytes = fs.bytes_out - r->rate_bytes_out;
        double kbps = (double)bytes * 8. / 1000. / dt;
        r->egress_kbps = kbps > 4e9 ? 4000000000u : (uint32_t)kbps;
        r->cpu_pct = (cpu - r->rate_cpu_s) / dt * 100.;
        if (r->cpu_pct < 0)
            r->cpu_pct = 0;
        r->rate_at = now;
        r->rate_bytes_out = fs.bytes_out;
        r->rate_cpu_s = cpu;
    }
    cameras_tick(r->cameras);
    pktpool_trim(&r->pool, RELAY_POOL_KEEP_FREE);
}

/* ---- Heartbeats ------------------------------------------------------------------------- */

struct fill_ctx {
    struct hb_report *rep;
};

static void
fill_camera_cb(void *arg, const struct camera_info *ci)
{
    struct fill_ctx *fc = arg;
    struct hb_report *rep = fc->rep;
    /* Report what is pulled (the broker's affinity); idle entries are only cached sources. */
    if (strcmp(ci->state, "idle") == 0 || rep->n_cameras == RD_HEARTBEAT_MAX_CAMERAS)
        return;
    struct hb_camera *hc = &rep->cameras[rep->n_cameras++];
    hc->id = ci->id;
    hc->state = ci->state;
    hc->viewers = ci->users - ci->waiting;
    hc->ingress_kbps = ci->ingress_kbps;
    hc->drops = ci->drops;
}

static void
hb_fill(void *arg, struct hb_report *rep)
{
    struct relay *r = arg;
    struct relay_load ld;
    relay_load(r, &ld);
    rep->state = r->draining ? "draining" : "active";
    rep->capacity_viewers = (uint32_t)r->conf.capacity;
    rep->capacity_egress_kbps = (uint32_t)(r->conf.capacity_egress_mbps * 1000);
    rep->viewers = ld.viewers;
    rep->egress_kbps = ld.egress_kbps;
    rep->cpu_pct = ld.cpu_pct;
    rep->n_cameras = 0;
    struct fill_ctx fc = {rep};
    cameras_each(r->cameras, fill_camera_cb, &fc);
    /* The kids this relay verifies tokens with: the broker signs with the newest of them. */
    rep->n_kids = 0;
    for (size_t i = 0; i < r->keys.n && i < RD_TOKEN_LIVE_KIDS; i++)
        rep->kids[rep->n_kids++] = r->keys.keys[i].kid;
}

static bool
relay_holds_kid(const struct relay *r, const char *kid)
{
    for (size_t i = 0; i < r->keys.n; i++)
        if (strcmp(r->keys.keys[i].kid, kid) == 0)
            return true;
    return false;
}

static void
hb_answer(void *arg, const struct hb_answer *a)
{
    struct relay *r = arg;
    if (!a->ok)
        return; /* bclient logs reachability changes once */
    if (strcmp(a->state, r->operator_state) != 0) {
        RD_LOG(RD_LOG_NOTICE, NULL, "operator state from broker state=%s", a->state);
        (void)rd_str_copy(r->operator_state, sizeof(r->operator_state), rd_str_cstr(a->state));
    }
    if (a->signing_kid[0] != '\0' && strcmp(a->signing_kid, r->broker_signing_kid) != 0) {
        (void)rd_str_copy(r->broker_signing_kid, sizeof(r->broker_signing_kid),
                          rd_str_cstr(a->signing_kid));
        /* The broker signs with the newest live key this relay reported holding ("kids" of
         * the heartbeat), so a kid not held means the relay holds no live key at all (or an
         * older broker that signs with its newest key regardless). */
        if (!relay_holds_kid(r, a->signing_kid))
            RD_LOG(RD_LOG_ERR, NULL,
                   "broker signs viewer tokens with a key this relay does not hold: install "
                   "the rotated key (key_id/key_file) and reload (SIGHUP); viewers sent here "
                   "get 403 until then signing_kid=%s",
                   a->signing_kid);
        else
            RD_LOG(RD_LOG_INFO, NULL, "broker signs viewer tokens with signing_kid=%s",
                   a->signing_kid);
    }
    if (a->registry_version != r->registry_version) {
        bool first = r->registry_version == 0;
        r->registry_version = a->registry_version;
        if (!first)
            cameras_registry_changed(r->cameras, a->registry_version);
    }
    if (a->interval_ms != 0)
        bclient_set_interval(r->broker, a->interval_ms);
}

/* ---- Start, reload, shutdown -------------------------------------------------------------- */

static int
add_source(void *arg, const struct camera_source *src)
{
    struct relay *r = arg;
    return cameras_set_source(r->cameras, src);
}

int
relay_start(struct relay *r, struct ev_loop *loop, struct rd_errbuf *err)
{
    r->loop = loop;
    r->started_at = ev_now(loop);
    uint8_t boot[16];
    if (rd_random_bytes(boot, sizeof(boot)) != RD_OK) {
        rd_errbuf_set(err, "no random bytes for the boot id");
        return RD_EIO;
    }
    rd_hex_encode(boot, sizeof(boot), r->boot_id);
    int rc = relay_load_keys(r, err);
    if (rc != RD_OK)
        return rc;
    if ((rc = pktpool_init(&r->pool, NULL)) != RD_OK) {
        rd_errbuf_set(err, "packet pool: %s", rd_strstatus(rc));
        return rc;
    }
    r->pool_ready = true;
    if ((rc = fanout_new(loop, &r->pool, NULL, &r->fanout)) != RD_OK) {
        rd_errbuf_set(err, "fanout: %s", rd_strstatus(rc));
        return rc;
    }
    uint16_t lo, hi;
    (void)relay_conf_udp_ports(r->conf.udp_ports, &lo, &hi); /* checked by relay_conf_check */
    if ((rc = udp_ports_new(r->conf.rtsp_listen.host, lo, hi, &r->ports, err)) != RD_OK)
        return rc;
    if (r->conf.broker_url[0] != '\0') {
        struct bclient_cfg bc = {
            .broker_url = r->conf.broker_url,
            .relay_id = r->conf.relay_id,
            .key = &r->key,
            .interval_ms = (uint32_t)r->conf.heartbeat_interval_ms,
            .timeout_s = RD_BCLIENT_TIMEOUT_S,
            .user_agent = RELAY_USER_AGENT,
            .fill = hb_fill,
            .answer = hb_answer,
            .arg = r,
        };
        if ((rc = bclient_new(loop, &bc, &r->broker, err)) != RD_OK)
            return rc;
    }
    struct cameras_env ce = {
        .puller = {.loop = loop,
                   .pool = &r->pool,
                   .fanout = r->fanout,
                   .ports = r->ports,
                   .user_agent = RELAY_USER_AGENT},
        .broker = r->broker,
        .linger_s = RD_PULL_LINGER_S,
        .ready_timeout_s = RD_PULL_READY_S,
    };
    if ((rc = cameras_new(&ce, &r->cameras)) != RD_OK) {
        rd_errbuf_set(err, "camera table: %s", rd_strstatus(rc));
        return rc;
    }
    if (r->conf.sources_file[0] != '\0'
        && (rc = relay_sources_load(r->conf.sources_file, add_source, r, err)) != RD_OK)
        return rc;
    struct vserver_env ve = {
        .loop = loop,
        .cameras = r->cameras,
        .fanout = r->fanout,
        .ports = r->ports,
        .keys = &r->keys,
        .relay_id = r->conf.relay_id,
        .session_timeout_s = (double)r->conf.session_timeout_s,
        .max_conns = (uint32_t)r->conf.max_conns,
    };
    if ((rc = vserver_new(&ve, &r->vserver)) != RD_OK) {
        rd_errbuf_set(err, "viewer server: %s", rd_strstatus(rc));
        return rc;
    }
    if ((rc = vserver_listen(r->vserver, &r->conf.rtsp_listen, err)) != RD_OK)
        return rc;
    if ((rc = status_http_start(r, &r->conf.status_listen, &r->status, err)) != RD_OK)
        return rc;
    r->rate_at = ev_now(loop);
    r->rate_cpu_s = cpu_seconds();
    ev_timer_init(&r->tick, tick_cb, 1., 1.);
    ev_timer_start(loop, &r->tick);
    return RD_OK;
}

/* Key settings of the configuration that SIGHUP applies (the others need a restart). */
struct key_conf {
    char key_id[RD_TOKEN_KID_MAX + 1];
    char key_file[RD_CONF_MAX_VALUE + 1];
    char prev_key_id[RD_TOKEN_KID_MAX + 1];
    char prev_key_file[RD_CONF_MAX_VALUE + 1];
};

static void
key_conf_get(const struct relay_conf *c, struct key_conf *k)
{
    memcpy(k->key_id, c->key_id, sizeof(k->key_id));
    memcpy(k->key_file, c->key_file, sizeof(k->key_file));
    memcpy(k->prev_key_id, c->prev_key_id, sizeof(k->prev_key_id));
    memcpy(k->prev_key_file, c->prev_key_file, sizeof(k->prev_key_file));
}

static void
key_conf_put(struct relay_conf *c, const struct key_conf *k)
{
    memcpy(c->key_id, k->key_id, sizeof(c->key_id));
    memcpy(c->key_file, k->key_file, sizeof(c->key_file));
    memcpy(c->prev_key_id, k->prev_key_id, sizeof(c->prev_key_id));
    memcpy(c->prev_key_file, k->prev_key_file, sizeof(c->prev_key_file));
}

void
relay_reload_conf(struct relay *r, const struct relay_conf *fresh)
{
    struct key_conf old, now;
    key_conf_get(&r->conf, &old);
    if (fresh != NULL) {
        key_conf_get(fresh, &now);
        key_conf_put(&r->conf, &now);
    }
    struct rd_errbuf err = {{0}};
    if (relay_load_keys(r, &err) != RD_OK) {
        key_conf_put(&r->conf, &old);
        RD_LOG(RD_LOG_ERR, NULL, "keys not reloaded, the old ones stay error=\"%s\"", err.msg);
    } else {
        RD_LOG(RD_LOG_NOTICE, NULL, "keys reloaded kid=%s prev_kid=%s", r->key.kid,
               r->prev_key.kid[0] != '\0' ? r->prev_key.kid : "-");
        if (r->broker != NULL) {
            bclient_set_key(r->broker, &r->key);
            /* Tell the broker the kids now held at once (it signs with the newest of them),
             * and check its signing_kid again against the new keyring. */
            r->broker_signing_kid[0] = '\0';
            bclient_beat_now(r->broker);
        }
    }
    if (r->conf.sources_file[0] != '\0') {
        if (relay_sources_load(r->conf.sources_file, add_source, r, &err) != RD_OK)
            RD_LOG(RD_LOG_ERR, NULL, "sources not reloaded error=\"%s\"", err.msg);
        else
            RD_LOG(RD_LOG_NOTICE, NULL, "sources reloaded cameras=%zu", cameras_count(r->cameras));
    }
}

void
relay_reload(struct relay *r)
{
    relay_reload_conf(r, NULL);
}

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct relay *r = RD_CONTAINER_OF(w, struct relay, stop_timer);
    uint32_t open = r->vserver != NULL ? vserver_conns(r->vserver) : 0;
    if (open == 0 || ev_now(loop) >= r->stop_deadline) {
        if (open > 0)
            RD_LOG(RD_LOG_NOTICE, NULL, "grace over, closing the rest conns=%u", open);
        ev_timer_stop(loop, w);
        ev_break(loop, EVBREAK_ALL);
    }
}

void
relay_shutdown(struct relay *r)
{
    if (r->draining)
        return;
    r->draining = true;
    RD_LOG(RD_LOG_NOTICE, NULL, "shutting down grace_s=%d", RD_SHUTDOWN_GRACE_S);
    if (r->vserver != NULL) {
        vserver_stop_accepting(r->vserver);
        (void)vserver_close_all(r->vserver);
    }
    if (r->broker != NULL)
        bclient_beat_now(r->broker); /* tell the broker at once: no new placements */
    /* Wait for the closes (and the draining beat) a little beyond the server's own grace. */
    r->stop_deadline = ev_now(r->loop) + RD_SHUTDOWN_GRACE_S + 0.5;
    ev_timer_init(&r->stop_timer, stop_cb, 0.02, 0.02);
    ev_timer_start(r->loop, &r->stop_timer);
}

void
relay_close(struct relay *r)
{
    if (r->loop != NULL) {
        ev_timer_stop(r->loop, &r->tick);
        ev_timer_stop(r->loop, &r->stop_timer);
    }
    status_http_stop(r->status);
    r->status = NULL;
    vserver_free(r->vserver); /* first: releases every camera user and fanout viewer */
    r->vserver = NULL;
    cameras_free(r->cameras); /* pullers and streams */
    r->cameras = NULL;
    bclient_free(r->broker);
    r->broker = NULL;
    fanout_free(r->fanout);
    r->fanout = NULL;
    udp_ports_free(r->ports);
    r->ports = NULL;
    if (r->pool_ready && pktpool_fini(&r->pool) != RD_OK)
        RD_LOG(RD_LOG_WARN, NULL, "packet buffers still referenced at exit in_use=%u",
               pktpool_in_use(&r->pool));
    r->pool_ready = false;
    rd_cleanse(&r->key, sizeof(r->key));
    rd_cleanse(&r->prev_key, sizeof(r->prev_key));
    rd_cleanse(&r->keys, sizeof(r->keys));
}
