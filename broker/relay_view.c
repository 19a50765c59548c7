/* SPDX-License-Identifier: MIT */
/* In-memory relay table: fixed slot arrays allocated at create, open-addressing id indexes,
 * camera<->relay pull pairs on two intrusive lists (per relay, per camera), FIFO dirty lists.
 * Removed pairs and relays stay allocated until the flusher has seen them (collect_dirty). */
#include "relay_view.h"

#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "url.h"

#define NIL UINT32_MAX

enum {
    RELAY_USED = 1u << 0,           /* slot allocated */
    RELAY_REMOVED = 1u << 1,        /* out of index and live list; waits for its dead pairs */
    RELAY_DIRTY = 1u << 2,          /* on the relay dirty list */
    RELAY_DOWN_UNREPORTED = 1u << 3 /* a beat found it stale before a tick did */
};

enum {
    PULL_LIVE = 1u << 0,     /* on its relay's and its camera's lists */
    PULL_REPORTED = 1u << 1, /* listed by a heartbeat (the flusher may know it) */
    PULL_DIRTY = 1u << 2,    /* on the pull dirty list */
    PULL_DEAD = 1u << 3      /* removed; kept until collected */
};

struct rv_relay {
    char id[RD_RELAY_ID_MAX + 1];
    char site[RD_SITE_ID_MAX + 1];
    char base_url[RD_RELAY_URL_MAX + 1];
    char boot_id[RD_HEARTBEAT_BOOT_ID_MAX + 1];
    char prev_boot_id[RD_HEARTBEAT_BOOT_ID_MAX + 1];
    uint32_t hash;
    uint32_t flags;
    enum policy_relay_state op_state;
    bool reported_draining;
    bool ever_beat;
    bool healthy;
    uint32_t good_streak;
    double last_hb_at;
    uint64_t seq;
    uint32_t reg_cap_viewers, reg_cap_egress_kbps; /* registry */
    uint32_t hb_cap_viewers, hb_cap_egress_kbps;   /* heartbeat */
    uint32_t viewers, egress_kbps, cpu_pct;
    uint32_t reserved_viewers, reserved_kbps;
    bool kids_reported;                                  /* the last accepted beat had "kids" */
    uint8_t n_kids;                                      /* its entries, in its order */
    char kids[RD_TOKEN_LIVE_KIDS][RD_TOKEN_KID_MAX + 1]; /* token key ids the relay holds */
    uint32_t beat_gen; /* marks the pairs listed by the beat being applied */
    uint32_t sync_gen;
    uint32_t pull_head; /* live pairs */
    uint32_t n_pulls;
    uint32_t n_dead;   /* dead pairs still pointing here */
    uint32_t live_pos; /* index in v->live */
    uint32_t next;     /* dirty list or free list */
};

struct rv_camera {
    char id[RD_CAMERA_ID_MAX + 1];
    uint32_t hash;
    bool used;
    uint32_t pull_head;    /* live pairs */
    uint32_t refs;         /* live + dead pairs */
    uint32_t ingress_kbps; /* last reported while playing: the reservation estimate */
    uint32_t next_free;
};

struct rv_pull {
    uint32_t relay, camera;
    uint32_t r_prev, r_next; /* relay's list */
    uint32_t c_prev, c_next; /* camera's list */
    uint32_t next;           /* dirty list or free list */
    uint32_t flags;
    uint32_t seen; /* relay beat_gen that listed it */
    enum relay_view_cam_state state;
    uint32_t viewers, reserved, ingress_kbps;
    uint64_t drops;
    double since_at;
};

/* Linear probing over slot indices; hashes and keys live in the entries. */
struct rv_index {
    uint32_t *slot;
    uint32_t mask;
};

struct rv_list {
    uint32_t head, tail;
};

struct relay_view {
    struct relay_view_params p;
    double stale_after_s; /* unhealthy_after * hb_interval_s */
    struct rv_relay *relays;
    uint32_t *live; /* live relays, dense: the snapshot order */
    uint32_t n_live;
    uint32_t relay_free;
    uint32_t relay_hw; /* slots [relay_hw, max_relays) were never used (see slot_refill) */
    struct rv_camera *cameras;
    uint32_t camera_free;
    uint32_t camera_hw;
    uint32_t n_cameras;
    struct rv_pull *pulls;
    uint32_t pull_free;
    uint32_t pull_hw;
    uint32_t n_pulls; /* live */
    struct rv_index relay_ix, camera_ix;
    struct rv_list relay_dirty, pull_dirty;
    uint32_t sync_gen;
    bool resync_needed;
    struct relay_view_stats st;
};

/* ---- small helpers --------------------------------------------------------------------- */

static uint32_t
hash32(const char *s)
{
    uint64_t h = policy_hash_str(s);
    return (uint32_t)(h ^ (h >> 32));
}

/* strlen that stops at max + 1 (strnlen is POSIX, not C11). */
static size_t
len_upto(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n] != '\0')
        n++;
    return n;
}

static uint32_t
add_sat(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* 1..max (or 0..max with allow_empty) bytes of printable ASCII without space. */
static int
check_token(const char *s, size_t max, bool allow_empty)
{
    if (s == NULL)
        return RD_EPROTO;
    size_t n = len_upto(s, max);
    if (n > max)
        return RD_ELIMIT;
    if (n == 0 && !allow_empty)
        return RD_EPROTO;
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return RD_EPROTO;
    }
    return RD_OK;
}

/* ARCHITECTURE.md §4.1: [A-Za-z0-9_-]{1,64}. */
static bool
camera_id_ok(const char *s)
{
    return s != NULL
           && url_id_valid(rd_str_make(s, len_upto(s, RD_CAMERA_ID_MAX)), RD_CAMERA_ID_MAX);
}

