/* SPDX-License-Identifier: MIT */
/* Relay selection, ARCHITECTURE.md §4.5: filter, affinity, upstream budget, least loaded with
 * a rendezvous-hash tie-break. Pure: the same input always gives the same choice. */
#include "policy.h"

#include <string.h>

#include "rd_err.h"
#include "rd_limits.h"

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME  0x00000100000001b3ull

static uint64_t
fnv1a64_more(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= FNV64_PRIME;
    }
    return h;
}

/* murmur3 fmix64: FNV-1a alone leaves ids that differ in their last byte close together. */
static uint64_t
fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t
policy_hash_str(const char *s)
{
    return fnv1a64_more(FNV64_OFFSET, s);
}

/* The camera part is hashed once per pick; the relay id continues from it. */
static uint64_t
hrw_seed(const char *camera_id)
{
    /* FNV-1a of the camera id, then the round of a 0 separator byte (XOR with 0 is a no-op,
     * the multiply is not), so ("ab", "c") and ("a", "bc") hash differently. */
    return fnv1a64_more(FNV64_OFFSET, camera_id) * FNV64_PRIME;
}

static uint64_t
hrw_finish(uint64_t seed, const char *relay_id)
{
    return fmix64(fnv1a64_more(seed, relay_id));
}

uint64_t
policy_hrw(const char *camera_id, const char *relay_id)
{
    return hrw_finish(hrw_seed(camera_id), relay_id);
}

static uint32_t
share_ppm(uint64_t used, uint32_t cap)
{
    if (used >= cap)
        return POLICY_SCORE_FULL;
    return (uint32_t)(used * POLICY_SCORE_FULL / cap);
}

uint32_t
policy_score_ppm(const struct policy_candidate *c)
{
    if (c->cap_viewers == 0)
        return POLICY_SCORE_FULL;
    uint32_t score = share_ppm((uint64_t)c->viewers + c->reserved_viewers, c->cap_viewers);
    if (c->cap_egress_kbps > 0) {
        uint32_t egress =
            share_ppm((uint64_t)c->egress_kbps + c->reserved_kbps, c->cap_egress_kbps);
        if (egress > score)
            score = egress;
    }
    return score;
}

static bool
has_headroom(const struct policy_candidate *c)
{
    if ((uint64_t)c->viewers + c->reserved_viewers >= c->cap_viewers)
        return false;
    return c->cap_egress_kbps == 0
           || (uint64_t)c->egress_kbps + c->reserved_kbps < c->cap_egress_kbps;
}

/* Rule 1, in order; returns the counter of the first rule c fails, NULL if it passes. */
static uint32_t *
excluded_by(const struct policy_candidate *c, const char *site, struct policy_counts *n)
{
    if (c->site[0] != '\0' && strcmp(c->site, site) != 0)
        return &n->other_site;
    if (c->state == POLICY_RELAY_DRAINING)
        return &n->draining;
    if (c->state != POLICY_RELAY_ACTIVE)
        return &n->disabled;
    if (!c->healthy)
        return &n->unhealthy;
    if (!has_headroom(c))
        return &n->full;
    return NULL;
}

/* Running "lowest score, then highest hash" over one group of candidates. */
struct best {
    int32_t index;
    uint32_t score;
    uint32_t n_tied;
    bool hashed;
    uint64_t hrw;
};

static void
best_offer(struct best *b, const struct policy_input *in, uint64_t seed, int32_t i)
{
    uint32_t score = policy_score_ppm(&in->cands[i]);
    if (b->index < 0 || score < b->score) {
        *b = (struct best){.index = i, .score = score, .n_tied = 1};
        return;
    }
    if (score > b->score)
        return;
    /* A tie: hash only now, so the common untied case never hashes. Equal hashes (the same
     * relay id twice) keep the earlier entry. */
    if (!b->hashed) {
        b->hrw = hrw_finish(seed, in->cands[b->index].id);
        b->hashed = true;
    }
    uint64_t h = hrw_finish(seed, in->cands[i].id);
    b->n_tied++;
    if (h > b->hrw) {
        b->index = i;
        b->hrw = h;
    }
}

