/* SPDX-License-Identifier: MIT */
/* The broker's process context: setup and teardown, the request glue between the listener and
 * the router, catalog reloads with the relay view sync, the 1 s tick (health transitions,
 * registry version poll, batched registry flush) and the shutdown drain. */
#define _POSIX_C_SOURCE 200809L
#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "broker_conf.h"
#include "catalog.h"
#include "crypto.h"
#include "evx.h"
#include "listener.h"
#include "log.h"
#include "rd_err.h"
#include "registry.h"
#include "relay_view.h"
#include "router.h"
#include "secretfile.h"

/* The listener keeps this much room free before it takes a request from the input. */
_Static_assert(LISTENER_RESPONSE_ROOM >= ROUTER_RESPONSE_MAX,
               "the listener must leave room for the router's largest response");

/* One pair change collected from the relay view, in collection order. */
struct flush_op {
    struct reg_pair pair;
    bool removed;
    uint32_t seq;
};

struct broker_flush {
    struct flush_op *ops;
    size_t n_ops, cap_ops;
    struct reg_pair *pairs;
    size_t n_pairs, cap_pairs;
    struct reg_pair_key *removed;
    size_t n_removed, cap_removed;
    struct reg_load *loads;
    size_t n_loads, cap_loads;
    struct reg_decision decisions[BROKER_DECISIONS_KEPT];
    bool resync;           /* the next flush rewrites the whole mapping */
    int64_t last_sample_s; /* unix s of the last load sample */
    double now;            /* broker_now() of the collect in progress */
    int64_t wall_s;        /* unix s of the collect in progress */
    int rc;                /* RD_ENOMEM met during the collect */
    bool version_failed;   /* the last registry version poll failed (logged once) */
};

/* ---- Clocks -------------------------------------------------------------------------------- */

double
broker_now(const struct broker *b)
{
    (void)b;
    return log_monotonic_s();
}

int64_t
broker_wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Decisions ----------------------------------------------------------------------------- */

void
broker_decision_add(struct broker *b, const struct broker_decision *d)
{
    struct broker_decisions *r = &b->decisions;
    r->ring[r->next] = *d;
    r->next = (r->next + 1) % BROKER_DECISIONS_KEPT;
    if (r->count < BROKER_DECISIONS_KEPT)
        r->count++;
    if (r->unflushed < BROKER_DECISIONS_KEPT)
        r->unflushed++;
    else
        r->overflowed++; /* the oldest unflushed decision was overwritten */
    metrics_labelled_inc(&b->metrics.decisions_by_reason, d->reason);
}

static void
on_decision(void *ctx, const struct broker_decision *d)
{
    broker_decision_add(ctx, d);
}

/* ---- Requests ------------------------------------------------------------------------------ */

static int
on_request(void *ctx, const struct rtsp_msg *msg, const struct listener_peer *peer,
           struct rtsp_out *out, bool *close_after)
{
    struct broker *b = ctx;
    struct router_env env = {
        .cat = b->cat,
        .view = b->view,
        .now = broker_now(b),
        .wall_ms = broker_wall_ms(),
        .scheme = URL_SCHEME_RTSP,
        .token_ttl_s = (unsigned)b->conf.token_ttl_s,
        .token_bind_ip = b->conf.token_bind_ip,
        .retry_after_s = (unsigned)b->conf.retry_after_s,
        .realm = b->conf.realm,
        .nonce_key = b->nonce_key,
        .nonce_key_len = sizeof(b->nonce_key),
        .self = b->self,
        .cands = b->cands,
        .cands_cap = RD_BROKER_MAX_RELAYS,
        .jti_pool = b->jti_pool,
        .metrics = &b->metrics,
        .decide = on_decision,
        .decide_ctx = b,
    };
    struct router_peer rp = {peer->addr, peer->ip, peer->log};
    struct router_result res;
    int rc = router_handle(&env, msg, &rp, out, &res);
    *close_after = res.close_after;
    return rc;
}

/* ---- Self addresses ------------------------------------------------------------------------ */

static int
self_add_cb(void *ctx, const char *host, unsigned port)
{
    return router_self_add(ctx, host, port);
}

/* Fills b->self with what names this broker on port: the listen address (every local address
 * when it is a wildcard) and public_names. */
