/* SPDX-License-Identifier: MIT */
/* policy.c: every rule of ARCHITECTURE.md §4.5 as table rows, score arithmetic, rendezvous
 * hashing (stability, order independence, spread, minimal disruption) and bursts. */
#include "rd_test.h"

#include "policy.h"
#include "rd_err.h"
#include "rd_limits.h"

#define ACT POLICY_RELAY_ACTIVE
#define DRN POLICY_RELAY_DRAINING
#define DIS POLICY_RELAY_DISABLED

/* One candidate, positional so a table row reads as one line. */
struct row {
    const char *id, *site;
    enum policy_relay_state state;
    bool healthy;
    uint32_t cap, viewers, reserved;   /* viewers */
    uint32_t cap_kbps, kbps, res_kbps; /* egress */
    bool pulls;
};

struct pick_case {
    const char *name;
    const char *site;   /* camera site */
    uint32_t budget;    /* camera max_pullers */
    uint32_t n_pullers; /* fleet-wide count from relay_view */
    size_t n;
    struct row rows[6];
    int rc;
    int32_t index;
    enum policy_reason reason;
    /* expected counts: other_site, draining, disabled, unhealthy, full, over_budget,
     * eligible, pullers (total is n) */
    uint32_t counts[8];
};

static const struct pick_case pick_cases[] = {
    {"no relays", "hq", 0, 0, 0, {{0}}, RD_EBUSY, -1, POLICY_NO_RELAYS, {0}},
    {"only other sites",
     "hq",
     0,
     0,
     2,
     {{"a", "lab", ACT, 1, 100, 0, 0, 0, 0, 0, 0}, {"b", "dc", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_NO_RELAY_IN_SITE,
     {2, 0, 0, 0, 0, 0, 0, 0}},
    {"site is case-sensitive and exact",
     "hq",
     0,
     0,
     2,
     {{"a", "HQ", ACT, 1, 100, 0, 0, 0, 0, 0, 0}, {"b", "hq2", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_NO_RELAY_IN_SITE,
     {2, 0, 0, 0, 0, 0, 0, 0}},
    {"relay serving any site is a candidate",
     "hq",
     0,
     0,
     2,
     {{"a", "lab", ACT, 1, 100, 0, 0, 0, 0, 0, 0}, {"b", "", ACT, 1, 100, 5, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {1, 0, 0, 0, 0, 0, 1, 0}},
    {"draining and disabled are not candidates",
     "hq",
     0,
     0,
     3,
     {{"a", "hq", DRN, 1, 100, 0, 0, 0, 0, 0, 0},
      {"b", "hq", DIS, 1, 100, 0, 0, 0, 0, 0, 0},
      {"c", "lab", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_NO_ACTIVE_RELAY_IN_SITE,
     {1, 1, 1, 0, 0, 0, 0, 0}},
    {"unhealthy is not a candidate",
     "hq",
     0,
     0,
     3,
     {{"a", "hq", ACT, 0, 100, 0, 0, 0, 0, 0, 0},
      {"b", "hq", DRN, 1, 100, 0, 0, 0, 0, 0, 0},
      {"c", "", ACT, 0, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_NO_HEALTHY_RELAY_IN_SITE,
     {0, 1, 0, 2, 0, 0, 0, 0}},
    {"first failed rule counts: other site beats unhealthy and draining",
     "hq",
     0,
     0,
     2,
     {{"a", "lab", DRN, 0, 100, 0, 0, 0, 0, 0, 0}, {"b", "hq", ACT, 1, 100, 1, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {1, 0, 0, 0, 0, 0, 1, 0}},
    {"full: viewers, reservations, no capacity, egress, egress reservations",
     "hq",
     0,
     0,
     6,
     {{"a", "hq", ACT, 1, 100, 100, 0, 0, 0, 0, 0},
      {"b", "hq", ACT, 1, 100, 60, 40, 0, 0, 0, 0},
      {"c", "hq", ACT, 1, 0, 0, 0, 0, 0, 0, 0},
      {"d", "hq", ACT, 1, 100, 1, 0, 1000, 1000, 0, 0},
      {"e", "hq", ACT, 1, 100, 1, 0, 1000, 500, 500, 0},
      {"f", "hq", ACT, 0, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_ALL_RELAYS_FULL,
     {0, 0, 0, 1, 5, 0, 0, 0}},
    {"one below capacity still fits",
     "hq",
     0,
     0,
     2,
     {{"a", "hq", ACT, 1, 100, 60, 39, 0, 0, 0, 0},
      {"b", "hq", ACT, 1, 100, 1, 0, 1000, 998, 1, 0}},
     RD_OK,
     0,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 0, 0, 0, 2, 0}},
    {"least loaded by share of capacity, not by count",
     "hq",
     0,
     0,
     2,
     {{"a", "hq", ACT, 1, 100, 30, 0, 0, 0, 0, 0}, {"b", "hq", ACT, 1, 300, 60, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 0, 0, 0, 2, 0}},
    {"egress share binds when higher",
     "hq",
     0,
     0,
     2,
     {{"a", "hq", ACT, 1, 100, 10, 0, 1000, 900, 0, 0},
      {"b", "hq", ACT, 1, 100, 50, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 0, 0, 0, 2, 0}},
    {"reservations count in the score",
     "hq",
     0,
     0,
     2,
     {{"a", "hq", ACT, 1, 100, 10, 30, 0, 0, 0, 0}, {"b", "hq", ACT, 1, 100, 35, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 0, 0, 0, 2, 0}},
    {"reserved egress counts in the score",
     "hq",
     0,
     0,
     2,
     {{"a", "hq", ACT, 1, 100, 10, 0, 1000, 100, 500, 0},
      {"b", "hq", ACT, 1, 100, 50, 0, 1000, 100, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 0, 0, 0, 2, 0}},
    {"affinity beats a less loaded relay",
     "hq",
     2,
     1,
     2,
     {{"a", "hq", ACT, 1, 100, 90, 0, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_OK,
     0,
     POLICY_AFFINITY,
     {0, 0, 0, 0, 0, 0, 2, 1}},
    {"affinity without headroom: budget allows another relay",
     "hq",
     2,
     1,
     2,
     {{"a", "hq", ACT, 1, 100, 99, 1, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 0, 1, 0, 1, 1}},
    {"affinity without headroom: budget used up",
     "hq",
     1,
     1,
     2,
     {{"a", "hq", ACT, 1, 100, 100, 0, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_BUDGET_EXHAUSTED,
     {0, 0, 0, 0, 1, 1, 1, 1}},
    {"budget counts pullers outside the snapshot (n_pullers)",
     "hq",
     2,
     2,
     2,
     {{"a", "hq", ACT, 1, 100, 100, 0, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_BUDGET_EXHAUSTED,
     {0, 0, 0, 0, 1, 1, 1, 2}},
    {"budget counts candidates that pull even if n_pullers says less",
     "hq",
     2,
     0,
     3,
     {{"a", "hq", ACT, 1, 100, 100, 0, 0, 0, 0, 1},
      {"b", "lab", ACT, 1, 100, 0, 0, 0, 0, 0, 1},
      {"c", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_BUDGET_EXHAUSTED,
     {1, 0, 0, 0, 1, 1, 1, 2}},
    {"a draining puller still holds its upstream session",
     "hq",
     1,
     1,
     2,
     {{"a", "hq", DRN, 1, 100, 10, 0, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_BUDGET_EXHAUSTED,
     {0, 1, 0, 0, 0, 1, 1, 1}},
    {"budget 0 means no limit",
     "hq",
     0,
     7,
     2,
     {{"a", "hq", ACT, 1, 100, 100, 0, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 0, 1, 0, 1, 7}},
    {"several pullers: the least loaded of them",
     "hq",
     3,
     2,
     3,
     {{"a", "hq", ACT, 1, 100, 50, 0, 0, 0, 0, 1},
      {"b", "hq", ACT, 1, 100, 0, 0, 0, 0, 0, 0},
      {"c", "hq", ACT, 1, 200, 30, 0, 0, 0, 0, 1}},
     RD_OK,
     2,
     POLICY_AFFINITY,
     {0, 0, 0, 0, 0, 0, 3, 2}},
    {"an unhealthy puller gets no affinity",
     "hq",
     2,
     1,
     2,
     {{"a", "hq", ACT, 0, 100, 1, 0, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 50, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {0, 0, 0, 1, 0, 0, 1, 1}},
    {"puller in another site gets no affinity",
     "hq",
     0,
     1,
     2,
     {{"a", "lab", ACT, 1, 100, 1, 0, 0, 0, 0, 1}, {"b", "hq", ACT, 1, 100, 50, 0, 0, 0, 0, 0}},
     RD_OK,
     1,
     POLICY_LEAST_LOADED,
     {1, 0, 0, 0, 0, 0, 1, 1}},
    {"mix of unhealthy and full: the deepest stage is reported",
     "hq",
     0,
     0,
     3,
     {{"a", "hq", ACT, 0, 100, 0, 0, 0, 0, 0, 0},
      {"b", "hq", ACT, 1, 100, 100, 0, 0, 0, 0, 0},
      {"c", "hq", DIS, 1, 100, 0, 0, 0, 0, 0, 0}},
     RD_EBUSY,
     -1,
     POLICY_ALL_RELAYS_FULL,
     {0, 0, 1, 1, 1, 0, 0, 0}},
};

static size_t
rows_to_cands(const struct row *rows, size_t n, struct policy_candidate *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        out[i] = (struct policy_candidate){
            .id = r->id,
            .site = r->site,
            .state = r->state,
            .healthy = r->healthy,
            .cap_viewers = r->cap,
            .viewers = r->viewers,
            .reserved_viewers = r->reserved,
            .cap_egress_kbps = r->cap_kbps,
            .egress_kbps = r->kbps,
            .reserved_kbps = r->res_kbps,
            .pulls = r->pulls,
        };
    }
    return n;
}

static void
test_rules_table(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof(pick_cases) / sizeof(pick_cases[0]); t++) {
        const struct pick_case *pc = &pick_cases[t];
        struct policy_candidate cands[6];
        struct policy_input in = {
            .camera = {.id = "lobby", .site = pc->site, .max_pullers = pc->budget, .enabled = true},
            .now = 42.5,
            .n_pullers = pc->n_pullers,
            .cands = cands,
            .n_cands = rows_to_cands(pc->rows, pc->n, cands),
        };
        struct policy_choice ch;
        int rc = policy_pick(&in, &ch);
        const struct policy_counts *n = &ch.counts;
        uint32_t got[8] = {n->other_site, n->draining,    n->disabled, n->unhealthy,
                           n->full,       n->over_budget, n->eligible, n->pullers};
        if (rc != pc->rc || ch.index != pc->index || ch.reason != pc->reason
            || memcmp(got, pc->counts, sizeof(got)) != 0 || n->total != pc->n) {
            print_error("case '%s': rc %d index %d reason %s counts %u %u %u %u %u %u %u %u\n",
                        pc->name, rc, ch.index, policy_reason_name(ch.reason), got[0], got[1],
                        got[2], got[3], got[4], got[5], got[6], got[7]);
            fail();
        }
        assert_true(ch.decided_at == 42.5);
        if (rc == RD_OK) {
            assert_int_equal(ch.score_ppm, policy_score_ppm(&cands[ch.index]));
            assert_int_equal(ch.n_tied, 1);
        } else {
            assert_int_equal(ch.score_ppm, 0);
        }
    }
}

static void
test_bad_input(void **state)
{
    (void)state;
    struct policy_candidate c = {.id = "a", .site = "hq", .healthy = true, .cap_viewers = 10};
    struct policy_input in = {
        .camera = {.id = "cam", .site = "hq", .enabled = false}, .cands = &c, .n_cands = 1};
    struct policy_choice ch;
    assert_int_equal(policy_pick(&in, &ch), RD_ENOTFOUND);
    assert_int_equal(ch.reason, POLICY_CAMERA_DISABLED);
    assert_int_equal(ch.index, -1);

    static struct policy_candidate many[RD_BROKER_MAX_RELAYS + 1];
    for (size_t i = 0; i < RD_BROKER_MAX_RELAYS + 1; i++)
        many[i] = c;
    in.camera.enabled = true;
    in.cands = many;
    in.n_cands = RD_BROKER_MAX_RELAYS + 1;
    assert_int_equal(policy_pick(&in, &ch), RD_ELIMIT);
    assert_int_equal(ch.reason, POLICY_TOO_MANY_RELAYS);
    assert_int_equal(ch.index, -1);
    /* Exactly at the limit is fine (the same relay id everywhere: the first one wins). */
    in.n_cands = RD_BROKER_MAX_RELAYS;
    assert_int_equal(policy_pick(&in, &ch), RD_OK);
    assert_int_equal(ch.index, 0);
    assert_int_equal(ch.reason, POLICY_LEAST_LOADED_TIEBREAK);
    assert_int_equal(ch.n_tied, RD_BROKER_MAX_RELAYS);
    assert_int_equal(ch.counts.eligible, RD_BROKER_MAX_RELAYS);
}

static void
test_score(void **state)
{
    (void)state;
    struct {
        uint32_t cap, viewers, reserved, cap_kbps, kbps, res_kbps, want;
    } rows[] = {
        {100, 0, 0, 0, 0, 0, 0},
        {100, 50, 0, 0, 0, 0, 500000},
        {100, 25, 25, 0, 0, 0, 500000},
        {300, 1, 0, 0, 0, 0, 3333}, /* rounds down */
        {100, 100, 0, 0, 0, 0, 1000000},
        {100, 200, 7, 0, 0, 0, 1000000},    /* over capacity saturates */
        {0, 0, 0, 0, 0, 0, 1000000},        /* no viewer capacity: full */
        {100, 10, 0, 1000, 900, 0, 900000}, /* egress binds */
        {100, 90, 0, 1000, 100, 0, 900000}, /* viewers bind */
        {100, 10, 0, 1000, 100, 150, 250000},
        {100, 10, 0, 0, 999999, 0, 100000}, /* no egress cap: egress ignored */
        {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, 1000000},
        {UINT32_MAX, UINT32_MAX - 1, 0, 0, 0, 0, 999999},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct policy_candidate c = {
            .cap_viewers = rows[i].cap,
            .viewers = rows[i].viewers,
            .reserved_viewers = rows[i].reserved,
            .cap_egress_kbps = rows[i].cap_kbps,
            .egress_kbps = rows[i].kbps,
            .reserved_kbps = rows[i].res_kbps,
        };
        if (policy_score_ppm(&c) != rows[i].want) {
            print_error("row %zu: score %u, want %u\n", i, policy_score_ppm(&c), rows[i].want);
            fail();
        }
    }
}

static void
test_hash_vectors(void **state)
{
    (void)state;
    /* FNV-1a 64 reference values (draft-eastlake-fnv). */
    assert_true(policy_hash_str("") == 0xcbf29ce484222325ull);
    assert_true(policy_hash_str("a") == 0xaf63dc4c8601ec8cull);
    assert_true(policy_hash_str("foobar") == 0x85944171f73967e8ull);
    /* Stable and sensitive to the split between camera and relay. */
    assert_true(policy_hrw("lobby", "relay-a") == policy_hrw("lobby", "relay-a"));
    assert_true(policy_hrw("ab", "c") != policy_hrw("a", "bc"));
    assert_true(policy_hrw("lobby", "relay-a") != policy_hrw("lobby", "relay-b"));
    assert_true(policy_hrw("lobby", "relay-a") != policy_hrw("lobby2", "relay-a"));
}

static void
test_names(void **state)
{
    (void)state;
    for (int r = 0; r < POLICY_REASON_COUNT; r++) {
        const char *name = policy_reason_name((enum policy_reason)r);
        assert_string_not_equal(name, "unknown");
        for (int s = 0; s < r; s++)
            assert_string_not_equal(name, policy_reason_name((enum policy_reason)s));
    }
    assert_string_equal(policy_reason_name(POLICY_AFFINITY), "affinity");
    assert_string_equal(policy_reason_name(POLICY_LEAST_LOADED_TIEBREAK), "least_loaded_tiebreak");
    assert_string_equal(policy_reason_name(POLICY_BUDGET_EXHAUSTED), "budget_exhausted");
    assert_string_equal(policy_reason_name(POLICY_NO_HEALTHY_RELAY_IN_SITE),
                        "no_healthy_relay_in_site");
    assert_string_equal(policy_reason_name(POLICY_ALL_RELAYS_FULL), "all_relays_full");
    assert_string_equal(policy_reason_name(POLICY_NO_RELAYS), "no_relays");
    assert_string_equal(policy_reason_name(POLICY_REASON_COUNT), "unknown");
    assert_string_equal(policy_reason_name((enum policy_reason) - 1), "unknown");
    assert_string_equal(policy_relay_state_name(POLICY_RELAY_DRAINING), "draining");
    assert_string_equal(policy_relay_state_name((enum policy_relay_state)9), "unknown");
}

/* ---- rendezvous tie-breaks --------------------------------------------------------------- */

static const char *const relay_ids[] = {"relay-a", "relay-b", "relay-c", "relay-d", "relay-e"};
#define N_IDS (sizeof(relay_ids) / sizeof(relay_ids[0]))

static void
equal_cands(struct policy_candidate *c, size_t n, const char *const *ids)
{
    for (size_t i = 0; i < n; i++) {
        c[i] = (struct policy_candidate){
            .id = ids[i], .site = "hq", .healthy = true, .cap_viewers = 100, .viewers = 10};
    }
}

static int32_t
pick_for(const char *camera, const struct policy_candidate *c, size_t n, struct policy_choice *ch)
{
    struct policy_input in = {
        .camera = {.id = camera, .site = "hq", .enabled = true}, .cands = c, .n_cands = n};
    assert_int_equal(policy_pick(&in, ch), RD_OK);
    return ch->index;
}

static void
camera_name(char *buf, size_t cap, unsigned i)
{
    int n = snprintf(buf, cap, "cam-%u", i);
    assert_true(n > 0 && (size_t)n < cap);
}

static void
test_hrw_tiebreak(void **state)
{
    (void)state;
    struct policy_candidate c[N_IDS], rev[N_IDS];
    const char *rev_ids[N_IDS];
    for (size_t i = 0; i < N_IDS; i++)
        rev_ids[i] = relay_ids[N_IDS - 1 - i];
    equal_cands(c, N_IDS, relay_ids);
    equal_cands(rev, N_IDS, rev_ids);

    unsigned per_relay[N_IDS] = {0};
    const unsigned n_cams = 5000;
    for (unsigned k = 0; k < n_cams; k++) {
        char cam[32];
        camera_name(cam, sizeof(cam), k);
        struct policy_choice ch, ch2;
        int32_t i = pick_for(cam, c, N_IDS, &ch);
        assert_int_equal(ch.reason, POLICY_LEAST_LOADED_TIEBREAK);
        assert_int_equal(ch.n_tied, N_IDS);
        /* The winner is the highest hash, whatever the snapshot order. */
        for (size_t j = 0; j < N_IDS; j++)
            assert_true(policy_hrw(cam, relay_ids[j]) <= policy_hrw(cam, relay_ids[i]));
        int32_t r = pick_for(cam, rev, N_IDS, &ch2);
        assert_string_equal(rev[r].id, c[i].id);
        per_relay[i]++;
    }
    /* Spread: each of 5 equal relays gets 1/5 of the cameras, within 10 %. */
    for (size_t i = 0; i < N_IDS; i++) {
        assert_in_range(per_relay[i], n_cams / N_IDS * 9 / 10, n_cams / N_IDS * 11 / 10);
    }

    /* Minimal disruption: dropping relay-c moves only the cameras that were on relay-c. */
    struct policy_candidate fewer[N_IDS - 1];
    const char *fewer_ids[N_IDS - 1] = {"relay-a", "relay-b", "relay-d", "relay-e"};
    equal_cands(fewer, N_IDS - 1, fewer_ids);
    unsigned moved = 0;
    for (unsigned k = 0; k < n_cams; k++) {
        char cam[32];
        camera_name(cam, sizeof(cam), k);
        struct policy_choice ch;
        const char *before = c[pick_for(cam, c, N_IDS, &ch)].id;
        const char *after = fewer[pick_for(cam, fewer, N_IDS - 1, &ch)].id;
        if (strcmp(before, after) != 0) {
            assert_string_equal(before, "relay-c");
            moved++;
        }
    }
    assert_int_equal(moved, per_relay[2]);

    /* Only the tied lowest scores take part: a less loaded relay wins without a tie-break. */
    c[3].viewers = 9;
    struct policy_choice ch;
    assert_int_equal(pick_for("cam-1", c, N_IDS, &ch), 3);
    assert_int_equal(ch.reason, POLICY_LEAST_LOADED);
    assert_int_equal(ch.n_tied, 1);
    /* Two tied at the lowest, three higher: the tie-break is between those two only. */
    c[1].viewers = 9;
    for (unsigned k = 0; k < 200; k++) {
        char cam[32];
        camera_name(cam, sizeof(cam), k);
        int32_t i = pick_for(cam, c, N_IDS, &ch);
        assert_true(i == 1 || i == 3);
        assert_int_equal(ch.n_tied, 2);
        int32_t want = policy_hrw(cam, "relay-b") > policy_hrw(cam, "relay-d") ? 1 : 3;
        assert_int_equal(i, want);
    }
}

static void
test_affinity_tie_uses_hrw(void **state)
{
    (void)state;
    struct policy_candidate c[3];
    equal_cands(c, 3, relay_ids);
    c[0].pulls = c[2].pulls = true;
    unsigned hits[3] = {0};
    for (unsigned k = 0; k < 400; k++) {
        char cam[32];
        camera_name(cam, sizeof(cam), k);
        struct policy_choice ch;
        int32_t i = pick_for(cam, c, 3, &ch);
        assert_int_equal(ch.reason, POLICY_AFFINITY);
        assert_int_equal(ch.n_tied, 2);
        assert_true(i == 0 || i == 2);
        hits[i]++;
    }
    assert_int_equal(hits[1], 0);
    assert_in_range(hits[0], 140, 260);
}

/* ---- bursts: 1000 DESCRIBEs between two heartbeats, reserving after each pick ------------ */

struct burst {
    unsigned picked[4];
    unsigned refused;
    unsigned reasons[POLICY_REASON_COUNT];
};

/* one_camera: every DESCRIBE is for camera "hot"; else each for a different camera. */
static void
run_burst(struct policy_candidate *c, size_t n, unsigned describes, bool one_camera,
          uint32_t budget, struct burst *b)
{
    memset(b, 0, sizeof(*b));
    for (unsigned k = 0; k < describes; k++) {
        char cam[32];
        camera_name(cam, sizeof(cam), k);
        uint32_t pullers = 0;
        for (size_t i = 0; i < n; i++)
            pullers += c[i].pulls;
        struct policy_input in = {
            .camera = {.id = one_camera ? "hot" : cam,
                       .site = "hq",
                       .max_pullers = budget,
                       .enabled = true},
            .n_pullers = pullers,
            .cands = c,
            .n_cands = n,
        };
        struct policy_choice ch;
        int rc = policy_pick(&in, &ch);
        b->reasons[ch.reason]++;
        if (rc != RD_OK) {
            assert_int_equal(rc, RD_EBUSY);
            b->refused++;
            continue;
        }
        /* What relay_view_reserve() does. */
        c[ch.index].reserved_viewers++;
        if (one_camera)
            c[ch.index].pulls = true;
        b->picked[ch.index]++;
        for (size_t i = 0; i < n; i++)
            assert_true(c[i].viewers + c[i].reserved_viewers <= c[i].cap_viewers);
    }
}

static void
test_burst_spread(void **state)
{
    (void)state;
    struct policy_candidate c[3];
    struct burst b;

    /* Two equal relays: exactly half each (they alternate after every tie). */
    equal_cands(c, 2, relay_ids);
    c[0].viewers = c[1].viewers = 0;
    c[0].cap_viewers = c[1].cap_viewers = 1000;
    run_burst(c, 2, 1000, false, 0, &b);
    assert_int_equal(b.picked[0], 500);
    assert_int_equal(b.picked[1], 500);
    assert_int_equal(b.refused, 0);
    assert_int_equal(b.reasons[POLICY_LEAST_LOADED_TIEBREAK], 500);
    assert_int_equal(b.reasons[POLICY_LEAST_LOADED], 500);

    /* Capacities 100 and 300: filled 1:3, never past capacity, then 503 all_relays_full. */
    equal_cands(c, 2, relay_ids);
    c[0].viewers = c[1].viewers = 0;
    c[0].cap_viewers = 100;
    c[1].cap_viewers = 300;
    run_burst(c, 2, 1000, false, 0, &b);
    assert_int_equal(b.picked[0], 100);
    assert_int_equal(b.picked[1], 300);
    assert_int_equal(b.refused, 600);
    assert_int_equal(b.reasons[POLICY_ALL_RELAYS_FULL], 600);

    /* Capacities 1000 and 3000 (room for all): ~1:3 of 1000, tracked all along the burst. */
    equal_cands(c, 2, relay_ids);
    c[0].viewers = c[1].viewers = 0;
    c[0].cap_viewers = 1000;
    c[1].cap_viewers = 3000;
    run_burst(c, 2, 1000, false, 0, &b);
    assert_in_range(b.picked[0], 249, 251);
    assert_int_equal(b.picked[0] + b.picked[1], 1000);

    /* Uneven start: 50/100 and 0/100 -> the first 50 go to the empty one, then alternate. */
    equal_cands(c, 2, relay_ids);
    c[0].cap_viewers = c[1].cap_viewers = 100;
    c[0].viewers = 50;
    c[1].viewers = 0;
    run_burst(c, 2, 1000, false, 0, &b);
    assert_int_equal(b.picked[0], 50);
    assert_int_equal(b.picked[1], 100);
    assert_int_equal(b.refused, 850);

    /* Three relays, one draining: the two others share. */
    equal_cands(c, 3, relay_ids);
    for (size_t i = 0; i < 3; i++) {
        c[i].viewers = 0;
        c[i].cap_viewers = 1000;
    }
    c[1].state = POLICY_RELAY_DRAINING;
    run_burst(c, 3, 1000, false, 0, &b);
    assert_int_equal(b.picked[1], 0);
    assert_int_equal(b.picked[0], 500);
    assert_int_equal(b.picked[2], 500);
}

static void
test_burst_one_camera(void **state)
{
    (void)state;
    struct policy_candidate c[3];
    struct burst b;

    /* One camera, budget 2: the first relay fills (affinity), then a second, then 503. */
    equal_cands(c, 3, relay_ids);
    for (size_t i = 0; i < 3; i++) {
        c[i].viewers = 0;
        c[i].cap_viewers = 100;
    }
    run_burst(c, 3, 1000, true, 2, &b);
    unsigned used = 0, full = 0;
    for (size_t i = 0; i < 3; i++) {
        used += b.picked[i] > 0;
        full += b.picked[i] == 100;
    }
    assert_int_equal(used, 2);
    assert_int_equal(full, 2);
    assert_int_equal(b.reasons[POLICY_AFFINITY], 198);
    assert_int_equal(b.reasons[POLICY_LEAST_LOADED] + b.reasons[POLICY_LEAST_LOADED_TIEBREAK], 2);
    assert_int_equal(b.reasons[POLICY_BUDGET_EXHAUSTED], 800);

    /* No budget: all three fill. */
    equal_cands(c, 3, relay_ids);
    for (size_t i = 0; i < 3; i++) {
        c[i].viewers = 0;
        c[i].cap_viewers = 100;
    }
    run_burst(c, 3, 1000, true, 0, &b);
    assert_int_equal(b.picked[0] + b.picked[1] + b.picked[2], 300);
    assert_int_equal(b.reasons[POLICY_ALL_RELAYS_FULL], 700);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rules_table),
    cmocka_unit_test(test_bad_input),
    cmocka_unit_test(test_score),
    cmocka_unit_test(test_hash_vectors),
    cmocka_unit_test(test_names),
    cmocka_unit_test(test_hrw_tiebreak),
    cmocka_unit_test(test_affinity_tie_uses_hrw),
    cmocka_unit_test(test_burst_spread),
    cmocka_unit_test(test_burst_one_camera),
};

RD_TEST_MAIN(tests)
