/* SPDX-License-Identifier: MIT */
/* rtsp-relay configuration: defaults, cross-key checks, key files and the sources file. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rd_err.h"
#include "rd_str.h"
#include "relay.h"
#include "secretfile.h"

static char g_dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/rd_relay_conf_XXXXXX");
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
    static char path[8][128];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 128, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

/* Sets a config string field (the banned-function lint keeps strcpy out, tests included). */
#define SET(field, value)                                                                          \
    assert_int_equal(rd_str_copy((field), sizeof(field), rd_str_cstr(value)), RD_OK)

static void
good_conf(struct relay_conf *c)
{
    struct rd_errbuf err = {{0}};
    assert_int_equal(relay_conf_defaults(c, &err), RD_OK);
    SET(c->relay_id, "relay-a");
    SET(c->key_file, write_file("k",
                                "000102030405060708090a0b0c0d0e0f"
                                "101112131415161718191a1b1c1d1e1f\n",
                                0600));
}

static void
test_defaults_and_checks(void **state)
{
    (void)state;
    struct relay_conf c;
    struct rd_errbuf err = {{0}};
    assert_int_equal(relay_conf_defaults(&c, &err), RD_OK);
    assert_int_equal(c.rtsp_listen.port, 8555);
    assert_int_equal(c.status_listen.port, 9555);
    assert_string_equal(c.status_listen.host, "127.0.0.1");
    assert_int_equal(c.heartbeat_interval_ms, 1000);
    assert_int_equal(c.session_timeout_s, 60);
    /* relay_id and key_file are required. */
    assert_int_equal(relay_conf_check(&c, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "relay_id"));
    good_conf(&c);
    assert_int_equal(relay_conf_check(&c, &err), RD_OK);
    SET(c.udp_ports, "30000-29000");
    assert_int_equal(relay_conf_check(&c, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "udp_ports"));
    good_conf(&c);
    SET(c.broker_url, "https://broker:8080");
    assert_int_equal(relay_conf_check(&c, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "broker_url"));
    good_conf(&c);
    SET(c.prev_key_id, "k0");
    assert_int_equal(relay_conf_check(&c, &err), RD_EPROTO); /* without prev_key_file */
    good_conf(&c);
    SET(c.relay_id, "relay a");
    assert_int_equal(relay_conf_check(&c, &err), RD_EPROTO);
}