static int
self_build(struct broker *b, unsigned port, struct rd_errbuf *err)
{
    struct router_self *s = b->self;
    memset(s, 0, sizeof(*s));
    if (port == 0)
        return RD_OK; /* not bound yet (port 0 in tests): broker_start fills it */
    const char *host = b->conf.rtsp_listen.host;
    int rc = RD_OK;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        (void)router_self_add(s, "localhost", port);
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) == 0) {
            for (struct ifaddrs *i = ifa; i != NULL && rc == RD_OK; i = i->ifa_next) {
                char text[INET6_ADDRSTRLEN];
                const void *a = NULL;
                if (i->ifa_addr == NULL)
                    continue;
                if (i->ifa_addr->sa_family == AF_INET)
                    a = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
                else if (i->ifa_addr->sa_family == AF_INET6)
                    a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
                if (a != NULL && inet_ntop(i->ifa_addr->sa_family, a, text, sizeof(text)) != NULL)
                    rc = router_self_add(s, text, port);
            }
            freeifaddrs(ifa);
        }
        if (rc != RD_OK)
            RD_LOG(RD_LOG_WARN, NULL,
                   "too many local addresses for the redirect loop check kept=%zu", s->n);
    } else {
        (void)router_self_add(s, host, port);
    }
    rc = broker_conf_public_names(b->conf.public_names, port, self_add_cb, s, err);
    if (rc == RD_ELIMIT)
        rd_errbuf_set(err, "public_names: more than %d names and addresses", ROUTER_SELF_MAX);
    return rc;
}

/* ---- Catalog reload ------------------------------------------------------------------------ */

static enum policy_relay_state
policy_state_of(enum reg_relay_state s)
{
    switch (s) {
    case REG_RELAY_ACTIVE:
        return POLICY_RELAY_ACTIVE;
    case REG_RELAY_DRAINING:
        return POLICY_RELAY_DRAINING;
    case REG_RELAY_DISABLED:
        break;
    }
    return POLICY_RELAY_DISABLED;
}

/* Why a registered relay must not receive viewers, or NULL. */
static const char *
relay_unusable(const struct broker *b, const struct catalog_relay *r)
{
    struct url_parts u;
    if (r->n_keys == 0)
        return "it has no live key";
    if (url_split(rd_str_cstr(r->relay.base_url), &u) != RD_OK || u.is_star)
        return "its base URL is malformed";
    if (u.scheme != URL_SCHEME_RTSP)
        return "its base URL scheme differs from the listener's (rtsp)";
    if (router_url_is_self(b->self, r->relay.base_url))
        return "its base URL points at this broker (redirect loop)";
    return NULL;
}

int
broker_reload(struct broker *b)
{
    struct catalog *cat = NULL;
    if (catalog_load(b->reg, &cat) != RD_OK)
        return RD_EDB; /* logged by catalog_load; the old catalog stays */
    struct catalog *old = b->cat;
    b->cat = cat;
    catalog_free(old);
    uint32_t skipped = 0;
    relay_view_sync_begin(b->view);
    for (size_t i = 0; i < catalog_relay_count(cat); i++) {
        const struct catalog_relay *r = catalog_relay_at(cat, i);
        const char *why = relay_unusable(b, r);
        if (why != NULL) {
            RD_LOG(RD_LOG_WARN, NULL, "relay not used for redirects relay=%s reason=\"%s\"",
                   r->relay.id, why);
            skipped++;
            continue;
        }
        uint64_t kbps = (uint64_t)r->relay.capacity_mbps * 1000u;
        struct relay_view_config vc = {
            .id = r->relay.id,
            .site = r->relay.site_id,
            .rtsp_base_url = r->relay.base_url,
            .state = policy_state_of(r->relay.state),
            .cap_viewers = r->relay.capacity_viewers,
            .cap_egress_kbps = kbps > UINT32_MAX ? UINT32_MAX : (uint32_t)kbps,
        };
        int rc = relay_view_relay_set(b->view, &vc);
        if (rc != RD_OK) {
            RD_LOG(RD_LOG_WARN, NULL, "relay not tracked relay=%s error=\"%s\"", r->relay.id,
                   rd_strstatus(rc));
            skipped++;
        }
    }
    uint32_t removed = relay_view_sync_end(b->view);
    b->metrics.catalog_reloads++;
    RD_LOG(RD_LOG_NOTICE, NULL,
           "configuration loaded version=%llu cameras=%zu relays=%zu relays_unused=%u "
           "relays_removed=%u",
           (unsigned long long)catalog_version(cat), catalog_camera_count(cat),
           catalog_relay_count(cat), skipped, removed);
    return RD_OK;
}

/* ---- Registry flush ------------------------------------------------------------------------ */

static int64_t
wall_of(const struct broker_flush *f, double mono_at)
{
    double age = f->now - mono_at;
    return f->wall_s - (age > 0 ? (int64_t)age : 0);
}

static void
collect_relay(void *ctx, const struct relay_view_relay_info *r)
{
    struct broker_flush *f = ctx;
    if (!r->ever_beat || f->rc != RD_OK)
        return;
    if ((f->rc = rd_array_grow((void **)&f->loads, &f->cap_loads, f->n_loads, sizeof(*f->loads)))
        != RD_OK)
        return;
    struct reg_load *l = &f->loads[f->n_loads];
    memset(l, 0, sizeof(*l));
    if (rd_str_copy(l->relay_id, sizeof(l->relay_id), rd_str_cstr(r->id)) != RD_OK)
        return;
    l->draining = r->state == POLICY_RELAY_DRAINING;
    l->healthy = r->healthy;
    l->viewers = r->viewers;
    l->egress_kbps = r->egress_kbps;
    l->cpu_pct = r->cpu_pct;
    l->last_seen = wall_of(f, r->last_hb_at);
    f->n_loads++;
}

