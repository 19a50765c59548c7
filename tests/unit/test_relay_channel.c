/* SPDX-License-Identifier: MIT */
/* relay_channel.c without HTTP: signature known answers (computed independently with Python's
 * hmac), the clock window at its edges, key lookup against a real catalog, the token buckets on
 * a fake clock, and the heartbeat body as table-driven good/bad vectors. */
#include "rd_test.h"

#include <stdlib.h>

#include "catalog.h"
#include "rd_err.h"
#include "registry.h"
#include "relay_channel.h"

static struct reg_relay_key
fixed_key(void)
{
    struct reg_relay_key k = {.kid = "k1", .gen = 1};
    for (size_t i = 0; i < sizeof(k.key); i++)
        k.key[i] = (uint8_t)i;
    return k;
}

static const char hb_path[] = "/api/v1/heartbeat";
static const char kat_body[] = "{\"relay_id\":\"relay-a\"}";

/* python3: base64.urlsafe_b64encode(hmac.new(bytes(range(32)), b"rdhb1\nPOST\n/api/v1/heartbeat
 * \nrelay-a\nk1\n1700000000\n" + body, hashlib.sha256).digest()).rstrip(b"=") */
#define KAT_POST "8UJXYHDFoHtsnpoQlzHPIsGFom40T_t0BPeTDxqLGKM"
#define KAT_GET  "k2OmGmzHX-lliSerGGnkMn1EB1kNQWkSYW2NmQbIM_0"

static struct relay_channel_req
kat_req(const char *ts, const char *sig)
{
    return (struct relay_channel_req){.method = "POST",
                                      .path = hb_path,
                                      .relay_id = "relay-a",
                                      .kid = "k1",
                                      .timestamp = ts,
                                      .signature = sig,
                                      .body = kat_body,
                                      .body_len = sizeof(kat_body) - 1};
}

static void
test_sign_known_answers(void **state)
{
    (void)state;
    struct reg_relay_key k = fixed_key();
    struct relay_channel_req rq = kat_req("1700000000", NULL);
    char sig[RELAY_CHANNEL_SIG_LEN + 1];
    assert_int_equal(relay_channel_sign(k.key, sizeof(k.key), &rq, sig, sizeof(sig)), RD_OK);
    assert_string_equal(sig, KAT_POST);
    struct relay_channel_req get = {.method = "GET",
                                    .path = "/api/v1/relay/cameras/lobby",
                                    .relay_id = "relay-a",
                                    .kid = "k1",
                                    .timestamp = "1700000000"};
    assert_int_equal(relay_channel_sign(k.key, sizeof(k.key), &get, sig, sizeof(sig)), RD_OK);
    assert_string_equal(sig, KAT_GET);
    get.signature = KAT_GET;
    assert_int_equal(relay_channel_check(&k, &get, 1700000000), RELAY_CHANNEL_OK);
    /* No room for the NUL: refused, nothing truncated. */
    assert_int_equal(relay_channel_sign(k.key, sizeof(k.key), &rq, sig, RELAY_CHANNEL_SIG_LEN),
                     RD_ELIMIT);
    rq.kid = NULL;
    assert_int_equal(relay_channel_sign(k.key, sizeof(k.key), &rq, sig, sizeof(sig)), RD_EPROTO);
}