/* Callers validated the length, so this never truncates. */
static void
copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = len_upto(src, cap - 1);
    if (n > cap - 1)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static uint32_t
pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static bool
fresh(const struct relay_view *v, const struct rv_relay *r, double now)
{
    return r->ever_beat && now - r->last_hb_at <= v->stale_after_s;
}

static uint32_t
eff_cap(uint32_t reg, uint32_t hb)
{
    if (reg == 0)
        return hb;
    if (hb == 0)
        return reg;
    return reg < hb ? reg : hb;
}

static enum policy_relay_state
eff_state(const struct rv_relay *r)
{
    if (r->op_state == POLICY_RELAY_ACTIVE && r->reported_draining)
        return POLICY_RELAY_DRAINING;
    return r->op_state;
}

/* ---- id indexes ------------------------------------------------------------------------ */

static uint32_t
ix_hash_of(const struct relay_view *v, const struct rv_index *ix, uint32_t idx)
{
    return ix == &v->relay_ix ? v->relays[idx].hash : v->cameras[idx].hash;
}

static const char *
ix_key_of(const struct relay_view *v, const struct rv_index *ix, uint32_t idx)
{
    return ix == &v->relay_ix ? v->relays[idx].id : v->cameras[idx].id;
}

static uint32_t
ix_find(const struct relay_view *v, const struct rv_index *ix, const char *key, uint32_t h)
{
    for (uint32_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        uint32_t idx = ix->slot[i];
        if (idx == NIL)
            return NIL;
        if (ix_hash_of(v, ix, idx) == h && strcmp(ix_key_of(v, ix, idx), key) == 0)
            return idx;
    }
}

/* The index has at least twice as many slots as entries, so there is always a free one. */
static void
ix_insert(struct rv_index *ix, uint32_t h, uint32_t idx)
{
    uint32_t i = h & ix->mask;
    while (ix->slot[i] != NIL)
        i = (i + 1) & ix->mask;
    ix->slot[i] = idx;
}

/* Backward-shift deletion (no tombstones): later entries of the probe run move up unless
 * their home slot lies cyclically in (hole, j]. */
static void
ix_remove(const struct relay_view *v, struct rv_index *ix, uint32_t idx)
{
    uint32_t i = ix_hash_of(v, ix, idx) & ix->mask;
    while (ix->slot[i] != idx)
        i = (i + 1) & ix->mask;
    ix->slot[i] = NIL;
    for (uint32_t j = (i + 1) & ix->mask; ix->slot[j] != NIL; j = (j + 1) & ix->mask) {
        uint32_t home = ix_hash_of(v, ix, ix->slot[j]) & ix->mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        ix->slot[i] = ix->slot[j];
        ix->slot[j] = NIL;
        i = j;
    }
}

static int
ix_init(struct rv_index *ix, uint32_t entries)
{
    uint32_t n = pow2_at_least(entries * 2);
    ix->slot = malloc((size_t)n * sizeof(*ix->slot));
    if (ix->slot == NULL)
        return RD_ENOMEM;
    memset(ix->slot, 0xff, (size_t)n * sizeof(*ix->slot)); /* NIL */
    ix->mask = n - 1;
    return RD_OK;
}

static uint32_t
relay_find(const struct relay_view *v, const char *id)
{
    if (check_token(id, RD_RELAY_ID_MAX, false) != RD_OK)
        return NIL;
    return ix_find(v, &v->relay_ix, id, hash32(id));
}

static uint32_t
camera_find(const struct relay_view *v, const char *id)
{
    return ix_find(v, &v->camera_ix, id, hash32(id));
}

/* ---- slots ----------------------------------------------------------------------------- */

/* Slots come from a free list, refilled one at a time from the never-used tail of each table:
 * the tables are sized for the hard caps, and memory nobody touched stays unbacked, so the caps
 * cost address space, not RSS. Slot use stays deterministic (index order). */
static void
relay_refill(struct relay_view *v)
{
    if (v->relay_free == NIL && v->relay_hw < v->p.max_relays) {
        v->relays[v->relay_hw].next = NIL;
        v->relay_free = v->relay_hw++;
    }
}

static void
camera_refill(struct relay_view *v)
{
    if (v->camera_free == NIL && v->camera_hw < v->p.max_cameras) {
        v->cameras[v->camera_hw].next_free = NIL;
        v->camera_free = v->camera_hw++;
    }
}

static void
pull_refill(struct relay_view *v)
{
    if (v->pull_free == NIL && v->pull_hw < v->p.max_pulls) {
        v->pulls[v->pull_hw].next = NIL;
        v->pull_free = v->pull_hw++;
    }
}

/* ---- dirty lists (FIFO, so the flusher applies changes in order) ----------------------- */

static void
relay_mark_dirty(struct relay_view *v, uint32_t ri)
{
    struct rv_relay *r = &v->relays[ri];
    if (r->flags & RELAY_DIRTY)
        return;
    r->flags |= RELAY_DIRTY;
    r->next = NIL;
    if (v->relay_dirty.head == NIL)
        v->relay_dirty.head = ri;
    else
        v->relays[v->relay_dirty.tail].next = ri;
    v->relay_dirty.tail = ri;
}

static void
pull_mark_dirty(struct relay_view *v, uint32_t pi)
{
    struct rv_pull *p = &v->pulls[pi];
    if (p->flags & PULL_DIRTY)
        return;
    p->flags |= PULL_DIRTY;
    p->next = NIL;
    if (v->pull_dirty.head == NIL)
        v->pull_dirty.head = pi;
    else
        v->pulls[v->pull_dirty.tail].next = pi;
    v->pull_dirty.tail = pi;
}

