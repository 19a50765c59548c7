/* SPDX-License-Identifier: MIT */
/* The relay's camera table: sources, on-demand pulls with linger, the stream kept across
 * camera reconnects, and the viewers (camera users) waiting for or holding each camera. */
#include "cameras.h"

#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "bclient.h"
#include "crypto.h"
#include "evx.h"
#include "log.h"
#include "rd_err.h"
#include "url.h"

struct camera {
    char id[RD_CAMERA_ID_MAX + 1];
    struct cameras *t;
    struct log_ctx log;

    struct camera_source src;
    bool have_src;
    bool from_broker;  /* src came from the broker (else the sources file) */
    bool fetching;     /* a bclient fetch is in flight */
    double fetched_at; /* ev_now() of the last good fetch */

    struct puller *puller;    /* NULL when not pulling */
    enum puller_state pstate; /* valid while puller != NULL */
    struct stream *stream;    /* NULL until the first SDP of this pull */
    char *sdp_text;           /* the camera's SDP, owned; sdp views point into it */
    size_t sdp_len;
    struct sdp *sdp; /* owned */

    struct camera_user *waiters; /* attached users waiting for the stream */
    struct camera_user *served;  /* attached users holding the stream */
    uint32_t n_users, n_waiting; /* both lists / waiters */
    ev_timer linger;             /* stops the pull after the last user left */
    uint64_t rate_bytes;         /* bytes_in at rate_at */
    double rate_at;
    uint32_t ingress_kbps;
    ev_timer ready_wait; /* fails users that waited RD_PULL_READY_S, or at
                            once with fail_status (deferred failures) */
    int fail_status;     /* 0, or the status waiters get from ready_wait */
};

struct cameras {
    struct cameras_env env;
    struct camera **cams; /* sorted by id */
    size_t n, cap;
};

static const struct puller_cb camera_puller_cb;

/* ---- Table ------------------------------------------------------------------------------ */

static int
cam_cmp(struct rd_str id, const struct camera *c)
{
    size_t cl = strlen(c->id);
    size_t n = id.len < cl ? id.len : cl;
    int r = memcmp(id.p, c->id, n);
    if (r != 0)
        return r;
    return id.len < cl ? -1 : id.len > cl ? 1 : 0;
}

/* Index of id, or of where it would go (*found false). */
static size_t
cam_find(const struct cameras *t, struct rd_str id, bool *found)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = cam_cmp(id, t->cams[mid]);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

static struct camera *
cam_lookup(const struct cameras *t, struct rd_str id)
{
    bool found;
    size_t i = cam_find(t, id, &found);
    return found ? t->cams[i] : NULL;
}

static void linger_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void ready_wait_cb(struct ev_loop *loop, ev_timer *w, int revents);

static int
cam_insert(struct cameras *t, struct rd_str id, struct camera **out)
{
    if (!url_camera_id_valid(id))
        return RD_EPROTO;
    bool found;
    size_t i = cam_find(t, id, &found);
    if (found) {
        *out = t->cams[i];
        return RD_OK;
    }
    if (t->n >= RD_RELAY_MAX_CAMERAS) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, NULL, 10.0, "camera table full cameras=%zu", t->n);
        return RD_ELIMIT;
    }
    if (rd_array_grow((void **)&t->cams, &t->cap, t->n, sizeof(*t->cams)) != RD_OK)
        return RD_ENOMEM;
    struct camera *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return RD_ENOMEM;
    memcpy(c->id, id.p, id.len);
    c->t = t;
    log_ctx_set(&c->log, "camera=%s", c->id);
    ev_timer_init(&c->linger, linger_cb, 0., 0.);
    ev_timer_init(&c->ready_wait, ready_wait_cb, 0., 0.);
    memmove(&t->cams[i + 1], &t->cams[i], (t->n - i) * sizeof(*t->cams));
    t->cams[i] = c;
    t->n++;
    *out = c;
    return RD_OK;
}

/* ---- Users ---------------------------------------------------------------------------- */

/* Users live on one of two lists: waiters (waiting_ set) and served. Moving or failing
 * users pops them one at a time from a list head before calling back, so a callback that
 * releases any user (itself or another) never leaves a dangling pointer behind. */

static struct camera_user **
user_list(struct camera *c, bool waiting)
{
    return waiting ? &c->waiters : &c->served;
}