/* The reason when rule 1 leaves nothing: the last stage that still had candidates. */
static enum policy_reason
no_candidate_reason(const struct policy_counts *n)
{
    uint32_t gone = n->other_site;
    if (n->total == 0)
        return POLICY_NO_RELAYS;
    if (gone == n->total)
        return POLICY_NO_RELAY_IN_SITE;
    gone += n->draining + n->disabled;
    if (gone == n->total)
        return POLICY_NO_ACTIVE_RELAY_IN_SITE;
    gone += n->unhealthy;
    if (gone == n->total)
        return POLICY_NO_HEALTHY_RELAY_IN_SITE;
    return POLICY_ALL_RELAYS_FULL;
}

static int
chosen(struct policy_choice *out, const struct best *b, enum policy_reason reason)
{
    out->index = b->index;
    out->score_ppm = b->score;
    out->n_tied = b->n_tied;
    out->reason = reason;
    return RD_OK;
}

int
policy_pick(const struct policy_input *in, struct policy_choice *out)
{
    memset(out, 0, sizeof(*out));
    out->index = -1;
    out->decided_at = in->now;
    out->counts.total = (uint32_t)(in->n_cands > UINT32_MAX ? UINT32_MAX : in->n_cands);
    if (!in->camera.enabled) {
        out->reason = POLICY_CAMERA_DISABLED;
        return RD_ENOTFOUND;
    }
    if (in->n_cands > RD_BROKER_MAX_RELAYS) {
        out->reason = POLICY_TOO_MANY_RELAYS;
        return RD_ELIMIT;
    }

    struct policy_counts *n = &out->counts;
    uint64_t seed = hrw_seed(in->camera.id);
    struct best puller = {.index = -1}, other = {.index = -1};
    uint32_t pulling = 0;
    for (int32_t i = 0; i < (int32_t)in->n_cands; i++) {
        const struct policy_candidate *c = &in->cands[i];
        pulling += c->pulls;
        uint32_t *rule = excluded_by(c, in->camera.site, n);
        if (rule != NULL) {
            (*rule)++;
            continue;
        }
        n->eligible++;
        best_offer(c->pulls ? &puller : &other, in, seed, i);
    }
    n->pullers = in->n_pullers > pulling ? in->n_pullers : pulling;

    /* Rule 2: one upstream session, and the viewer starts from the relay's key-frame cache. */
    if (puller.index >= 0)
        return chosen(out, &puller, POLICY_AFFINITY);
    /* Rule 3: every eligible candidate here would add an upstream session. */
    if (other.index >= 0 && in->camera.max_pullers > 0 && n->pullers >= in->camera.max_pullers) {
        n->over_budget = n->eligible;
        out->reason = POLICY_BUDGET_EXHAUSTED;
        return RD_EBUSY;
    }
    /* Rule 4. */
    if (other.index >= 0)
        return chosen(out, &other,
                      other.n_tied > 1 ? POLICY_LEAST_LOADED_TIEBREAK : POLICY_LEAST_LOADED);
    /* Rule 5. */
    out->reason = no_candidate_reason(n);
    return RD_EBUSY;
}

static const char *const reason_names[POLICY_REASON_COUNT] = {
    [POLICY_AFFINITY] = "affinity",
    [POLICY_LEAST_LOADED] = "least_loaded",
    [POLICY_LEAST_LOADED_TIEBREAK] = "least_loaded_tiebreak",
    [POLICY_BUDGET_EXHAUSTED] = "budget_exhausted",
    [POLICY_NO_RELAYS] = "no_relays",
    [POLICY_NO_RELAY_IN_SITE] = "no_relay_in_site",
    [POLICY_NO_ACTIVE_RELAY_IN_SITE] = "no_active_relay_in_site",
    [POLICY_NO_HEALTHY_RELAY_IN_SITE] = "no_healthy_relay_in_site",
    [POLICY_ALL_RELAYS_FULL] = "all_relays_full",
    [POLICY_CAMERA_DISABLED] = "camera_disabled",
    [POLICY_TOO_MANY_RELAYS] = "too_many_relays",
};

const char *
policy_reason_name(enum policy_reason r)
{
    if ((unsigned)r >= POLICY_REASON_COUNT || reason_names[r] == NULL)
        return "unknown";
    return reason_names[r];
}

const char *
policy_relay_state_name(enum policy_relay_state s)
{
    switch (s) {
    case POLICY_RELAY_ACTIVE:
        return "active";
    case POLICY_RELAY_DRAINING:
        return "draining";
    case POLICY_RELAY_DISABLED:
        return "disabled";
    }
    return "unknown";
}