/* A removed relay is never emitted: take it off the relay dirty list (O(relays), rare). */
static void
relay_unlink_dirty(struct relay_view *v, uint32_t ri)
{
    if (!(v->relays[ri].flags & RELAY_DIRTY))
        return;
    uint32_t prev = NIL;
    for (uint32_t i = v->relay_dirty.head; i != NIL; prev = i, i = v->relays[i].next) {
        if (i != ri)
            continue;
        if (prev == NIL)
            v->relay_dirty.head = v->relays[i].next;
        else
            v->relays[prev].next = v->relays[i].next;
        if (v->relay_dirty.tail == ri)
            v->relay_dirty.tail = prev;
        break;
    }
    v->relays[ri].flags &= ~(uint32_t)RELAY_DIRTY;
}

/* ---- slots ------------------------------------------------------------------------------ */

static void
relay_free_slot(struct relay_view *v, uint32_t ri)
{
    struct rv_relay *r = &v->relays[ri];
    memset(r, 0, sizeof(*r));
    r->next = v->relay_free;
    v->relay_free = ri;
}

static void
camera_unref(struct relay_view *v, uint32_t ci)
{
    struct rv_camera *c = &v->cameras[ci];
    if (--c->refs > 0)
        return;
    ix_remove(v, &v->camera_ix, ci);
    memset(c, 0, sizeof(*c));
    c->next_free = v->camera_free;
    v->camera_free = ci;
    v->n_cameras--;
}

static void
pull_free_slot(struct relay_view *v, uint32_t pi)
{
    uint32_t ci = v->pulls[pi].camera;
    memset(&v->pulls[pi], 0, sizeof(v->pulls[pi]));
    v->pulls[pi].next = v->pull_free;
    v->pull_free = pi;
    camera_unref(v, ci);
}

/* A dead pair leaves for good: after collect (emitted) or a forced reclaim (lost). */
static void
pull_free_dead(struct relay_view *v, uint32_t pi)
{
    uint32_t ri = v->pulls[pi].relay;
    struct rv_relay *r = &v->relays[ri];
    r->n_dead--;
    pull_free_slot(v, pi);
    if ((r->flags & RELAY_REMOVED) && r->n_dead == 0)
        relay_free_slot(v, ri);
}

/* Tables full of removed-but-uncollected entries (the flusher is not collecting): free the
 * dead pairs now and tell the flusher to resync. Returns whether anything was freed. */
static bool
reclaim_dead(struct relay_view *v)
{
    bool any = false;
    uint32_t prev = NIL, i = v->pull_dirty.head;
    while (i != NIL) {
        uint32_t next = v->pulls[i].next;
        if (v->pulls[i].flags & PULL_DEAD) {
            if (prev == NIL)
                v->pull_dirty.head = next;
            else
                v->pulls[prev].next = next;
            if (v->pull_dirty.tail == i)
                v->pull_dirty.tail = prev;
            pull_free_dead(v, i);
            v->st.removals_lost++;
            any = true;
        } else {
            prev = i;
        }
        i = next;
    }
    if (any)
        v->resync_needed = true;
    return any;
}

/* Finds or creates the camera entry; NIL when the table is full. A new entry has refs 0:
 * the caller links a pair at once. */
static uint32_t
camera_get(struct relay_view *v, const char *id)
{
    uint32_t h = hash32(id);
    uint32_t ci = ix_find(v, &v->camera_ix, id, h);
    if (ci != NIL)
        return ci;
    camera_refill(v);
    if (v->camera_free == NIL && !reclaim_dead(v))
        return NIL;
    if (v->camera_free == NIL)
        return NIL;
    ci = v->camera_free;
    struct rv_camera *c = &v->cameras[ci];
    v->camera_free = c->next_free;
    memset(c, 0, sizeof(*c));
    copy_str(c->id, sizeof(c->id), id);
    c->hash = h;
    c->used = true;
    c->pull_head = NIL;
    c->next_free = NIL;
    ix_insert(&v->camera_ix, h, ci);
    v->n_cameras++;
    return ci;
}

static uint32_t
pull_find(const struct relay_view *v, uint32_t ci, uint32_t ri)
{
    for (uint32_t pi = v->cameras[ci].pull_head; pi != NIL; pi = v->pulls[pi].c_next) {
        if (v->pulls[pi].relay == ri)
            return pi;
    }
    return NIL;
}

/* Finds or creates the live pair (relay, camera). NIL when a table is full (counted). */
static uint32_t
pull_get(struct relay_view *v, uint32_t ri, const char *camera_id, double now)
{
    uint32_t ci = camera_find(v, camera_id);
    if (ci != NIL) {
        uint32_t pi = pull_find(v, ci, ri);
        if (pi != NIL)
            return pi;
    }
    /* Make room first: a reclaim can free camera entries, so look the camera up after it. */
    pull_refill(v);
    if (v->pull_free == NIL)
        (void)reclaim_dead(v); /* false: nothing to free; the check below reports it */
    if (v->pull_free == NIL || (ci = camera_get(v, camera_id)) == NIL) {
        v->st.pulls_dropped++;
        return NIL;
    }
    uint32_t pi = v->pull_free;
    struct rv_pull *p = &v->pulls[pi];
    v->pull_free = p->next;
    memset(p, 0, sizeof(*p));
    struct rv_relay *r = &v->relays[ri];
    struct rv_camera *c = &v->cameras[ci];
    p->relay = ri;
    p->camera = ci;
    p->next = NIL;
    p->flags = PULL_LIVE;
    p->since_at = now;
    p->r_prev = NIL;
    p->r_next = r->pull_head;
    if (r->pull_head != NIL)
        v->pulls[r->pull_head].r_prev = pi;
    r->pull_head = pi;
    p->c_prev = NIL;
    p->c_next = c->pull_head;
    if (c->pull_head != NIL)
        v->pulls[c->pull_head].c_prev = pi;
    c->pull_head = pi;
    c->refs++;
    r->n_pulls++;
    v->n_pulls++;
    return pi;
}