static void
user_unlink(struct camera_user *u)
{
    struct camera *c = u->cam_;
    struct camera_user **head = user_list(c, u->waiting_);
    if (u->prev_ != NULL)
        u->prev_->next_ = u->next_;
    else
        *head = u->next_;
    if (u->next_ != NULL)
        u->next_->prev_ = u->prev_;
    c->n_users--;
    if (u->waiting_)
        c->n_waiting--;
    u->cam_ = NULL;
    u->prev_ = u->next_ = NULL;
    u->waiting_ = false;
}

static void
user_link(struct camera *c, struct camera_user *u, bool waiting)
{
    struct camera_user **head = user_list(c, waiting);
    u->cam_ = c;
    u->prev_ = NULL;
    u->next_ = *head;
    if (*head != NULL)
        (*head)->prev_ = u;
    *head = u;
    u->waiting_ = waiting;
    c->n_users++;
    if (waiting)
        c->n_waiting++;
}

/* Every waiter becomes served and is told the camera is ready. */
static void
waiters_ready(struct camera *c)
{
    ev_timer_stop(c->t->env.puller.loop, &c->ready_wait);
    while (c->waiters != NULL && c->stream != NULL) {
        struct camera_user *u = c->waiters;
        user_unlink(u);
        user_link(c, u, false);
        u->ready(u, RD_OK);
    }
}

/* Every waiter is detached and told status (RD_ENOTFOUND, RD_EBUSY). */
static void
waiters_fail(struct camera *c, int status)
{
    ev_timer_stop(c->t->env.puller.loop, &c->ready_wait);
    while (c->waiters != NULL) {
        struct camera_user *u = c->waiters;
        user_unlink(u);
        u->ready(u, status);
    }
}

/* Fails the waiters from the ready_wait timer on the next loop iteration: the paths that
 * find a camera cannot be served run inside cameras_acquire and other callers' calls, where
 * no callback may run. */
static void
waiters_fail_later(struct camera *c, int status)
{
    if (c->n_waiting == 0)
        return;
    c->fail_status = status;
    evx_timer_rearm(c->t->env.puller.loop, &c->ready_wait, 0.);
}

/* Every served user is detached and told its stream went away. */
static void
served_gone(struct camera *c)
{
    while (c->served != NULL) {
        struct camera_user *u = c->served;
        user_unlink(u);
        u->gone(u);
    }
}

/* ---- Pull --------------------------------------------------------------------------------- */

static void
cam_drop_stream(struct camera *c)
{
    stream_free(c->stream);
    c->stream = NULL;
    free(c->sdp);
    c->sdp = NULL;
    free(c->sdp_text);
    c->sdp_text = NULL;
    c->sdp_len = 0;
}

static void
cam_stop_pull(struct camera *c, const char *why)
{
    if (c->puller != NULL) {
        RD_LOG(RD_LOG_INFO, &c->log, "pull stopped reason=%s", why);
        puller_free(c->puller);
        c->puller = NULL;
    }
    ev_timer_stop(c->t->env.puller.loop, &c->linger);
}

static bool
source_stale(const struct camera *c)
{
    return c->from_broker
           && ev_now(c->t->env.puller.loop) - c->fetched_at > (double)RD_SOURCE_TTL_S;
}

static void cam_fetch(struct camera *c);

/* Makes sure the camera is being pulled (or its source fetched first). */
static void
cam_want_pull(struct camera *c)
{
    if (c->puller != NULL) {
        if (c->pstate == PULLER_RETRYING)
            puller_kick(c->puller);
        return;
    }
    if (!c->have_src || source_stale(c)) {
        cam_fetch(c);
        return;
    }
    if (!c->src.enabled)
        return;
    int rc = puller_new(&c->t->env.puller, &c->src, &camera_puller_cb, c, &c->puller);
    if (rc != RD_OK) {
        c->puller = NULL;
        RD_LOG(RD_LOG_WARN, &c->log, "pull not started error=%s", rd_strstatus(rc));
        waiters_fail_later(c, RD_EBUSY);
        return;
    }
    c->pstate = PULLER_STARTING;
    RD_LOG(RD_LOG_INFO, &c->log, "pull started transport=%s always_on=%d",
           c->src.transport == CAMERA_TRANSPORT_UDP ? "udp" : "tcp", (int)c->src.always_on);
}

/* Called whenever users may have dropped to zero: schedules the linger stop. Never frees
 * anything synchronously (callers may be inside callbacks of this camera). */
