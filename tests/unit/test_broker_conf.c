/* SPDX-License-Identifier: MIT */
/* broker_conf.c: defaults of ARCHITECTURE.md §5, bounds of every key, the checks across keys
 * (admin beyond loopback needs a token, realm charset, public_names) and a print/load round
 * trip. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <stdlib.h>

#include "broker_conf.h"
#include "log.h"
#include "rd_err.h"

static void
test_defaults(void **state)
{
    (void)state;
    struct broker_conf c;
    struct rd_errbuf err = {{0}};
    assert_int_equal(broker_conf_defaults(&c, &err), RD_OK);
    assert_string_equal(c.database, "./registry.db");
    assert_string_equal(c.rtsp_listen.host, "0.0.0.0");
    assert_int_equal(c.rtsp_listen.port, 8554);
    assert_string_equal(c.admin_listen.host, "127.0.0.1");
    assert_int_equal(c.admin_listen.port, 8080);
    assert_string_equal(c.admin_token_file, "");
    assert_string_equal(c.log_file, "");
    assert_int_equal(c.log_level, RD_LOG_INFO);
    assert_string_equal(c.realm, "rtsp-director");
    assert_int_equal(c.token_ttl_s, 60);
    assert_false(c.token_bind_ip);
    assert_int_equal(c.heartbeat_interval_ms, 1000);
    assert_int_equal(c.unhealthy_after, 3);
    assert_int_equal(c.healthy_after, 2);
    assert_int_equal(c.retry_after_s, 5);
    assert_int_equal(c.max_conns, RD_BROKER_MAX_CONNS);
    assert_int_equal(c.max_conns_per_ip, RD_BROKER_MAX_CONNS_PER_IP);
    assert_int_equal(c.idle_s, RD_IDLE_BROKER_S);
    assert_string_equal(c.public_names, "");
    assert_int_equal(broker_conf_check(&c, &err), RD_OK);
}

struct conf_case {
    const char *text;
    int rc;
    const char *err_has; /* substring of the error, NULL when ok */
};

static void
test_file_values(void **state)
{
    (void)state;
    static const struct conf_case cases[] = {
        {"token_ttl_s = 300\n", RD_OK, NULL},
        {"token_ttl_s = 301\n", RD_EPROTO, "token_ttl_s"},
        {"token_ttl_s = 0\n", RD_EPROTO, "token_ttl_s"},
        {"max_conns = 20001\n", RD_EPROTO, "max_conns"},
        {"max_conns_per_ip = 101\n", RD_EPROTO, "max_conns_per_ip"},
        {"idle_s = 11\n", RD_EPROTO, "idle_s"},
        {"heartbeat_interval_ms = 99\n", RD_EPROTO, "heartbeat_interval_ms"},
        {"log_level = chatty\n", RD_EPROTO, "log_level"},
        {"log_level = debug\n", RD_OK, NULL},
        {"rtsp_listen = [::1]:554\n", RD_OK, NULL},
        {"rtsp_listen = localhost:554\n", RD_EPROTO, "rtsp_listen"},
        {"log_file = relative.log\n", RD_EPROTO, "log_file"},
        {"database = relative/registry.db\n", RD_OK, NULL},
        {"database =\n", RD_EPROTO, "database"},
        {"token_bind_ip = yes\n", RD_OK, NULL},
        {"# comment\n\nrealm = \"Acme Cameras\"\n", RD_OK, NULL},
        {"no_such_key = 1\n", RD_EPROTO, "no_such_key"},
        {"realm = a\nrealm = b\n", RD_EPROTO, ":2:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct broker_conf c;
        struct rd_errbuf err = {{0}};
        assert_int_equal(broker_conf_defaults(&c, &err), RD_OK);
        int rc = conf_load_buffer(&broker_conf_table, &c, cases[i].text, strlen(cases[i].text),
                                  "broker.conf", &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): rc %d, %s", i, cases[i].text, rc, err.msg);
        if (cases[i].err_has != NULL && strstr(err.msg, cases[i].err_has) == NULL)
            fail_msg("case %zu: error '%s' lacks '%s'", i, err.msg, cases[i].err_has);
    }
}

static void
test_cross_checks(void **state)
{
    (void)state;
    struct broker_conf c;
    struct rd_errbuf err = {{0}};
    assert_int_equal(broker_conf_defaults(&c, &err), RD_OK);
    /* Admin beyond loopback needs a token file. */
    assert_int_equal(conf_apply_override(&broker_conf_table, &c, "admin_listen=0.0.0.0:8080", &err),
                     RD_OK);
    assert_int_equal(broker_conf_check(&c, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "admin_token_file"));
    assert_int_equal(conf_apply_override(&broker_conf_table, &c,
                                         "admin_token_file=/etc/rtsp-director/admin.token", &err),
                     RD_OK);
    assert_int_equal(broker_conf_check(&c, &err), RD_OK);
    assert_int_equal(conf_apply_override(&broker_conf_table, &c, "admin_listen=[::1]:8080", &err),
                     RD_OK);
    c.admin_token_file[0] = '\0';
    assert_int_equal(broker_conf_check(&c, &err), RD_OK);
    assert_true(broker_conf_is_loopback("127.0.0.1"));
    assert_true(broker_conf_is_loopback("127.8.9.10"));
    assert_true(broker_conf_is_loopback("::1"));
    assert_false(broker_conf_is_loopback("::"));
    assert_false(broker_conf_is_loopback("10.0.0.1"));
    assert_false(broker_conf_is_loopback("1270.0.0.1"));
    /* Users' realms cannot hold quotes or backslashes; neither can ours. */
    assert_int_equal(conf_apply_override(&broker_conf_table, &c, "realm=a\"b", &err), RD_OK);
    assert_int_equal(broker_conf_check(&c, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "realm"));
}

struct names {
    char got[8][300];
    unsigned ports[8];
    unsigned n;
};

static int
collect(void *ctx, const char *host, unsigned port)
{
    struct names *n = ctx;
    if (n->n == 8)
        return RD_ELIMIT;
    snprintf(n->got[n->n], sizeof(n->got[0]), "%s", host);
    n->ports[n->n++] = port;
    return RD_OK;
}

static void
test_public_names(void **state)
{
    (void)state;
    struct names n = {0};
    struct rd_errbuf err = {{0}};
    assert_int_equal(broker_conf_public_names(" rtsp.example.com, 192.0.2.1:554 ,[2001:db8::5],"
                                              "[::1]:9000",
                                              8554, collect, &n, &err),
                     RD_OK);
    assert_int_equal(n.n, 4);
    assert_string_equal(n.got[0], "rtsp.example.com");
    assert_int_equal(n.ports[0], 8554);
    assert_string_equal(n.got[1], "192.0.2.1");
    assert_int_equal(n.ports[1], 554);
    assert_string_equal(n.got[2], "2001:db8::5");
    assert_int_equal(n.ports[2], 8554);
    assert_string_equal(n.got[3], "::1");
    assert_int_equal(n.ports[3], 9000);
    assert_int_equal(broker_conf_public_names("", 1, collect, &n, &err), RD_OK);
    assert_int_equal(broker_conf_public_names("   ", 1, collect, &n, &err), RD_OK);
    static const char *const bad[] = {
        "a,,b", "host:",  "host:0",   "host:65536", "host:x",    "2001:db8::1",
        "[::1", "[::1]x", "bad host", "h\"q",       "a,b:99999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (broker_conf_public_names(bad[i], 554, NULL, NULL, &err) != RD_EPROTO)
            fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(err.msg, "public_names"));
    }
    /* The callback's refusal stops the walk and is returned. */
    struct names full = {.n = 8};
    assert_int_equal(broker_conf_public_names("a,b", 1, collect, &full, &err), RD_ELIMIT);
    /* broker_conf_check applies the same parser. */
    struct broker_conf c;
    assert_int_equal(broker_conf_defaults(&c, &err), RD_OK);
    snprintf(c.public_names, sizeof(c.public_names), "ok.example,bad host");
    assert_int_equal(broker_conf_check(&c, &err), RD_EPROTO);
}