/* The relay no longer pulls the camera: unlink; a pair the flusher may know becomes a dead
 * record for the next collect, any other is freed at once. */
static void
pull_kill(struct relay_view *v, uint32_t pi)
{
    struct rv_pull *p = &v->pulls[pi];
    struct rv_relay *r = &v->relays[p->relay];
    struct rv_camera *c = &v->cameras[p->camera];
    if (p->r_prev == NIL)
        r->pull_head = p->r_next;
    else
        v->pulls[p->r_prev].r_next = p->r_next;
    if (p->r_next != NIL)
        v->pulls[p->r_next].r_prev = p->r_prev;
    if (p->c_prev == NIL)
        c->pull_head = p->c_next;
    else
        v->pulls[p->c_prev].c_next = p->c_next;
    if (p->c_next != NIL)
        v->pulls[p->c_next].c_prev = p->c_prev;
    p->r_prev = p->r_next = p->c_prev = p->c_next = NIL;
    r->n_pulls--;
    v->n_pulls--;
    if (p->flags & PULL_REPORTED) {
        p->flags = (p->flags & PULL_DIRTY) | PULL_REPORTED | PULL_DEAD;
        r->n_dead++;
        pull_mark_dirty(v, pi);
    } else {
        pull_free_slot(v, pi);
    }
}

/* ---- create / destroy ------------------------------------------------------------------- */

void
relay_view_params_default(struct relay_view_params *p)
{
    *p = (struct relay_view_params){
        .max_relays = RD_BROKER_MAX_RELAYS,
        .max_cameras = RD_BROKER_MAX_CAMERAS,
        .max_pulls = RD_BROKER_MAX_PULLS,
        .hb_interval_s = RELAY_VIEW_HB_INTERVAL_S,
        .unhealthy_after = RELAY_VIEW_UNHEALTHY_AFTER,
        .healthy_after = RELAY_VIEW_HEALTHY_AFTER,
    };
}

int
relay_view_create(const struct relay_view_params *p, struct relay_view **out)
{
    *out = NULL;
    if (p->max_relays < 1 || p->max_relays > RD_BROKER_MAX_RELAYS || p->max_cameras < 1
        || p->max_cameras > RD_BROKER_MAX_CAMERAS || p->max_pulls < 1
        || p->max_pulls > RD_BROKER_MAX_PULLS || !(p->hb_interval_s > 0.0)
        || p->hb_interval_s > RELAY_VIEW_HB_INTERVAL_MAX_S || p->unhealthy_after < 1
        || p->unhealthy_after > RELAY_VIEW_HYSTERESIS_MAX || p->healthy_after < 1
        || p->healthy_after > RELAY_VIEW_HYSTERESIS_MAX)
        return RD_EPROTO;

    struct relay_view *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return RD_ENOMEM;
    v->p = *p;
    v->stale_after_s = p->unhealthy_after * p->hb_interval_s;
    v->relays = calloc(p->max_relays, sizeof(*v->relays));
    v->live = calloc(p->max_relays, sizeof(*v->live));
    v->cameras = calloc(p->max_cameras, sizeof(*v->cameras));
    v->pulls = calloc(p->max_pulls, sizeof(*v->pulls));
    if (v->relays == NULL || v->live == NULL || v->cameras == NULL || v->pulls == NULL
        || ix_init(&v->relay_ix, p->max_relays) != RD_OK
        || ix_init(&v->camera_ix, p->max_cameras) != RD_OK) {
        relay_view_destroy(v);
        return RD_ENOMEM;
    }
    v->relay_free = v->camera_free = v->pull_free = NIL; /* see relay_refill() */
    v->relay_dirty = v->pull_dirty = (struct rv_list){NIL, NIL};
    *out = v;
    return RD_OK;
}

void
relay_view_destroy(struct relay_view *v)
{
    if (v == NULL)
        return;
    free(v->relays);
    free(v->live);
    free(v->cameras);
    free(v->pulls);
    free(v->relay_ix.slot);
    free(v->camera_ix.slot);
    free(v);
}

/* ---- registry side ---------------------------------------------------------------------- */

int
relay_view_relay_set(struct relay_view *v, const struct relay_view_config *c)
{
    int rc;
    if ((rc = check_token(c->id, RD_RELAY_ID_MAX, false)) != RD_OK
        || (rc = check_token(c->site, RD_SITE_ID_MAX, true)) != RD_OK
        || (rc = check_token(c->rtsp_base_url, RD_RELAY_URL_MAX, false)) != RD_OK)
        return rc;
    if (c->state != POLICY_RELAY_ACTIVE && c->state != POLICY_RELAY_DRAINING
        && c->state != POLICY_RELAY_DISABLED)
        return RD_EPROTO;

    uint32_t h = hash32(c->id);
    uint32_t ri = ix_find(v, &v->relay_ix, c->id, h);
    if (ri == NIL) {
        if (v->n_live >= v->p.max_relays)
            return RD_ELIMIT;
        /* Slots may all be held by removed relays waiting for a collect. */
        relay_refill(v);
        if (v->relay_free == NIL)
            (void)reclaim_dead(v);
        if (v->relay_free == NIL)
            return RD_ELIMIT;
        ri = v->relay_free;
        struct rv_relay *r = &v->relays[ri];
        v->relay_free = r->next;
        memset(r, 0, sizeof(*r));
        copy_str(r->id, sizeof(r->id), c->id);
        r->hash = h;
        r->flags = RELAY_USED;
        r->pull_head = NIL;
        r->next = NIL;
        r->live_pos = v->n_live;
        v->live[v->n_live++] = ri;
        ix_insert(&v->relay_ix, h, ri);
    }
    struct rv_relay *r = &v->relays[ri];
    copy_str(r->site, sizeof(r->site), c->site);
    copy_str(r->base_url, sizeof(r->base_url), c->rtsp_base_url);
    r->op_state = c->state;
    r->reg_cap_viewers = c->cap_viewers;
    r->reg_cap_egress_kbps = c->cap_egress_kbps;
    r->sync_gen = v->sync_gen;
    return RD_OK;
}

