/* SPDX-License-Identifier: MIT */
/* catalog.c: a snapshot of an in-memory registry with the real migrations. */
#include "rd_test.h"

#include "catalog.h"
#include "rd_err.h"
#include "registry.h"

static struct registry *
fill_registry(void)
{
    struct registry *reg = NULL;
    char err[256];
    assert_int_equal(registry_open(":memory:", &reg, err, sizeof(err)), RD_OK);
    struct reg_site site = {.id = "hq", .name = "Head office"};
    assert_int_equal(registry_site_add(reg, &site), RD_OK);
    const char *ids[] = {"lobby", "dock", "gate-2", "Zed_1"};
    for (size_t i = 0; i < 4; i++) {
        struct reg_camera cam = {.site_id = "hq", .max_relays = 2, .enabled = i != 1};
        snprintf(cam.id, sizeof(cam.id), "%s", ids[i]);
        snprintf(cam.name, sizeof(cam.name), "Camera %s", ids[i]);
        snprintf(cam.upstream_url, sizeof(cam.upstream_url), "rtsp://10.0.0.%zu/s", i + 1);
        cam.auth_required = i == 2;
        int rc = registry_camera_add(reg, &cam);
        if (rc != RD_OK)
            fail_msg("camera add: %s", registry_errmsg(reg));
    }
    struct reg_relay relay = {.id = "relay-b",
                              .name = "Relay",
                              .site_id = "hq",
                              .base_url = "rtsp://127.0.0.1:8555",
                              .capacity_viewers = 100,
                              .capacity_mbps = 1000};
    struct reg_relay_key key;
    assert_int_equal(registry_relay_add(reg, &relay, &key), RD_OK);
    snprintf(relay.id, sizeof(relay.id), "relay-a");
    assert_int_equal(registry_relay_add(reg, &relay, &key), RD_OK);
    struct reg_relay_key rotated;
    assert_int_equal(registry_relay_rotate_key(reg, "relay-a", &rotated), RD_OK);
    struct reg_user u = {.name = "ann", .realm = "rtsp-director"};
    assert_int_equal(registry_user_ha1(&u, "secret"), RD_OK);
    assert_int_equal(registry_user_add(reg, &u), RD_OK);
    assert_int_equal(registry_user_grant(reg, "ann", "lobby"), RD_OK);
    assert_int_equal(registry_user_grant(reg, "ann", "gate-2"), RD_OK);
    snprintf(u.name, sizeof(u.name), "bob");
    assert_int_equal(registry_user_ha1(&u, "pw"), RD_OK);
    assert_int_equal(registry_user_add(reg, &u), RD_OK);
    return reg;
}

static void
test_lookups(void **state)
{
    (void)state;
    struct registry *reg = fill_registry();
    struct catalog *cat = NULL;
    assert_int_equal(catalog_load(reg, &cat), RD_OK);
    uint64_t version;
    assert_int_equal(registry_version(reg, &version), RD_OK);
    assert_int_equal(catalog_version(cat), version);

    assert_int_equal(catalog_camera_count(cat), 4);
    const struct catalog_camera *c = catalog_camera(cat, "gate-2");
    assert_non_null(c);
    assert_string_equal(c->site_id, "hq");
    assert_true(c->auth_required);
    assert_false(catalog_camera(cat, "dock")->enabled);
    assert_null(catalog_camera(cat, "nope"));
    assert_null(catalog_camera(cat, ""));
    /* Iteration is in id order (strcmp: upper case first). */
    assert_string_equal(catalog_camera_at(cat, 0)->id, "Zed_1");
    assert_null(catalog_camera_at(cat, 4));

    assert_int_equal(catalog_relay_count(cat), 2);
    assert_string_equal(catalog_relay_at(cat, 0)->relay.id, "relay-a");
    const struct catalog_relay *r = catalog_relay(cat, "relay-a");
    assert_non_null(r);
    assert_int_equal(r->n_keys, 2); /* the rotated key and the previous one */
    assert_true(r->keys[0].gen > r->keys[1].gen);
    assert_int_equal(catalog_relay(cat, "relay-b")->n_keys, 1);

    const struct catalog_user *ann = catalog_user(cat, "ann");
    assert_non_null(ann);
    assert_true(catalog_user_may_view(cat, ann, "lobby"));
    assert_true(catalog_user_may_view(cat, ann, "gate-2"));
    assert_false(catalog_user_may_view(cat, ann, "dock"));
    const struct catalog_user *bob = catalog_user(cat, "bob");
    assert_non_null(bob);
    assert_false(catalog_user_may_view(cat, bob, "lobby"));
    assert_null(catalog_user(cat, "carl"));
    catalog_free(cat);
    registry_close(reg);
}

static void
test_reload_sees_changes(void **state)
{
    (void)state;
    struct registry *reg = fill_registry();
    struct catalog *old = NULL, *cur = NULL;
    assert_int_equal(catalog_load(reg, &old), RD_OK);
    assert_int_equal(registry_camera_rm(reg, "lobby"), RD_OK);
    assert_int_equal(catalog_load(reg, &cur), RD_OK);
    assert_true(catalog_version(cur) > catalog_version(old));
    assert_non_null(catalog_camera(old, "lobby")); /* the old snapshot is unchanged */
    assert_null(catalog_camera(cur, "lobby"));
    assert_false(catalog_user_may_view(cur, catalog_user(cur, "ann"), "lobby"));
    catalog_free(old);
    catalog_free(cur);
    catalog_free(NULL);
    registry_close(reg);
}

/* An empty registry (a fresh daemon): every lookup says "unknown", nothing is undefined
 * (qsort/bsearch never see the NULL arrays; UBSan checks it). */
static void
test_empty_registry(void **state)
{
    (void)state;
    struct registry *reg = NULL;
    char err[256];
    assert_int_equal(registry_open(":memory:", &reg, err, sizeof(err)), RD_OK);
    struct catalog *cat = NULL;
    assert_int_equal(catalog_load(reg, &cat), RD_OK);
    assert_int_equal(catalog_camera_count(cat), 0);
    assert_int_equal(catalog_relay_count(cat), 0);
    assert_null(catalog_camera(cat, "lobby"));
    assert_null(catalog_relay(cat, "relay-a"));
    assert_null(catalog_user(cat, "ann"));
    assert_null(catalog_camera_at(cat, 0));
    assert_null(catalog_relay_at(cat, 0));
    /* A user without grants may view nothing. */
    struct reg_user u = {.name = "solo", .realm = "rtsp-director"};
    assert_int_equal(registry_user_ha1(&u, "pw"), RD_OK);
    assert_int_equal(registry_user_add(reg, &u), RD_OK);
    catalog_free(cat);
    assert_int_equal(catalog_load(reg, &cat), RD_OK);
    const struct catalog_user *cu = catalog_user(cat, "solo");
    assert_non_null(cu);
    assert_false(catalog_user_may_view(cat, cu, "lobby"));
    catalog_free(cat);
    registry_close(reg);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_empty_registry),
    cmocka_unit_test(test_lookups),
    cmocka_unit_test(test_reload_sees_changes),
};

RD_TEST_MAIN(tests)