static void
cam_idle_check(struct camera *c)
{
    if (c->n_users > 0 || (c->have_src && c->src.always_on && c->src.enabled))
        return;
    if (c->puller == NULL && c->stream == NULL)
        return;
    if (!ev_is_active(&c->linger))
        evx_timer_rearm(c->t->env.puller.loop, &c->linger, c->t->env.linger_s);
}

static void
linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct camera *c = RD_CONTAINER_OF(w, struct camera, linger);
    if (c->n_users > 0 || (c->have_src && c->src.always_on && c->src.enabled))
        return;
    cam_stop_pull(c, "no_viewers");
    cam_drop_stream(c);
}

static void
ready_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct camera *c = RD_CONTAINER_OF(w, struct camera, ready_wait);
    int status = c->fail_status != 0 ? c->fail_status : RD_EBUSY;
    c->fail_status = 0;
    if (c->n_waiting == 0)
        return;
    RD_LOG(RD_LOG_INFO, &c->log, "viewers waiting for the camera refused waiting=%u status=%s",
           (unsigned)c->n_waiting, rd_strstatus(status));
    waiters_fail(c, status);
    cam_idle_check(c);
}

/* ---- Sources from the broker ---------------------------------------------------------------- */

static void
cam_set_src(struct camera *c, const struct camera_source *src, bool from_broker)
{
    bool changed =
        !c->have_src || strcmp(c->src.url, src->url) != 0 || strcmp(c->src.user, src->user) != 0
        || strcmp(c->src.password, src->password) != 0 || c->src.transport != src->transport;
    rd_cleanse(&c->src, sizeof(c->src));
    c->src = *src;
    memcpy(c->src.id, c->id, sizeof(c->id));
    c->have_src = true;
    c->from_broker = from_broker;
    if (c->puller != NULL && changed)
        puller_update_source(c->puller, &c->src);
}

static void
source_cb(void *arg, const char *camera_id, int status, const struct camera_source *src)
{
    struct cameras *t = arg;
    struct camera *c = cam_lookup(t, rd_str_cstr(camera_id));
    if (c == NULL)
        return; /* forgotten meanwhile */
    c->fetching = false;
    switch (status) {
    case RD_OK:
        c->fetched_at = ev_now(t->env.puller.loop);
        cam_set_src(c, src, true);
        if (!c->src.enabled) {
            RD_LOG(RD_LOG_INFO, &c->log, "camera disabled by the registry");
            cam_stop_pull(c, "disabled");
            waiters_fail(c, RD_EBUSY);
            served_gone(c);
            cam_drop_stream(c);
            return;
        }
        if (c->n_users > 0 || c->src.always_on)
            cam_want_pull(c);
        return;
    case RD_ENOTFOUND:
        RD_LOG(RD_LOG_INFO, &c->log, "camera not served here (broker: not found)");
        c->have_src = false;
        cam_stop_pull(c, "removed");
        waiters_fail(c, RD_ENOTFOUND);
        served_gone(c);
        cam_drop_stream(c);
        return;
    default:
        /* Broker unreachable or refusing us: keep what we had (the data plane keeps
         * running without the broker); viewers waiting for a first source get 503. */
        if (c->have_src) {
            c->fetched_at = ev_now(t->env.puller.loop); /* retry after the TTL */
            if (c->n_users > 0 || c->src.always_on)
                cam_want_pull(c);
            return;
        }
        waiters_fail(c, RD_EBUSY);
        return;
    }
}

static void
cam_fetch(struct camera *c)
{
    struct cameras *t = c->t;
    if (c->fetching)
        return;
    if (t->env.broker == NULL) {
        if (!c->have_src)
            waiters_fail_later(c, RD_ENOTFOUND);
        return;
    }
    int rc = bclient_fetch_source(t->env.broker, c->id, source_cb, t);
    if (rc != RD_OK) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, &c->log, 10.0, "source fetch not sent error=%s",
                           rd_strstatus(rc));
        if (!c->have_src)
            waiters_fail_later(c, RD_EBUSY);
        return;
    }
    c->fetching = true;
}

/* ---- Puller callbacks ------------------------------------------------------------------------ */

/* The stream config of an SDP: one track per media section; every section must be RTP with
 * a known, non-zero clock rate. */
