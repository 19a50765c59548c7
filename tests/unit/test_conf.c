/* SPDX-License-Identifier: MIT */
/* conf.c over a sample table: defaults, a good file (comments, quotes, CRLF), every error
 * kind naming file:line and key, bounds at both ends, overrides, print/reload round trip. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "rd_err.h"

struct tconf {
    char name[16];
    char dir[64];
    int64_t offset;
    uint64_t max_conns;
    bool verbose;
    int level;
    struct conf_listen listen;
    char note[RD_CONF_MAX_VALUE + 8];
};

static const char *const levels[] = {"err", "warn", "info", NULL};

static const struct conf_item items[] = {
    CONF_STRING_ITEM(struct tconf, name, 1, "broker", "instance name"),
    CONF_PATH_ITEM(struct tconf, dir, 0, "/var/lib/rd", "state directory"),
    CONF_INT_ITEM(struct tconf, offset, -100, 100, "0", "a signed knob"),
    CONF_UINT_ITEM(struct tconf, max_conns, 1, 20000, "10000", "connections at most"),
    CONF_BOOL_ITEM(struct tconf, verbose, "no", "chatty"),
    CONF_ENUM_ITEM(struct tconf, level, levels, "info", "log level"),
    CONF_LISTEN_ITEM(struct tconf, listen, 1, 65535, "0.0.0.0:8554", "RTSP listen address"),
    CONF_STRING_ITEM(struct tconf, note, 0, "", "free text"),
};

static const struct conf_table table = CONF_TABLE(items);

static void
load_defaults(struct tconf *c)
{
    struct rd_errbuf err = {""};
    memset(c, 0, sizeof(*c));
    assert_int_equal(conf_defaults(&table, c, &err), RD_OK);
}

static void
test_defaults(void **state)
{
    (void)state;
    struct tconf c;
    load_defaults(&c);
    assert_string_equal(c.name, "broker");
    assert_string_equal(c.dir, "/var/lib/rd");
    assert_int_equal(c.offset, 0);
    assert_int_equal(c.max_conns, 10000);
    assert_false(c.verbose);
    assert_int_equal(c.level, 2);
    assert_string_equal(c.listen.host, "0.0.0.0");
    assert_int_equal(c.listen.port, 8554);
    assert_string_equal(c.note, "");
}

static void
test_good_file(void **state)
{
    (void)state;
    static const char text[] = "# sample\n"
                               "\n"
                               "   # indented comment\n"
                               "name = relay-1   # trailing comment\n"
                               "dir\t=\t/srv/rd#1\r\n"
                               "offset = -100\n"
                               "max_conns=20000\n"
                               "verbose = Yes\n"
                               "level = warn\n"
                               "listen = \"[::1]:554\" # quoted\n"
                               "note = \"  keep # this  \"";
    struct tconf c;
    load_defaults(&c);
    struct rd_errbuf err = {""};
    assert_int_equal(conf_load_buffer(&table, &c, text, sizeof(text) - 1, "t.conf", &err), RD_OK);
    assert_string_equal(err.msg, "");
    assert_string_equal(c.name, "relay-1");
    assert_string_equal(c.dir, "/srv/rd#1");
    assert_int_equal(c.offset, -100);
    assert_int_equal(c.max_conns, 20000);
    assert_true(c.verbose);
    assert_int_equal(c.level, 1);
    assert_string_equal(c.listen.host, "::1");
    assert_int_equal(c.listen.port, 554);
    assert_string_equal(c.note, "  keep # this  ");

    /* Values at the other ends of their bounds; an empty value for a min-0 string. */
    static const char text2[] = "offset = 100\nmax_conns = 1\nverbose = off\nnote =\n"
                                "name = 123456789012345\nlisten = 1.2.3.4:65535\n"
                                "dir = # nothing\n";
    assert_int_equal(conf_load_buffer(&table, &c, text2, sizeof(text2) - 1, "t.conf", &err), RD_OK);
    assert_int_equal(c.offset, 100);
    assert_int_equal(c.max_conns, 1);
    assert_false(c.verbose);
    assert_string_equal(c.note, "");
    assert_string_equal(c.name, "123456789012345");
    assert_int_equal(c.listen.port, 65535);
    assert_string_equal(c.dir, "");
    /* An empty file and a file of comments change nothing. */
    assert_int_equal(conf_load_buffer(&table, &c, "", 0, "t.conf", &err), RD_OK);
    assert_int_equal(conf_load_buffer(&table, &c, "#\n\n#x", 5, "t.conf", &err), RD_OK);
}