static enum reg_pull_state
pull_state_of(enum relay_view_cam_state s)
{
    switch (s) {
    case RELAY_VIEW_CAM_STARTING:
        return REG_PULL_STARTING;
    case RELAY_VIEW_CAM_PLAYING:
        return REG_PULL_PLAYING;
    case RELAY_VIEW_CAM_RETRYING:
        return REG_PULL_RETRYING;
    case RELAY_VIEW_CAM_FAILED:
        break;
    }
    return REG_PULL_FAILED;
}

static void
collect_pull(void *ctx, const struct relay_view_pull_info *p)
{
    struct broker_flush *f = ctx;
    if (f->rc != RD_OK || (!p->reported && !p->removed))
        return;
    if ((f->rc = rd_array_grow((void **)&f->ops, &f->cap_ops, f->n_ops, sizeof(*f->ops))) != RD_OK)
        return;
    struct flush_op *op = &f->ops[f->n_ops];
    memset(op, 0, sizeof(*op));
    if (rd_str_copy(op->pair.camera_id, sizeof(op->pair.camera_id), rd_str_cstr(p->camera_id))
            != RD_OK
        || rd_str_copy(op->pair.relay_id, sizeof(op->pair.relay_id), rd_str_cstr(p->relay_id))
               != RD_OK)
        return;
    op->pair.state = pull_state_of(p->state);
    op->pair.viewers = p->viewers;
    op->pair.ingress_kbps = p->ingress_kbps;
    op->pair.since = wall_of(f, p->since_at);
    op->removed = p->removed;
    op->seq = (uint32_t)f->n_ops;
    f->n_ops++;
}

static int
cmp_op(const void *a, const void *b)
{
    const struct flush_op *x = a, *y = b;
    int c = strcmp(x->pair.camera_id, y->pair.camera_id);
    if (c == 0)
        c = strcmp(x->pair.relay_id, y->pair.relay_id);
    if (c == 0)
        c = x->seq < y->seq ? -1 : x->seq > y->seq;
    return c;
}

/* Reduces the collected changes to the last one per pair (the registry applies removals before
 * upserts, so an add followed by a remove in one batch must become just the remove). */
static int
ops_to_batch(struct broker_flush *f)
{
    if (f->n_ops > 1) /* ops may be NULL while empty */
        qsort(f->ops, f->n_ops, sizeof(*f->ops), cmp_op);
    for (size_t i = 0; i < f->n_ops; i++) {
        const struct flush_op *op = &f->ops[i];
        if (i + 1 < f->n_ops && strcmp(op->pair.camera_id, f->ops[i + 1].pair.camera_id) == 0
            && strcmp(op->pair.relay_id, f->ops[i + 1].pair.relay_id) == 0)
            continue; /* a later change of the same pair follows */
        int rc;
        if (op->removed) {
            rc = rd_array_grow((void **)&f->removed, &f->cap_removed, f->n_removed,
                               sizeof(*f->removed));
            if (rc != RD_OK)
                return rc;
            struct reg_pair_key *k = &f->removed[f->n_removed++];
            memcpy(k->camera_id, op->pair.camera_id, sizeof(k->camera_id));
            memcpy(k->relay_id, op->pair.relay_id, sizeof(k->relay_id));
        } else {
            rc = rd_array_grow((void **)&f->pairs, &f->cap_pairs, f->n_pairs, sizeof(*f->pairs));
            if (rc != RD_OK)
                return rc;
            f->pairs[f->n_pairs++] = op->pair;
        }
    }
    return RD_OK;
}

/* The whole mapping: every registered relay's rows replaced by what the view holds. */
static int
batch_resync(struct broker *b, struct broker_flush *f)
{
    f->n_ops = f->n_pairs = f->n_removed = f->n_loads = 0;
    for (size_t i = 0; i < catalog_relay_count(b->cat); i++) {
        int rc =
            rd_array_grow((void **)&f->removed, &f->cap_removed, f->n_removed, sizeof(*f->removed));
        if (rc != RD_OK)
            return rc;
        struct reg_pair_key *k = &f->removed[f->n_removed++];
        memset(k, 0, sizeof(*k));
        memcpy(k->relay_id, catalog_relay_at(b->cat, i)->relay.id, sizeof(k->relay_id));
    }
    relay_view_foreach_pull(b->view, collect_pull, f);
    relay_view_foreach_relay(b->view, collect_relay, f);
    if (f->rc != RD_OK)
        return f->rc;
    for (size_t i = 0; i < f->n_ops; i++) {
        int rc = rd_array_grow((void **)&f->pairs, &f->cap_pairs, f->n_pairs, sizeof(*f->pairs));
        if (rc != RD_OK)
            return rc;
        f->pairs[f->n_pairs++] = f->ops[i].pair;
    }
    return RD_OK;
}