static void
test_check_window_and_signature(void **state)
{
    (void)state;
    struct reg_relay_key k = fixed_key();
    const int64_t now = 1700000000;
    struct relay_channel_req rq = kat_req("1700000000", KAT_POST);
    struct {
        int64_t now;
        enum relay_channel_verdict want;
    } clocks[] = {
        {now, RELAY_CHANNEL_OK},
        {now + RD_HEARTBEAT_SKEW_S, RELAY_CHANNEL_OK},
        {now - RD_HEARTBEAT_SKEW_S, RELAY_CHANNEL_OK},
        {now + RD_HEARTBEAT_SKEW_S + 1, RELAY_CHANNEL_BAD_TIMESTAMP},
        {now - RD_HEARTBEAT_SKEW_S - 1, RELAY_CHANNEL_BAD_TIMESTAMP},
        {0, RELAY_CHANNEL_BAD_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++)
        assert_int_equal(relay_channel_check(&k, &rq, clocks[i].now), clocks[i].want);

    /* Timestamps that are signed correctly but are no number: BAD_TIMESTAMP. */
    const char *odd_ts[] = {
        "", "abc", "-1", "+1700000000", "1700000000.5", "0017000000000", "1 700000000"};
    for (size_t i = 0; i < sizeof(odd_ts) / sizeof(odd_ts[0]); i++) {
        struct relay_channel_req t = kat_req(odd_ts[i], NULL);
        char sig[RELAY_CHANNEL_SIG_LEN + 1];
        assert_int_equal(relay_channel_sign(k.key, sizeof(k.key), &t, sig, sizeof(sig)), RD_OK);
        t.signature = sig;
        assert_int_equal(relay_channel_check(&k, &t, now), RELAY_CHANNEL_BAD_TIMESTAMP);
    }

    /* Signatures that are not the one: absent, other spellings, wrong length, one char off. */
    const char *bad[] = {
        NULL,
        "",
        KAT_POST "=",
        KAT_POST "A",
        "8UJXYHDFoHtsnpoQlzHPIsGFom40T_t0BPeTDxqLGKN", /* non-zero unused trailing bits */
        "8UJXYHDFoHtsnpoQlzHPIsGFom40T_t0BPeTDxqLGK",
        "8UJXYHDFoHtsnpoQlzHPIsGFom40T/t0BPeTDxqLGKM", /* standard alphabet */
        "9UJXYHDFoHtsnpoQlzHPIsGFom40T_t0BPeTDxqLGKM",
        KAT_GET,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rq.signature = bad[i];
        assert_int_equal(relay_channel_check(&k, &rq, now), RELAY_CHANNEL_BAD_SIGNATURE);
    }
    /* The MAC is checked first: a forged request with a bad clock is a bad signature. */
    rq.signature = bad[7];
    assert_int_equal(relay_channel_check(&k, &rq, 0), RELAY_CHANNEL_BAD_SIGNATURE);

    /* Every signed field matters. */
    struct relay_channel_req v[6];
    for (size_t i = 0; i < 6; i++)
        v[i] = kat_req("1700000000", KAT_POST);
    v[0].method = "PUT";
    v[1].path = "/api/v1/heartbeat/";
    v[2].relay_id = "relay-b";
    v[3].kid = "k2";
    v[4].timestamp = "1700000001";
    v[5].body_len--;
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(relay_channel_check(&k, &v[i], now), RELAY_CHANNEL_BAD_SIGNATURE);
    /* Another key never verifies. */
    k.key[31] ^= 1;
    rq.signature = KAT_POST;
    assert_int_equal(relay_channel_check(&k, &rq, now), RELAY_CHANNEL_BAD_SIGNATURE);
    assert_string_equal(relay_channel_verdict_name(RELAY_CHANNEL_BAD_TIMESTAMP), "bad_timestamp");
}

static void
test_key_lookup(void **state)
{
    (void)state;
    struct registry *reg = NULL;
    char err[256];
    assert_int_equal(registry_open(":memory:", &reg, err, sizeof(err)), RD_OK);
    struct reg_relay r = {.id = "relay-a",
                          .name = "A",
                          .base_url = "rtsp://127.0.0.1:8555",
                          .capacity_viewers = 10,
                          .capacity_mbps = 10};
    struct reg_relay_key k1, k2;
    assert_int_equal(registry_relay_add(reg, &r, &k1), RD_OK);
    assert_int_equal(registry_relay_rotate_key(reg, "relay-a", &k2), RD_OK);
    /* catalog.c passes NULL to qsort for an empty list (UBSan): give it one of each, and a grant.
     */
    struct reg_camera cam = {.id = "c", .name = "c", .upstream_url = "rtsp://h/", .max_relays = 1};
    assert_int_equal(registry_camera_add(reg, &cam), RD_OK);
    struct reg_user u = {.name = "u", .realm = "r"};
    assert_int_equal(registry_user_ha1(&u, "p"), RD_OK);
    assert_int_equal(registry_user_add(reg, &u), RD_OK);
    assert_int_equal(registry_user_grant(reg, "u", "c"), RD_OK);
    struct catalog *cat = NULL;
    assert_int_equal(catalog_load(reg, &cat), RD_OK);

    struct relay_channel_req rq = {.method = "POST",
                                   .path = hb_path,
                                   .relay_id = "relay-a",
                                   .kid = k1.kid,
                                   .timestamp = "1",
                                   .signature = "x"};
    const struct catalog_relay *cr;
    const struct reg_relay_key *key;
    assert_int_equal(relay_channel_key(cat, &rq, &cr, &key), RELAY_CHANNEL_OK);
    assert_string_equal(cr->relay.id, "relay-a");
    assert_memory_equal(key->key, k1.key, sizeof(k1.key));
    rq.kid = k2.kid;
    assert_int_equal(relay_channel_key(cat, &rq, &cr, &key), RELAY_CHANNEL_OK);
    assert_memory_equal(key->key, k2.key, sizeof(k2.key));

    struct {
        const char *relay, *kid, *ts, *sig;
        enum relay_channel_verdict want;
    } cases[] = {
        {NULL, k1.kid, "1", "x", RELAY_CHANNEL_UNKNOWN_RELAY},
        {"relay-b", k1.kid, "1", "x", RELAY_CHANNEL_UNKNOWN_RELAY},
        {"", k1.kid, "1", "x", RELAY_CHANNEL_UNKNOWN_RELAY},
        {"relay-a-but-far-too-long-relay-a-but-far-too-long-relay-a-but-far-too-long", k1.kid, "1",
         "x", RELAY_CHANNEL_UNKNOWN_RELAY},
        {"relay-a", NULL, "1", "x", RELAY_CHANNEL_BAD_SIGNATURE},
        {"relay-a", k1.kid, NULL, "x", RELAY_CHANNEL_BAD_SIGNATURE},
        {"relay-a", k1.kid, "1", NULL, RELAY_CHANNEL_BAD_SIGNATURE},
        {"relay-a", "nokid", "1", "x", RELAY_CHANNEL_BAD_SIGNATURE},
        {"relay-a", "", "1", "x", RELAY_CHANNEL_BAD_SIGNATURE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rq.relay_id = cases[i].relay;
        rq.kid = cases[i].kid;
        rq.timestamp = cases[i].ts;
        rq.signature = cases[i].sig;
        assert_int_equal(relay_channel_key(cat, &rq, &cr, &key), cases[i].want);
        assert_null(cr);
        assert_null(key);
    }
    catalog_free(cat);
    registry_close(reg);
}

static void
test_limiter(void **state)
{
    (void)state;
    struct relay_channel_limiter *l = NULL;
    assert_int_equal(relay_channel_limiter_create(0, 5, &l), RD_EPROTO);
    assert_int_equal(relay_channel_limiter_create(2, 0, &l), RD_EPROTO);
    assert_int_equal(relay_channel_limiter_create(RD_HEARTBEAT_RATE_PER_S, RD_HEARTBEAT_BURST, &l),
                     RD_OK);
    unsigned retry = 99;
    double t = 1000.;
    for (int i = 0; i < RD_HEARTBEAT_BURST; i++) {
        assert_true(relay_channel_limiter_take(l, "relay-a", t, &retry));
        assert_int_equal(retry, 0);
    }
    assert_false(relay_channel_limiter_take(l, "relay-a", t, &retry));
    assert_int_equal(retry, 1); /* 0.5 s to the next token, rounded up */
    assert_true(relay_channel_limiter_take(l, "relay-b", t, &retry)); /* its own bucket */
    assert_false(relay_channel_limiter_take(l, "relay-a", t + 0.4, &retry));
    assert_true(relay_channel_limiter_take(l, "relay-a", t + 0.5, &retry));
    assert_false(relay_channel_limiter_take(l, "relay-a", t + 0.5, &retry));
    /* Sustained: 2 per second pass, no more. */
    int passed = 0;
    for (int i = 0; i < 100; i++)
        passed += relay_channel_limiter_take(l, "relay-a", t + 1. + i * 0.1, &retry);
    assert_true(passed >= 19 && passed <= 21);
    /* A clock that goes back never adds tokens. */
    assert_false(relay_channel_limiter_take(l, "relay-a", t, &retry));
    /* Long idle: a full burst again, never more. */
    for (int i = 0; i < RD_HEARTBEAT_BURST; i++)
        assert_true(relay_channel_limiter_take(l, "relay-a", t + 3600., &retry));
    assert_false(relay_channel_limiter_take(l, "relay-a", t + 3600., &retry));
    /* Ids the catalog could not hold pass, counted. */
    char long_id[RD_RELAY_ID_MAX + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_true(relay_channel_limiter_take(l, long_id, t, &retry));
    assert_true(relay_channel_limiter_take(l, "", t, &retry));
    assert_int_equal(relay_channel_limiter_untracked(l), 2);
    relay_channel_limiter_destroy(l);

    /* Many relays: buckets that refilled are dropped to make room; when every bucket is busy
     * within one refill time the extra relay passes untracked. */
    assert_int_equal(relay_channel_limiter_create(2, 5, &l), RD_OK);
    char id[32];
    const int busy = RD_RELAY_CHANNEL_BUCKETS / 4 * 3;
    for (int i = 0; i < busy; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        assert_true(relay_channel_limiter_take(l, id, 10., &retry));
    }
    assert_int_equal(relay_channel_limiter_untracked(l), 0);
    assert_true(relay_channel_limiter_take(l, "one-more", 10., &retry));
    assert_int_equal(relay_channel_limiter_untracked(l), 1);
    /* The first ones are still tracked (not reset by the failed rebuild). */
    for (int i = 0; i < 4; i++)
        assert_true(relay_channel_limiter_take(l, "r0", 10., &retry));
    assert_false(relay_channel_limiter_take(l, "r0", 10., &retry));
    /* Later, once those buckets refilled, they are dropped and new relays fit again: the
     * ids below outnumber the buckets three times over and none goes untracked. */
    for (int i = 0; i < 3 * RD_RELAY_CHANNEL_BUCKETS; i++) {
        snprintf(id, sizeof(id), "n%d", i);
        assert_true(relay_channel_limiter_take(l, id, 100. + i * 0.01, &retry));
    }
    assert_int_equal(relay_channel_limiter_untracked(l), 1);
    relay_channel_limiter_destroy(l);
    relay_channel_limiter_destroy(NULL);
}

/* ---- Heartbeat bodies ----------------------------------------------------------------------- */

#define HB_HEAD "{\"relay_id\":\"relay-a\",\"boot_id\":\"b1\",\"seq\":7,\"state\":\"active\","
#define HB_TAIL "\"viewers\":3,\"egress_kbps\":12000,\"cameras\":[]}"

struct hb_case {
    const char *body;
    int rc;
    const char *err; /* substring of out->err, for failures */
};

static const struct hb_case hb_cases[] = {
    /* good */
    {HB_HEAD HB_TAIL, RD_OK, NULL},
    {HB_HEAD "\"viewers\":0,\"egress_kbps\":0,\"cameras\":[],\"cpu_pct\":0}", RD_OK, NULL},
    {HB_HEAD "\"viewers\":4294967295,\"egress_kbps\":0,\"cameras\":[],\"x\":null}", RD_OK, NULL},
    {"{\"relay_id\":\"r\",\"boot_id\":\"~\",\"seq\":9223372036854775807,\"state\":\"draining\","
     "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[]}",
     RD_OK, NULL},
    {" \n{\"cameras\":[{\"state\":\"failed\",\"id\":\"c\",\"extra\":[1]}],\"egress_kbps\":1,"
     "\"viewers\":1,\"state\":\"active\",\"seq\":0,\"boot_id\":\"b\",\"relay_id\":\"relay-a\"}\t",
     RD_OK, NULL},
    /* JSON itself */
    {"", RD_EPROTO, "invalid JSON"},
    {"{", RD_EPROTO, "invalid JSON"},
    {"null", RD_EPROTO, "invalid JSON"},
    {"[]", RD_EPROTO, "JSON object"},
    {"\"relay-a\"", RD_EPROTO, "invalid JSON"},
    {HB_HEAD HB_TAIL "{}", RD_EPROTO, "invalid JSON"},
    {HB_HEAD "\"relay_id\":\"relay-a\"," HB_TAIL, RD_EPROTO, "invalid JSON"}, /* duplicate */
    {"{\"relay_id\":\"relay\\u0000a\"}", RD_EPROTO, "invalid JSON"},
    {"{\"relay_id\":\"\xff\"}", RD_EPROTO, "invalid JSON"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"seq\":99999999999999999999,\"cameras\":[]}",
     RD_EPROTO, "invalid JSON"},
    /* required fields */
    {"{\"boot_id\":\"b\",\"seq\":1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "relay_id is required"},
    {"{\"relay_id\":\"r\",\"seq\":1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "boot_id is required"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"b\",\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "seq is required"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"b\",\"seq\":1," HB_TAIL, RD_EPROTO, "state is required"},
    {HB_HEAD "\"egress_kbps\":1,\"cameras\":[]}", RD_EPROTO, "viewers is required"},
    {HB_HEAD "\"viewers\":1,\"cameras\":[]}", RD_EPROTO, "egress_kbps is required"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1}", RD_EPROTO, "cameras is required"},
    /* types and ranges */
    {"{\"relay_id\":7,\"boot_id\":\"b\",\"seq\":1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "relay_id must be a string"},
    {"{\"relay_id\":\"a b\",\"boot_id\":\"b\",\"seq\":1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "relay_id must match"},
    {"{\"relay_id\":\"\",\"boot_id\":\"b\",\"seq\":1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "relay_id must match"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"\",\"seq\":1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "boot_id"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"a b\",\"seq\":1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "boot_id"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"\xc3\xa9\",\"seq\":1,\"state\":\"active\"," HB_TAIL,
     RD_EPROTO, "boot_id"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"b\",\"seq\":-1,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "seq is out of range"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"b\",\"seq\":1.0,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "seq must be an integer"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"b\",\"seq\":true,\"state\":\"active\"," HB_TAIL, RD_EPROTO,
     "seq must be an integer"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"b\",\"seq\":1,\"state\":\"ACTIVE\"," HB_TAIL, RD_EPROTO,
     "state must be"},
    {"{\"relay_id\":\"r\",\"boot_id\":\"b\",\"seq\":1,\"state\":null," HB_TAIL, RD_EPROTO,
     "state must be a string"},
    {HB_HEAD "\"viewers\":4294967296,\"egress_kbps\":1,\"cameras\":[]}", RD_EPROTO,
     "viewers is out of range"},
    {HB_HEAD "\"viewers\":\"3\",\"egress_kbps\":1,\"cameras\":[]}", RD_EPROTO,
     "viewers must be an integer"},
    {HB_HEAD "\"capacity\":[],\"viewers\":1,\"egress_kbps\":1,\"cameras\":[]}", RD_EPROTO,
     "capacity must be an object"},
    {HB_HEAD "\"capacity\":{\"viewers\":-1},\"viewers\":1,\"egress_kbps\":1,\"cameras\":[]}",
     RD_EPROTO, "capacity.viewers"},
    {HB_HEAD "\"cpu_pct\":\"1\"," HB_TAIL, RD_EPROTO, "cpu_pct must be a number"},
    {HB_HEAD "\"cpu_pct\":-0.5," HB_TAIL, RD_EPROTO, "cpu_pct is out of range"},
    {HB_HEAD "\"cpu_pct\":100000.5," HB_TAIL, RD_EPROTO, "cpu_pct is out of range"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":{}}", RD_EPROTO,
     "cameras must be an array"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[1]}", RD_EPROTO,
     "cameras[0] must be an object"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[{\"state\":\"playing\"}]}", RD_EPROTO,
     "cameras[0].id is required"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[{\"id\":\"a\",\"state\":\"playing\"},"
             "{\"id\":\"../b\",\"state\":\"playing\"}]}",
     RD_EPROTO, "cameras[1].id must match"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[{\"id\":\"a\"}]}", RD_EPROTO,
     "cameras[0].state is required"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[{\"id\":\"a\",\"state\":\"stopped\"}]}",
     RD_EPROTO, "cameras[0].state must be"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[{\"id\":\"a\",\"state\":\"playing\","
             "\"drops\":-4}]}",
     RD_EPROTO, "cameras[0].drops is out of range"},
    {HB_HEAD "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[{\"id\":\"a\",\"state\":\"playing\","
             "\"ingress_kbps\":1.5}]}",
     RD_EPROTO, "cameras[0].ingress_kbps must be an integer"},
    /* kids: optional; at most RD_TOKEN_LIVE_KIDS (2) key ids [A-Za-z0-9_-]{1,16} */
    {HB_HEAD "\"kids\":[]," HB_TAIL, RD_OK, NULL},
    {HB_HEAD "\"kids\":[\"k1\"]," HB_TAIL, RD_OK, NULL},
    {HB_HEAD "\"kids\":[\"wzwEZp9w\",\"bwamtSmu\"]," HB_TAIL, RD_OK, NULL},
    {HB_HEAD "\"kids\":[\"abcdefghijklmnop\",\"_-09AZaz\"]," HB_TAIL, RD_OK, NULL}, /* 16 */
    {HB_HEAD "\"kids\":[\"k1\",\"k1\"]," HB_TAIL, RD_OK, NULL}, /* repeated: harmless */
    {HB_HEAD "\"kids\":[\"a\",\"b\",\"c\"]," HB_TAIL, RD_EPROTO, "kids: more than 2"},
    {HB_HEAD "\"kids\":\"k1\"," HB_TAIL, RD_EPROTO, "kids must be an array"},
    {HB_HEAD "\"kids\":{}," HB_TAIL, RD_EPROTO, "kids must be an array"},
    {HB_HEAD "\"kids\":null," HB_TAIL, RD_EPROTO, "kids must be an array"},
    {HB_HEAD "\"kids\":[1]," HB_TAIL, RD_EPROTO, "kids[0] must be a string"},
    {HB_HEAD "\"kids\":[\"k1\",null]," HB_TAIL, RD_EPROTO, "kids[1] must be a string"},
    {HB_HEAD "\"kids\":[\"\"]," HB_TAIL, RD_EPROTO, "kids[0] must match"},
    {HB_HEAD "\"kids\":[\"abcdefghijklmnopq\"]," HB_TAIL, RD_EPROTO, "kids[0] must match"}, /* 17 */
    {HB_HEAD "\"kids\":[\"k1\",\"k 2\"]," HB_TAIL, RD_EPROTO, "kids[1] must match"},
    {HB_HEAD "\"kids\":[\"k.1\"]," HB_TAIL, RD_EPROTO, "kids[0] must match"},
    {HB_HEAD "\"kids\":[\"k\\n\"]," HB_TAIL, RD_EPROTO, "kids[0] must match"},
    {HB_HEAD "\"kids\":[\"k\\u0000\"]," HB_TAIL, RD_EPROTO, "invalid JSON"},
    {HB_HEAD "\"kids\":[\"k\xc3\xa9\"]," HB_TAIL, RD_EPROTO, "kids[0] must match"},
    {HB_HEAD "\"kids\":[],\"kids\":[]," HB_TAIL, RD_EPROTO, "invalid JSON"}, /* duplicate */
};

static void
test_hb_table(void **state)
{
    (void)state;
    struct relay_channel_hb *hb = calloc(1, sizeof(*hb));
    assert_non_null(hb);
    for (size_t i = 0; i < sizeof(hb_cases) / sizeof(hb_cases[0]); i++) {
        const struct hb_case *c = &hb_cases[i];
        int rc = relay_channel_hb_parse(c->body, strlen(c->body), hb);
        if (rc != c->rc)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, c->rc, hb->err);
        if (rc == RD_OK) {
            assert_non_null(hb->root);
            assert_true(hb->relay_id[0] != '\0');
        } else {
            assert_null(hb->root);
            if (strstr(hb->err, c->err) == NULL)
                fail_msg("case %zu: err '%s' lacks '%s'", i, hb->err, c->err);
        }
    }
    relay_channel_hb_free(hb);
    relay_channel_hb_free(hb); /* twice is fine */
    free(hb);
}

static void
test_hb_fields(void **state)
{
    (void)state;
    struct relay_channel_hb *hb = calloc(1, sizeof(*hb));
    assert_non_null(hb);
    const char *body =
        "{\"relay_id\":\"relay-a\",\"boot_id\":\"5f0c2c7e9d8a4b1e\",\"seq\":1842,\"state\":"
        "\"draining\",\"capacity\":{\"viewers\":1000,\"egress_kbps\":1000000},\"viewers\":37,"
        "\"egress_kbps\":148000,\"cpu_pct\":12.5,\"cameras\":["
        "{\"id\":\"lobby\",\"state\":\"playing\",\"viewers\":30,\"ingress_kbps\":4000,\"drops\":0},"
        "{\"id\":\"dock\",\"state\":\"retrying\",\"viewers\":7,\"ingress_kbps\":0,\"drops\":12},"
        "{\"id\":\"gate\",\"state\":\"starting\"}]}";
    assert_int_equal(relay_channel_hb_parse(body, strlen(body), hb), RD_OK);
    assert_string_equal(hb->relay_id, "relay-a");
    assert_string_equal(hb->hb.boot_id, "5f0c2c7e9d8a4b1e");
    assert_int_equal(hb->hb.seq, 1842);
    assert_true(hb->hb.draining);
    assert_int_equal(hb->hb.cap_viewers, 1000);
    assert_int_equal(hb->hb.cap_egress_kbps, 1000000);
    assert_int_equal(hb->hb.viewers, 37);
    assert_int_equal(hb->hb.egress_kbps, 148000);
    assert_int_equal(hb->hb.cpu_pct, 13);
    assert_int_equal(hb->hb.n_cameras, 3);
    assert_ptr_equal(hb->hb.cameras, hb->cameras);
    assert_string_equal(hb->cameras[0].id, "lobby");
    assert_int_equal(hb->cameras[0].state, RELAY_VIEW_CAM_PLAYING);
    assert_int_equal(hb->cameras[0].viewers, 30);
    assert_int_equal(hb->cameras[0].ingress_kbps, 4000);
    assert_int_equal(hb->cameras[1].state, RELAY_VIEW_CAM_RETRYING);
    assert_int_equal(hb->cameras[1].drops, 12);
    assert_int_equal(hb->cameras[2].state, RELAY_VIEW_CAM_STARTING);
    assert_int_equal(hb->cameras[2].viewers, 0); /* optional, 0 */

    /* Re-parsing drops the previous document; absent optionals are zero. */
    const char *small = HB_HEAD HB_TAIL;
    assert_int_equal(relay_channel_hb_parse(small, strlen(small), hb), RD_OK);
    assert_false(hb->hb.draining);
    assert_int_equal(hb->hb.cap_viewers, 0);
    assert_int_equal(hb->hb.cpu_pct, 0);
    assert_int_equal(hb->hb.n_cameras, 0);
    /* Not NUL-terminated input: only len bytes are read. */
    char buf[256];
    size_t n = strlen(small);
    memcpy(buf, small, n);
    memcpy(buf + n, "garbage", 8);
    assert_int_equal(relay_channel_hb_parse(buf, n, hb), RD_OK);
    relay_channel_hb_free(hb);
    free(hb);
}

/* kids: what the relay view gets, present or absent. */
static void
test_hb_kids(void **state)
{
    (void)state;
    struct relay_channel_hb *hb = calloc(1, sizeof(*hb));
    assert_non_null(hb);
    const char *two = HB_HEAD "\"kids\":[\"wzwEZp9w\",\"bwamtSmu\"]," HB_TAIL;
    assert_int_equal(relay_channel_hb_parse(two, strlen(two), hb), RD_OK);
    assert_true(hb->hb.kids_reported);
    assert_int_equal(hb->hb.n_kids, 2);
    assert_string_equal(hb->hb.kids[0], "wzwEZp9w");
    assert_string_equal(hb->hb.kids[1], "bwamtSmu");

    const char *none = HB_HEAD "\"kids\":[]," HB_TAIL;
    assert_int_equal(relay_channel_hb_parse(none, strlen(none), hb), RD_OK);
    assert_true(hb->hb.kids_reported); /* reported: holds none */
    assert_int_equal(hb->hb.n_kids, 0);

    /* An older relay: no field, nothing reported (re-parse resets the previous one). */
    assert_int_equal(relay_channel_hb_parse(two, strlen(two), hb), RD_OK);
    const char *old = HB_HEAD HB_TAIL;
    assert_int_equal(relay_channel_hb_parse(old, strlen(old), hb), RD_OK);
    assert_false(hb->hb.kids_reported);
    assert_int_equal(hb->hb.n_kids, 0);
    assert_null(hb->hb.kids[0]);

    /* A refused list leaves nothing behind. */
    const char *bad = HB_HEAD "\"kids\":[\"k1\",\"a b\"]," HB_TAIL;
    assert_int_equal(relay_channel_hb_parse(bad, strlen(bad), hb), RD_EPROTO);
    assert_false(hb->hb.kids_reported);
    assert_int_equal(hb->hb.n_kids, 0);

    /* Applied to a relay view, the kids are what snapshots carry. */
    struct relay_view_params p;
    relay_view_params_default(&p);
    p.max_relays = 4;
    p.max_cameras = 4;
    p.max_pulls = 4;
    struct relay_view *v = NULL;
    assert_int_equal(relay_view_create(&p, &v), RD_OK);
    struct relay_view_config c = {
        .id = "relay-a", .site = "", .rtsp_base_url = "rtsp://r:8555", .cap_viewers = 10};
    assert_int_equal(relay_view_relay_set(v, &c), RD_OK);
    assert_int_equal(relay_channel_hb_parse(two, strlen(two), hb), RD_OK);
    assert_int_equal(relay_view_heartbeat(v, hb->relay_id, &hb->hb, 1.0, NULL), RD_OK);
    relay_channel_hb_free(hb); /* the view keeps copies */
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, "relay-a", &info), RD_OK);
    assert_true(info.kids_reported);
    assert_int_equal(info.n_held_kids, 2);
    assert_string_equal(info.held_kids[0], "wzwEZp9w");
    assert_string_equal(info.held_kids[1], "bwamtSmu");
    relay_view_destroy(v);
    free(hb);
}

static void
test_hb_camera_limit(void **state)
{
    (void)state;
    struct relay_channel_hb *hb = calloc(1, sizeof(*hb));
    char *body = malloc(RD_HTTP_MAX_HEARTBEAT_BODY);
    assert_non_null(hb);
    assert_non_null(body);
    for (int n = RD_HEARTBEAT_MAX_CAMERAS; n <= RD_HEARTBEAT_MAX_CAMERAS + 1; n++) {
        /* With the longest kids too: the largest legal body. */
        size_t off =
            (size_t)snprintf(body, RD_HTTP_MAX_HEARTBEAT_BODY,
                             HB_HEAD "\"kids\":[\"abcdefghijklmnop\",\"ABCDEFGHIJKLMNOP\"],"
                                     "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[");
        for (int i = 0; i < n; i++)
            off += (size_t)snprintf(body + off, RD_HTTP_MAX_HEARTBEAT_BODY - off,
                                    "%s{\"id\":\"cam-%d\",\"state\":\"playing\",\"viewers\":%d,"
                                    "\"ingress_kbps\":4000,\"drops\":0}",
                                    i > 0 ? "," : "", i, i);
        off += (size_t)snprintf(body + off, RD_HTTP_MAX_HEARTBEAT_BODY - off, "]}");
        /* The largest legal heartbeat fits the body cap (rd_limits.h says so). */
        assert_true(off < RD_HTTP_MAX_HEARTBEAT_BODY);
        int rc = relay_channel_hb_parse(body, off, hb);
        if (n == RD_HEARTBEAT_MAX_CAMERAS) {
            assert_int_equal(rc, RD_OK);
            assert_int_equal(hb->hb.n_cameras, RD_HEARTBEAT_MAX_CAMERAS);
            assert_string_equal(hb->cameras[255].id, "cam-255");
        } else {
            assert_int_equal(rc, RD_ELIMIT);
            assert_non_null(strstr(hb->err, "more than"));
            assert_null(hb->root);
        }
    }
    relay_channel_hb_free(hb);
    free(body);
    free(hb);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known_answers),
        cmocka_unit_test(test_check_window_and_signature),
        cmocka_unit_test(test_key_lookup),
        cmocka_unit_test(test_limiter),
        cmocka_unit_test(test_hb_table),
        cmocka_unit_test(test_hb_fields),
        cmocka_unit_test(test_hb_kids),
        cmocka_unit_test(test_hb_camera_limit),
    };
    return rd_test_run(argc, argv, "relay_channel", tests, sizeof(tests) / sizeof(tests[0]));
}