static void
test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        const char *msg; /* the whole error text */
    } v[] = {
        {"# c\nnmae = x\n", RD_EPROTO, "t.conf:2: nmae: unknown key"},
        {"name = a\n\nname = b\n", RD_EPROTO,
         "t.conf:3: name: duplicate key (first set on line 1)"},
        {"max_conns = abc", RD_EPROTO, "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"max_conns = 0", RD_EPROTO, "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"max_conns = 20001", RD_EPROTO, "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"max_conns = -1", RD_EPROTO, "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"max_conns = +5", RD_EPROTO, "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"max_conns = 5 5", RD_EPROTO, "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"max_conns = 99999999999999999999", RD_EPROTO,
         "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"max_conns =", RD_EPROTO, "t.conf:1: max_conns: expected an integer in 1..20000"},
        {"offset = -101", RD_EPROTO, "t.conf:1: offset: expected an integer in -100..100"},
        {"offset = 101", RD_EPROTO, "t.conf:1: offset: expected an integer in -100..100"},
        {"offset = --1", RD_EPROTO, "t.conf:1: offset: expected an integer in -100..100"},
        {"offset = -", RD_EPROTO, "t.conf:1: offset: expected an integer in -100..100"},
        {"offset = -9223372036854775808", RD_EPROTO,
         "t.conf:1: offset: expected an integer in -100..100"},
        {"verbose = maybe", RD_EPROTO,
         "t.conf:1: verbose: expected true/false, yes/no, on/off, 1/0"},
        {"level = INFO", RD_EPROTO, "t.conf:1: level: unknown value (see --print-config)"},
        {"listen = 1.2.3.4", RD_EPROTO,
         "t.conf:1: listen: expected a numeric \"ipv4:port\" or \"[ipv6]:port\""},
        {"listen = ::1:80", RD_EPROTO,
         "t.conf:1: listen: expected a numeric \"ipv4:port\" or \"[ipv6]:port\""},
        {"listen = host.example:80", RD_EPROTO,
         "t.conf:1: listen: expected a numeric \"ipv4:port\" or \"[ipv6]:port\""},
        {"listen = 1.2.3.4:65536", RD_EPROTO,
         "t.conf:1: listen: expected a numeric \"ipv4:port\" or \"[ipv6]:port\""},
        {"listen = [::1]:0", RD_EPROTO, "t.conf:1: listen: port out of range 1..65535"},
        {"name = 1234567890123456", RD_ELIMIT, "t.conf:1: name: value longer than 15 bytes"},
        {"name =", RD_EPROTO, "t.conf:1: name: value shorter than 1 bytes"},
        {"name = \"\"", RD_EPROTO, "t.conf:1: name: value shorter than 1 bytes"},
        {"name = a\x01", RD_EPROTO, "t.conf:1: name: control character in value"},
        {"dir = var/lib", RD_EPROTO, "t.conf:1: dir: expected an absolute path"},
        {"name x", RD_EPROTO, "t.conf:1: name: expected '=' after the key"},
        {"name", RD_EPROTO, "t.conf:1: name: expected '=' after the key"},
        {"= x", RD_EPROTO, "t.conf:1: expected \"key = value\""},
        {"Name = x", RD_EPROTO, "t.conf:1: expected \"key = value\""},
        {"name-x = x", RD_EPROTO, "t.conf:1: name: expected '=' after the key"},
        {"name = \"abc", RD_EPROTO, "t.conf:1: name: unterminated quote"},
        {"name = \"abc\" d", RD_EPROTO, "t.conf:1: name: text after the closing quote"},
        {"name = \"a\"b\"", RD_EPROTO, "t.conf:1: name: text after the closing quote"},
        {"\n\n\nname = x\n\x01", RD_EPROTO, "t.conf:5: expected \"key = value\""},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct tconf c;
        load_defaults(&c);
        struct rd_errbuf err = {""};
        int rc = conf_load_buffer(&table, &c, v[i].text, strlen(v[i].text), "t.conf", &err);
        if (rc != v[i].rc || strcmp(err.msg, v[i].msg) != 0)
            fail_msg("case %zu (%s): rc %d, error \"%s\"", i, v[i].text, rc, err.msg);
    }
}