static size_t
batch_decisions(struct broker *b, struct broker_flush *f)
{
    const struct broker_decisions *r = &b->decisions;
    size_t n = r->unflushed;
    for (size_t i = 0; i < n; i++) {
        const struct broker_decision *d =
            &r->ring[(r->next + BROKER_DECISIONS_KEPT - n + i) % BROKER_DECISIONS_KEPT];
        struct reg_decision *o = &f->decisions[i];
        o->at_ms = d->at_ms;
        memcpy(o->camera_id, d->camera_id, sizeof(o->camera_id));
        memcpy(o->relay_id, d->relay_id, sizeof(o->relay_id));
        o->status = d->status;
        memcpy(o->reason, d->reason, sizeof(o->reason));
        memcpy(o->client, d->client, sizeof(o->client));
    }
    return n;
}

/* Collects what changed into f's arrays and fills *batch (pointing into them). Returns RD_OK
 * (batch may be empty) or RD_EDB when memory ran out (the next flush resyncs). */
static int
flush_prepare(struct broker *b, struct registry_load_batch *batch)
{
    struct broker_flush *f = b->flush;
    f->now = broker_now(b);
    f->wall_s = broker_wall_ms() / 1000;
    f->rc = RD_OK;
    f->n_ops = f->n_pairs = f->n_removed = f->n_loads = 0;
    struct relay_view_dirty_stats st;
    /* Always drain the dirty set, so it cannot fill while the registry is unwritable. */
    relay_view_collect_dirty(b->view, collect_relay, collect_pull, f, &st);
    int rc = f->rc;
    if (rc == RD_OK && (f->resync || st.resync_needed))
        rc = batch_resync(b, f);
    else if (rc == RD_OK)
        rc = ops_to_batch(f);
    if (rc != RD_OK) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, NULL, 60.0, "registry flush skipped error=\"%s\"",
                           rd_strstatus(rc));
        f->resync = true;
        return RD_EDB;
    }
    *batch = (struct registry_load_batch){
        .now = f->wall_s,
        .pairs = f->pairs,
        .n_pairs = f->n_pairs,
        .removed = f->removed,
        .n_removed = f->n_removed,
        .loads = f->loads,
        .n_loads = f->n_loads,
        .take_sample = f->wall_s - f->last_sample_s >= RD_REG_SAMPLE_INTERVAL_S,
        .decisions = f->decisions,
        .n_decisions = batch_decisions(b, f),
    };
    return RD_OK;
}

static bool
batch_empty(const struct registry_load_batch *batch)
{
    return batch->n_pairs == 0 && batch->n_removed == 0 && batch->n_loads == 0
           && batch->n_decisions == 0 && !batch->take_sample;
}

/* The decisions of a batch leave the ring's unflushed count when the batch is written (or
 * handed to the writer); a failed write puts them back for the retry (they are still the
 * newest unflushed entries of the ring unless newer ones pushed them out). */
static void
decisions_taken(struct broker *b)
{
    b->decisions.unflushed = 0;
}

static void
decisions_returned(struct broker *b, size_t n)
{
    struct broker_decisions *r = &b->decisions;
    size_t total = (size_t)r->unflushed + n;
    if (total > BROKER_DECISIONS_KEPT) {
        r->overflowed += total - BROKER_DECISIONS_KEPT;
        total = BROKER_DECISIONS_KEPT;
    }
    r->unflushed = (uint32_t)total;
}

/* Applies the outcome of writing a batch with n_decisions decisions (taken out of the ring
 * before the write). errmsg: the registry's message for a failure. */
static int
flush_result(struct broker *b, int rc, bool took_sample, int64_t wall_s, size_t n_decisions,
             const char *errmsg)
{
    struct broker_flush *f = b->flush;
    if (rc == RD_OK) {
        b->metrics.flushes_ok++;
        f->resync = false;
        if (took_sample)
            f->last_sample_s = wall_s;
        if (b->db_degraded)
            RD_LOG(RD_LOG_NOTICE, NULL, "registry writes work again");
        b->db_degraded = false;
        return RD_OK;
    }
    b->metrics.flushes_failed++;
    f->resync = true; /* the collected changes are gone: rewrite everything next time */
    if (rc == RD_EPROTO || rc == RD_ELIMIT) {
        /* A row the registry refuses would be refused forever: drop the decisions. */
        RD_LOG(RD_LOG_ERR, NULL, "registry flush refused a row error=\"%s\"", errmsg);
    } else {
        decisions_returned(b, n_decisions);
    }
    if (!b->db_degraded)
        RD_LOG(RD_LOG_WARN, NULL,
               "registry writes failing, redirects go on from memory error=\"%s\"", errmsg);
    b->db_degraded = true;
    return RD_EDB;
}

