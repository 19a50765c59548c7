/* SPDX-License-Identifier: MIT */
/* registry.c on temporary files with the real embedded migrations: open/migrate/refuse,
 * CRUD and constraints (C checks and the schema's own CHECKs), keys, users, the batched flush,
 * history bounds, disk full, and a second connection (the CLI) while the daemon runs. */
#define _POSIX_C_SOURCE 200809L

#include "rd_test.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The test peeks with its own connection, as an operator with sqlite3 would. */
#include <sqlite3.h>

#include "rd_err.h"
#include "rd_limits.h"
#include "registry.h"

/* ---- Fixtures ---------------------------------------------------------------------------- */

struct tmpdb {
    char path[64];
};

static void
tmpdb_make(struct tmpdb *t)
{
    snprintf(t->path, sizeof t->path, "/tmp/rd_registry_XXXXXX");
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    close(fd);
}

static void
tmpdb_remove(struct tmpdb *t)
{
    char p[96];
    unlink(t->path);
    snprintf(p, sizeof p, "%s-wal", t->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", t->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-journal", t->path);
    unlink(p);
}

static struct registry *
open_ok(const char *path)
{
    struct registry *reg = NULL;
    char err[256];
    int r = registry_open(path, &reg, err, sizeof err);
    if (r != RD_OK)
        fail_msg("registry_open(%s): %d %s", path, r, err);
    assert_non_null(reg);
    return reg;
}

/* A raw connection, like `sqlite3 registry.db` in a shell. */
static sqlite3 *
raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int
raw_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static uint64_t
version_of(struct registry *reg)
{
    uint64_t v = 0;
    assert_int_equal(registry_version(reg, &v), RD_OK);
    return v;
}

static struct reg_camera
cam_make(const char *id, const char *site)
{
    struct reg_camera c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "%s", id);
    snprintf(c.name, sizeof c.name, "Camera %s", id);
    snprintf(c.site_id, sizeof c.site_id, "%s", site);
    snprintf(c.upstream_url, sizeof c.upstream_url, "rtsp://10.0.0.7:554/Streaming/Channels/101");
    snprintf(c.upstream_user, sizeof c.upstream_user, "viewer");
    snprintf(c.upstream_password, sizeof c.upstream_password, "s3cret:pa\"ss");
    c.transport = REG_TRANSPORT_TCP;
    c.max_relays = 2;
    c.enabled = true;
    return c;
}

static struct reg_relay
relay_make(const char *id, const char *site)
{
    struct reg_relay r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.name, sizeof r.name, "Relay %s", id);
    snprintf(r.site_id, sizeof r.site_id, "%s", site);
    snprintf(r.base_url, sizeof r.base_url, "rtsp://%s.example.net:8555", id);
    r.capacity_viewers = 500;
    r.capacity_mbps = 1000;
    r.state = REG_RELAY_ACTIVE;
    return r;
}

static void
add_relay(struct registry *reg, const char *id, struct reg_relay_key *key)
{
    struct reg_relay r = relay_make(id, "");
    struct reg_relay_key k;
    assert_int_equal(registry_relay_add(reg, &r, key != NULL ? key : &k), RD_OK);
}

static void
add_camera(struct registry *reg, const char *id)
{
    struct reg_camera c = cam_make(id, "");
    if (registry_camera_add(reg, &c) != RD_OK)
        fail_msg("camera add %s: %s", id, registry_errmsg(reg));
}

static bool
contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Open and migrate -------------------------------------------------------------------- */