static void
test_limits(void **state)
{
    (void)state;
    static char text[4 * RD_CONF_MAX_LINE];
    struct tconf c;
    struct rd_errbuf err;
    load_defaults(&c);

    /* A comment line of exactly RD_CONF_MAX_LINE bytes (CRLF not counted) is fine. */
    memset(text, 'c', RD_CONF_MAX_LINE);
    text[0] = '#';
    memcpy(text + RD_CONF_MAX_LINE, "\r\nname = ok\n", 12);
    assert_int_equal(conf_load_buffer(&table, &c, text, strlen(text), "t.conf", &err), RD_OK);
    assert_string_equal(c.name, "ok");
    /* One byte more is an error naming the line. */
    memset(text, 'c', RD_CONF_MAX_LINE + 1);
    text[0] = '#';
    memcpy(text + RD_CONF_MAX_LINE + 1, "\n", 2);
    char want[128];
    snprintf(want, sizeof(want), "t.conf:1: line longer than %d bytes", RD_CONF_MAX_LINE);
    assert_int_equal(conf_load_buffer(&table, &c, text, strlen(text), "t.conf", &err), RD_ELIMIT);
    assert_string_equal(err.msg, want);

    /* Values: RD_CONF_MAX_VALUE bytes fit the note field, one more does not. */
    int n = snprintf(text, sizeof(text), "note = %0*d\n", RD_CONF_MAX_VALUE, 7);
    assert_int_equal(conf_load_buffer(&table, &c, text, (size_t)n, "t.conf", &err), RD_OK);
    assert_int_equal(strlen(c.note), RD_CONF_MAX_VALUE);
    n = snprintf(text, sizeof(text), "note = %0*d\n", RD_CONF_MAX_VALUE + 1, 7);
    assert_int_equal(conf_load_buffer(&table, &c, text, (size_t)n, "t.conf", &err), RD_ELIMIT);
    snprintf(want, sizeof(want), "t.conf:1: note: value longer than %d bytes", RD_CONF_MAX_VALUE);
    assert_string_equal(err.msg, want);

    /* Keys: RD_CONF_MAX_KEY characters are parsed (and unknown), one more is too long. */
    memset(text, 'k', RD_CONF_MAX_KEY);
    memcpy(text + RD_CONF_MAX_KEY, " = 1", 5);
    assert_int_equal(conf_load_buffer(&table, &c, text, strlen(text), "t.conf", &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "unknown key"));
    memset(text, 'k', RD_CONF_MAX_KEY + 1);
    memcpy(text + RD_CONF_MAX_KEY + 1, " = 1", 5);
    assert_int_equal(conf_load_buffer(&table, &c, text, strlen(text), "t.conf", &err), RD_ELIMIT);
    snprintf(want, sizeof(want), "t.conf:1: key longer than %d bytes", RD_CONF_MAX_KEY);
    assert_string_equal(err.msg, want);

    /* NUL bytes are refused, also inside a comment. */
    static const char nul[] = "name = a\n# x\0y\n";
    assert_int_equal(conf_load_buffer(&table, &c, nul, sizeof(nul) - 1, "t.conf", &err), RD_EPROTO);
    assert_string_equal(err.msg, "t.conf:2: NUL byte in line");
}

static void
test_overrides(void **state)
{
    (void)state;
    struct tconf c;
    struct rd_errbuf err = {""};
    load_defaults(&c);
    assert_int_equal(conf_apply_override(&table, &c, "max_conns=5", &err), RD_OK);
    assert_int_equal(c.max_conns, 5);
    assert_int_equal(conf_apply_override(&table, &c, "max_conns = 6", &err), RD_OK);
    assert_int_equal(c.max_conns, 6); /* a later override wins */
    assert_int_equal(conf_apply_override(&table, &c, "name=\"a b\"", &err), RD_OK);
    assert_string_equal(c.name, "a b");
    assert_int_equal(conf_apply_override(&table, &c, "max_conns=0", &err), RD_EPROTO);
    assert_string_equal(err.msg, "-o: max_conns: expected an integer in 1..20000");
    assert_int_equal(c.max_conns, 6);
    assert_int_equal(conf_apply_override(&table, &c, "nope=1", &err), RD_EPROTO);
    assert_string_equal(err.msg, "-o: nope: unknown key");
    assert_int_equal(conf_apply_override(&table, &c, "name=a\nmax_conns=1", &err), RD_EPROTO);
    assert_string_equal(err.msg, "-o: newline in override");
    assert_int_equal(conf_apply_override(&table, &c, "listen", &err), RD_EPROTO);
    assert_string_equal(err.msg, "-o: listen: expected '=' after the key");
}