/* ---- Registry writer thread ---------------------------------------------------------------
 * The per-second soft-state flush is an SQLite transaction: about 1-2 ms for 200 loads and
 * 256 decisions, 20-35 ms when 10,000 pairs change at once (a fleet of relays starting), and
 * more when a WAL checkpoint falls into it. On the loop thread that stalls every viewer
 * waiting behind it (the p99 of docs/benchmarks.md). So the daemon writes soft state from one
 * dedicated thread with its own registry connection: the loop collects the batch (in memory,
 * microseconds), swaps the batch arrays with the writer's, and goes on; the writer commits and
 * reports back through an ev_async. One batch is in flight at most: while it is, later ticks
 * collect nothing (the relay view's dirty set and the decision ring keep accumulating,
 * bounded as always). Only registry.c includes sqlite3.h; configuration writes and reads stay
 * on the loop thread's connection (WAL: readers never wait for the writer; a configuration
 * write waits at most RD_REG_BUSY_TIMEOUT_MS for a flush in progress). */
struct broker_writer {
    struct broker *b;
    struct ev_loop *loop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* to the writer: a job or quit; to waiters: job done */
    ev_async done;        /* writer -> loop: the job is done */
    struct registry *reg; /* the writer's connection; used by the writer thread only */
    bool busy;            /* loop side: a job is handed over and its result not applied */
    bool took_sample;     /* loop side: what the job in flight carries */
    int64_t wall_s;
    size_t n_decisions;
    char path[sizeof(((struct broker_conf *)0)->database)];
    /* Under mu: */
    bool have_job, job_done, quit;
    bool open_failed; /* the thread could not open its connection and ended (job_err says why) */
    int job_rc;
    char job_err[RD_ERRBUF_LEN];
    struct registry_stats stats; /* of reg, after the last job */
    /* The job, owned by the writer while have_job; arrays swapped with struct broker_flush. */
    struct registry_load_batch batch;
    struct reg_pair *pairs;
    size_t cap_pairs;
    struct reg_pair_key *removed;
    size_t cap_removed;
    struct reg_load *loads;
    size_t cap_loads;
    struct reg_decision decisions[BROKER_DECISIONS_KEPT];
};

/* Page cache of the writer's connection: it only writes soft-state rows. */
#define BROKER_WRITER_CACHE_KIB 256

static void *
writer_main(void *arg)
{
    struct broker_writer *w = arg;
    /* Opened here, not in broker_start: the loop does not wait for it. */
    char msg[RD_ERRBUF_LEN];
    int orc = registry_open(w->path, &w->reg, msg, sizeof(msg));
    /* Best effort: a refusal only leaves SQLite's default cache (no logging off the loop
     * thread; the log file may be reopened there at any time). */
    if (orc == RD_OK)
        (void)registry_cache_limit(w->reg, BROKER_WRITER_CACHE_KIB);
    pthread_mutex_lock(&w->mu);
    if (orc != RD_OK) {
        w->open_failed = true;
        (void)rd_str_copy(w->job_err, sizeof(w->job_err), rd_str_cstr(msg));
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        ev_async_send(w->loop, &w->done);
        return NULL;
    }
    for (;;) {
        while (!w->have_job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->have_job)
            break; /* quit */
        pthread_mutex_unlock(&w->mu);
        int rc = registry_flush_load(w->reg, &w->batch);
        pthread_mutex_lock(&w->mu);
        w->job_rc = rc;
        (void)rd_str_copy(w->job_err, sizeof(w->job_err), rd_str_cstr(registry_errmsg(w->reg)));
        registry_stats_get(w->reg, &w->stats);
        w->have_job = false;
        w->job_done = true;
        pthread_cond_broadcast(&w->cv);
        ev_async_send(w->loop, &w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}
/* Rows of pair arrays the writer keeps between batches (larger ones are freed). */
#define WRITER_KEEP_ROWS 1024

static void writer_stop(struct broker *b);

/* Loop thread: applies the result of a finished job, if there is one. When the thread could
 * not open its connection, flushes go back to the loop (a job handed over is written now). */
static void
writer_finish(struct broker_writer *w)
{
    char err[RD_ERRBUF_LEN];
    pthread_mutex_lock(&w->mu);
    bool done = w->job_done, failed = w->open_failed;
    int rc = w->job_rc;
    memcpy(err, w->job_err, sizeof(err));
    w->job_done = false;
    pthread_mutex_unlock(&w->mu);
    struct broker *b = w->b;
    if (failed) {
        RD_LOG(RD_LOG_WARN, NULL,
               "registry writer thread not started, flushes run on the loop error=\"%s\"", err);
        if (w->busy) {
            w->busy = false;
            rc = registry_flush_load(b->reg, &w->batch);
            (void)flush_result(b, rc, w->took_sample, w->wall_s, w->n_decisions,
                               registry_errmsg(b->reg));
        }
        writer_stop(b);
        return;
    }
    if (!done)
        return;
    w->busy = false;
    (void)flush_result(b, rc, w->took_sample, w->wall_s, w->n_decisions, err);
    /* A large batch (a fleet of relays starting: thousands of pairs) leaves large arrays;
     * steady flushes need few pairs. Give them back rather than keep two sets at their peak
     * (the RSS budget of issue 3). */
    if (w->cap_pairs > WRITER_KEEP_ROWS) {
        free(w->pairs);
        w->pairs = NULL;
        w->cap_pairs = 0;
    }
    if (w->cap_removed > WRITER_KEEP_ROWS) {
        free(w->removed);
        w->removed = NULL;
        w->cap_removed = 0;
    }
}

static void
writer_done_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)revents;
    writer_finish(RD_CONTAINER_OF(a, struct broker_writer, done));
}