static void
relay_drop(struct relay_view *v, uint32_t ri)
{
    struct rv_relay *r = &v->relays[ri];
    while (r->pull_head != NIL)
        pull_kill(v, r->pull_head);
    ix_remove(v, &v->relay_ix, ri);
    uint32_t last = v->live[--v->n_live];
    v->live[r->live_pos] = last;
    v->relays[last].live_pos = r->live_pos;
    relay_unlink_dirty(v, ri);
    r->flags = RELAY_USED | RELAY_REMOVED;
    r->live_pos = NIL;
    if (r->n_dead == 0)
        relay_free_slot(v, ri);
}

int
relay_view_relay_remove(struct relay_view *v, const char *id)
{
    uint32_t ri = relay_find(v, id);
    if (ri == NIL)
        return RD_ENOTFOUND;
    relay_drop(v, ri);
    return RD_OK;
}

void
relay_view_sync_begin(struct relay_view *v)
{
    v->sync_gen++;
}

uint32_t
relay_view_sync_end(struct relay_view *v)
{
    uint32_t removed = 0;
    /* Backwards: relay_drop moves the last live entry into the hole. */
    for (uint32_t k = v->n_live; k-- > 0;) {
        uint32_t ri = v->live[k];
        if (v->relays[ri].sync_gen != v->sync_gen) {
            relay_drop(v, ri);
            removed++;
        }
    }
    return removed;
}

/* ---- heartbeats ------------------------------------------------------------------------- */

static int
hb_validate(const struct relay_view_hb *hb)
{
    int rc = check_token(hb->boot_id, RD_HEARTBEAT_BOOT_ID_MAX, false);
    if (rc != RD_OK)
        return RD_EPROTO;
    if (hb->n_cameras > RD_HEARTBEAT_MAX_CAMERAS)
        return RD_ELIMIT;
    if (hb->n_cameras > 0 && hb->cameras == NULL)
        return RD_EPROTO;
    for (size_t i = 0; i < hb->n_cameras; i++) {
        const struct relay_view_hb_camera *c = &hb->cameras[i];
        if (!camera_id_ok(c->id))
            return RD_EPROTO;
        if (c->state != RELAY_VIEW_CAM_STARTING && c->state != RELAY_VIEW_CAM_PLAYING
            && c->state != RELAY_VIEW_CAM_RETRYING && c->state != RELAY_VIEW_CAM_FAILED)
            return RD_EPROTO;
    }
    if (!hb->kids_reported)
        return RD_OK;
    if (hb->n_kids > RD_TOKEN_LIVE_KIDS)
        return RD_EPROTO;
    for (size_t i = 0; i < hb->n_kids; i++) {
        const char *k = hb->kids[i];
        if (k == NULL
            || !url_id_valid(rd_str_make(k, len_upto(k, RD_TOKEN_KID_MAX)), RD_TOKEN_KID_MAX))
            return RD_EPROTO;
    }
    return RD_OK;
}

/* Keeps the key ids of an accepted beat (validated by hb_validate). */
static void
hb_kids(struct rv_relay *r, const struct relay_view_hb *hb)
{
    r->kids_reported = hb->kids_reported;
    r->n_kids = 0;
    if (!hb->kids_reported)
        return;
    for (size_t i = 0; i < hb->n_kids; i++)
        copy_str(r->kids[i], sizeof(r->kids[i]), hb->kids[i]);
    r->n_kids = (uint8_t)hb->n_kids;
}

/* Points held[] at r's key ids. */
static void
kids_out(const struct rv_relay *r, bool *reported, uint8_t *n, const char **held)
{
    *reported = r->kids_reported;
    *n = r->n_kids;
    for (uint8_t i = 0; i < r->n_kids; i++)
        held[i] = r->kids[i];
}

/* Order check: the outcome for a valid beat from r. */
static enum relay_view_hb_outcome
hb_order(const struct rv_relay *r, const struct relay_view_hb *hb)
{
    if (!r->ever_beat)
        return RELAY_VIEW_HB_NEW_BOOT;
    if (strcmp(hb->boot_id, r->boot_id) == 0) {
        if (hb->seq == r->seq)
            return RELAY_VIEW_HB_DUPLICATE;
        return hb->seq < r->seq ? RELAY_VIEW_HB_REORDERED : RELAY_VIEW_HB_ACCEPTED;
    }
    if (r->prev_boot_id[0] != '\0' && strcmp(hb->boot_id, r->prev_boot_id) == 0)
        return RELAY_VIEW_HB_OLD_BOOT;
    return RELAY_VIEW_HB_NEW_BOOT;
}

/* Health bookkeeping for an accepted beat; transitions to healthy happen in tick. */
static void
hb_health(struct relay_view *v, struct rv_relay *r, double now)
{
    if (fresh(v, r, now)) {
        if (!r->healthy && r->good_streak < UINT32_MAX)
            r->good_streak++;
        return;
    }
    /* First beat, or a gap longer than the stale window: the streak starts over. */
    if (r->healthy) {
        r->healthy = false;
        r->flags |= RELAY_DOWN_UNREPORTED;
    }
    r->good_streak = 1;
}