static void
test_listen_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        const char *host;
        unsigned port;
    } v[] = {
        {"0.0.0.0:8554", RD_OK, "0.0.0.0", 8554},
        {"127.0.0.1:0", RD_OK, "127.0.0.1", 0},
        {"[::]:554", RD_OK, "::", 554},
        {"[2001:db8::1]:65535", RD_OK, "2001:db8::1", 65535},
        {"[::ffff:1.2.3.4]:1", RD_OK, "::ffff:1.2.3.4", 1},
        {"[0000:0000:0000:0000:0000:0000:0000:0001]:1", RD_OK,
         "0000:0000:0000:0000:0000:0000:0000:0001", 1},
        {"[0000:0000:0000:0000:0000:0000:0000:00001]:1", RD_EPROTO, NULL, 0},
        /* 46 characters: more than any IPv6 text (INET6_ADDRSTRLEN - 1) */
        {"[0000:0000:0000:0000:0000:0000:255.255.255.2555]:1", RD_ELIMIT, NULL, 0},
        {"1.2.3.4:", RD_EPROTO, NULL, 0},
        {":80", RD_EPROTO, NULL, 0},
        {"1.2.3:80", RD_EPROTO, NULL, 0},
        {"1.2.3.4:080a", RD_EPROTO, NULL, 0},
        {"1.2.3.4:123456", RD_EPROTO, NULL, 0},
        {"[::1]80", RD_EPROTO, NULL, 0},
        {"[::1]:", RD_EPROTO, NULL, 0},
        {"[::1:80", RD_EPROTO, NULL, 0},
        {"[1.2.3.4]:80", RD_EPROTO, NULL, 0},
        {"[]:80", RD_EPROTO, NULL, 0},
        {"[fe80::1%eth0]:80", RD_EPROTO, NULL, 0},
        {"localhost:80", RD_EPROTO, NULL, 0},
        {"", RD_EPROTO, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct conf_listen l;
        int rc = conf_parse_listen(rd_str_cstr(v[i].in), &l);
        if (rc != v[i].rc)
            fail_msg("case %s: rc %d", v[i].in, rc);
        if (rc == RD_OK) {
            assert_string_equal(l.host, v[i].host);
            assert_int_equal(l.port, v[i].port);
        }
    }
}

static void
expect_same(const struct tconf *a, const struct tconf *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->dir, b->dir);
    assert_int_equal(a->offset, b->offset);
    assert_int_equal(a->max_conns, b->max_conns);
    assert_int_equal(a->verbose, b->verbose);
    assert_int_equal(a->level, b->level);
    assert_string_equal(a->listen.host, b->listen.host);
    assert_int_equal(a->listen.port, b->listen.port);
    assert_string_equal(a->note, b->note);
}

static void
test_print_round_trip(void **state)
{
    (void)state;
    static const char *const notes[] = {"",    " lead", "trail ",    "a #b", "#x",
                                        "a#b", "x\"y",  "tab\there", "plain"};
    for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
        struct tconf a, b;
        struct rd_errbuf err = {""};
        load_defaults(&a);
        memcpy(a.note, notes[i], strlen(notes[i]) + 1);
        a.offset = -42;
        a.verbose = true;
        a.level = 0;
        memcpy(a.listen.host, "::1", 4);
        char *out = NULL;
        size_t out_len = 0;
        FILE *f = open_memstream(&out, &out_len);
        assert_non_null(f);
        assert_int_equal(conf_print(&table, &a, f), RD_OK);
        fclose(f);
        load_defaults(&b);
        int rc = conf_load_buffer(&table, &b, out, out_len, "printed", &err);
        if (rc != RD_OK)
            fail_msg("note \"%s\": %s\n%s", notes[i], err.msg, out);
        expect_same(&a, &b);
        if (i == 0) {
            assert_non_null(strstr(out, "# connections at most (default: 10000)\nmax_conns = "
                                        "10000\n"));
            assert_non_null(strstr(out, "listen = [::1]:8554\n"));
            assert_non_null(strstr(out, "note = \"\"\n"));
        }
        free(out);
    }
}