/* Loop thread: waits for the job in flight, if any, and applies its result. */
static void
writer_wait(struct broker_writer *w)
{
    if (w == NULL || !w->busy)
        return;
    pthread_mutex_lock(&w->mu);
    while (!w->job_done && !w->open_failed)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    writer_finish(w);
}

#define SWAP(T, a, b)                                                                              \
    do {                                                                                           \
        T swap_tmp_ = (a);                                                                         \
        (a) = (b);                                                                                 \
        (b) = swap_tmp_;                                                                           \
    } while (0)

/* Loop thread, writer idle: hands the collected batch over (array swaps, no copies except the
 * decisions). */
static void
writer_handoff(struct broker *b, const struct registry_load_batch *batch)
{
    struct broker_writer *w = b->writer;
    struct broker_flush *f = b->flush;
    SWAP(struct reg_pair *, f->pairs, w->pairs);
    SWAP(size_t, f->cap_pairs, w->cap_pairs);
    SWAP(struct reg_pair_key *, f->removed, w->removed);
    SWAP(size_t, f->cap_removed, w->cap_removed);
    SWAP(struct reg_load *, f->loads, w->loads);
    SWAP(size_t, f->cap_loads, w->cap_loads);
    if (batch->n_decisions > 0)
        memcpy(w->decisions, batch->decisions, batch->n_decisions * sizeof(w->decisions[0]));
    w->took_sample = batch->take_sample;
    w->wall_s = f->wall_s;
    w->n_decisions = batch->n_decisions;
    decisions_taken(b);
    w->busy = true;
    pthread_mutex_lock(&w->mu);
    w->batch = *batch;
    w->batch.pairs = w->pairs;
    w->batch.removed = w->removed;
    w->batch.loads = w->loads;
    w->batch.decisions = w->decisions;
    w->have_job = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void
writer_free(struct broker_writer *w)
{
    registry_close(w->reg);
    free(w->pairs);
    free(w->removed);
    free(w->loads);
    free(w);
}

void
broker_writer_start(struct broker *b)
{
    if (b->writer != NULL || strcmp(b->conf.database, ":memory:") == 0)
        return;
    struct broker_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        RD_LOG(RD_LOG_WARN, NULL, "registry writer thread not started error=\"out of memory\"");
        return;
    }
    memcpy(w->path, b->conf.database, sizeof(w->path));
    w->b = b;
    w->loop = b->loop;
    ev_async_init(&w->done, writer_done_cb);
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        writer_free(w);
        return;
    }
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        writer_free(w);
        return;
    }
    /* Signals stay with the loop thread (libev's handlers). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        RD_LOG(RD_LOG_WARN, NULL, "registry writer thread not started errno=%d", rc);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        writer_free(w);
        return;
    }
    ev_async_start(b->loop, &w->done);
    b->writer = w;
}

static void
writer_stop(struct broker *b)
{
    struct broker_writer *w = b->writer;
    if (w == NULL)
        return;
    b->writer = NULL; /* writer_wait -> writer_finish may come back here */
    writer_wait(w);
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    ev_async_stop(b->loop, &w->done);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    writer_free(w);
}

void
broker_registry_stats(const struct broker *b, struct registry_stats *out)
{
    registry_stats_get(b->reg, out);
    struct broker_writer *w = b->writer;
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    out->commits += w->stats.commits;
    out->flushes += w->stats.flushes;
    out->flush_failures += w->stats.flush_failures;
    out->rows_skipped += w->stats.rows_skipped;
    pthread_mutex_unlock(&w->mu);
}

int
broker_flush(struct broker *b)
{
    writer_wait(b->writer);
    struct registry_load_batch batch;
    if (flush_prepare(b, &batch) != RD_OK)
        return RD_EDB;
    if (batch_empty(&batch))
        return RD_OK;
    decisions_taken(b);
    int rc = registry_flush_load(b->reg, &batch);
    return flush_result(b, rc, batch.take_sample, b->flush->wall_s, batch.n_decisions,
                        registry_errmsg(b->reg));
}