static void
hb_apply_camera(struct relay_view *v, uint32_t ri, const struct relay_view_hb_camera *hc,
                double now, struct relay_view_hb_result *res)
{
    uint32_t pi = pull_get(v, ri, hc->id, now);
    if (pi == NIL) {
        res->n_dropped++;
        return;
    }
    struct rv_pull *p = &v->pulls[pi];
    if (p->seen == v->relays[ri].beat_gen) {
        res->n_duplicates++;
        return;
    }
    p->seen = v->relays[ri].beat_gen;
    bool changed =
        !(p->flags & PULL_REPORTED) || p->state != hc->state || p->viewers != hc->viewers;
    if (!(p->flags & PULL_REPORTED))
        p->since_at = now; /* a reservation-only pair starts pulling now */
    p->flags |= PULL_REPORTED;
    p->state = hc->state;
    p->viewers = hc->viewers;
    p->ingress_kbps = hc->ingress_kbps;
    p->drops = hc->drops;
    if (changed)
        pull_mark_dirty(v, pi);
    if (hc->state == RELAY_VIEW_CAM_PLAYING && hc->ingress_kbps > 0)
        v->cameras[p->camera].ingress_kbps = hc->ingress_kbps;
}

int
relay_view_heartbeat(struct relay_view *v, const char *relay_id, const struct relay_view_hb *hb,
                     double now, struct relay_view_hb_result *res)
{
    struct relay_view_hb_result local;
    if (res == NULL)
        res = &local;
    *res = (struct relay_view_hb_result){.outcome = RELAY_VIEW_HB_REJECTED};

    uint32_t ri = relay_find(v, relay_id);
    if (ri == NIL) {
        v->st.hb_unknown_relay++;
        return RD_ENOTFOUND;
    }
    struct rv_relay *r = &v->relays[ri];
    int rc = hb_validate(hb);
    if (rc != RD_OK) {
        v->st.hb_rejected++;
        return rc;
    }
    enum relay_view_hb_outcome o = hb_order(r, hb);
    res->n_pulls = r->n_pulls;
    if (o != RELAY_VIEW_HB_ACCEPTED && o != RELAY_VIEW_HB_NEW_BOOT) {
        res->outcome = o;
        v->st.hb_stale++;
        return RD_EEXPIRED;
    }
    res->outcome = o;

    if (o == RELAY_VIEW_HB_NEW_BOOT) {
        if (r->ever_beat)
            memcpy(r->prev_boot_id, r->boot_id, sizeof(r->prev_boot_id));
        copy_str(r->boot_id, sizeof(r->boot_id), hb->boot_id);
        /* A new process pulls afresh: restart "since" on the pairs it lists again. */
        for (uint32_t pi = r->pull_head; pi != NIL; pi = v->pulls[pi].r_next) {
            if (v->pulls[pi].flags & PULL_REPORTED) {
                v->pulls[pi].since_at = now;
                pull_mark_dirty(v, pi);
            }
        }
        v->st.hb_new_boot++;
    }
    hb_health(v, r, now);
    r->ever_beat = true;
    r->seq = hb->seq;
    r->last_hb_at = now;
    r->reported_draining = hb->draining;
    r->hb_cap_viewers = hb->cap_viewers;
    r->hb_cap_egress_kbps = hb->cap_egress_kbps;
    r->viewers = hb->viewers;
    r->egress_kbps = hb->egress_kbps;
    r->cpu_pct = hb->cpu_pct;
    r->reserved_viewers = 0;
    r->reserved_kbps = 0;
    hb_kids(r, hb);

    r->beat_gen++;
    if (r->beat_gen == 0)
        r->beat_gen = 1; /* 0 is what fresh pairs carry */
    for (size_t i = 0; i < hb->n_cameras; i++)
        hb_apply_camera(v, ri, &hb->cameras[i], now, res);
    /* Unlisted pairs stop; listed ones lose their reservations (now reported as viewers). */
    for (uint32_t pi = r->pull_head, next; pi != NIL; pi = next) {
        next = v->pulls[pi].r_next;
        if (v->pulls[pi].seen != r->beat_gen)
            pull_kill(v, pi);
        else
            v->pulls[pi].reserved = 0;
    }
    relay_mark_dirty(v, ri);
    res->n_pulls = r->n_pulls;
    v->st.hb_accepted++;
    return res->n_dropped > 0 ? RD_ELIMIT : RD_OK;
}

/* ---- health ----------------------------------------------------------------------------- */

size_t
relay_view_tick(struct relay_view *v, double now, struct relay_view_transition *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t k = 0; k < v->n_live && n < cap; k++) {
        uint32_t ri = v->live[k];
        struct rv_relay *r = &v->relays[ri];
        bool to;
        if (r->flags & RELAY_DOWN_UNREPORTED) {
            r->flags &= ~(uint32_t)RELAY_DOWN_UNREPORTED;
            to = false;
        } else if (r->healthy && !fresh(v, r, now)) {
            r->healthy = false;
            r->good_streak = 0;
            to = false;
        } else if (!r->healthy && fresh(v, r, now) && r->good_streak >= v->p.healthy_after) {
            r->healthy = true;
            to = true;
        } else {
            continue;
        }
        out[n++] = (struct relay_view_transition){r->id, to, r->last_hb_at};
        relay_mark_dirty(v, ri);
    }
    return n;
}

/* ---- placement -------------------------------------------------------------------------- */

uint32_t
relay_view_relay_count(const struct relay_view *v)
{
    return v->n_live;
}

static bool
pull_counts(const struct relay_view *v, const struct rv_pull *p, double now)
{
    if (p->reserved > 0)
        return true;
    return (p->flags & PULL_REPORTED) && p->state != RELAY_VIEW_CAM_FAILED
           && fresh(v, &v->relays[p->relay], now);
}