static void
test_print_round_trip(void **state)
{
    (void)state;
    struct broker_conf c, back;
    struct rd_errbuf err = {{0}};
    assert_int_equal(broker_conf_defaults(&c, &err), RD_OK);
    assert_int_equal(conf_apply_override(&broker_conf_table, &c, "public_names=a.example:1", &err),
                     RD_OK);
    assert_int_equal(conf_apply_override(&broker_conf_table, &c, "token_bind_ip=on", &err), RD_OK);
    assert_int_equal(conf_apply_override(&broker_conf_table, &c, "retry_after_s=30", &err), RD_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    assert_int_equal(conf_print(&broker_conf_table, &c, mem), RD_OK);
    fclose(mem);
    assert_int_equal(broker_conf_defaults(&back, &err), RD_OK);
    assert_int_equal(conf_load_buffer(&broker_conf_table, &back, text, len, "printed", &err),
                     RD_OK);
    assert_true(back.token_bind_ip);
    assert_int_equal(back.retry_after_s, 30);
    assert_string_equal(back.public_names, "a.example:1");
    free(text);
    /* Every other key is back to the same value (compared field by field: padding differs). */
    assert_string_equal(back.database, c.database);
    assert_string_equal(back.rtsp_listen.host, c.rtsp_listen.host);
    assert_int_equal(back.rtsp_listen.port, c.rtsp_listen.port);
    assert_string_equal(back.admin_listen.host, c.admin_listen.host);
    assert_int_equal(back.admin_listen.port, c.admin_listen.port);
    assert_string_equal(back.admin_token_file, c.admin_token_file);
    assert_string_equal(back.log_file, c.log_file);
    assert_int_equal(back.log_level, c.log_level);
    assert_string_equal(back.realm, c.realm);
    assert_int_equal(back.token_ttl_s, c.token_ttl_s);
    assert_int_equal(back.heartbeat_interval_ms, c.heartbeat_interval_ms);
    assert_int_equal(back.unhealthy_after, c.unhealthy_after);
    assert_int_equal(back.healthy_after, c.healthy_after);
    assert_int_equal(back.max_conns, c.max_conns);
    assert_int_equal(back.max_conns_per_ip, c.max_conns_per_ip);
    assert_int_equal(back.idle_s, c.idle_s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),         cmocka_unit_test(test_file_values),
    cmocka_unit_test(test_cross_checks),     cmocka_unit_test(test_public_names),
    cmocka_unit_test(test_print_round_trip),
};

RD_TEST_MAIN(tests)