/* The tick's flush: through the writer thread when there is one. */
static void
flush_tick(struct broker *b)
{
    struct broker_writer *w = b->writer;
    if (w == NULL) {
        (void)broker_flush(b);
        return;
    }
    if (w->busy)
        return; /* one batch in flight: the changes wait for the next tick */
    struct registry_load_batch batch;
    if (flush_prepare(b, &batch) != RD_OK || batch_empty(&batch))
        return;
    writer_handoff(b, &batch);
}

/* ---- Tick ---------------------------------------------------------------------------------- */

void
broker_tick(struct broker *b)
{
    double now = broker_now(b);
    struct relay_view_transition tr[32];
    size_t n;
    do {
        n = relay_view_tick(b->view, now, tr, sizeof(tr) / sizeof(tr[0]));
        for (size_t i = 0; i < n; i++) {
            if (tr[i].healthy)
                b->metrics.health_to_healthy++;
            else
                b->metrics.health_to_unhealthy++;
            if (tr[i].last_hb_at > 0)
                RD_LOG(RD_LOG_NOTICE, NULL, "relay %s relay=%s last_heartbeat_age_s=%.1f",
                       tr[i].healthy ? "healthy" : "unhealthy", tr[i].relay_id,
                       now - tr[i].last_hb_at);
            else
                RD_LOG(RD_LOG_NOTICE, NULL, "relay %s relay=%s",
                       tr[i].healthy ? "healthy" : "unhealthy", tr[i].relay_id);
        }
    } while (n == sizeof(tr) / sizeof(tr[0]));

    uint64_t version;
    if (registry_version(b->reg, &version) == RD_OK) {
        if (b->flush->version_failed)
            RD_LOG(RD_LOG_NOTICE, NULL, "registry readable again");
        b->flush->version_failed = false;
        if (b->cat == NULL || version != catalog_version(b->cat))
            (void)broker_reload(b); /* failures logged there; retried next tick */
    } else if (!b->flush->version_failed) {
        b->flush->version_failed = true;
        RD_LOG(RD_LOG_WARN, NULL, "registry version unreadable error=\"%s\"",
               registry_errmsg(b->reg));
    }
    flush_tick(b);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    broker_tick(RD_CONTAINER_OF(w, struct broker, tick));
}

/* ---- Setup and teardown -------------------------------------------------------------------- */

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents);

int
broker_init(struct broker *b, struct ev_loop *loop, const struct broker_conf *conf,
            struct rd_errbuf *err)
{
    memset(b, 0, sizeof(*b));
    b->loop = loop;
    b->conf = *conf;
    metrics_init(&b->metrics);
    b->started_at = broker_now(b);
    b->self = calloc(1, sizeof(*b->self));
    b->cands = calloc(RD_BROKER_MAX_RELAYS, sizeof(*b->cands));
    b->flush = calloc(1, sizeof(*b->flush));
    b->jti_pool = malloc(sizeof(*b->jti_pool));
    if (b->self == NULL || b->cands == NULL || b->flush == NULL || b->jti_pool == NULL) {
        rd_errbuf_set(err, "out of memory");
        return RD_ENOMEM;
    }
    rd_rand_pool_init(b->jti_pool);
    if (rd_random_bytes(b->nonce_key, sizeof(b->nonce_key)) != RD_OK) {
        rd_errbuf_set(err, "no random bytes for the Digest nonce key");
        return RD_EIO;
    }
    ev_init(&b->tick, tick_cb);
    ev_init(&b->stop_timer, stop_cb);
    return RD_OK;
}

int
broker_open(struct broker *b, struct rd_errbuf *err)
{
    char msg[RD_ERRBUF_LEN];
    int rc = registry_open(b->conf.database, &b->reg, msg, sizeof(msg));
    if (rc != RD_OK) {
        rd_errbuf_set(err, "registry %s: %s", b->conf.database, msg);
        return rc;
    }
    /* What relays pulled before this start is unknown until their next heartbeat. */
    if (registry_live_reset(b->reg) != RD_OK) {
        RD_LOG(RD_LOG_WARN, NULL, "registry live state not reset error=\"%s\"",
               registry_errmsg(b->reg));
        b->flush->resync = true;
    }
    struct relay_view_params vp;
    relay_view_params_default(&vp);
    vp.hb_interval_s = (double)b->conf.heartbeat_interval_ms / 1000.0;
    vp.unhealthy_after = (uint32_t)b->conf.unhealthy_after;
    vp.healthy_after = (uint32_t)b->conf.healthy_after;
    if ((rc = relay_view_create(&vp, &b->view)) != RD_OK) {
        rd_errbuf_set(err, "relay view: %s", rd_strstatus(rc));
        return rc;
    }
    if ((rc = self_build(b, b->conf.rtsp_listen.port, err)) != RD_OK)
        return rc;
    if (broker_reload(b) != RD_OK) {
        rd_errbuf_set(err, "registry %s: configuration not readable: %s", b->conf.database,
                      registry_errmsg(b->reg));
        return RD_EDB;
    }
    return RD_OK;
}