static void
cand_fill(const struct relay_view *v, const struct rv_relay *r, double now,
          struct policy_candidate *c)
{
    *c = (struct policy_candidate){
        .id = r->id,
        .site = r->site,
        .state = eff_state(r),
        .healthy = r->healthy && fresh(v, r, now),
        .cap_viewers = eff_cap(r->reg_cap_viewers, r->hb_cap_viewers),
        .cap_egress_kbps = eff_cap(r->reg_cap_egress_kbps, r->hb_cap_egress_kbps),
        .viewers = r->viewers,
        .egress_kbps = r->egress_kbps,
        .cpu_pct = r->cpu_pct,
        .reserved_viewers = r->reserved_viewers,
        .reserved_kbps = r->reserved_kbps,
    };
    kids_out(r, &c->kids_reported, &c->n_held_kids, c->held_kids);
}

int
relay_view_snapshot_for(const struct relay_view *v, const struct policy_camera *camera, double now,
                        struct policy_candidate *cands, size_t cap, struct policy_input *in)
{
    if (camera->id == NULL || camera->site == NULL)
        return RD_EPROTO;
    if (cap < v->n_live)
        return RD_ELIMIT;
    *in =
        (struct policy_input){.camera = *camera, .now = now, .cands = cands, .n_cands = v->n_live};
    for (uint32_t k = 0; k < v->n_live; k++)
        cand_fill(v, &v->relays[v->live[k]], now, &cands[k]);
    if (!camera_id_ok(camera->id))
        return RD_OK; /* no such camera in the index; the caller's 404 path handles it */
    uint32_t ci = camera_find(v, camera->id);
    if (ci == NIL)
        return RD_OK;
    for (uint32_t pi = v->cameras[ci].pull_head; pi != NIL; pi = v->pulls[pi].c_next) {
        const struct rv_pull *p = &v->pulls[pi];
        if (!pull_counts(v, p, now))
            continue;
        struct policy_candidate *c = &cands[v->relays[p->relay].live_pos];
        c->pulls = true;
        c->pull_viewers = p->viewers;
        in->n_pullers++;
    }
    return RD_OK;
}

int
relay_view_snapshot_pullers(const struct relay_view *v, const struct policy_camera *camera,
                            double now, struct policy_candidate *cands, size_t cap,
                            struct policy_input *in)
{
    if (camera->id == NULL || camera->site == NULL)
        return RD_EPROTO;
    if (cap < v->n_live)
        return RD_ELIMIT;
    *in = (struct policy_input){.camera = *camera, .now = now, .cands = cands, .n_cands = 0};
    if (!camera_id_ok(camera->id))
        return RD_OK;
    uint32_t ci = camera_find(v, camera->id);
    if (ci == NIL)
        return RD_OK;
    uint32_t pos[RD_BROKER_MAX_RELAYS]; /* live_pos of cands[k] */
    for (uint32_t pi = v->cameras[ci].pull_head; pi != NIL; pi = v->pulls[pi].c_next) {
        const struct rv_pull *p = &v->pulls[pi];
        if (!pull_counts(v, p, now))
            continue;
        /* One pair per (relay, camera), so n_cands <= n_live <= both caps. Insert in live
         * order, as relay_view_snapshot_for lists them (pullers are few: insertion is cheap). */
        const struct rv_relay *r = &v->relays[p->relay];
        if (in->n_cands >= RD_BROKER_MAX_RELAYS)
            return RD_ELIMIT; /* cannot happen: max_relays <= RD_BROKER_MAX_RELAYS */
        size_t k = in->n_cands++;
        while (k > 0 && pos[k - 1] > r->live_pos) {
            cands[k] = cands[k - 1];
            pos[k] = pos[k - 1];
            k--;
        }
        pos[k] = r->live_pos;
        cand_fill(v, r, now, &cands[k]);
        cands[k].pulls = true;
        cands[k].pull_viewers = p->viewers;
        in->n_pullers++;
    }
    return RD_OK;
}

int
relay_view_reserve(struct relay_view *v, const char *relay_id, const char *camera_id, double now)
{
    uint32_t ri = relay_find(v, relay_id);
    if (ri == NIL)
        return RD_ENOTFOUND;
    if (!camera_id_ok(camera_id))
        return RD_EPROTO;
    struct rv_relay *r = &v->relays[ri];
    uint32_t ci = camera_find(v, camera_id);
    uint32_t kbps = ci != NIL ? v->cameras[ci].ingress_kbps : 0;
    if (kbps == 0 && r->viewers > 0)
        kbps = r->egress_kbps / r->viewers;
    r->reserved_viewers = add_sat(r->reserved_viewers, 1);
    r->reserved_kbps = add_sat(r->reserved_kbps, kbps);
    v->st.reservations++;
    uint32_t pi = pull_get(v, ri, camera_id, now);
    if (pi == NIL)
        return RD_ELIMIT;
    v->pulls[pi].reserved = add_sat(v->pulls[pi].reserved, 1);
    return RD_OK;
}

/* ---- reading ---------------------------------------------------------------------------- */

static void
fill_relay_info(const struct rv_relay *r, struct relay_view_relay_info *o)
{
    *o = (struct relay_view_relay_info){
        .id = r->id,
        .site = r->site,
        .rtsp_base_url = r->base_url,
        .boot_id = r->boot_id,
        .state = eff_state(r),
        .op_state = r->op_state,
        .healthy = r->healthy,
        .ever_beat = r->ever_beat,
        .last_hb_at = r->last_hb_at,
        .seq = r->seq,
        .cap_viewers = eff_cap(r->reg_cap_viewers, r->hb_cap_viewers),
        .cap_egress_kbps = eff_cap(r->reg_cap_egress_kbps, r->hb_cap_egress_kbps),
        .viewers = r->viewers,
        .egress_kbps = r->egress_kbps,
        .cpu_pct = r->cpu_pct,
        .reserved_viewers = r->reserved_viewers,
        .reserved_kbps = r->reserved_kbps,
        .n_pulls = r->n_pulls,
    };
    kids_out(r, &o->kids_reported, &o->n_held_kids, o->held_kids);
}