static void
test_open_fresh_and_reopen(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    assert_int_equal(chmod(t.path, 0644), 0); /* as if an operator's umask made it readable */

    struct registry *reg = open_ok(t.path);
    struct stat sb;
    assert_int_equal(stat(t.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_true(registry_schema_latest() >= 1);
    uint64_t v0 = version_of(reg);
    assert_true(v0 >= 1);
    struct reg_site site;
    assert_int_equal(registry_site_get(reg, "default", &site), RD_OK);
    add_camera(reg, "lobby");
    /* The WAL and shared-memory files hold camera credentials too: same mode as the file. */
    const char *suffixes[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        char side[96];
        snprintf(side, sizeof side, "%s%s", t.path, suffixes[i]);
        assert_int_equal(stat(side, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
    }
    registry_close(reg);

    sqlite3 *db = raw_open(t.path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), registry_schema_latest());
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Reopen: no migration runs again (CREATE TABLE would fail), the data is there. */
    reg = open_ok(t.path);
    struct reg_camera c;
    assert_int_equal(registry_camera_get(reg, "lobby", &c), RD_OK);
    assert_int_equal(version_of(reg), v0 + 1);
    int n_sites = 0;
    db = raw_open(t.path);
    n_sites = (int)raw_int(db, "SELECT count(*) FROM sites");
    assert_int_equal(n_sites, 1);
    sqlite3_close(db);
    registry_close(reg);
    tmpdb_remove(&t);

    /* A missing file is created 0600 even under a permissive umask. */
    tmpdb_make(&t);
    unlink(t.path);
    mode_t old_mask = umask(0);
    reg = open_ok(t.path);
    umask(old_mask);
    assert_int_equal(stat(t.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    registry_close(reg);
    tmpdb_remove(&t);
}

static void
test_open_memory(void **state)
{
    (void)state;
    struct registry *reg = open_ok(":memory:");
    add_camera(reg, "mem");
    struct reg_camera c;
    assert_int_equal(registry_camera_get(reg, "mem", &c), RD_OK);
    registry_close(reg);
    registry_close(NULL);
}

static void
test_open_refuses_newer_schema(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    registry_close(open_ok(t.path));
    sqlite3 *db = raw_open(t.path);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %u", registry_schema_latest() + 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_OK);
    sqlite3_close(db);

    struct registry *reg = (struct registry *)&t; /* must be reset to NULL */
    char err[256];
    assert_int_equal(registry_open(t.path, &reg, err, sizeof err), RD_EDB);
    assert_null(reg);
    assert_true(contains(err, "newer"));

    /* Nothing was changed: still the newer version. */
    db = raw_open(t.path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), registry_schema_latest() + 1);
    sqlite3_close(db);
    tmpdb_remove(&t);
}

static void
test_open_rejects_garbage_file(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    int fd = open(t.path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    struct registry *reg = NULL;
    char err[256];
    assert_int_equal(registry_open(t.path, &reg, err, sizeof err), RD_EDB);
    assert_null(reg);
    assert_true(err[0] != '\0');
    assert_int_equal(registry_open("", &reg, err, sizeof err), RD_EDB);
    assert_int_equal(registry_open("/nonexistent-dir/x.db", &reg, err, sizeof err), RD_EIO);
    tmpdb_remove(&t);
}

/* ---- Cameras and sites ------------------------------------------------------------------- */

static void
test_camera_crud(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    struct registry *reg = open_ok(t.path);
    uint64_t v = version_of(reg);

    struct reg_camera c = cam_make("lobby", "");
    c.auth_required = true;
    c.always_on = true;
    c.transport = REG_TRANSPORT_UDP;
    c.max_relays = RD_REG_MAX_RELAYS_PER_CAMERA;
    assert_int_equal(registry_camera_add(reg, &c), RD_OK);
    assert_int_equal(version_of(reg), v + 1);

    struct reg_camera got;
    memset(&got, 0xa5, sizeof got);
    assert_int_equal(registry_camera_get(reg, "lobby", &got), RD_OK);
    assert_string_equal(got.id, "lobby");
    assert_string_equal(got.name, "Camera lobby");
    assert_string_equal(got.site_id, "default"); /* "" means the default site */
    assert_string_equal(got.upstream_url, c.upstream_url);
    assert_string_equal(got.upstream_user, "viewer");
    assert_string_equal(got.upstream_password, "s3cret:pa\"ss");
    assert_int_equal(got.transport, REG_TRANSPORT_UDP);
    assert_int_equal(got.max_relays, RD_REG_MAX_RELAYS_PER_CAMERA);
    assert_true(got.auth_required && got.enabled && got.always_on);
    assert_true(got.created_at > 1600000000 && got.updated_at >= got.created_at);

    /* Duplicate. */
    assert_int_equal(registry_camera_add(reg, &c), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_EXISTS);
    assert_true(contains(registry_errmsg(reg), "lobby"));
    assert_true(contains(registry_errmsg(reg), "already exists"));
    assert_false(contains(registry_errmsg(reg), "s3cret"));
    assert_int_equal(version_of(reg), v + 1);

    /* Unknown site: foreign key. */
    struct reg_camera c2 = cam_make("dock", "nowhere");
    assert_int_equal(registry_camera_add(reg, &c2), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_REFERENCE);
    assert_int_equal(registry_camera_get(reg, "dock", &got), RD_ENOTFOUND);

    /* A site, a camera in it, list with filter. */
    struct reg_site s = {.id = "hq", .name = "Headquarters \xc3\xa9tage 2"};
    assert_int_equal(registry_site_add(reg, &s), RD_OK);
    assert_int_equal(registry_site_add(reg, &s), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_EXISTS);
    snprintf(c2.site_id, sizeof c2.site_id, "hq");
    assert_int_equal(registry_camera_add(reg, &c2), RD_OK);
    add_camera(reg, "alley");

    /* Update replaces every field but created_at. */
    c.enabled = false;
    c.always_on = false;
    c.max_relays = 1;
    snprintf(c.upstream_url, sizeof c.upstream_url, "rtsps://[fd00::7]:322/live");
    snprintf(c.site_id, sizeof c.site_id, "hq");
    assert_int_equal(registry_camera_update(reg, &c), RD_OK);
    assert_int_equal(registry_camera_get(reg, "lobby", &got), RD_OK);
    assert_false(got.enabled || got.always_on);
    assert_int_equal(got.max_relays, 1);
    assert_string_equal(got.site_id, "hq");
    assert_string_equal(got.upstream_url, "rtsps://[fd00::7]:322/live");
    struct reg_camera ghost = cam_make("ghost", "");
    assert_int_equal(registry_camera_update(reg, &ghost), RD_ENOTFOUND);

    assert_int_equal(registry_camera_set_enabled(reg, "lobby", true), RD_OK);
    assert_int_equal(registry_camera_get(reg, "lobby", &got), RD_OK);
    assert_true(got.enabled);
    assert_int_equal(registry_camera_set_enabled(reg, "ghost", true), RD_ENOTFOUND);

    /* Site removal is refused while cameras belong to it. */
    assert_int_equal(registry_site_rm(reg, "hq"), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_REFERENCE);

    assert_int_equal(registry_camera_rm(reg, "lobby"), RD_OK);
    assert_int_equal(registry_camera_rm(reg, "lobby"), RD_ENOTFOUND);
    assert_int_equal(registry_camera_rm(reg, "dock"), RD_OK);
    assert_int_equal(registry_site_rm(reg, "hq"), RD_OK);
    assert_int_equal(registry_site_get(reg, "hq", &s), RD_ENOTFOUND);
    assert_int_equal(registry_camera_get(reg, "lobby", &got), RD_ENOTFOUND);
    assert_int_equal(registry_camera_get(reg, "alley", &got), RD_OK);

    registry_close(reg);
    tmpdb_remove(&t);
}

struct collect {
    int n;
    int stop_after; /* 0 = never */
    char ids[16][RD_CAMERA_ID_MAX + 1];
    struct registry *reg; /* for the re-entrancy check */
    int nested_rc;
};

static int
collect_camera(void *arg, const struct reg_camera *row)
{
    struct collect *c = arg;
    if (c->n < 16)
        snprintf(c->ids[c->n], sizeof c->ids[0], "%s", row->id);
    c->n++;
    return c->stop_after != 0 && c->n >= c->stop_after;
}

static int
nested_camera(void *arg, const struct reg_camera *row)
{
    struct collect *c = arg;
    (void)row;
    c->nested_rc = registry_camera_list(c->reg, NULL, collect_camera, c);
    return 1;
}

static int
collect_site(void *arg, const struct reg_site *row)
{
    struct collect *c = arg;
    if (c->n < 16)
        snprintf(c->ids[c->n], sizeof c->ids[0], "%s", row->id);
    c->n++;
    return 0;
}

static void
test_camera_list(void **state)
{
    (void)state;
    struct registry *reg = open_ok(":memory:");
    struct reg_site s = {.id = "east", .name = "East"};
    assert_int_equal(registry_site_add(reg, &s), RD_OK);
    const char *ids[] = {"c3", "c1", "c2", "e1"};
    for (size_t i = 0; i < 4; i++) {
        struct reg_camera c = cam_make(ids[i], ids[i][0] == 'e' ? "east" : "");
        assert_int_equal(registry_camera_add(reg, &c), RD_OK);
    }
    struct collect col = {0};
    assert_int_equal(registry_camera_list(reg, NULL, collect_camera, &col), RD_OK);
    assert_int_equal(col.n, 4);
    assert_string_equal(col.ids[0], "c1"); /* ordered by id */
    assert_string_equal(col.ids[3], "e1");

    memset(&col, 0, sizeof col);
    assert_int_equal(registry_camera_list(reg, "east", collect_camera, &col), RD_OK);
    assert_int_equal(col.n, 1);
    assert_string_equal(col.ids[0], "e1");
    memset(&col, 0, sizeof col);
    assert_int_equal(registry_camera_list(reg, "default", collect_camera, &col), RD_OK);
    assert_int_equal(col.n, 3);
    assert_int_equal(registry_camera_list(reg, "bad site!", collect_camera, &col), RD_EPROTO);

    /* Early stop, then the statement is reusable. */
    memset(&col, 0, sizeof col);
    col.stop_after = 2;
    assert_int_equal(registry_camera_list(reg, NULL, collect_camera, &col), RD_OK);
    assert_int_equal(col.n, 2);
    memset(&col, 0, sizeof col);
    assert_int_equal(registry_camera_list(reg, NULL, collect_camera, &col), RD_OK);
    assert_int_equal(col.n, 4);

    /* A callback calling the same list is refused, not undefined behaviour. */
    memset(&col, 0, sizeof col);
    col.reg = reg;
    assert_int_equal(registry_camera_list(reg, NULL, nested_camera, &col), RD_OK);
    assert_int_equal(col.nested_rc, RD_EDB);

    memset(&col, 0, sizeof col);
    assert_int_equal(registry_site_list(reg, collect_site, &col), RD_OK);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.ids[0], "default");
    assert_string_equal(col.ids[1], "east");
    registry_close(reg);
}

struct cam_case {
    const char *label;
    const char *id;
    const char *url;
    uint32_t max_relays;
    int want;
};

static void
test_camera_validation(void **state)
{
    (void)state;
    struct registry *reg = open_ok(":memory:");
    char id64[RD_CAMERA_ID_MAX + 1], id65[RD_CAMERA_ID_MAX + 2];
    memset(id64, 'a', RD_CAMERA_ID_MAX);
    id64[RD_CAMERA_ID_MAX] = '\0';
    memset(id65, 'b', RD_CAMERA_ID_MAX + 1);
    id65[RD_CAMERA_ID_MAX + 1] = '\0';
    static char long_url[RD_REG_URL_MAX + 2];
    static char max_url[RD_REG_URL_MAX + 1];
    snprintf(max_url, sizeof max_url, "rtsp://h/");
    memset(max_url + 9, 'p', RD_REG_URL_MAX - 9);
    max_url[RD_REG_URL_MAX] = '\0';
    snprintf(long_url, sizeof long_url, "%sq", max_url);

    const struct cam_case cases[] = {
        {"plain", "cam_1-A", "rtsp://10.1.2.3/stream", 1, RD_OK},
        {"64-char id", id64, "rtsp://cam.local:554/a?b=c", 64, RD_OK},
        {"max URL", "maxurl", max_url, 1, RD_OK},
        {"ipv6", "v6", "rtsps://[2001:db8::1]:322/x", 1, RD_OK},
        {"host only", "h", "rtsp://cam", 1, RD_OK},
        {"empty id", "", "rtsp://h/", 1, RD_EPROTO},
        {"65-char id", id65, "rtsp://h/", 1, RD_ELIMIT},
        {"space in id", "a b", "rtsp://h/", 1, RD_EPROTO},
        {"slash in id", "a/b", "rtsp://h/", 1, RD_EPROTO},
        {"dot in id", "a.b", "rtsp://h/", 1, RD_EPROTO},
        {"utf8 in id", "caf\xc3\xa9", "rtsp://h/", 1, RD_EPROTO},
        {"URL too long", "u1", long_url, 1, RD_ELIMIT},
        {"http URL", "u2", "http://h/", 1, RD_EPROTO},
        {"no host", "u3", "rtsp:///x", 1, RD_EPROTO},
        {"credentials in URL", "u4", "rtsp://admin:pw@10.0.0.1/x", 1, RD_EPROTO},
        {"space in URL", "u5", "rtsp://h/a b", 1, RD_EPROTO},
        {"CRLF in URL", "u6", "rtsp://h/a\r\nX: y", 1, RD_EPROTO},
        {"port 0", "u7", "rtsp://h:0/", 1, RD_EPROTO},
        {"port 65536", "u8", "rtsp://h:65536/", 1, RD_EPROTO},
        {"port letters", "u9", "rtsp://h:ab/", 1, RD_EPROTO},
        {"bad host char", "u10", "rtsp://h_x/", 1, RD_EPROTO},
        {"bad ipv6", "u11", "rtsp://[fe80::1%eth0]/", 1, RD_EPROTO},
        {"max_relays 0", "m0", "rtsp://h/", 0, RD_EPROTO},
        {"max_relays over", "m65", "rtsp://h/", RD_REG_MAX_RELAYS_PER_CAMERA + 1, RD_ELIMIT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct reg_camera c = cam_make("x", "");
        snprintf(c.id, sizeof c.id, "%s", cases[i].id);
        if (strlen(cases[i].id) > RD_CAMERA_ID_MAX)
            memcpy(c.id, cases[i].id, sizeof c.id); /* unterminated: a 65th character */
        snprintf(c.upstream_url, sizeof c.upstream_url, "%s", cases[i].url);
        if (strlen(cases[i].url) > RD_REG_URL_MAX)
            memcpy(c.upstream_url, cases[i].url, sizeof c.upstream_url);
        c.max_relays = cases[i].max_relays;
        int r = registry_camera_add(reg, &c);
        if (r != cases[i].want)
            fail_msg("case '%s': got %d want %d (%s)", cases[i].label, r, cases[i].want,
                     registry_errmsg(reg));
        if (r != RD_OK)
            assert_true(registry_errmsg(reg)[0] != '\0');
    }

    /* Field-level cases. */
    struct reg_camera c = cam_make("f1", "");
    c.name[0] = '\0';
    assert_int_equal(registry_camera_add(reg, &c), RD_EPROTO);
    c = cam_make("f1", "");
    snprintf(c.name, sizeof c.name, "tab\there");
    assert_int_equal(registry_camera_add(reg, &c), RD_EPROTO);
    c = cam_make("f1", "");
    snprintf(c.name, sizeof c.name, "bad utf8 \xc3\x28");
    assert_int_equal(registry_camera_add(reg, &c), RD_EPROTO);
    c = cam_make("f1", "");
    snprintf(c.name, sizeof c.name, "overlong \xc0\xaf");
    assert_int_equal(registry_camera_add(reg, &c), RD_EPROTO);
    c = cam_make("f1", "");
    snprintf(c.name, sizeof c.name, "surrogate \xed\xa0\x80");
    assert_int_equal(registry_camera_add(reg, &c), RD_EPROTO);
    c = cam_make("f1", "");
    memset(c.name, 'n', sizeof c.name); /* 129 bytes, no NUL */
    assert_int_equal(registry_camera_add(reg, &c), RD_ELIMIT);
    c = cam_make("f1", "");
    memset(c.upstream_password, 'p', sizeof c.upstream_password);
    assert_int_equal(registry_camera_add(reg, &c), RD_ELIMIT);
    c = cam_make("f1", "");
    memset(c.upstream_password, 'p', RD_REG_CRED_MAX);
    c.upstream_password[RD_REG_CRED_MAX] = '\0';
    c.transport = (enum reg_transport)7;
    assert_int_equal(registry_camera_add(reg, &c), RD_EPROTO);
    c.transport = REG_TRANSPORT_AUTO;
    assert_int_equal(registry_camera_add(reg, &c), RD_OK); /* 128-byte password fits */
    c = cam_make("f2", "bad site");
    assert_int_equal(registry_camera_add(reg, &c), RD_EPROTO);
    c = cam_make("f3", "");
    snprintf(c.name, sizeof c.name, "\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x93\xb7"); /* UTF-8 ok */
    assert_int_equal(registry_camera_add(reg, &c), RD_OK);

    struct reg_camera got;
    assert_int_equal(registry_camera_get(reg, "a b", &got), RD_EPROTO);
    assert_int_equal(registry_camera_get(reg, id65, &got), RD_ELIMIT);
    assert_int_equal(registry_camera_get(reg, "nope", &got), RD_ENOTFOUND);
    registry_close(reg);
}

/* The schema refuses what the C checks refuse, at exactly the limits in rd_limits.h, so a
 * hand edit with plain sqlite3 cannot store what the daemon would mis-handle. */
static void
test_schema_checks_match_limits(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    registry_close(open_ok(t.path));
    sqlite3 *db = raw_open(t.path);
    char sql[4096];

#define CAM_SQL(id, url, maxr)                                                                     \
    snprintf(                                                                                      \
        sql, sizeof sql,                                                                           \
        "INSERT INTO cameras (id, name, upstream_url, max_relays) VALUES ('%s', 'n', '%s', %d)",   \
        id, url, (int)(maxr))
    CAM_SQL("ok1", "rtsp://h/", RD_REG_MAX_RELAYS_PER_CAMERA);
    assert_int_equal(raw_exec(db, sql), SQLITE_OK);
    CAM_SQL("ok2", "rtsp://h/", RD_REG_MAX_RELAYS_PER_CAMERA + 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    CAM_SQL("ok3", "rtsp://h/", 0);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    CAM_SQL("a b", "rtsp://h/", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    CAM_SQL("", "rtsp://h/", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    CAM_SQL("ok4", "http://h/", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    CAM_SQL("ok5", "rtsp://h/a b", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);

    char id[RD_CAMERA_ID_MAX + 2];
    memset(id, 'i', sizeof id);
    id[RD_CAMERA_ID_MAX] = '\0';
    CAM_SQL(id, "rtsp://h/", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_OK);
    id[RD_CAMERA_ID_MAX] = 'j';
    id[RD_CAMERA_ID_MAX + 1] = '\0';
    CAM_SQL(id, "rtsp://h/", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);

    static char url[RD_REG_URL_MAX + 2];
    memcpy(url, "rtsp://h/", 9);
    memset(url + 9, 'u', RD_REG_URL_MAX - 9);
    url[RD_REG_URL_MAX] = '\0';
    char *big = malloc(RD_REG_URL_MAX + 256);
    assert_non_null(big);
    snprintf(big, RD_REG_URL_MAX + 256,
             "INSERT INTO cameras (id, name, upstream_url) VALUES ('u1', 'n', '%s')", url);
    assert_int_equal(raw_exec(db, big), SQLITE_OK);
    url[RD_REG_URL_MAX] = 'v';
    url[RD_REG_URL_MAX + 1] = '\0';
    snprintf(big, RD_REG_URL_MAX + 256,
             "INSERT INTO cameras (id, name, upstream_url) VALUES ('u2', 'n', '%s')", url);
    assert_int_equal(raw_exec(db, big), SQLITE_CONSTRAINT);
    free(big);

    char name[RD_REG_NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    name[RD_REG_NAME_MAX] = '\0';
    snprintf(sql, sizeof sql, "INSERT INTO sites (id, name) VALUES ('s1', '%s')", name);
    assert_int_equal(raw_exec(db, sql), SQLITE_OK);
    name[RD_REG_NAME_MAX] = 'm';
    name[RD_REG_NAME_MAX + 1] = '\0';
    snprintf(sql, sizeof sql, "INSERT INTO sites (id, name) VALUES ('s2', '%s')", name);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);

#define RELAY_SQL(id, url, cap)                                                                    \
    snprintf(sql, sizeof sql,                                                                      \
             "INSERT INTO relays (id, name, rtsp_base_url, capacity_viewers, capacity_mbps) "      \
             "VALUES ('%s', 'n', '%s', %d, 1)",                                                    \
             id, url, (int)(cap))
    RELAY_SQL("r1", "rtsp://r1:8555", RD_REG_MAX_CAPACITY_VIEWERS);
    assert_int_equal(raw_exec(db, sql), SQLITE_OK);
    RELAY_SQL("r2", "rtsp://r2:8555", RD_REG_MAX_CAPACITY_VIEWERS + 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    RELAY_SQL("r3", "rtsp://r3:8555", 0);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    RELAY_SQL("r4", "rtsp://r4:8555/path", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    RELAY_SQL("r5", "rtsp://u:p@r5:8555", 1);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    snprintf(sql, sizeof sql, "UPDATE relays SET state = 'sleeping' WHERE id = 'r1'");
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);

    /* Keys: 32 bytes, at most two live, retired stays retired. */
    assert_int_equal(raw_exec(db, "INSERT INTO relay_keys (relay_id, kid, gen, key) "
                                  "VALUES ('r1', 'k1', 1, randomblob(31))"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(raw_exec(db, "INSERT INTO relay_keys (relay_id, kid, gen, key) "
                                  "VALUES ('r1', 'k1', 1, randomblob(32))"),
                     SQLITE_OK);
    assert_int_equal(raw_exec(db, "INSERT INTO relay_keys (relay_id, kid, gen, key) "
                                  "VALUES ('r1', 'k2', 2, randomblob(32))"),
                     SQLITE_OK);
    assert_int_equal(raw_exec(db, "INSERT INTO relay_keys (relay_id, kid, gen, key) "
                                  "VALUES ('r1', 'k3', 3, randomblob(32))"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(raw_exec(db, "INSERT INTO relay_keys (relay_id, kid, gen, key) "
                                  "VALUES ('r1', 'bad kid', 3, randomblob(32))"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(raw_exec(db, "UPDATE relay_keys SET retired = 1 WHERE kid = 'k1'"), SQLITE_OK);
    assert_int_equal(raw_exec(db, "UPDATE relay_keys SET retired = 0 WHERE kid = 'k1'"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(raw_exec(db, "INSERT INTO relay_keys (relay_id, kid, gen, key) "
                                  "VALUES ('nope', 'k9', 1, randomblob(32))"),
                     SQLITE_CONSTRAINT); /* foreign key */

    /* Users: HA1 shape, names. */
    const char *z32 = "00000000000000000000000000000000";
    const char *z64 = "0000000000000000000000000000000000000000000000000000000000000000";
    snprintf(sql, sizeof sql,
             "INSERT INTO users (name, realm, ha1_md5, ha1_sha256) VALUES ('u', 'r', '%s', '%s')",
             z32, z64);
    assert_int_equal(raw_exec(db, sql), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "INSERT INTO users (name, realm, ha1_md5, ha1_sha256) VALUES ('a:b', 'r', '%s', '%s')",
             z32, z64);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);
    snprintf(sql, sizeof sql,
             "INSERT INTO users (name, realm, ha1_md5, ha1_sha256) VALUES ('v', 'r', '%sA', '%s')",
             "0000000000000000000000000000000", z64);
    assert_int_equal(raw_exec(db, sql), SQLITE_CONSTRAINT);

    /* Decisions: status range. */
    assert_int_equal(raw_exec(db, "INSERT INTO decisions (at_ms, camera_id, status, reason) "
                                  "VALUES (1, 'c', 302, 'affinity')"),
                     SQLITE_OK);
    assert_int_equal(raw_exec(db, "INSERT INTO decisions (at_ms, camera_id, status, reason) "
                                  "VALUES (1, 'c', 99, 'x')"),
                     SQLITE_CONSTRAINT);
    /* STRICT: wrong types are refused, not coerced. */
    assert_int_equal(raw_exec(db, "INSERT INTO decisions (at_ms, camera_id, status, reason) "
                                  "VALUES ('soon', 'c', 302, 'x')"),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);
    tmpdb_remove(&t);
}

/* ---- Relays and keys --------------------------------------------------------------------- */

static int
collect_relay(void *arg, const struct reg_relay *row)
{
    struct collect *c = arg;
    if (c->n < 16)
        snprintf(c->ids[c->n], sizeof c->ids[0], "%s", row->id);
    c->n++;
    return 0;
}

static void
test_relay_crud_and_keys(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    struct registry *reg = open_ok(t.path);

    struct reg_relay r = relay_make("relay-a", "");
    struct reg_relay_key k1;
    assert_int_equal(registry_relay_add(reg, &r, &k1), RD_OK);
    assert_int_equal(k1.gen, 1);
    assert_true(strlen(k1.kid) >= 1 && strlen(k1.kid) <= RD_TOKEN_KID_MAX);
    uint8_t zero[RD_TOKEN_KEY_BYTES] = {0};
    assert_memory_not_equal(k1.key, zero, sizeof zero);
    struct reg_relay_key kdup;
    assert_int_equal(registry_relay_add(reg, &r, &kdup), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_EXISTS);
    assert_memory_equal(kdup.key, zero, sizeof zero); /* no key handed out on failure */

    struct reg_relay got;
    assert_int_equal(registry_relay_get(reg, "relay-a", &got), RD_OK);
    assert_string_equal(got.site_id, ""); /* serves every site */
    assert_string_equal(got.base_url, "rtsp://relay-a.example.net:8555");
    assert_int_equal(got.capacity_viewers, 500);
    assert_int_equal(got.capacity_mbps, 1000);
    assert_int_equal(got.state, REG_RELAY_ACTIVE);

    struct reg_relay_key keys[RD_REG_LIVE_KEYS];
    size_t n = 9;
    assert_int_equal(registry_relay_keys(reg, "relay-a", keys, &n), RD_OK);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].kid, k1.kid);
    assert_memory_equal(keys[0].key, k1.key, RD_TOKEN_KEY_BYTES);

    /* Rotate: new signing key, previous stays live. */
    uint64_t v = version_of(reg);
    struct reg_relay_key k2, k3;
    assert_int_equal(registry_relay_rotate_key(reg, "relay-a", &k2), RD_OK);
    assert_true(version_of(reg) > v);
    assert_int_equal(k2.gen, 2);
    assert_string_not_equal(k2.kid, k1.kid);
    assert_memory_not_equal(k2.key, k1.key, RD_TOKEN_KEY_BYTES);
    assert_int_equal(registry_relay_keys(reg, "relay-a", keys, &n), RD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0].kid, k2.kid);
    assert_int_equal(keys[0].gen, 2);
    assert_string_equal(keys[1].kid, k1.kid);
    assert_memory_equal(keys[1].key, k1.key, RD_TOKEN_KEY_BYTES);

    /* Again: generation 1 retires and its bytes are wiped. */
    assert_int_equal(registry_relay_rotate_key(reg, "relay-a", &k3), RD_OK);
    assert_int_equal(k3.gen, 3);
    assert_int_equal(registry_relay_keys(reg, "relay-a", keys, &n), RD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0].kid, k3.kid);
    assert_string_equal(keys[1].kid, k2.kid);
    sqlite3 *db = raw_open(t.path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_keys WHERE relay_id = 'relay-a'"), 3);
    assert_int_equal(raw_int(db, "SELECT retired FROM relay_keys WHERE gen = 1"), 1);
    assert_int_equal(raw_int(db, "SELECT key = zeroblob(32) FROM relay_keys WHERE gen = 1"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_keys WHERE retired = 0"), 2);

    assert_int_equal(registry_relay_rotate_key(reg, "nope", &k3), RD_ENOTFOUND);
    assert_int_equal(registry_relay_keys(reg, "nope", keys, &n), RD_ENOTFOUND);
    assert_int_equal(n, 0);

    /* Operator state and update. */
    assert_int_equal(registry_relay_set_state(reg, "relay-a", REG_RELAY_DRAINING), RD_OK);
    assert_int_equal(registry_relay_get(reg, "relay-a", &got), RD_OK);
    assert_int_equal(got.state, REG_RELAY_DRAINING);
    assert_int_equal(registry_relay_set_state(reg, "nope", REG_RELAY_ACTIVE), RD_ENOTFOUND);
    assert_int_equal(registry_relay_set_state(reg, "relay-a", (enum reg_relay_state)9), RD_EPROTO);
    struct reg_site s = {.id = "hq", .name = "HQ"};
    assert_int_equal(registry_site_add(reg, &s), RD_OK);
    snprintf(r.site_id, sizeof r.site_id, "hq");
    r.capacity_viewers = RD_REG_MAX_CAPACITY_VIEWERS;
    r.state = REG_RELAY_DISABLED;
    snprintf(r.base_url, sizeof r.base_url, "rtsps://[2001:db8::9]:8323");
    assert_int_equal(registry_relay_update(reg, &r), RD_OK);
    assert_int_equal(registry_relay_get(reg, "relay-a", &got), RD_OK);
    assert_string_equal(got.site_id, "hq");
    assert_int_equal(got.capacity_viewers, RD_REG_MAX_CAPACITY_VIEWERS);
    assert_int_equal(got.state, REG_RELAY_DISABLED);
    assert_string_equal(got.base_url, "rtsps://[2001:db8::9]:8323");
    snprintf(r.site_id, sizeof r.site_id, "mars");
    assert_int_equal(registry_relay_update(reg, &r), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_REFERENCE);

    /* Bad relays. */
    struct {
        const char *url;
        uint32_t cap;
        uint32_t mbps;
        int want;
    } bad[] = {
        {"rtsp://r:8555/", 1, 1, RD_EPROTO}, /* nothing after the port */
        {"rtsp://r:8555/v1", 1, 1, RD_EPROTO},
        {"rtsp://r?x", 1, 1, RD_EPROTO},
        {"rtsp://u@r", 1, 1, RD_EPROTO},
        {"rtsps://r:8323", 0, 1, RD_EPROTO},
        {"rtsps://r:8323", RD_REG_MAX_CAPACITY_VIEWERS + 1, 1, RD_ELIMIT},
        {"rtsps://r:8323", 1, 0, RD_EPROTO},
        {"rtsps://r:8323", 1, RD_REG_MAX_CAPACITY_MBPS + 1, RD_ELIMIT},
        {"rtsps://r:8323", 1, RD_REG_MAX_CAPACITY_MBPS, RD_OK},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct reg_relay b = relay_make("relay-b", "");
        snprintf(b.base_url, sizeof b.base_url, "%s", bad[i].url);
        b.capacity_viewers = bad[i].cap;
        b.capacity_mbps = bad[i].mbps;
        struct reg_relay_key k;
        int rc = registry_relay_add(reg, &b, &k);
        if (rc != bad[i].want)
            fail_msg("relay case %zu (%s): got %d want %d", i, bad[i].url, rc, bad[i].want);
    }
    struct collect col = {0};
    assert_int_equal(registry_relay_list(reg, collect_relay, &col), RD_OK);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.ids[0], "relay-a");

    /* Removing a relay takes its keys with it. */
    assert_int_equal(registry_relay_rm(reg, "relay-a"), RD_OK);
    assert_int_equal(registry_relay_rm(reg, "relay-a"), RD_ENOTFOUND);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_keys WHERE relay_id = 'relay-a'"), 0);
    sqlite3_close(db);
    registry_close(reg);
    tmpdb_remove(&t);
}

/* ---- Users ------------------------------------------------------------------------------- */

static int
collect_grant(void *arg, const char *camera_id)
{
    struct collect *c = arg;
    if (c->n < 16)
        snprintf(c->ids[c->n], sizeof c->ids[0], "%s", camera_id);
    c->n++;
    return 0;
}

static int
collect_user(void *arg, const struct reg_user *row)
{
    struct collect *c = arg;
    if (c->n < 16 && strlen(row->name) < sizeof c->ids[0])
        memcpy(c->ids[c->n], row->name, strlen(row->name) + 1);
    c->n++;
    return 0;
}

static void
test_users_and_grants(void **state)
{
    (void)state;
    struct registry *reg = open_ok(":memory:");

    /* RFC 2617 §3.5: HA1 of Mufasa / testrealm@host.com / "Circle Of Life". The SHA-256 values
     * come from coreutils sha256sum over the same A1 string. */
    struct reg_user u = {.name = "Mufasa", .realm = "testrealm@host.com"};
    assert_int_equal(registry_user_ha1(&u, "Circle Of Life"), RD_OK);
    assert_string_equal(u.ha1_md5, "939e7578ed9e3c518a452acee763bce9");
    assert_string_equal(u.ha1_sha256,
                        "3ba6cd94661c5ef34598040c868f13b8775df29109986be50ad35ae537dd3aa4");
    struct reg_user u7616 = {.name = "Mufasa", .realm = "http-auth@example.org"};
    assert_int_equal(registry_user_ha1(&u7616, "Circle of Life"), RD_OK);
    assert_string_equal(u7616.ha1_sha256,
                        "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
    struct reg_user badu = {.name = "a:b", .realm = "r"};
    assert_int_equal(registry_user_ha1(&badu, "x"), RD_EPROTO);

    uint64_t v = version_of(reg);
    assert_int_equal(registry_user_add(reg, &u), RD_OK);
    assert_true(version_of(reg) > v);
    assert_int_equal(registry_user_add(reg, &u), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_EXISTS);
    struct reg_user got;
    assert_int_equal(registry_user_get(reg, "Mufasa", &got), RD_OK);
    assert_string_equal(got.realm, "testrealm@host.com");
    assert_string_equal(got.ha1_md5, u.ha1_md5);
    assert_string_equal(got.ha1_sha256, u.ha1_sha256);
    assert_int_equal(registry_user_get(reg, "nobody", &got), RD_ENOTFOUND);

    struct reg_user bad = u;
    snprintf(bad.name, sizeof bad.name, "x");
    bad.ha1_md5[0] = 'G';
    assert_int_equal(registry_user_add(reg, &bad), RD_EPROTO);
    bad = u;
    snprintf(bad.name, sizeof bad.name, "q\"uote");
    assert_int_equal(registry_user_add(reg, &bad), RD_EPROTO);
    bad = u;
    memset(bad.name, 'n', sizeof bad.name);
    assert_int_equal(registry_user_add(reg, &bad), RD_ELIMIT);
    bad = u;
    snprintf(bad.name, sizeof bad.name, "y");
    bad.realm[0] = '\0';
    assert_int_equal(registry_user_add(reg, &bad), RD_EPROTO);

    add_camera(reg, "lobby");
    add_camera(reg, "dock");
    add_camera(reg, "roof");
    assert_int_equal(registry_user_grant(reg, "Mufasa", "lobby"), RD_OK);
    assert_int_equal(registry_user_grant(reg, "Mufasa", "lobby"), RD_OK); /* idempotent */
    assert_int_equal(registry_user_grant(reg, "Mufasa", "dock"), RD_OK);
    assert_int_equal(registry_user_grant(reg, "Mufasa", "ghost"), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_REFERENCE);
    assert_int_equal(registry_user_grant(reg, "nobody", "lobby"), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_REFERENCE);

    bool allowed = true;
    assert_int_equal(registry_user_may_view(reg, "Mufasa", "lobby", &allowed), RD_OK);
    assert_true(allowed);
    assert_int_equal(registry_user_may_view(reg, "Mufasa", "roof", &allowed), RD_OK);
    assert_false(allowed);
    assert_int_equal(registry_user_may_view(reg, "nobody", "roof", &allowed), RD_OK);
    assert_false(allowed);

    struct collect col = {0};
    assert_int_equal(registry_user_grants(reg, "Mufasa", collect_grant, &col), RD_OK);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.ids[0], "dock");
    assert_string_equal(col.ids[1], "lobby");

    assert_int_equal(registry_user_revoke(reg, "Mufasa", "dock"), RD_OK);
    assert_int_equal(registry_user_revoke(reg, "Mufasa", "dock"), RD_ENOTFOUND);
    /* Removing the camera removes its grants. */
    assert_int_equal(registry_camera_rm(reg, "lobby"), RD_OK);
    memset(&col, 0, sizeof col);
    assert_int_equal(registry_user_grants(reg, "Mufasa", collect_grant, &col), RD_OK);
    assert_int_equal(col.n, 0);

    struct reg_user u2 = {.name = "Simba", .realm = "testrealm@host.com"};
    assert_int_equal(registry_user_ha1(&u2, "Hakuna"), RD_OK);
    assert_int_equal(registry_user_add(reg, &u2), RD_OK);
    assert_int_equal(registry_user_grant(reg, "Simba", "roof"), RD_OK);
    memset(&col, 0, sizeof col);
    assert_int_equal(registry_user_list(reg, collect_user, &col), RD_OK);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.ids[0], "Mufasa");
    assert_int_equal(registry_user_rm(reg, "Simba"), RD_OK);
    assert_int_equal(registry_user_rm(reg, "Simba"), RD_ENOTFOUND);
    assert_int_equal(registry_user_may_view(reg, "Simba", "roof", &allowed), RD_OK);
    assert_false(allowed);
    registry_close(reg);
}

/* ---- Flush ------------------------------------------------------------------------------- */

static struct reg_pair
pair_make(const char *cam, const char *relay, enum reg_pull_state s, uint32_t viewers)
{
    struct reg_pair p;
    memset(&p, 0, sizeof p);
    snprintf(p.camera_id, sizeof p.camera_id, "%s", cam);
    snprintf(p.relay_id, sizeof p.relay_id, "%s", relay);
    p.state = s;
    p.viewers = viewers;
    p.ingress_kbps = 2000;
    return p;
}

static struct reg_load
load_make(const char *relay, uint32_t viewers, int64_t seen)
{
    struct reg_load l;
    memset(&l, 0, sizeof l);
    snprintf(l.relay_id, sizeof l.relay_id, "%s", relay);
    l.healthy = true;
    l.viewers = viewers;
    l.egress_kbps = viewers * 2000;
    l.cpu_pct = 12.5;
    l.last_seen = seen;
    return l;
}

static struct reg_decision
decision_make(int64_t at_ms, const char *cam, const char *relay, uint16_t status)
{
    struct reg_decision d;
    memset(&d, 0, sizeof d);
    d.at_ms = at_ms;
    snprintf(d.camera_id, sizeof d.camera_id, "%s", cam);
    snprintf(d.relay_id, sizeof d.relay_id, "%s", relay);
    d.status = status;
    snprintf(d.reason, sizeof d.reason, "%s", status == 302 ? "least_loaded" : "no_candidate");
    snprintf(d.client, sizeof d.client, "[2001:db8::5]:50123");
    return d;
}

struct pairs {
    int n;
    struct reg_pair rows[16];
};

static int
collect_pair(void *arg, const struct reg_pair *row)
{
    struct pairs *p = arg;
    if (p->n < 16)
        p->rows[p->n] = *row;
    p->n++;
    return 0;
}

static void
test_flush_mapping(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    struct registry *reg = open_ok(t.path);
    add_camera(reg, "c1");
    add_camera(reg, "c2");
    add_camera(reg, "c3");
    add_relay(reg, "r1", NULL);
    add_relay(reg, "r2", NULL);
    uint64_t v = version_of(reg);
    struct registry_stats st0, st1;
    registry_stats_get(reg, &st0);

    const int64_t t0 = 1700000000;
    struct reg_pair pairs1[] = {
        pair_make("c1", "r1", REG_PULL_PLAYING, 3),
        pair_make("c2", "r1", REG_PULL_STARTING, 1),
        pair_make("c1", "r2", REG_PULL_PLAYING, 5),
    };
    pairs1[0].since = t0 - 100;
    struct reg_load loads1[] = {load_make("r1", 4, t0), load_make("r2", 5, t0)};
    struct reg_decision dec1[] = {decision_make(t0 * 1000, "c1", "r1", 302),
                                  decision_make(t0 * 1000 + 5, "c9", "", 404)};
    struct registry_load_batch b1 = {
        .now = t0,
        .pairs = pairs1,
        .n_pairs = 3,
        .loads = loads1,
        .n_loads = 2,
        .decisions = dec1,
        .n_decisions = 2,
    };
    assert_int_equal(registry_flush_load(reg, &b1), RD_OK);
    registry_stats_get(reg, &st1);
    assert_int_equal(st1.commits - st0.commits, 1); /* one transaction for the whole batch */
    assert_int_equal(st1.flushes - st0.flushes, 1);
    assert_int_equal(st1.rows_skipped, 0);
    assert_int_equal(version_of(reg), v); /* live state is not configuration */

    struct pairs got = {0};
    assert_int_equal(registry_pair_list(reg, NULL, NULL, collect_pair, &got), RD_OK);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.rows[0].camera_id, "c1"); /* ordered by camera, relay */
    assert_string_equal(got.rows[0].relay_id, "r1");
    assert_int_equal(got.rows[0].since, t0 - 100);
    assert_int_equal(got.rows[0].viewers, 3);
    assert_int_equal(got.rows[0].state, REG_PULL_PLAYING);
    assert_int_equal(got.rows[1].relay_id[1], '2');
    assert_int_equal(got.rows[1].since, t0); /* since 0 = batch now */
    assert_int_equal(got.rows[2].state, REG_PULL_STARTING);

    /* The operator's view with plain sqlite3, from another connection. */
    sqlite3 *db = raw_open(t.path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_cameras WHERE camera_id = 'c1'"), 2);
    assert_int_equal(raw_int(db, "SELECT sum(viewers) FROM relay_cameras WHERE relay_id = 'r1'"),
                     4);
    assert_int_equal(raw_int(db, "SELECT viewers FROM relay_load WHERE relay_id = 'r2'"), 5);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM decisions WHERE relay_id IS NULL"), 1);

    /* Batch 2: update one pair (since kept), remove one, rows for unknown ids are skipped. */
    struct reg_pair pairs2[] = {
        pair_make("c1", "r1", REG_PULL_RETRYING, 7),
        pair_make("ghost", "r1", REG_PULL_PLAYING, 1),
        pair_make("c3", "r-gone", REG_PULL_PLAYING, 1),
    };
    pairs2[0].since = t0 + 999; /* ignored for an existing row */
    struct reg_pair_key rm2[] = {{.camera_id = "c2", .relay_id = "r1"}};
    struct reg_load loads2[] = {load_make("r1", 7, t0 + 1), load_make("r-gone", 1, t0 + 1)};
    loads2[0].draining = true;
    loads2[0].healthy = false;
    struct registry_load_batch b2 = {
        .now = t0 + 1,
        .pairs = pairs2,
        .n_pairs = 3,
        .removed = rm2,
        .n_removed = 1,
        .loads = loads2,
        .n_loads = 2,
    };
    assert_int_equal(registry_flush_load(reg, &b2), RD_OK);
    registry_stats_get(reg, &st1);
    assert_int_equal(st1.rows_skipped, 3);
    memset(&got, 0, sizeof got);
    assert_int_equal(registry_pair_list(reg, "r1", NULL, collect_pair, &got), RD_OK);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.rows[0].camera_id, "c1");
    assert_int_equal(got.rows[0].viewers, 7);
    assert_int_equal(got.rows[0].state, REG_PULL_RETRYING);
    assert_int_equal(got.rows[0].since, t0 - 100);
    assert_int_equal(got.rows[0].updated_at, t0 + 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_load"), 2);
    assert_int_equal(raw_int(db, "SELECT healthy FROM relay_load WHERE relay_id = 'r1'"), 0);
    assert_int_equal(
        raw_int(db, "SELECT reported_state = 'draining' FROM relay_load WHERE relay_id = 'r1'"), 1);

    /* Batch 3: replace r2's mapping (remove all of r2, then its current pairs). */
    struct reg_pair_key rm3[] = {{.camera_id = "", .relay_id = "r2"}};
    struct reg_pair pairs3[] = {pair_make("c3", "r2", REG_PULL_STARTING, 0)};
    struct registry_load_batch b3 = {
        .now = t0 + 2, .pairs = pairs3, .n_pairs = 1, .removed = rm3, .n_removed = 1};
    assert_int_equal(registry_flush_load(reg, &b3), RD_OK);
    memset(&got, 0, sizeof got);
    assert_int_equal(registry_pair_list(reg, "r2", NULL, collect_pair, &got), RD_OK);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.rows[0].camera_id, "c3");
    memset(&got, 0, sizeof got);
    assert_int_equal(registry_pair_list(reg, NULL, "c1", collect_pair, &got), RD_OK);
    assert_int_equal(got.n, 1);

    /* Malformed rows: nothing written. */
    struct reg_pair badp[] = {pair_make("c1", "r1", REG_PULL_PLAYING, 99),
                              pair_make("bad id", "r1", REG_PULL_PLAYING, 1)};
    struct registry_load_batch bb = {.now = t0 + 3, .pairs = badp, .n_pairs = 2};
    assert_int_equal(registry_flush_load(reg, &bb), RD_EPROTO);
    struct reg_load badl[] = {load_make("r1", 1, t0)};
    badl[0].cpu_pct = -1;
    struct registry_load_batch bl = {.now = t0 + 3, .loads = badl, .n_loads = 1};
    assert_int_equal(registry_flush_load(reg, &bl), RD_EPROTO);
    struct reg_decision badd[] = {decision_make(1, "c1", "r1", 302)};
    badd[0].status = 42;
    struct registry_load_batch bd = {.now = t0 + 3, .decisions = badd, .n_decisions = 1};
    assert_int_equal(registry_flush_load(reg, &bd), RD_EPROTO);
    struct registry_load_batch bn = {.now = t0 + 3, .n_pairs = 1};
    assert_int_equal(registry_flush_load(reg, &bn), RD_EPROTO);
    assert_int_equal(raw_int(db, "SELECT viewers FROM relay_cameras WHERE camera_id = 'c1'"), 7);

    /* Deleting a camera or relay removes its live rows. */
    assert_int_equal(registry_camera_rm(reg, "c3"), RD_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_cameras WHERE camera_id = 'c3'"), 0);
    assert_int_equal(registry_relay_rm(reg, "r1"), RD_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_cameras WHERE relay_id = 'r1'"), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_load WHERE relay_id = 'r1'"), 0);
    /* History outlives them. */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM decisions WHERE relay_id = 'r1'"), 1);

    /* Start of the daemon: live state emptied. */
    assert_int_equal(registry_live_reset(reg), RD_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_cameras"), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_load"), 0);
    sqlite3_close(db);
    registry_close(reg);
    tmpdb_remove(&t);
}

struct decisions {
    int n;
    struct reg_decision first, last;
};

static int
collect_decision(void *arg, const struct reg_decision *row)
{
    struct decisions *d = arg;
    if (d->n == 0)
        d->first = *row;
    d->last = *row;
    d->n++;
    return 0;
}

struct samples {
    int n;
    int64_t first_at, last_at;
};

static int
collect_sample(void *arg, const struct reg_load *row)
{
    struct samples *s = arg;
    if (s->n == 0)
        s->first_at = row->last_seen;
    s->last_at = row->last_seen;
    s->n++;
    return 0;
}

static void
test_history_bounds(void **state)
{
    (void)state;
    struct registry *reg = open_ok(":memory:");
    add_camera(reg, "c1");
    add_camera(reg, "c2");
    add_relay(reg, "r1", NULL);
    add_relay(reg, "r2", NULL);
    const int64_t t0 = 1700000000;

    /* Decisions: 3 flushes, 1.05 x the bound in total; the newest RD_REG_DECISIONS_KEEP stay. */
    const int total = RD_REG_DECISIONS_KEEP + RD_REG_DECISIONS_KEEP / 20;
    struct reg_decision *dec = calloc((size_t)total, sizeof *dec);
    assert_non_null(dec);
    for (int i = 0; i < total; i++)
        dec[i] = decision_make(t0 * 1000 + i, i % 2 ? "c1" : "c2", i % 3 ? "r1" : "", 302);
    int done = 0;
    const int chunks[] = {400, 400, total - 800};
    for (size_t c = 0; c < 3; c++) {
        struct registry_load_batch b = {
            .now = t0, .decisions = dec + done, .n_decisions = (size_t)chunks[c]};
        assert_int_equal(registry_flush_load(reg, &b), RD_OK);
        done += chunks[c];
    }
    struct decisions d = {0};
    assert_int_equal(registry_decision_list(reg, NULL, 100000, collect_decision, &d), RD_OK);
    assert_int_equal(d.n, RD_REG_DECISIONS_KEEP);
    assert_int_equal(d.first.at_ms, t0 * 1000 + total - 1); /* newest first */
    assert_int_equal(d.last.at_ms, t0 * 1000 + total - RD_REG_DECISIONS_KEEP);
    assert_string_equal(d.first.client, "[2001:db8::5]:50123");
    memset(&d, 0, sizeof d);
    assert_int_equal(registry_decision_list(reg, "c1", 5, collect_decision, &d), RD_OK);
    assert_int_equal(d.n, 5);
    assert_string_equal(d.first.camera_id, "c1");
    assert_int_equal(d.first.status, 302);
    free(dec);

    /* Samples: one per relay per sampling flush; older than the retention: gone. */
    struct reg_load loads[] = {load_make("r1", 1, t0), load_make("r2", 2, t0)};
    for (int64_t at = t0; at <= t0 + RD_REG_SAMPLE_RETENTION_S; at += RD_REG_SAMPLE_INTERVAL_S) {
        struct registry_load_batch b = {
            .now = at, .loads = loads, .n_loads = 2, .take_sample = true};
        assert_int_equal(registry_flush_load(reg, &b), RD_OK);
    }
    const int per_hour = RD_REG_SAMPLE_RETENTION_S / RD_REG_SAMPLE_INTERVAL_S + 1;
    struct samples s = {0};
    assert_int_equal(registry_sample_list(reg, "r1", 0, collect_sample, &s), RD_OK);
    assert_int_equal(s.n, per_hour);
    assert_int_equal(s.first_at, t0);
    assert_int_equal(s.last_at, t0 + RD_REG_SAMPLE_RETENTION_S);
    /* A flush without sampling still trims: 25 s later the first three samples are too old. */
    struct registry_load_batch b = {.now = t0 + RD_REG_SAMPLE_RETENTION_S + 25};
    assert_int_equal(registry_flush_load(reg, &b), RD_OK);
    memset(&s, 0, sizeof s);
    assert_int_equal(registry_sample_list(reg, "r1", 0, collect_sample, &s), RD_OK);
    assert_int_equal(s.n, per_hour - 3);
    assert_int_equal(s.first_at, t0 + 3 * RD_REG_SAMPLE_INTERVAL_S);
    memset(&s, 0, sizeof s);
    assert_int_equal(
        registry_sample_list(reg, "r2", t0 + RD_REG_SAMPLE_RETENTION_S - 15, collect_sample, &s),
        RD_OK);
    assert_int_equal(s.n, 2);
    /* A clock jump far ahead: everything older goes. */
    struct registry_load_batch jump = {.now = t0 + 10 * RD_REG_SAMPLE_RETENTION_S};
    assert_int_equal(registry_flush_load(reg, &jump), RD_OK);
    memset(&s, 0, sizeof s);
    assert_int_equal(registry_sample_list(reg, "r1", 0, collect_sample, &s), RD_OK);
    assert_int_equal(s.n, 0);
    registry_close(reg);
}

/* More relays than the hour of samples was sized for: the row cap holds whatever the clock. */
static void
test_samples_row_cap(void **state)
{
    (void)state;
    struct registry *reg = open_ok(":memory:");
    enum { RELAYS = 1100 };
    struct reg_load *loads = calloc(RELAYS, sizeof *loads);
    assert_non_null(loads);
    for (int i = 0; i < RELAYS; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        add_relay(reg, id, NULL);
        loads[i] = load_make(id, (uint32_t)i, 1700000000);
    }
    const int64_t t0 = 1700000000;
    struct registry_load_batch b = {.now = t0, .loads = loads, .n_loads = RELAYS};
    assert_int_equal(registry_flush_load(reg, &b), RD_OK);
    /* All within the retention window (one second apart): only the row cap can trim. */
    const int flushes = RD_REG_SAMPLES_MAX_ROWS / RELAYS + 2;
    for (int i = 0; i < flushes; i++) {
        struct registry_load_batch s = {.now = t0 + i, .take_sample = true};
        assert_int_equal(registry_flush_load(reg, &s), RD_OK);
    }
    long total = 0;
    for (int i = 0; i < RELAYS; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        struct samples smp = {0};
        assert_int_equal(registry_sample_list(reg, id, 0, collect_sample, &smp), RD_OK);
        total += smp.n;
    }
    assert_int_equal(total, RD_REG_SAMPLES_MAX_ROWS);
    /* The oldest went first: relay r0's first remaining sample is not from t0. */
    struct samples smp = {0};
    assert_int_equal(registry_sample_list(reg, "r0", 0, collect_sample, &smp), RD_OK);
    assert_true(smp.first_at > t0);
    assert_int_equal(smp.last_at, t0 + flushes - 1);
    free(loads);
    registry_close(reg);
}

/* ---- Failures: disk full, busy, second connection ---------------------------------------- */

static void
test_disk_full(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    struct registry *reg = open_ok(t.path);
    add_relay(reg, "r1", NULL);
    add_camera(reg, "c0");

    /* Cap the file at its current size (fault plan #5: PRAGMA max_page_count). */
    sqlite3 *db = raw_open(t.path);
    int64_t bytes = raw_int(db, "PRAGMA page_count") * raw_int(db, "PRAGMA page_size");
    assert_int_equal(registry_set_max_bytes(reg, (uint64_t)bytes), RD_OK);

    int added = 0, r = RD_OK;
    char id[16];
    for (int i = 1; i <= 2000 && r == RD_OK; i++) {
        snprintf(id, sizeof id, "full%d", i);
        struct reg_camera c = cam_make(id, "");
        memset(c.name, 'n', RD_REG_NAME_MAX);
        c.name[RD_REG_NAME_MAX] = '\0';
        r = registry_camera_add(reg, &c);
        if (r == RD_OK)
            added++;
    }
    assert_int_equal(r, RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_FULL);
    assert_true(contains(registry_errmsg(reg), "full"));
    struct reg_camera got;
    assert_int_equal(registry_camera_get(reg, id, &got), RD_ENOTFOUND); /* nothing half-written */
    assert_int_equal(registry_camera_get(reg, "c0", &got), RD_OK);      /* reads keep working */

    /* A flush that needs new pages fails as a whole: not one of its rows is visible. */
    enum { N_DEC = 400 };
    struct reg_decision *dec = calloc(N_DEC, sizeof *dec);
    assert_non_null(dec);
    for (int i = 0; i < N_DEC; i++)
        dec[i] = decision_make(i, "c0", "r1", 302);
    struct reg_pair pairs[] = {pair_make("c0", "r1", REG_PULL_PLAYING, 1)};
    struct registry_load_batch b = {
        .now = 1700000000, .pairs = pairs, .n_pairs = 1, .decisions = dec, .n_decisions = N_DEC};
    struct registry_stats s0, s1;
    registry_stats_get(reg, &s0);
    assert_int_equal(registry_flush_load(reg, &b), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_FULL);
    registry_stats_get(reg, &s1);
    assert_int_equal(s1.flush_failures - s0.flush_failures, 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM decisions"), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_cameras"), 0);

    /* A two-statement transaction (relay + key) leaves neither behind. */
    struct reg_relay_key k;
    int64_t relays = raw_int(db, "SELECT count(*) FROM relays");
    int64_t keys = raw_int(db, "SELECT count(*) FROM relay_keys");
    for (int i = 0; i < 50; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "rf%d", i);
        struct reg_relay rl = relay_make(rid, "");
        memset(rl.name, 'n', RD_REG_NAME_MAX);
        rl.name[RD_REG_NAME_MAX] = '\0';
        if (registry_relay_add(reg, &rl, &k) != RD_OK) {
            assert_int_equal(registry_last_fail(reg), REG_FAIL_FULL);
            assert_int_equal(raw_int(db, "SELECT count(*) FROM relays"), relays);
            assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_keys"), keys);
            break;
        }
        relays++;
        keys++;
    }

    /* Consistent throughout, and writable again once space is back, without reopening. */
    assert_int_equal(registry_check(reg), RD_OK);
    assert_int_equal(registry_set_max_bytes(reg, 0), RD_OK);
    assert_int_equal(registry_camera_add(reg, &(struct reg_camera){0}), RD_EPROTO);
    struct reg_camera c = cam_make(id, "");
    assert_int_equal(registry_camera_add(reg, &c), RD_OK);
    assert_int_equal(registry_flush_load(reg, &b), RD_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM decisions"), N_DEC);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM cameras"), added + 2);
    assert_int_equal(registry_check(reg), RD_OK);
    free(dec);
    sqlite3_close(db);
    registry_close(reg);
    tmpdb_remove(&t);
}

static void
test_busy_second_connection(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    struct registry *reg = open_ok(t.path);
    add_camera(reg, "c1");
    add_relay(reg, "r1", NULL);

    /* Another process holds the write lock (a long CLI transaction, a backup). */
    sqlite3 *db = raw_open(t.path);
    assert_int_equal(raw_exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);
    assert_int_equal(raw_exec(db, "INSERT INTO cameras (id, name, upstream_url) "
                                  "VALUES ('from-cli', 'n', 'rtsp://h/')"),
                     SQLITE_OK);

    struct reg_camera c = cam_make("c2", "");
    double t_start = now_s();
    assert_int_equal(registry_camera_add(reg, &c), RD_EDB);
    double waited = now_s() - t_start;
    assert_int_equal(registry_last_fail(reg), REG_FAIL_BUSY);
    assert_true(waited >= RD_REG_BUSY_TIMEOUT_MS / 1000.0 * 0.8);
    assert_true(waited < 2.0); /* bounded: the event loop is never stuck */

    struct reg_pair pairs[] = {pair_make("c1", "r1", REG_PULL_PLAYING, 1)};
    struct registry_load_batch b = {.now = 1700000000, .pairs = pairs, .n_pairs = 1};
    assert_int_equal(registry_flush_load(reg, &b), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_BUSY);
    struct reg_relay_key k;
    assert_int_equal(registry_relay_rotate_key(reg, "r1", &k), RD_EDB);
    assert_int_equal(registry_last_fail(reg), REG_FAIL_BUSY);

    /* WAL: reads go on during the other writer's transaction and see the committed state. */
    struct reg_camera got;
    assert_int_equal(registry_camera_get(reg, "c1", &got), RD_OK);
    assert_int_equal(registry_camera_get(reg, "from-cli", &got), RD_ENOTFOUND);

    assert_int_equal(raw_exec(db, "COMMIT"), SQLITE_OK);
    assert_int_equal(registry_camera_get(reg, "from-cli", &got), RD_OK);
    /* The caller's retry on the next tick succeeds. */
    assert_int_equal(registry_camera_add(reg, &c), RD_OK);
    assert_int_equal(registry_flush_load(reg, &b), RD_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM relay_cameras"), 1);
    sqlite3_close(db);
    registry_close(reg);
    tmpdb_remove(&t);
}

static void
test_cli_while_daemon_runs(void **state)
{
    (void)state;
    struct tmpdb t;
    tmpdb_make(&t);
    struct registry *daemon = open_ok(t.path);
    struct registry *cli = open_ok(t.path); /* no migration: same version */
    uint64_t v = version_of(daemon);

    add_camera(cli, "lobby");
    struct reg_camera got;
    assert_int_equal(registry_camera_get(daemon, "lobby", &got), RD_OK);
    assert_true(version_of(daemon) > v);

    struct reg_relay_key k1, k2;
    add_relay(cli, "r1", &k1);
    const int64_t t0 = 1700000000;
    for (int i = 0; i < 20; i++) {
        struct reg_pair pairs[] = {pair_make("lobby", "r1", REG_PULL_PLAYING, (uint32_t)i)};
        struct reg_load loads[] = {load_make("r1", (uint32_t)i, t0 + i)};
        struct registry_load_batch b = {
            .now = t0 + i, .pairs = pairs, .n_pairs = 1, .loads = loads, .n_loads = 1};
        assert_int_equal(registry_flush_load(daemon, &b), RD_OK);
        if (i == 10) {
            assert_int_equal(registry_relay_rotate_key(cli, "r1", &k2), RD_OK);
            assert_int_equal(registry_relay_set_state(cli, "r1", REG_RELAY_DRAINING), RD_OK);
        }
    }
    struct reg_relay_key keys[RD_REG_LIVE_KEYS];
    size_t n;
    assert_int_equal(registry_relay_keys(daemon, "r1", keys, &n), RD_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(keys[0].key, k2.key, RD_TOKEN_KEY_BYTES);
    assert_memory_equal(keys[1].key, k1.key, RD_TOKEN_KEY_BYTES);
    struct reg_relay rl;
    assert_int_equal(registry_relay_get(daemon, "r1", &rl), RD_OK);
    assert_int_equal(rl.state, REG_RELAY_DRAINING);
    struct pairs got_p = {0};
    assert_int_equal(registry_pair_list(cli, NULL, "lobby", collect_pair, &got_p), RD_OK);
    assert_int_equal(got_p.n, 1);
    assert_int_equal(got_p.rows[0].viewers, 19);

    /* The CLI removes the camera the daemon keeps flushing: rows are skipped, not fatal. */
    assert_int_equal(registry_camera_rm(cli, "lobby"), RD_OK);
    struct reg_pair pairs[] = {pair_make("lobby", "r1", REG_PULL_PLAYING, 1)};
    struct registry_load_batch b = {.now = t0 + 30, .pairs = pairs, .n_pairs = 1};
    struct registry_stats s;
    registry_stats_get(daemon, &s);
    uint64_t skipped = s.rows_skipped;
    assert_int_equal(registry_flush_load(daemon, &b), RD_OK);
    registry_stats_get(daemon, &s);
    assert_int_equal(s.rows_skipped, skipped + 1);
    registry_close(cli);
    assert_int_equal(registry_check(daemon), RD_OK);
    registry_close(daemon);
    tmpdb_remove(&t);
}

static void
test_enum_names(void **state)
{
    (void)state;
    enum reg_transport tr;
    enum reg_relay_state rs;
    enum reg_pull_state ps;
    const enum reg_transport trs[] = {REG_TRANSPORT_AUTO, REG_TRANSPORT_TCP, REG_TRANSPORT_UDP};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(registry_transport_parse(registry_transport_name(trs[i]), &tr), RD_OK);
        assert_int_equal(tr, trs[i]);
    }
    assert_int_equal(registry_relay_state_parse("draining", &rs), RD_OK);
    assert_int_equal(rs, REG_RELAY_DRAINING);
    assert_string_equal(registry_relay_state_name(REG_RELAY_DISABLED), "disabled");
    assert_int_equal(registry_pull_state_parse("retrying", &ps), RD_OK);
    assert_int_equal(ps, REG_PULL_RETRYING);
    assert_string_equal(registry_pull_state_name(REG_PULL_FAILED), "failed");
    assert_int_equal(registry_transport_parse("TCP", &tr), RD_EPROTO);
    assert_int_equal(registry_transport_parse("", &tr), RD_EPROTO);
    assert_int_equal(registry_relay_state_parse(NULL, &rs), RD_EPROTO);
    assert_string_equal(registry_transport_name((enum reg_transport)42), "?");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_open_fresh_and_reopen),
    cmocka_unit_test(test_open_memory),
    cmocka_unit_test(test_open_refuses_newer_schema),
    cmocka_unit_test(test_open_rejects_garbage_file),
    cmocka_unit_test(test_camera_crud),
    cmocka_unit_test(test_camera_list),
    cmocka_unit_test(test_camera_validation),
    cmocka_unit_test(test_schema_checks_match_limits),
    cmocka_unit_test(test_relay_crud_and_keys),
    cmocka_unit_test(test_users_and_grants),
    cmocka_unit_test(test_flush_mapping),
    cmocka_unit_test(test_history_bounds),
    cmocka_unit_test(test_samples_row_cap),
    cmocka_unit_test(test_disk_full),
    cmocka_unit_test(test_busy_second_connection),
    cmocka_unit_test(test_cli_while_daemon_runs),
    cmocka_unit_test(test_enum_names),
};

RD_TEST_MAIN(tests)