int
broker_start(struct broker *b, struct rd_errbuf *err)
{
    struct listener_params lp;
    listener_params_default(&lp);
    lp.ip = b->conf.rtsp_listen.host;
    lp.port = b->conf.rtsp_listen.port;
    lp.max_conns = (uint32_t)b->conf.max_conns;
    lp.max_conns_per_ip = (uint32_t)b->conf.max_conns_per_ip;
    lp.idle_s = (double)b->conf.idle_s;
    lp.defer_accept_s = (unsigned)b->conf.defer_accept_s;
    int rc = listener_start(b->loop, &lp, on_request, b, &b->metrics, &b->rtsp, err);
    if (rc != RD_OK)
        return rc;
    if (b->conf.rtsp_listen.port == 0) {
        /* Port picked by the kernel: now the loop check knows it. */
        if ((rc = self_build(b, listener_port(b->rtsp), err)) != RD_OK)
            return rc;
        if (broker_reload(b) != RD_OK) {
            rd_errbuf_set(err, "registry %s: configuration not readable", b->conf.database);
            return RD_EDB;
        }
    }
    broker_writer_start(b);
    ev_timer_set(&b->tick, 1.0, 1.0);
    ev_timer_start(b->loop, &b->tick);
    return RD_OK;
}

void
broker_close(struct broker *b)
{
    if (b->loop != NULL) {
        ev_timer_stop(b->loop, &b->tick);
        ev_timer_stop(b->loop, &b->stop_timer);
    }
    listener_destroy(b->rtsp);
    b->rtsp = NULL;
    writer_stop(b); /* before the view and the registry: its result is applied to them */
    relay_view_destroy(b->view);
    b->view = NULL;
    catalog_free(b->cat);
    b->cat = NULL;
    registry_close(b->reg);
    b->reg = NULL;
    struct broker_flush *f = b->flush;
    if (f != NULL) {
        free(f->ops);
        free(f->pairs);
        free(f->removed);
        free(f->loads);
        free(f);
    }
    b->flush = NULL;
    free(b->self);
    b->self = NULL;
    free(b->cands);
    b->cands = NULL;
    if (b->jti_pool != NULL)
        rd_rand_pool_wipe(b->jti_pool);
    free(b->jti_pool);
    b->jti_pool = NULL;
    rd_cleanse(b->nonce_key, sizeof(b->nonce_key));
    rd_cleanse(b->admin_token, sizeof(b->admin_token));
}

int
broker_read_admin_token(struct broker *b, struct rd_errbuf *err)
{
    const char *path = b->conf.admin_token_file;
    if (path[0] == '\0') {
        b->admin_token[0] = '\0';
        return RD_OK;
    }
    char text[256];
    size_t len;
    int rc = secret_file_read("admin_token_file", path, text, sizeof(text), &len, err);
    if (rc != RD_OK)
        return rc;
    if (len >= sizeof(b->admin_token)) {
        rd_errbuf_set(err, "admin_token_file %s: token longer than %zu characters", path,
                      sizeof(b->admin_token) - 1);
        rc = RD_ELIMIT;
    } else if (len < 32) {
        rd_errbuf_set(err, "admin_token_file %s: token shorter than 32 characters", path);
        rc = RD_EPROTO;
    }
    for (size_t i = 0; rc == RD_OK && i < len; i++) {
        if (text[i] <= 0x20 || text[i] > 0x7e) {
            rd_errbuf_set(err, "admin_token_file %s: only printable characters, no blanks", path);
            rc = RD_EPROTO;
        }
    }
    if (rc == RD_OK) {
        memcpy(b->admin_token, text, len);
        b->admin_token[len] = '\0';
    }
    rd_cleanse(text, sizeof(text));
    return rc;
}

/* ---- Shutdown ------------------------------------------------------------------------------ */

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct broker *b = RD_CONTAINER_OF(w, struct broker, stop_timer);
    size_t open = b->rtsp != NULL ? listener_open_count(b->rtsp) : 0;
    if (open > 0 && broker_now(b) < b->stop_deadline)
        return;
    ev_timer_stop(loop, w);
    ev_timer_stop(loop, &b->tick);
    if (open > 0)
        RD_LOG(RD_LOG_NOTICE, NULL, "shutdown grace over open_connections=%zu", open);
    (void)broker_flush(b);
    ev_break(loop, EVBREAK_ALL);
}

void
broker_shutdown(struct broker *b)
{
    if (b->stopping)
        return;
    b->stopping = true;
    RD_LOG(RD_LOG_NOTICE, NULL, "shutting down grace_s=%d", RD_SHUTDOWN_GRACE_S);
    listener_drain(b->rtsp);
    b->stop_deadline = broker_now(b) + RD_SHUTDOWN_GRACE_S;
    b->stop_timer.repeat = 0.02;
    ev_timer_again(b->loop, &b->stop_timer);
}