static int
sdp_tracks(const struct sdp *sdp, struct stream_track_cfg *tr)
{
    if (sdp->n_media == 0)
        return RD_EPROTO;
    for (unsigned i = 0; i < sdp->n_media; i++) {
        struct sdp_codec codec;
        if (sdp_media_codec(&sdp->media[i], &codec) != RD_OK || codec.clock_rate == 0)
            return RD_EPROTO;
        tr[i].codec = codec.id == SDP_CODEC_H264   ? STREAM_CODEC_H264
                      : codec.id == SDP_CODEC_H265 ? STREAM_CODEC_H265
                                                   : STREAM_CODEC_OTHER;
        tr[i].clock_rate = codec.clock_rate;
    }
    return RD_OK;
}

/* Whether viewers of the old SDP can keep playing a session described by the new one: same
 * sections, each with the same media, first payload type, codec and clock rate. */
static bool
sdp_compatible(const struct sdp *a, const struct sdp *b)
{
    if (a->n_media != b->n_media)
        return false;
    for (unsigned i = 0; i < a->n_media; i++) {
        struct sdp_codec ca, cb;
        if (sdp_media_codec(&a->media[i], &ca) != RD_OK
            || sdp_media_codec(&b->media[i], &cb) != RD_OK)
            return false;
        if (!rd_str_eq(a->media[i].media, b->media[i].media) || ca.id != cb.id || ca.pt != cb.pt
            || ca.clock_rate != cb.clock_rate || !rd_str_eq_ci(ca.encoding, cb.encoding))
            return false;
    }
    return true;
}

/* Copies and parses an SDP into the camera's own buffers (new ones; the caller swaps). */
static int
sdp_own(const char *raw, size_t len, char **text_out, struct sdp **sdp_out)
{
    char *text = malloc(len + 1);
    struct sdp *sdp = malloc(sizeof(*sdp));
    if (text == NULL || sdp == NULL) {
        free(text);
        free(sdp);
        return RD_ENOMEM;
    }
    memcpy(text, raw, len);
    text[len] = '\0';
    int rc = sdp_parse(text, len, sdp);
    if (rc != RD_OK) {
        free(text);
        free(sdp);
        return rc;
    }
    *text_out = text;
    *sdp_out = sdp;
    return RD_OK;
}

static struct stream *
on_sdp(void *arg, const char *raw, size_t len, const struct sdp *parsed)
{
    struct camera *c = arg;
    struct stream_track_cfg tr[RD_SDP_MAX_MEDIA];
    if (sdp_tracks(parsed, tr) != RD_OK) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, &c->log, 60.0,
                           "camera SDP not servable (a section is not RTP or has no clock "
                           "rate) sections=%u",
                           parsed->n_media);
        return NULL;
    }
    char *text;
    struct sdp *sdp;
    if (sdp_own(raw, len, &text, &sdp) != RD_OK)
        return NULL;
    if (c->stream != NULL && sdp_compatible(c->sdp, sdp)) {
        /* Same media: viewers keep playing, with continuous numbering. */
        free(c->sdp);
        free(c->sdp_text);
        c->sdp = sdp;
        c->sdp_text = text;
        c->sdp_len = len;
        stream_upstream_restart(c->stream);
        waiters_ready(c);
        return c->stream;
    }
    struct stream *s;
    if (stream_new(tr, parsed->n_media, NULL, &s) != RD_OK) {
        free(text);
        free(sdp);
        return NULL;
    }
    if (c->stream != NULL) {
        RD_LOG(RD_LOG_NOTICE, &c->log,
               "camera SDP changed incompatibly: closing its viewers so they start over "
               "viewers=%u",
               (unsigned)(c->n_users - c->n_waiting));
        served_gone(c);
        cam_drop_stream(c);
    }
    c->stream = s;
    c->sdp = sdp;
    c->sdp_text = text;
    c->sdp_len = len;
    waiters_ready(c);
    cam_idle_check(c);
    return s;
}

static void
on_state(void *arg, enum puller_state st, const char *why)
{
    struct camera *c = arg;
    enum puller_state old = c->pstate;
    c->pstate = st;
    if (st != old)
        RD_LOG(st == PULLER_FAILED ? RD_LOG_WARN : RD_LOG_INFO, &c->log,
               "camera state=%s reason=%s", puller_state_name(st), why != NULL ? why : "-");
    /* A camera in the long pause cannot serve the viewers waiting for a first SDP. */
    if (st == PULLER_FAILED && c->stream == NULL)
        waiters_fail(c, RD_EBUSY);
}

static const struct puller_cb camera_puller_cb = {
    .on_sdp = on_sdp,
    .on_state = on_state,
};