static void
test_udp_ports_text(void **state)
{
    (void)state;
    uint16_t lo, hi;
    assert_int_equal(relay_conf_udp_ports("20000-29999", &lo, &hi), RD_OK);
    assert_int_equal(lo, 20000);
    assert_int_equal(hi, 29999);
    assert_int_equal(relay_conf_udp_ports(" 1024 - 1025 ", &lo, &hi), RD_OK);
    const char *bad[] = {"",    "20000",  "1000-2000", "2000-2000", "3000-2000", "20000-70000",
                         "a-b", "20000-", "-20000",    "1-2-3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(relay_conf_udp_ports(bad[i], &lo, &hi), RD_EPROTO);
}

static void
test_keys(void **state)
{
    (void)state;
    struct relay r;
    struct rd_errbuf err = {{0}};
    memset(&r, 0, sizeof(r));
    good_conf(&r.conf);
    assert_int_equal(relay_load_keys(&r, &err), RD_OK);
    assert_int_equal(r.keys.n, 1);
    assert_string_equal(r.keys.keys[0].kid, "k1");
    assert_int_equal(r.key.key[31], 0x1f);
    /* A previous key (base64url form) joins the ring. */
    SET(r.conf.prev_key_id, "k0");
    SET(r.conf.prev_key_file,
        write_file("k0", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", 0600));
    assert_int_equal(relay_load_keys(&r, &err), RD_OK);
    assert_int_equal(r.keys.n, 2);
    /* Group-readable, not a key, missing: refused, and the loaded keys stay. */
    SET(r.conf.key_file, write_file("k-open", "00", 0644));
    assert_int_equal(relay_load_keys(&r, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_int_equal(r.keys.n, 2);
    SET(r.conf.key_file, write_file("k-bad", "not a key\n", 0600));
    assert_int_not_equal(relay_load_keys(&r, &err), RD_OK);
    assert_null(strstr(err.msg, "not a key\n"));
    SET(r.conf.key_file, "/nonexistent/key");
    assert_int_equal(relay_load_keys(&r, &err), RD_EIO);
    assert_int_equal(r.keys.n, 2);
}

struct collected {
    struct camera_source src[8];
    size_t n;
};

static int
collect(void *arg, const struct camera_source *src)
{
    struct collected *c = arg;
    c->src[c->n++] = *src;
    return RD_OK;
}

static void
test_sources_good(void **state)
{
    (void)state;
    const char *path = write_file("sources",
                                  "# cameras of this relay\n"
                                  "\n"
                                  "lobby rtsp://10.0.0.7:554/Streaming/Channels/101 user=viewer "
                                  "password=s3cret\n"
                                  "dock\trtsp://10.0.0.8/live transport=udp always_on\r\n"
                                  "  yard rtsp://10.0.0.9/x disabled   \n",
                                  0600);
    struct collected c = {.n = 0};
    struct rd_errbuf err = {{0}};
    assert_int_equal(relay_sources_load(path, collect, &c, &err), RD_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.src[0].id, "lobby");
    assert_string_equal(c.src[0].url, "rtsp://10.0.0.7:554/Streaming/Channels/101");
    assert_string_equal(c.src[0].user, "viewer");
    assert_string_equal(c.src[0].password, "s3cret");
    assert_int_equal(c.src[0].transport, CAMERA_TRANSPORT_TCP);
    assert_true(c.src[0].enabled);
    assert_false(c.src[0].always_on);
    assert_string_equal(c.src[1].id, "dock");
    assert_int_equal(c.src[1].transport, CAMERA_TRANSPORT_UDP);
    assert_true(c.src[1].always_on);
    assert_false(c.src[2].enabled);
    /* Check only (fn NULL): same answer, nothing applied. */
    assert_int_equal(relay_sources_load(path, NULL, NULL, &err), RD_OK);
}

static void
test_sources_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"lobby\n", "expected"},
        {"lob/by rtsp://h/x\n", "camera id"},
        {"lobby http://h/x\n", "bad url"},
        {"lobby rtsp://u:p@h/x\n", "user= and password="},
        {"lobby rtsp://h/x transport=sctp\n", "transport"},
        {"lobby rtsp://h/x password=p\n", "without user"},
        {"lobby rtsp://h/x colour=red\n", "unknown option"},
        {"a rtsp://h/x\nb rtsp://h/y\na rtsp://h/z\n", "line 3: camera a listed twice"},
        {"a rtsp://h/x\x01\n", "control character"},
    };
    struct rd_errbuf err = {{0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *path = write_file("bad", bad[i].text, 0600);
        struct collected c = {.n = 0};
        assert_int_equal(relay_sources_load(path, collect, &c, &err), RD_EPROTO);
        assert_int_equal(c.n, 0); /* nothing applied */
        if (strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: \"%s\" does not mention \"%s\"", i, err.msg, bad[i].msg);
        assert_null(strstr(err.msg, "rtsp://u:p@")); /* never echoes credentials */
    }
    /* A sources file holds passwords: readable by others is refused. */
    const char *open_file = write_file("open", "a rtsp://h/x\n", 0644);
    struct collected c = {.n = 0};
    assert_int_equal(relay_sources_load(open_file, collect, &c, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "chmod 600"));
    /* Longer than the cap: refused, never cut. */
    char *big = malloc(RD_SOURCES_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, '#', RD_SOURCES_FILE_MAX + 1);
    big[RD_SOURCES_FILE_MAX + 1] = '\0';
    const char *big_file = write_file("big", big, 0600);
    free(big);
    assert_int_equal(relay_sources_load(big_file, collect, &c, &err), RD_ELIMIT);
}

static void
test_secret_file(void **state)
{
    (void)state;
    char out[16];
    size_t len;
    struct rd_errbuf err = {{0}};
    assert_int_equal(
        secret_file_read("x", write_file("s1", "abc \r\n\n", 0600), out, sizeof(out), &len, &err),
        RD_OK);
    assert_int_equal(len, 3);
    assert_string_equal(out, "abc");
    /* Exactly cap - 1 bytes fit; cap bytes do not. */
    assert_int_equal(secret_file_read("x", write_file("s2", "0123456789abcde", 0600), out,
                                      sizeof(out), &len, &err),
                     RD_OK);
    assert_int_equal(len, 15);
    assert_int_equal(secret_file_read("x", write_file("s3", "0123456789abcdef", 0600), out,
                                      sizeof(out), &len, &err),
                     RD_ELIMIT);
    assert_int_equal(len, 0);
    assert_int_equal(
        secret_file_read("x", write_file("s4", "abc", 0640), out, sizeof(out), &len, &err),
        RD_EPROTO);
    assert_int_equal(secret_file_read("x", g_dir, out, sizeof(out), &len, &err), RD_EIO);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_checks, setup, teardown),
        cmocka_unit_test(test_udp_ports_text),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sources_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sources_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_file, setup, teardown),
    };
    return rd_test_run(argc, argv, "relay_conf", tests, sizeof(tests) / sizeof(tests[0]));
}