static void
test_files(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/rd_test_conf.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "name = fromfile\r\n# c\nmax_conns = 77"; /* no final newline */
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    struct tconf c;
    struct rd_errbuf err = {""};
    load_defaults(&c);
    assert_int_equal(conf_load_file(&table, &c, path, &err), RD_OK);
    assert_string_equal(c.name, "fromfile");
    assert_int_equal(c.max_conns, 77);

    /* Errors name the path and line; over-long lines are caught while reading. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name = x\n\n");
    for (int i = 0; i < RD_CONF_MAX_LINE + 1; i++)
        fputc('#', f);
    fputc('\n', f);
    fclose(f);
    char want[160];
    assert_int_equal(conf_load_file(&table, &c, path, &err), RD_ELIMIT);
    snprintf(want, sizeof(want), "%s:3: line longer than %d bytes", path, RD_CONF_MAX_LINE);
    assert_string_equal(err.msg, want);

    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name = x\nlevel = loud\n");
    fclose(f);
    assert_int_equal(conf_load_file(&table, &c, path, &err), RD_EPROTO);
    snprintf(want, sizeof(want), "%s:2: level: unknown value (see --print-config)", path);
    assert_string_equal(err.msg, want);

    f = fopen(path, "w");
    assert_non_null(f);
    fwrite("name = a\0b\n", 1, 11, f);
    fclose(f);
    assert_int_equal(conf_load_file(&table, &c, path, &err), RD_EPROTO);
    snprintf(want, sizeof(want), "%s:1: NUL byte in line", path);
    assert_string_equal(err.msg, want);

    unlink(path);
    assert_int_equal(conf_load_file(&table, &c, path, &err), RD_EIO);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(conf_load_file(&table, &c, "/", &err), RD_EIO);
    assert_string_equal(err.msg, "/: read error");
}

struct bad {
    uint64_t a;
    uint64_t b;
    int e;
};

static void
test_bad_tables(void **state)
{
    (void)state;
    struct bad c;
    struct rd_errbuf err = {""};
    static const struct conf_item dup[] = {
        CONF_UINT_ITEM(struct bad, a, 0, 10, "1", "a"),
        {"a", CONF_UINT, offsetof(struct bad, b), sizeof(uint64_t), 0, 10, "1", "b", NULL},
    };
    struct conf_table t1 = CONF_TABLE(dup);
    assert_int_equal(conf_defaults(&t1, &c, &err), RD_EPROTO);
    assert_string_equal(err.msg, "default: a: key listed twice in the table");
    static const struct conf_item bad_default[] = {
        CONF_UINT_ITEM(struct bad, a, 0, 10, "11", "a"),
    };
    struct conf_table t2 = CONF_TABLE(bad_default);
    assert_int_equal(conf_defaults(&t2, &c, &err), RD_EPROTO);
    assert_string_equal(err.msg, "default: a: expected an integer in 0..10");
    static const struct conf_item no_names[] = {
        {"e", CONF_ENUM, offsetof(struct bad, e), sizeof(int), 0, 0, "x", "e", NULL},
    };
    struct conf_table t3 = CONF_TABLE(no_names);
    assert_int_equal(conf_defaults(&t3, &c, &err), RD_EPROTO);
    assert_string_equal(err.msg, "default: e: enum without names in the table");
    static const struct conf_item bad_name[] = {
        {"A", CONF_UINT, offsetof(struct bad, a), sizeof(uint64_t), 0, 10, "1", "a", NULL},
    };
    struct conf_table t4 = CONF_TABLE(bad_name);
    assert_int_equal(conf_defaults(&t4, &c, &err), RD_EPROTO);
}

static void
test_errbuf_marks_cuts(void **state)
{
    (void)state;
    /* A long file name cannot push the reason out silently: the cut ends with "...". */
    char name[400];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    struct tconf c;
    struct rd_errbuf err;
    load_defaults(&c);
    assert_int_equal(conf_load_buffer(&table, &c, "x = 1", 5, name, &err), RD_EPROTO);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    assert_string_equal(err.msg + sizeof(err.msg) - 4, "...");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),         cmocka_unit_test(test_good_file),
    cmocka_unit_test(test_errors),           cmocka_unit_test(test_limits),
    cmocka_unit_test(test_overrides),        cmocka_unit_test(test_listen_parse),
    cmocka_unit_test(test_print_round_trip), cmocka_unit_test(test_files),
    cmocka_unit_test(test_bad_tables),       cmocka_unit_test(test_errbuf_marks_cuts),
};

RD_TEST_MAIN(tests)