/* ---- Public API -------------------------------------------------------------------------------
 */

int
cameras_new(const struct cameras_env *env, struct cameras **out)
{
    *out = NULL;
    struct cameras *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return RD_ENOMEM;
    t->env = *env;
    if (!(t->env.linger_s > 0))
        t->env.linger_s = RD_PULL_LINGER_S;
    if (!(t->env.ready_timeout_s > 0))
        t->env.ready_timeout_s = RD_PULL_READY_S;
    *out = t;
    return RD_OK;
}

static void
cam_free(struct camera *c)
{
    struct ev_loop *loop = c->t->env.puller.loop;
    /* Detach without callbacks (cameras_free contract). */
    while (c->waiters != NULL)
        user_unlink(c->waiters);
    while (c->served != NULL)
        user_unlink(c->served);
    cam_stop_pull(c, "shutdown");
    ev_timer_stop(loop, &c->ready_wait);
    cam_drop_stream(c);
    rd_cleanse(&c->src, sizeof(c->src));
    free(c);
}

void
cameras_free(struct cameras *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        cam_free(t->cams[i]);
    free(t->cams);
    free(t);
}

int
cameras_set_source(struct cameras *t, const struct camera_source *src)
{
    struct camera *c;
    int rc = cam_insert(t, rd_str_cstr(src->id), &c);
    if (rc != RD_OK)
        return rc;
    cam_set_src(c, src, false);
    if (!c->src.enabled) {
        cam_stop_pull(c, "disabled");
        waiters_fail(c, RD_EBUSY);
        served_gone(c);
        cam_drop_stream(c);
        return RD_OK;
    }
    if (c->src.always_on || c->n_users > 0)
        cam_want_pull(c);
    else
        cam_idle_check(c);
    return RD_OK;
}

int
cameras_add_static(struct cameras *t, struct rd_str id, const char *sdp, size_t len,
                   struct stream **stream)
{
    struct camera *c;
    int rc = cam_insert(t, id, &c);
    if (rc != RD_OK)
        return rc;
    char *text;
    struct sdp *parsed;
    rc = sdp_own(sdp, len, &text, &parsed);
    if (rc != RD_OK)
        return rc == RD_ENOMEM ? rc : RD_EPROTO;
    struct stream_track_cfg tr[RD_SDP_MAX_MEDIA];
    struct stream *s = NULL;
    if (sdp_tracks(parsed, tr) != RD_OK
        || (rc = stream_new(tr, parsed->n_media, NULL, &s)) != RD_OK) {
        free(text);
        free(parsed);
        return rc == RD_ENOMEM ? rc : RD_EPROTO;
    }
    served_gone(c);
    cam_stop_pull(c, "static");
    cam_drop_stream(c);
    memset(&c->src, 0, sizeof(c->src));
    memcpy(c->src.id, c->id, sizeof(c->id));
    c->src.enabled = true;
    c->src.always_on = true; /* never lingers away: the caller feeds it */
    c->have_src = true;
    c->from_broker = false;
    c->stream = s;
    c->sdp = parsed;
    c->sdp_text = text;
    c->sdp_len = len;
    *stream = s;
    waiters_ready(c);
    return RD_OK;
}

int
cameras_acquire(struct cameras *t, struct rd_str id, struct camera_user *u)
{
    struct camera *c = cam_lookup(t, id);
    if (c == NULL) {
        if (t->env.broker == NULL)
            return RD_ENOTFOUND;
        int rc = cam_insert(t, id, &c);
        if (rc != RD_OK)
            return rc == RD_EPROTO ? RD_ENOTFOUND : RD_ELIMIT;
    }
    if (c->have_src && !c->src.enabled)
        return RD_EBUSY;
    if (c->puller != NULL && c->pstate == PULLER_FAILED && c->stream == NULL)
        return RD_EBUSY;
    ev_timer_stop(t->env.puller.loop, &c->linger);
    if (c->stream != NULL) {
        /* Ready (a static camera has no puller and needs none). A stream kept by a pull
         * that is retrying is served as is: viewers get media once the camera is back. */
        user_link(c, u, false);
        if (c->puller != NULL && c->pstate == PULLER_RETRYING)
            puller_kick(c->puller);
        return RD_OK;
    }
    user_link(c, u, true);
    if (!ev_is_active(&c->ready_wait))
        evx_timer_rearm(t->env.puller.loop, &c->ready_wait, t->env.ready_timeout_s);
    cam_want_pull(c);
    return RD_AGAIN;
}