static void
fill_pull_info(const struct relay_view *v, const struct rv_pull *p, struct relay_view_pull_info *o)
{
    *o = (struct relay_view_pull_info){
        .relay_id = v->relays[p->relay].id,
        .camera_id = v->cameras[p->camera].id,
        .state = p->state,
        .viewers = p->viewers,
        .reserved = p->reserved,
        .ingress_kbps = p->ingress_kbps,
        .drops = p->drops,
        .since_at = p->since_at,
        .reported = (p->flags & PULL_REPORTED) != 0,
        .removed = (p->flags & PULL_DEAD) != 0,
    };
}

int
relay_view_relay_get(const struct relay_view *v, const char *id, struct relay_view_relay_info *out)
{
    uint32_t ri = relay_find(v, id);
    if (ri == NIL)
        return RD_ENOTFOUND;
    fill_relay_info(&v->relays[ri], out);
    return RD_OK;
}

void
relay_view_foreach_relay(const struct relay_view *v, relay_view_relay_fn *fn, void *ctx)
{
    struct relay_view_relay_info info;
    for (uint32_t k = 0; k < v->n_live; k++) {
        fill_relay_info(&v->relays[v->live[k]], &info);
        fn(ctx, &info);
    }
}

void
relay_view_foreach_pull(const struct relay_view *v, relay_view_pull_fn *fn, void *ctx)
{
    struct relay_view_pull_info info;
    for (uint32_t k = 0; k < v->n_live; k++) {
        for (uint32_t pi = v->relays[v->live[k]].pull_head; pi != NIL; pi = v->pulls[pi].r_next) {
            fill_pull_info(v, &v->pulls[pi], &info);
            fn(ctx, &info);
        }
    }
}

int
relay_view_foreach_pull_of(const struct relay_view *v, const char *camera_id,
                           relay_view_pull_fn *fn, void *ctx)
{
    if (!camera_id_ok(camera_id))
        return RD_ENOTFOUND;
    uint32_t ci = camera_find(v, camera_id);
    if (ci == NIL)
        return RD_ENOTFOUND;
    struct relay_view_pull_info info;
    for (uint32_t pi = v->cameras[ci].pull_head; pi != NIL; pi = v->pulls[pi].c_next) {
        fill_pull_info(v, &v->pulls[pi], &info);
        fn(ctx, &info);
    }
    return RD_OK;
}

void
relay_view_collect_dirty(struct relay_view *v, relay_view_relay_fn *on_relay,
                         relay_view_pull_fn *on_pull, void *ctx, struct relay_view_dirty_stats *st)
{
    struct relay_view_dirty_stats local = {0};
    if (st == NULL)
        st = &local;
    *st = (struct relay_view_dirty_stats){.resync_needed = v->resync_needed};
    v->resync_needed = false;

    struct relay_view_relay_info ri_info;
    for (uint32_t ri = v->relay_dirty.head, next; ri != NIL; ri = next) {
        next = v->relays[ri].next;
        v->relays[ri].flags &= ~(uint32_t)RELAY_DIRTY;
        v->relays[ri].next = NIL;
        if (on_relay != NULL) {
            fill_relay_info(&v->relays[ri], &ri_info);
            on_relay(ctx, &ri_info);
        }
        st->n_relays++;
    }
    v->relay_dirty = (struct rv_list){NIL, NIL};

    struct relay_view_pull_info p_info;
    for (uint32_t pi = v->pull_dirty.head, next; pi != NIL; pi = next) {
        struct rv_pull *p = &v->pulls[pi];
        next = p->next;
        p->flags &= ~(uint32_t)PULL_DIRTY;
        p->next = NIL;
        if (on_pull != NULL) {
            fill_pull_info(v, p, &p_info);
            on_pull(ctx, &p_info);
        }
        st->n_pulls++;
        if (p->flags & PULL_DEAD) {
            st->n_removed++;
            pull_free_dead(v, pi);
        }
    }
    v->pull_dirty = (struct rv_list){NIL, NIL};
}

void
relay_view_get_stats(const struct relay_view *v, struct relay_view_stats *out)
{
    *out = v->st;
    out->n_relays = v->n_live;
    out->n_cameras = v->n_cameras;
    out->n_pulls = v->n_pulls;
    out->n_healthy = 0;
    for (uint32_t k = 0; k < v->n_live; k++)
        out->n_healthy += v->relays[v->live[k]].healthy;
}

const char *
relay_view_cam_state_name(enum relay_view_cam_state s)
{
    switch (s) {
    case RELAY_VIEW_CAM_STARTING:
        return "starting";
    case RELAY_VIEW_CAM_PLAYING:
        return "playing";
    case RELAY_VIEW_CAM_RETRYING:
        return "retrying";
    case RELAY_VIEW_CAM_FAILED:
        return "failed";
    }
    return "unknown";
}

const char *
relay_view_hb_outcome_name(enum relay_view_hb_outcome o)
{
    switch (o) {
    case RELAY_VIEW_HB_ACCEPTED:
        return "accepted";
    case RELAY_VIEW_HB_NEW_BOOT:
        return "new_boot";
    case RELAY_VIEW_HB_DUPLICATE:
        return "duplicate";
    case RELAY_VIEW_HB_REORDERED:
        return "reordered";
    case RELAY_VIEW_HB_OLD_BOOT:
        return "old_boot";
    case RELAY_VIEW_HB_REJECTED:
        return "rejected";
    }
    return "unknown";
}