void
camera_user_release(struct camera_user *u)
{
    struct camera *c = u->cam_;
    if (c == NULL)
        return;
    user_unlink(u);
    if (c->n_waiting == 0 && c->fail_status == 0)
        ev_timer_stop(c->t->env.puller.loop, &c->ready_wait);
    cam_idle_check(c);
}

struct stream *
camera_stream(const struct camera *c)
{
    return c->stream;
}

const struct sdp *
camera_sdp(const struct camera *c)
{
    return c->stream != NULL ? c->sdp : NULL;
}

const char *
camera_id(const struct camera *c)
{
    return c->id;
}

/* Removes idle camera i from the table (no users, not pulling). */
static void
cam_forget(struct cameras *t, size_t i)
{
    struct camera *c = t->cams[i];
    cam_free(c);
    memmove(&t->cams[i], &t->cams[i + 1], (t->n - i - 1) * sizeof(*t->cams));
    t->n--;
}

void
cameras_registry_changed(struct cameras *t, uint64_t version)
{
    RD_LOG(RD_LOG_INFO, NULL, "refreshing camera sources for a new registry version version=%llu",
           (unsigned long long)version);
    for (size_t i = t->n; i-- > 0;) {
        struct camera *c = t->cams[i];
        if (!c->from_broker && c->have_src)
            continue; /* from the sources file */
        bool busy = c->n_users > 0 || c->puller != NULL || c->stream != NULL || c->fetching;
        if (!busy && !ev_is_active(&c->ready_wait)) {
            cam_forget(t, i);
            continue;
        }
        if (c->have_src && c->src.registry_version >= version)
            continue;
        c->fetched_at = -1e9; /* stale */
        cam_fetch(c);
    }
}

static uint64_t
cam_bytes_in(const struct camera *c)
{
    uint64_t b = 0;
    if (c->stream == NULL)
        return 0;
    for (unsigned k = 0; k < stream_track_count(c->stream); k++) {
        struct stream_track_stats ts;
        if (stream_track_stats(c->stream, k, &ts) == RD_OK)
            b += ts.bytes_in;
    }
    return b;
}

void
cameras_tick(struct cameras *t)
{
    double now = ev_now(t->env.puller.loop);
    for (size_t i = 0; i < t->n; i++) {
        struct camera *c = t->cams[i];
        uint64_t b = cam_bytes_in(c);
        double dt = now - c->rate_at;
        if (b < c->rate_bytes || c->rate_at == 0) { /* new stream */
            c->rate_bytes = b;
            c->rate_at = now;
            c->ingress_kbps = 0;
            continue;
        }
        if (dt < 0.5)
            continue;
        double kbps = (double)(b - c->rate_bytes) * 8. / 1000. / dt;
        c->ingress_kbps = kbps > 4e9 ? 4000000000u : (uint32_t)kbps;
        c->rate_bytes = b;
        c->rate_at = now;
    }
}

size_t
cameras_count(const struct cameras *t)
{
    return t->n;
}

void
cameras_each(const struct cameras *t, void (*fn)(void *arg, const struct camera_info *ci),
             void *arg)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct camera *c = t->cams[i];
        struct camera_info ci;
        memset(&ci, 0, sizeof(ci));
        ci.id = c->id;
        ci.users = c->n_users;
        ci.waiting = c->n_waiting;
        ci.always_on = c->have_src && c->src.always_on;
        ci.has_stream = c->stream != NULL;
        ci.from_broker = c->from_broker;
        ci.ingress_kbps = c->stream != NULL ? c->ingress_kbps : 0;
        if (c->puller != NULL) {
            puller_stats(c->puller, &ci.puller);
            ci.state = puller_state_name(c->pstate);
        } else {
            ci.state = c->stream != NULL ? "playing" : "idle"; /* static cameras play */
        }
        if (c->stream != NULL) {
            for (unsigned k = 0; k < stream_track_count(c->stream); k++) {
                struct stream_track_stats ts;
                if (stream_track_stats(c->stream, k, &ts) != RD_OK)
                    continue;
                ci.pkts_in += ts.pkts_in;
                ci.bytes_in += ts.bytes_in;
                ci.drops += ts.malformed + ts.cache_overflows + ts.rtcp_dropped;
            }
        }
        fn(arg, &ci);
    }
}
