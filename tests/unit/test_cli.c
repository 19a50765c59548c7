/* SPDX-License-Identifier: MIT */
/* broker/cli.c driven through cli_main() on a temporary registry: every subcommand, tables
 * and --json (parsed back), usage errors (exit 2), failures (exit 1), passwords from stdin,
 * relay keys printed once, key rotation, and secrets that must never be printed. */
#define _POSIX_C_SOURCE 200809L

#include "rd_test.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The test holds the write lock with its own connection, as another process would. */
#include <sqlite3.h>

#include "cli.h"
#include "crypto.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "registry.h"
#include "url_token.h"

#define REALM "rtsp-director"

/* ---- Fixture and runner ------------------------------------------------------------------ */

struct fx {
    char path[64];
    struct broker_conf conf;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "/tmp/rd_cli_XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    close(fd);
    snprintf(f->conf.database, sizeof f->conf.database, "%s", f->path);
    snprintf(f->conf.realm, sizeof f->conf.realm, "%s", REALM);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[96];
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    free(f);
    return 0;
}

/* Output of the last run. */
static char out_s[65536];
static char err_s[16384];

static void
slurp(FILE *f, char *buf, size_t cap)
{
    assert_int_equal(fflush(f), 0);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    assert_true(n < cap - 1); /* the buffer was big enough */
    buf[n] = '\0';
}

#define MAX_ARGS 40
static char arg_store[MAX_ARGS][2048];

/* Runs cli_main(conf, argv...) with stdin holding stdin_data[0..stdin_len) and returns the
 * exit code; out_s and err_s get what it printed. The argument list ends with NULL. */
static int
run_conf(const struct broker_conf *conf, const char *stdin_data, size_t stdin_len, const char *arg0,
         va_list ap)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (const char *a = arg0; a != NULL; a = va_arg(ap, const char *)) {
        assert_true(argc < MAX_ARGS);
        assert_true(strlen(a) < sizeof arg_store[0]);
        snprintf(arg_store[argc], sizeof arg_store[0], "%s", a);
        argv[argc] = arg_store[argc];
        argc++;
    }
    argv[argc] = NULL;
    FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(err);
    if (stdin_len > 0)
        assert_int_equal(fwrite(stdin_data, 1, stdin_len, in), stdin_len);
    rewind(in);
    int rc = cli_main(conf, argc, argv, in, out, err);
    slurp(out, out_s, sizeof out_s);
    slurp(err, err_s, sizeof err_s);
    fclose(in);
    fclose(out);
    fclose(err);
    return rc;
}

static int
run_in(struct fx *f, const char *stdin_data, size_t stdin_len, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    int rc = run_conf(&f->conf, stdin_data, stdin_len, arg0, ap);
    va_end(ap);
    return rc;
}

/* With another configuration (realm, database). */
static int
run_conf_in(const struct broker_conf *conf, const char *stdin_text, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    int rc = run_conf(conf, stdin_text, stdin_text != NULL ? strlen(stdin_text) : 0, arg0, ap);
    va_end(ap);
    return rc;
}

#define run_with(conf, text, ...) run_conf_in((conf), (text), __VA_ARGS__, NULL)
#define run(f, ...)               run_in((f), NULL, 0, __VA_ARGS__, NULL)
#define run_stdin(f, text, ...)   run_in((f), (text), strlen(text), __VA_ARGS__, NULL)
/* stdin with arbitrary bytes (NUL included): a string literal, its size minus the final NUL */
#define run_bytes(f, lit, ...) run_in((f), (lit), sizeof(lit) - 1, __VA_ARGS__, NULL)

/* Asserts a run's exit code and that err contains want (NULL: err is empty). */
#define expect(rc_expr, want_rc, want_err)                                                         \
    do {                                                                                           \
        int rc_ = (rc_expr);                                                                       \
        if (rc_ != (want_rc))                                                                      \
            fail_msg("exit %d, wanted %d; err: %s; out: %s", rc_, (want_rc), err_s, out_s);        \
        const char *w_ = (want_err);                                                               \
        if (w_ == NULL && err_s[0] != '\0')                                                        \
            fail_msg("unexpected stderr: %s", err_s);                                              \
        if (w_ != NULL && strstr(err_s, w_) == NULL)                                               \
            fail_msg("stderr lacks \"%s\": %s", w_, err_s);                                        \
    } while (0)

static bool
contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static size_t
count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Parses out_s as JSON (the caller json_decref()s it). */
static json_t *
out_json(void)
{
    json_error_t e;
    json_t *j = json_loads(out_s, 0, &e);
    if (j == NULL)
        fail_msg("bad JSON (%s, line %d): %s", e.text, e.line, out_s);
    return j;
}

static const char *
jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("JSON key %s is not a string", key);
    return json_string_value(v);
}

static json_int_t
jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("JSON key %s is not an integer", key);
    return json_integer_value(v);
}

static bool
jbool(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v))
        fail_msg("JSON key %s is not a boolean", key);
    return json_is_true(v);
}

/* The element of a JSON array whose "id" (or key) is id. */
static json_t *
jfind(json_t *arr, const char *key, const char *id)
{
    assert_true(json_is_array(arr));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        if (strcmp(jstr(o, key), id) == 0)
            return o;
    }
    fail_msg("no element with %s = %s", key, id);
    return NULL;
}

static struct registry *
reg_open(struct fx *f)
{
    struct registry *reg = NULL;
    char err[256];
    if (registry_open(f->path, &reg, err, sizeof err) != RD_OK)
        fail_msg("registry_open: %s", err);
    return reg;
}

/* Live state as the daemon's flush writes it: pairs (and a load sample per relay). */
static void
flush_pairs(struct fx *f, const struct reg_pair *pairs, size_t n, const struct reg_load *loads,
            size_t n_loads)
{
    struct registry *reg = reg_open(f);
    struct registry_load_batch b = {.now = (int64_t)time(NULL),
                                    .pairs = pairs,
                                    .n_pairs = n,
                                    .loads = loads,
                                    .n_loads = n_loads,
                                    .take_sample = n_loads > 0};
    assert_int_equal(registry_flush_load(reg, &b), RD_OK);
    registry_close(reg);
}

/* The line of out_s that starts with prefix (copied into line[cap]). */
static bool
line_starting(const char *text, const char *prefix, char *line, size_t cap)
{
    for (const char *p = text; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            if (len >= cap)
                return false;
            memcpy(line, p, len);
            line[len] = '\0';
            return true;
        }
        p += len + (p[len] == '\n');
    }
    return false;
}

/* Adds the sites, cameras and relays most tests start from. */
static void
seed(struct fx *f)
{
    expect(run(f, "site", "add", "hq", "--name", "Head office"), 0, NULL);
    expect(run(f, "camera", "add", "lobby", "rtsp://10.0.0.7:554/Streaming/Channels/101", "--site",
               "hq"),
           0, NULL);
    expect(run(f, "camera", "add", "dock", "rtsp://10.0.0.8/live"), 0, NULL);
    expect(run(f, "relay", "add", "relay-a", "--site", "hq", "--rtsp-url", "rtsp://10.0.1.1:8554"),
           0, NULL);
    expect(run(f, "relay", "add", "relay-b", "--site", "*", "--rtsp-url", "rtsp://10.0.1.2:8554"),
           0, NULL);
}

/* ---- Dispatch, usage and help ------------------------------------------------------------ */

static void
test_is_command(void **state)
{
    (void)state;
    assert_true(cli_is_command("camera"));
    assert_true(cli_is_command("relay"));
    assert_true(cli_is_command("user"));
    assert_true(cli_is_command("site"));
    assert_false(cli_is_command("cameras"));
    assert_false(cli_is_command("run"));
    assert_false(cli_is_command("-t"));
    assert_false(cli_is_command(""));
    assert_false(cli_is_command(NULL));
}

struct usage_case {
    const char *argv[12];
    const char *err; /* expected in stderr */
};

static const struct usage_case usage_cases[] = {
    {{"camera"}, "camera: missing subcommand"},
    {{"camera", "bogus"}, "unknown subcommand 'bogus'"},
    {{"cameras", "list"}, "unknown command 'cameras'"},
    {{"camera", "add"}, "camera add: missing ID"},
    {{"camera", "add", "cam1"}, "camera add: missing URL"},
    {{"camera", "add", "a", "rtsp://h/", "extra"}, "unexpected argument 'extra'"},
    {{"camera", "add", "a", "rtsp://h/", "--bogus"}, "unknown option '--bogus'"},
    {{"camera", "add", "a", "rtsp://h/", "-x"}, "unknown option '-x'"},
    {{"camera", "add", "a", "rtsp://h/", "--capacity", "3"}, "unknown option '--capacity'"},
    {{"camera", "add", "a", "rtsp://h/", "--name"}, "--name needs a value"},
    {{"camera", "add", "a", "rtsp://h/", "--auth=yes"}, "--auth takes no value"},
    {{"camera", "add", "a", "rtsp://h/", "--name", "x", "--name=y"}, "--name given twice"},
    {{"camera", "add", "a", "rtsp://h/", "--max-relays", "abc"},
     "--max-relays must be a whole number from 1 to 64 (got 'abc')"},
    {{"camera", "add", "a", "rtsp://h/", "--max-relays", "0"}, "from 1 to 64 (got '0')"},
    {{"camera", "add", "a", "rtsp://h/", "--max-relays", "65"}, "from 1 to 64 (got '65')"},
    {{"camera", "add", "a", "rtsp://h/", "--max-relays", "-1"}, "--max-relays must be"},
    {{"camera", "add", "a", "rtsp://h/", "--max-relays", ""}, "--max-relays must be"},
    {{"camera", "add", "a", "rtsp://h/", "--max-relays", "99999999999"}, "--max-relays must be"},
    {{"camera", "add", "a", "rtsp://h/", "--max-relays", " 2"}, "--max-relays must be"},
    {{"camera", "add", "a", "rtsp://h/", "--transport", "http"},
     "--transport must be auto, tcp or udp (got 'http')"},
    {{"camera", "add", "a", "rtsp://h/", "--user", ""}, "--user must not be empty"},
    {{"camera", "list", "extra"}, "unexpected argument 'extra'"},
    {{"camera", "list", "--name", "x"}, "unknown option '--name'"},
    {{"camera", "show"}, "camera show: missing ID"},
    {{"camera", "rm"}, "camera rm: missing ID"},
    {{"camera", "enable", "a", "b"}, "unexpected argument 'b'"},
    {{"camera", "disable"}, "missing ID"},
    {{"relay", "add"}, "relay add: missing ID"},
    {{"relay", "add", "r1", "--rtsp-url", "rtsp://h:1"}, "--site is required"},
    {{"relay", "add", "r1", "--site", "default"}, "--rtsp-url is required"},
    {{"relay", "add", "r1", "--site", "default", "--rtsp-url", "rtsp://h:1", "--capacity", "0"},
     "--capacity must be a whole number from 1 to 1000000 (got '0')"},
    {{"relay", "add", "r1", "--site", "default", "--rtsp-url", "rtsp://h:1", "--capacity",
      "1000001"},
     "--capacity must be"},
    {{"relay", "add", "r1", "--site", "default", "--rtsp-url", "rtsp://h:1", "--capacity", "1e3"},
     "--capacity must be"},
    {{"relay", "add", "r1", "--site", "default", "--rtsp-url", "rtsp://h:1", "--egress-mbps",
      "1000001"},
     "--egress-mbps must be a whole number from 1 to 1000000"},
    {{"relay", "add", "r1", "--site", "default", "--rtsp-url", "rtsp://h:1", "--auth"},
     "unknown option '--auth'"},
    {{"relay", "show"}, "missing ID"},
    {{"relay", "rotate-key"}, "relay rotate-key: missing ID"},
    {{"relay", "drain", "a", "b"}, "unexpected argument 'b'"},
    {{"relay", "list", "x"}, "unexpected argument 'x'"},
    {{"user", "add"}, "user add: missing NAME"},
    {{"user", "add", "bob", "--camera"}, "--camera needs a value"},
    {{"user", "grant", "bob"}, "user grant: missing ID"},
    {{"user", "revoke"}, "user revoke: missing NAME"},
    {{"user", "rm"}, "missing NAME"},
    {{"site", "add"}, "site add: missing ID"},
    {{"site", "list", "x"}, "unexpected argument 'x'"},
    {{"site", "rm"}, "missing ID"},
    {{"site", "add", "s", "--site", "x"}, "unknown option '--site'"},
};

static void
test_usage_errors(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        const struct usage_case *uc = &usage_cases[i];
        const char *a[12] = {0};
        memcpy(a, uc->argv, sizeof a);
        int rc = run(f, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]);
        if (rc != 2 || !contains(err_s, uc->err) || !contains(err_s, "usage:") || out_s[0] != '\0')
            fail_msg("case %zu (%s %s): exit %d, err: %s", i, a[0], a[1] ? a[1] : "", rc, err_s);
    }
    /* Nothing was written by any of them. */
    expect(run(f, "camera", "list", "--json"), 0, NULL);
    assert_string_equal(out_s, "[]\n");
    expect(run(f, "relay", "list", "--json"), 0, NULL);
    assert_string_equal(out_s, "[]\n");
    expect(run(f, "user", "list", "--json"), 0, NULL);
    assert_string_equal(out_s, "[]\n");
    /* A subcommand's usage text names its options. */
    expect(run(f, "relay", "add", "r1"), 2, "--rtsp-url URL [--name N] [--capacity N]");
    /* No argv at all. */
    FILE *err = tmpfile();
    assert_non_null(err);
    assert_int_equal(cli_main(&f->conf, 0, NULL, NULL, stdout, err), 2);
    fclose(err);
}

static void
test_help(void **state)
{
    struct fx *f = *state;
    expect(run(f, "camera", "--help"), 0, NULL);
    assert_true(contains(out_s, "camera add ID URL [--name N]"));
    assert_true(contains(out_s, "camera disable ID"));
    assert_false(contains(out_s, "relay add"));
    expect(run(f, "relay", "help"), 0, NULL);
    assert_true(contains(out_s, "relay rotate-key ID"));
    expect(run(f, "user", "add", "-h"), 0, NULL);
    assert_true(contains(out_s, "user add NAME [--camera ID]..."));
    assert_true(contains(out_s, "stdin"));
    expect(run(f, "site", "-h", "rm"), 0, NULL);
    assert_true(contains(out_s, "site rm ID"));
}

/* ---- Sites ------------------------------------------------------------------------------- */

static void
test_sites(void **state)
{
    struct fx *f = *state;
    expect(run(f, "site", "add", "hq", "--name", "Head office"), 0, NULL);
    assert_string_equal(out_s, "site 'hq' added\n");
    expect(run(f, "site", "add", "west"), 0, NULL);
    expect(run(f, "site", "add", "hq"), 1, "site add: site 'hq' already exists\n");
    expect(run(f, "site", "add", "h q"), 1,
           "site add: bad site id 'h q': use 1 to 64 characters of A-Z a-z 0-9 _ -");
    char long_id[RD_SITE_ID_MAX + 2];
    memset(long_id, 's', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    expect(run(f, "site", "add", long_id), 1, "bad site id");
    long_id[RD_SITE_ID_MAX] = '\0'; /* exactly the limit */
    expect(run(f, "site", "add", long_id), 0, NULL);
    expect(run(f, "site", "rm", long_id), 0, NULL);
    char long_name[RD_REG_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    expect(run(f, "site", "add", "s2", "--name", long_name), 1,
           "site add: --name is too long (at most 128 bytes)");
    expect(run(f, "site", "add", "s2", "--name", "bad\tname"), 1,
           "site add: site name is not UTF-8 or has control characters");

    expect(run(f, "camera", "add", "lobby", "rtsp://10.0.0.7/", "--site", "hq"), 0, NULL);
    expect(run(f, "relay", "add", "ra", "--site", "hq", "--rtsp-url", "rtsp://10.0.1.1:8554"), 0,
           NULL);

    expect(run(f, "site", "list"), 0, NULL);
    char line[256];
    assert_true(line_starting(out_s, "ID ", line, sizeof line));
    assert_true(contains(line, "NAME") && contains(line, "CAMERAS") && contains(line, "RELAYS"));
    assert_true(line_starting(out_s, "hq ", line, sizeof line));
    assert_true(contains(line, "Head office"));
    assert_true(line_starting(out_s, "default ", line, sizeof line));
    assert_true(line_starting(out_s, "west ", line, sizeof line));
    assert_int_equal(count_of(out_s, "\n"), 4);

    expect(run(f, "--json", "site", "list"), 2, "unknown command '--json'"); /* argv[0] is the
                                                                                command word */
    expect(run(f, "site", "list", "--json"), 0, NULL);
    json_t *j = out_json();
    assert_int_equal(json_array_size(j), 3);
    json_t *hq = jfind(j, "id", "hq");
    assert_string_equal(jstr(hq, "name"), "Head office");
    assert_int_equal(jint(hq, "cameras"), 1);
    assert_int_equal(jint(hq, "relays"), 1);
    assert_true(jint(hq, "created_at") > 1600000000);
    assert_int_equal(jint(jfind(j, "id", "west"), "cameras"), 0);
    json_decref(j);

    expect(run(f, "site", "rm", "hq"), 1,
           "site rm: site 'hq' is still used by 1 camera(s) and 1 relay(s); move or remove them "
           "first");
    expect(run(f, "site", "rm", "nowhere"), 1, "site rm: site 'nowhere' does not exist\n");
    expect(run(f, "site", "rm", "west", "--json"), 0, NULL);
    j = out_json();
    assert_true(jbool(j, "ok"));
    assert_string_equal(jstr(j, "command"), "site rm");
    assert_string_equal(jstr(j, "id"), "west");
    json_decref(j);
    expect(run(f, "site", "rm", "west"), 1, "site 'west' does not exist");
}

/* ---- Cameras ----------------------------------------------------------------------------- */

static void
test_camera_add(void **state)
{
    struct fx *f = *state;
    expect(run(f, "site", "add", "hq"), 0, NULL);

    /* The example of the brief: an unknown site names the command that creates it. */
    expect(run(f, "camera", "add", "lobby", "rtsp://10.0.0.7/", "--site", "nope"), 1, "nope");
    assert_string_equal(err_s,
                        "camera add: site 'nope' does not exist (rtsp-broker site add nope)\n");
    assert_string_equal(out_s, "");

    /* Credentials in the URL are refused, and the URL (with its password) is not echoed. */
    expect(run(f, "camera", "add", "lobby", "rtsp://admin:hunter2@10.0.0.7/"), 1,
           "camera add: the URL carries credentials (user:password@host): give it without them "
           "and pass --user USER");
    assert_false(contains(err_s, "hunter2"));
    expect(run(f, "camera", "add", "lobby", "rtsp://admin@10.0.0.7:554/x"), 1,
           "carries credentials");
    /* An '@' in the path is not user info (the registry accepts it). */
    expect(run(f, "camera", "add", "at", "rtsp://10.0.0.7/a@b"), 0, NULL);

    /* Bad ids and URLs. */
    expect(run(f, "camera", "add", "lob by", "rtsp://10.0.0.7/"), 1,
           "camera add: bad camera id 'lob by'");
    expect(run(f, "camera", "add", "x\x1b[31m", "rtsp://10.0.0.7/"), 1,
           "bad camera id 'x?[31m'"); /* no terminal escapes echoed */
    expect(run(f, "camera", "add", "c1", "ftp://10.0.0.7/"), 1,
           "camera add: upstream URL must start with rtsp:// or rtsps://");
    expect(run(f, "camera", "add", "c1", "rtsp://10.0.0.7:99999/"), 1,
           "upstream URL has a malformed port");
    expect(run(f, "camera", "add", "c1", "rtsp://10.0.0.7/", "--site", "b@d"), 1,
           "bad site id 'b@d'");

    /* Everything given; the password comes from stdin (CRLF stripped). */
    expect(run_stdin(f, "s3cret-pw\r\n", "camera", "add", "lobby",
                     "rtsp://10.0.0.7:554/Streaming/Channels/101", "--name", "Lobby entrance",
                     "--site", "hq", "--max-relays", "3", "--auth", "--always-on", "--transport",
                     "tcp", "--user", "viewer"),
           0, NULL);
    assert_string_equal(out_s, "camera 'lobby' added (site hq, with upstream credentials)\n");
    struct registry *reg = reg_open(f);
    struct reg_camera cam;
    assert_int_equal(registry_camera_get(reg, "lobby", &cam), RD_OK);
    assert_string_equal(cam.name, "Lobby entrance");
    assert_string_equal(cam.site_id, "hq");
    assert_string_equal(cam.upstream_url, "rtsp://10.0.0.7:554/Streaming/Channels/101");
    assert_string_equal(cam.upstream_user, "viewer");
    assert_string_equal(cam.upstream_password, "s3cret-pw");
    assert_int_equal(cam.transport, REG_TRANSPORT_TCP);
    assert_int_equal(cam.max_relays, 3);
    assert_true(cam.auth_required && cam.always_on && cam.enabled);
    registry_close(reg);

    /* Defaults: name = id, site default, 2 relays, auto, no auth. */
    expect(run(f, "camera", "add", "dock", "rtsp://10.0.0.8/live", "--json"), 0, NULL);
    json_t *j = out_json();
    assert_string_equal(jstr(j, "id"), "dock");
    assert_string_equal(jstr(j, "name"), "dock");
    assert_string_equal(jstr(j, "site"), "default");
    assert_string_equal(jstr(j, "url"), "rtsp://10.0.0.8/live");
    assert_string_equal(jstr(j, "transport"), "auto");
    assert_int_equal(jint(j, "max_relays"), 2);
    assert_false(jbool(j, "auth"));
    assert_true(jbool(j, "enabled"));
    assert_false(jbool(j, "always_on"));
    assert_false(jbool(j, "has_credentials"));
    assert_true(jint(j, "created_at") > 1600000000);
    json_decref(j);

    /* Duplicates are refused before any password is read. */
    expect(run_stdin(f, "other\n", "camera", "add", "lobby", "rtsp://10.0.0.9/", "--user", "u"), 1,
           "camera add: camera 'lobby' already exists (remove it first: rtsp-broker camera rm "
           "lobby)");

    /* Password problems: none, too long, a control byte. */
    expect(run(f, "camera", "add", "c2", "rtsp://10.0.0.9/", "--user", "u"), 1,
           "camera add: no camera password on stdin");
    char pw[RD_REG_CRED_MAX + 3];
    memset(pw, 'p', RD_REG_CRED_MAX + 1);
    pw[RD_REG_CRED_MAX + 1] = '\n';
    pw[RD_REG_CRED_MAX + 2] = '\0';
    expect(run_stdin(f, pw, "camera", "add", "c2", "rtsp://10.0.0.9/", "--user", "u"), 1,
           "camera add: camera password is too long (at most 128 bytes)");
    memmove(pw, pw + 1, sizeof pw - 1); /* exactly the limit */
    expect(run_stdin(f, pw, "camera", "add", "c2", "rtsp://10.0.0.9/", "--user", "u"), 0, NULL);
    expect(run_stdin(f, "a\bc\n", "camera", "add", "c3", "rtsp://10.0.0.9/", "--user", "u"), 1,
           "camera password contains a control character");
    /* An empty line is an empty password (some cameras have none); no trailing newline is fine. */
    expect(run_stdin(f, "\n", "camera", "add", "c4", "rtsp://10.0.0.9/", "--user", "u"), 0, NULL);
    expect(run_stdin(f, "nonl", "camera", "add", "c5", "rtsp://10.0.0.9/", "--user", "u"), 0, NULL);
    reg = reg_open(f);
    assert_int_equal(registry_camera_get(reg, "c5", &cam), RD_OK);
    assert_string_equal(cam.upstream_password, "nonl");
    assert_int_equal(registry_camera_get(reg, "c3", &cam), RD_ENOTFOUND);
    registry_close(reg);
    /* Without --user, stdin is not read and there are no credentials. */
    expect(run_stdin(f, "ignored\n", "camera", "add", "c6", "rtsp://10.0.0.9/"), 0, NULL);
    assert_string_equal(out_s, "camera 'c6' added (site default)\n");
}

static void
test_camera_list_show(void **state)
{
    struct fx *f = *state;
    seed(f);
    expect(run_stdin(f, "pw-never-shown\n", "camera", "add", "cafe", "rtsp://10.0.0.9/", "--name",
                     "Caf\xc3\xa9 terrace", "--user", "cam-user", "--auth"),
           0, NULL);
    struct reg_pair pairs[] = {
        {.camera_id = "lobby",
         .relay_id = "relay-a",
         .state = REG_PULL_PLAYING,
         .viewers = 30,
         .ingress_kbps = 4000},
        {.camera_id = "lobby", .relay_id = "relay-b", .state = REG_PULL_STARTING, .viewers = 7},
        {.camera_id = "dock", .relay_id = "relay-b", .state = REG_PULL_RETRYING, .viewers = 0},
    };
    flush_pairs(f, pairs, 3, NULL, 0);

    expect(run(f, "camera", "list"), 0, NULL);
    char line[512];
    assert_true(line_starting(out_s, "ID ", line, sizeof line));
    /* Aligned: every row's NAME column starts where the header's does (UTF-8 counted as one). */
    size_t name_col = (size_t)(strstr(line, "NAME") - line);
    assert_true(line_starting(out_s, "lobby ", line, sizeof line));
    assert_int_equal((size_t)(strstr(line + 1, "lobby") - line), name_col); /* name = id */
    assert_true(contains(line, " hq "));
    assert_true(contains(line, " 2/2 "));
    assert_true(contains(line, " 37 "));
    assert_true(contains(line, "rtsp://10.0.0.7:554/Streaming/Channels/101"));
    assert_true(line_starting(out_s, "dock ", line, sizeof line));
    assert_true(contains(line, " 1/2 "));
    assert_true(line_starting(out_s, "cafe ", line, sizeof line));
    assert_true(contains(line, "Caf\xc3\xa9 terrace"));
    {
        /* The column after NAME starts at the same display column in the header and in the
         * UTF-8 row (bytes differ by one for the 2-byte é). */
        char head[512];
        assert_true(line_starting(out_s, "ID ", head, sizeof head));
        size_t site_head = (size_t)(strstr(head, "SITE") - head);
        size_t site_row = (size_t)(strstr(line, "default") - line);
        assert_int_equal(site_row, site_head + 1);
    }
    assert_false(contains(out_s, "pw-never-shown"));
    assert_false(contains(out_s, "cam-user"));

    expect(run(f, "camera", "list", "--site", "hq"), 0, NULL);
    assert_true(contains(out_s, "lobby"));
    assert_false(contains(out_s, "dock"));
    expect(run(f, "camera", "list", "--site", "west"), 0, NULL);
    assert_string_equal(out_s, "no cameras (add one: rtsp-broker camera add ID URL)\n");

    expect(run(f, "camera", "--json", "list"), 0, NULL);
    json_t *j = out_json();
    assert_int_equal(json_array_size(j), 3);
    json_t *o = jfind(j, "id", "lobby");
    assert_int_equal(jint(o, "relays"), 2);
    assert_int_equal(jint(o, "viewers"), 37);
    o = jfind(j, "id", "cafe");
    assert_true(jbool(o, "has_credentials"));
    assert_true(jbool(o, "auth"));
    assert_string_equal(jstr(o, "name"), "Caf\xc3\xa9 terrace");
    assert_null(json_object_get(o, "password"));
    assert_null(json_object_get(o, "user"));
    json_decref(j);
    assert_false(contains(out_s, "pw-never-shown"));

    expect(run(f, "camera", "show", "lobby"), 0, NULL);
    assert_true(contains(out_s, "camera        lobby\n"));
    assert_true(contains(out_s, "site          hq\n"));
    assert_true(contains(out_s, "credentials   none\n"));
    assert_true(contains(out_s, "pulled by     2 relay(s), 37 viewer(s)\n"));
    assert_true(line_starting(out_s, "RELAY ", line, sizeof line));
    assert_true(line_starting(out_s, "relay-a ", line, sizeof line));
    assert_true(contains(line, "playing") && contains(line, " 30 ") && contains(line, " 4000 "));
    assert_true(line_starting(out_s, "relay-b ", line, sizeof line));
    assert_true(contains(line, "starting"));

    expect(run(f, "camera", "show", "cafe"), 0, NULL);
    assert_true(contains(out_s, "credentials   set (not shown)\n"));
    assert_true(contains(out_s, "viewer auth   required (Digest)\n"));
    assert_true(contains(out_s, "pulled by     no relay right now\n"));
    assert_false(contains(out_s, "pw-never-shown"));
    assert_false(contains(out_s, "cam-user"));

    expect(run(f, "camera", "show", "lobby", "--json"), 0, NULL);
    j = out_json();
    assert_string_equal(jstr(j, "id"), "lobby");
    assert_int_equal(jint(j, "viewers"), 37);
    json_t *pulls = json_object_get(j, "pulls");
    assert_int_equal(json_array_size(pulls), 2);
    o = jfind(pulls, "relay", "relay-a");
    assert_string_equal(jstr(o, "state"), "playing");
    assert_int_equal(jint(o, "viewers"), 30);
    assert_int_equal(jint(o, "ingress_kbps"), 4000);
    assert_true(jint(o, "since") > 1600000000);
    json_decref(j);
    expect(run(f, "camera", "show", "cafe", "--json"), 0, NULL);
    j = out_json();
    assert_true(jbool(j, "has_credentials"));
    assert_int_equal(json_array_size(json_object_get(j, "pulls")), 0);
    json_decref(j);
    assert_false(contains(out_s, "pw-never-shown"));

    expect(run(f, "camera", "show", "nope"), 1, "camera show: camera 'nope' does not exist\n");
    expect(run(f, "camera", "show", "a/b"), 1, "camera show: bad camera id 'a/b'");
}

static void
test_camera_enable_disable_rm(void **state)
{
    struct fx *f = *state;
    seed(f);
    expect(run(f, "user", "add", "bob", "--camera", "lobby"), 1, "no password on stdin");
    expect(run_stdin(f, "pw\n", "user", "add", "bob", "--camera", "lobby"), 0, NULL);

    expect(run(f, "camera", "disable", "lobby"), 0, NULL);
    assert_true(contains(out_s, "camera 'lobby' disabled"));
    expect(run(f, "camera", "show", "lobby", "--json"), 0, NULL);
    json_t *j = out_json();
    assert_false(jbool(j, "enabled"));
    json_decref(j);
    expect(run(f, "camera", "list"), 0, NULL);
    char line[512];
    assert_true(line_starting(out_s, "lobby ", line, sizeof line));
    assert_true(contains(line, " disabled "));
    expect(run(f, "camera", "disable", "lobby"), 0, NULL); /* idempotent */
    expect(run(f, "camera", "enable", "lobby", "--json"), 0, NULL);
    j = out_json();
    assert_string_equal(jstr(j, "command"), "camera enable");
    json_decref(j);
    expect(run(f, "camera", "show", "lobby"), 0, NULL);
    assert_true(contains(out_s, "state         enabled\n"));
    expect(run(f, "camera", "enable", "nope"), 1, "camera enable: camera 'nope' does not exist");
    expect(run(f, "camera", "disable", "nope"), 1, "camera disable: camera 'nope' does not exist");
    expect(run(f, "camera", "enable", "n.o"), 1, "bad camera id");

    expect(run(f, "camera", "rm", "lobby"), 0, NULL);
    assert_string_equal(out_s, "camera 'lobby' removed (with its grants)\n");
    expect(run(f, "camera", "rm", "lobby"), 1, "camera rm: camera 'lobby' does not exist\n");
    expect(run(f, "user", "list", "--json"), 0, NULL);
    j = out_json();
    assert_int_equal(json_array_size(json_object_get(jfind(j, "name", "bob"), "cameras")), 0);
    json_decref(j);
    expect(run(f, "camera", "list", "--json"), 0, NULL);
    j = out_json();
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
}

/* ---- Relays ------------------------------------------------------------------------------ */

/* The 64-hex-digit line of the key print (the key-file format). */
static bool
key_line(const char *text, char hex[65])
{
    for (const char *p = text; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        if (len == 64 && strspn(p, "0123456789abcdef") == 64) {
            memcpy(hex, p, 64);
            hex[64] = '\0';
            return true;
        }
        p += len + (p[len] == '\n');
    }
    return false;
}

/* The printed key parses as a key file and equals the registry's key kid. */
static void
assert_key_matches(struct fx *f, const char *relay, const char *hex, const char *kid,
                   size_t want_live)
{
    struct url_token_key parsed;
    assert_int_equal(url_token_key_parse(rd_str_cstr(kid), rd_str_cstr(hex), &parsed), RD_OK);
    /* The key file as an operator saves it (with a newline) parses the same. */
    char file[80];
    snprintf(file, sizeof file, "%s\n", hex);
    struct url_token_key from_file;
    assert_int_equal(url_token_key_parse(rd_str_cstr(kid), rd_str_cstr(file), &from_file), RD_OK);
    assert_memory_equal(parsed.key, from_file.key, RD_TOKEN_KEY_BYTES);

    struct registry *reg = reg_open(f);
    struct reg_relay_key keys[RD_REG_LIVE_KEYS];
    size_t n = 0;
    assert_int_equal(registry_relay_keys(reg, relay, keys, &n), RD_OK);
    registry_close(reg);
    assert_int_equal(n, want_live);
    assert_string_equal(keys[0].kid, kid);
    assert_memory_equal(keys[0].key, parsed.key, RD_TOKEN_KEY_BYTES);
}

static void
test_relay_add_key_once(void **state)
{
    struct fx *f = *state;
    expect(run(f, "site", "add", "hq"), 0, NULL);
    expect(run(f, "relay", "add", "relay-a", "--site", "hq", "--rtsp-url", "rtsp://10.0.1.1:8554",
               "--name", "Relay A", "--capacity", "500", "--egress-mbps", "2000"),
           0, NULL);
    assert_true(contains(out_s, "relay 'relay-a' added: site hq, rtsp://10.0.1.1:8554, capacity "
                                "500 viewers / 2000 Mbit/s\n"));
    char hex[65], kid_line[128];
    assert_true(key_line(out_s, hex));
    assert_int_equal(count_of(out_s, hex), 1); /* printed once */
    assert_true(line_starting(out_s, "key id (kid): ", kid_line, sizeof kid_line));
    char kid[RD_TOKEN_KID_MAX + 1];
    size_t kid_len = strcspn(kid_line + 14, " ");
    assert_true(kid_len >= 1 && kid_len <= RD_TOKEN_KID_MAX);
    memcpy(kid, kid_line + 14, kid_len);
    kid[kid_len] = '\0';
    assert_true(contains(kid_line, "(generation 1)"));
    assert_key_matches(f, "relay-a", hex, kid, 1);
    /* The install hint names the relay, the kid and the key file. */
    assert_true(contains(out_s, "umask 077 && cat > /etc/rtsp-director/relay.key"));
    assert_true(contains(out_s, "relay_id = relay-a\n"));
    char want[64];
    snprintf(want, sizeof want, "key_id   = %s\n", kid);
    assert_true(contains(out_s, want));

    /* Never again: not in list, show, or any JSON. */
    expect(run(f, "relay", "list"), 0, NULL);
    assert_false(contains(out_s, hex));
    char line[512];
    assert_true(line_starting(out_s, "relay-a ", line, sizeof line));
    assert_true(contains(line, "Relay A") && contains(line, " hq ") && contains(line, " active ")
                && contains(line, " 500 ") && contains(line, " 2000 ") && contains(line, kid)
                && contains(line, "rtsp://10.0.1.1:8554"));
    expect(run(f, "relay", "list", "--json"), 0, NULL);
    assert_false(contains(out_s, hex));
    expect(run(f, "relay", "show", "relay-a"), 0, NULL);
    assert_false(contains(out_s, hex));
    expect(run(f, "relay", "show", "relay-a", "--json"), 0, NULL);
    assert_false(contains(out_s, hex));

    /* JSON add: the key once, as "key", with its kid; site '*' is null. */
    expect(run(f, "relay", "add", "relay-b", "--json", "--site", "*", "--rtsp-url",
               "rtsps://relay-b.example.net:8322"),
           0, NULL);
    json_t *j = out_json();
    assert_string_equal(jstr(j, "relay"), "relay-b");
    assert_int_equal(jint(j, "gen"), 1);
    assert_string_equal(jstr(j, "key_format"), "hex");
    assert_true(json_is_null(json_object_get(j, "previous_kid")));
    char hex_b[65], kid_b[RD_TOKEN_KID_MAX + 1];
    snprintf(hex_b, sizeof hex_b, "%s", jstr(j, "key"));
    snprintf(kid_b, sizeof kid_b, "%s", jstr(j, "kid"));
    json_decref(j);
    assert_int_equal(strlen(hex_b), 64);
    assert_key_matches(f, "relay-b", hex_b, kid_b, 1);
    assert_string_not_equal(hex, hex_b);
    expect(run(f, "relay", "list", "--json"), 0, NULL);
    j = out_json();
    assert_int_equal(json_array_size(j), 2);
    json_t *b = jfind(j, "id", "relay-b");
    assert_true(json_is_null(json_object_get(b, "site")));
    assert_string_equal(jstr(b, "rtsp_url"), "rtsps://relay-b.example.net:8322");
    assert_int_equal(jint(b, "capacity"), 1000);
    assert_int_equal(jint(b, "egress_mbps"), 1000);
    assert_string_equal(jstr(b, "signing_kid"), kid_b);
    assert_string_equal(jstr(b, "state"), "active");
    assert_null(json_object_get(b, "key"));
    json_decref(j);

    /* Failures. */
    expect(run(f, "relay", "add", "relay-a", "--site", "hq", "--rtsp-url", "rtsp://10.0.1.9:8554"),
           1, "relay add: relay 'relay-a' already exists");
    assert_false(key_line(out_s, hex));
    expect(run(f, "relay", "add", "relay-c", "--site", "west", "--rtsp-url", "rtsp://h:1"), 1,
           "relay add: site 'west' does not exist (rtsp-broker site add west)");
    expect(run(f, "relay", "add", "relay-c", "--site", "hq", "--rtsp-url", "rtsp://h:1/path"), 1,
           "relay add: RTSP base URL must be rtsp[s]://host[:port] with nothing after the port");
    expect(run(f, "relay", "add", "relay-c", "--site", "hq", "--rtsp-url", "rtsp://u:p@h:1"), 1,
           "--rtsp-url must not carry user info");
    expect(run(f, "relay", "add", "relay c", "--site", "hq", "--rtsp-url", "rtsp://h:1"), 1,
           "relay add: bad relay id 'relay c'");
    expect(run(f, "relay", "add", "relay-c", "--site", "h*q", "--rtsp-url", "rtsp://h:1"), 1,
           "bad site id 'h*q'");
    expect(run(f, "relay", "list", "--json"), 0, NULL);
    j = out_json();
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
}

static void
test_relay_rotate_key(void **state)
{
    struct fx *f = *state;
    expect(run(f, "relay", "add", "ra", "--site", "default", "--rtsp-url", "rtsp://10.0.1.1:8554",
               "--json"),
           0, NULL);
    json_t *j = out_json();
    char kid1[RD_TOKEN_KID_MAX + 1], hex1[65];
    snprintf(kid1, sizeof kid1, "%s", jstr(j, "kid"));
    snprintf(hex1, sizeof hex1, "%s", jstr(j, "key"));
    json_decref(j);

    expect(run(f, "relay", "rotate-key", "ra"), 0, NULL);
    char hex2[65], line[128], kid2[RD_TOKEN_KID_MAX + 1];
    assert_true(key_line(out_s, hex2));
    assert_int_equal(count_of(out_s, hex2), 1);
    assert_false(contains(out_s, hex1));
    assert_true(line_starting(out_s, "key id (kid): ", line, sizeof line));
    assert_true(contains(line, "(generation 2)"));
    size_t len = strcspn(line + 14, " ");
    memcpy(kid2, line + 14, len);
    kid2[len] = '\0';
    assert_string_not_equal(kid1, kid2);
    assert_string_not_equal(hex1, hex2);
    char want[96];
    snprintf(want, sizeof want, "The previous key (kid %s) stays valid", kid1);
    assert_true(contains(out_s, want));
    /* Install instructions keep the previous key on the relay. */
    snprintf(want, sizeof want, "  key_id        = %s\n", kid2);
    assert_true(contains(out_s, want));
    snprintf(want, sizeof want, "  prev_key_id   = %s\n", kid1);
    assert_true(contains(out_s, want));
    assert_true(contains(out_s, "prev_key_file = /etc/rtsp-director/relay.prev.key\n"));
    assert_true(contains(out_s, "then reload the relay (SIGHUP)"));
    assert_key_matches(f, "ra", hex2, kid2, 2);
    /* The old key is still live, second. */
    struct registry *reg = reg_open(f);
    struct reg_relay_key keys[RD_REG_LIVE_KEYS];
    size_t n = 0;
    assert_int_equal(registry_relay_keys(reg, "ra", keys, &n), RD_OK);
    registry_close(reg);
    assert_int_equal(n, 2);
    assert_string_equal(keys[1].kid, kid1);
    struct url_token_key k1;
    assert_int_equal(url_token_key_parse(rd_str_cstr(kid1), rd_str_cstr(hex1), &k1), RD_OK);
    assert_memory_equal(keys[1].key, k1.key, RD_TOKEN_KEY_BYTES);

    /* Show lists both kids, the new one signing, and no key bytes. */
    expect(run(f, "relay", "show", "ra"), 0, NULL);
    snprintf(want, sizeof want, "keys          %s (generation 2, signing", kid2);
    assert_true(contains(out_s, want));
    snprintf(want, sizeof want, "              %s (generation 1, verify only", kid1);
    assert_true(contains(out_s, want));
    assert_false(contains(out_s, hex1) || contains(out_s, hex2));
    expect(run(f, "relay", "show", "ra", "--json"), 0, NULL);
    j = out_json();
    json_t *ks = json_object_get(j, "keys");
    assert_int_equal(json_array_size(ks), 2);
    assert_string_equal(jstr(json_array_get(ks, 0), "kid"), kid2);
    assert_true(jbool(json_array_get(ks, 0), "signing"));
    assert_int_equal(jint(json_array_get(ks, 0), "gen"), 2);
    assert_string_equal(jstr(json_array_get(ks, 1), "kid"), kid1);
    assert_false(jbool(json_array_get(ks, 1), "signing"));
    assert_null(json_object_get(json_array_get(ks, 0), "key"));
    json_decref(j);

    /* A third key retires the first; JSON names the previous kid. */
    expect(run(f, "relay", "rotate-key", "ra", "--json"), 0, NULL);
    j = out_json();
    assert_int_equal(jint(j, "gen"), 3);
    assert_string_equal(jstr(j, "previous_kid"), kid2);
    char hex3[65], kid3[RD_TOKEN_KID_MAX + 1];
    snprintf(hex3, sizeof hex3, "%s", jstr(j, "key"));
    snprintf(kid3, sizeof kid3, "%s", jstr(j, "kid"));
    json_decref(j);
    assert_key_matches(f, "ra", hex3, kid3, 2);

    expect(run(f, "relay", "rotate-key", "nope"), 1,
           "relay rotate-key: relay 'nope' does not exist\n");
    assert_string_equal(out_s, "");
    expect(run(f, "relay", "rotate-key", "n o"), 1, "bad relay id");
}

static void
test_relay_states_show_rm(void **state)
{
    struct fx *f = *state;
    seed(f);
    expect(run(f, "relay", "drain", "relay-a"), 0, NULL);
    assert_true(contains(out_s, "relay 'relay-a' is now draining"));
    expect(run(f, "relay", "show", "relay-a", "--json"), 0, NULL);
    json_t *j = out_json();
    assert_string_equal(jstr(j, "state"), "draining");
    json_decref(j);
    expect(run(f, "relay", "disable", "relay-a"), 0, NULL);
    expect(run(f, "relay", "list"), 0, NULL);
    char line[512];
    assert_true(line_starting(out_s, "relay-a ", line, sizeof line));
    assert_true(contains(line, " disabled "));
    expect(run(f, "relay", "activate", "relay-a", "--json"), 0, NULL);
    j = out_json();
    assert_string_equal(jstr(j, "command"), "relay activate");
    assert_string_equal(jstr(j, "id"), "relay-a");
    json_decref(j);
    expect(run(f, "relay", "show", "relay-a"), 0, NULL);
    assert_true(contains(out_s, "state         active\n"));
    expect(run(f, "relay", "drain", "nope"), 1, "relay drain: relay 'nope' does not exist");
    expect(run(f, "relay", "activate", "nope"), 1, "relay activate: relay 'nope' does not exist");

    /* Live state: pairs and a load sample. */
    struct reg_pair pairs[] = {
        {.camera_id = "lobby",
         .relay_id = "relay-a",
         .state = REG_PULL_PLAYING,
         .viewers = 30,
         .ingress_kbps = 4000},
        {.camera_id = "dock", .relay_id = "relay-a", .state = REG_PULL_FAILED, .viewers = 2},
    };
    struct reg_load loads[] = {{.relay_id = "relay-a",
                                .healthy = true,
                                .viewers = 32,
                                .egress_kbps = 128000,
                                .cpu_pct = 12.5,
                                .last_seen = (int64_t)time(NULL)}};
    flush_pairs(f, pairs, 2, loads, 1);
    expect(run(f, "relay", "show", "relay-a"), 0, NULL);
    assert_true(contains(out_s, "site          hq\n"));
    assert_true(contains(out_s, "capacity      1000 viewers, 1000 Mbit/s\n"));
    assert_true(contains(out_s, "load          32 viewers, 128000 kbit/s, cpu 12.5%, healthy"));
    assert_true(contains(out_s, "pulls         2 camera(s), 32 viewer(s)\n"));
    assert_true(line_starting(out_s, "CAMERA ", line, sizeof line));
    assert_true(line_starting(out_s, "dock ", line, sizeof line));
    assert_true(contains(line, " failed "));
    assert_true(line_starting(out_s, "lobby ", line, sizeof line));
    assert_true(contains(line, " playing ") && contains(line, " 30 "));
    expect(run(f, "relay", "show", "relay-a", "--json"), 0, NULL);
    j = out_json();
    json_t *load = json_object_get(j, "load");
    assert_true(json_is_object(load));
    assert_int_equal(jint(load, "viewers"), 32);
    assert_true(jbool(load, "healthy"));
    assert_true(json_real_value(json_object_get(load, "cpu_pct")) == 12.5);
    assert_int_equal(json_array_size(json_object_get(j, "pulls")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "pulls"), 0), "camera"), "dock");
    assert_int_equal(jint(j, "cameras"), 2);
    assert_int_equal(jint(j, "viewers"), 32);
    json_decref(j);
    expect(run(f, "relay", "show", "relay-b"), 0, NULL);
    assert_true(contains(out_s, "site          * (every site)\n"));
    assert_true(contains(out_s, "load          no sample in the last hour\n"));
    assert_true(contains(out_s, "pulls         no camera right now\n"));
    expect(run(f, "relay", "show", "relay-b", "--json"), 0, NULL);
    j = out_json();
    assert_true(json_is_null(json_object_get(j, "load")));
    json_decref(j);
    expect(run(f, "relay", "list"), 0, NULL);
    assert_true(line_starting(out_s, "relay-a ", line, sizeof line));
    assert_true(contains(line, " 2 ") && contains(line, " 32 "));
    assert_true(line_starting(out_s, "relay-b ", line, sizeof line));
    assert_true(contains(line, " * "));

    expect(run(f, "relay", "show", "nope"), 1, "relay show: relay 'nope' does not exist\n");
    expect(run(f, "relay", "rm", "relay-a"), 0, NULL);
    assert_string_equal(out_s, "relay 'relay-a' removed (its keys no longer work)\n");
    expect(run(f, "relay", "rm", "relay-a"), 1, "relay rm: relay 'relay-a' does not exist");
    expect(run(f, "camera", "show", "lobby"), 0, NULL); /* its pairs went with it */
    assert_true(contains(out_s, "pulled by     no relay right now\n"));
    expect(run(f, "relay", "rm", "relay-b"), 0, NULL);
    expect(run(f, "relay", "list"), 0, NULL);
    assert_true(contains(out_s, "no relays (add one: rtsp-broker relay add ID --site S"));
}

/* ---- Users ------------------------------------------------------------------------------- */

static void
hex_of(enum rd_hash_alg alg, const char *a, const char *b, const char *c, char *out)
{
    struct rd_str parts[] = {rd_str_cstr(a), rd_str_cstr(":"), rd_str_cstr(b), rd_str_cstr(":"),
                             rd_str_cstr(c)};
    uint8_t d[RD_HASH_MAX];
    assert_int_equal(rd_hash_parts(alg, parts, 5, d), RD_OK);
    rd_hex_encode(d, rd_hash_len(alg), out);
}

static void
test_users(void **state)
{
    struct fx *f = *state;
    seed(f);
    expect(run_stdin(f, "Secret Pass\n", "user", "add", "bob", "--camera", "lobby", "--camera",
                     "dock"),
           0, NULL);
    assert_string_equal(out_s, "user 'bob' added (realm \"rtsp-director\", 2 camera(s))\n");
    /* HA1 for both algorithms over the configured realm (RFC 7616 §3.4.2). */
    struct registry *reg = reg_open(f);
    struct reg_user u;
    assert_int_equal(registry_user_get(reg, "bob", &u), RD_OK);
    char md5[33], sha[65];
    hex_of(RD_HASH_MD5, "bob", REALM, "Secret Pass", md5);
    hex_of(RD_HASH_SHA256, "bob", REALM, "Secret Pass", sha);
    assert_string_equal(u.realm, REALM);
    assert_string_equal(u.ha1_md5, md5);
    assert_string_equal(u.ha1_sha256, sha);
    bool may = false;
    assert_int_equal(registry_user_may_view(reg, "bob", "dock", &may), RD_OK);
    assert_true(may);
    registry_close(reg);

    /* Another realm in the config gives other HA1 values. */
    struct broker_conf other = f->conf;
    snprintf(other.realm, sizeof other.realm, "%s", "cams.example.net");
    expect(run_with(&other, "pw2\n", "user", "add", "carol"), 0, NULL);
    assert_string_equal(out_s, "user 'carol' added (realm \"cams.example.net\", 0 camera(s))\n");
    reg = reg_open(f);
    assert_int_equal(registry_user_get(reg, "carol", &u), RD_OK);
    hex_of(RD_HASH_MD5, "carol", "cams.example.net", "pw2", md5);
    assert_string_equal(u.ha1_md5, md5);
    registry_close(reg);

    expect(run(f, "user", "list"), 0, "note: users of another realm than \"rtsp-director\"");
    char line[256];
    assert_true(line_starting(out_s, "NAME ", line, sizeof line));
    assert_true(line_starting(out_s, "bob ", line, sizeof line));
    assert_true(contains(line, " rtsp-director ") && contains(line, " dock,lobby "));
    assert_true(line_starting(out_s, "carol ", line, sizeof line));
    assert_true(contains(line, " cams.example.net ") && contains(line, " - "));
    assert_false(contains(out_s, md5) || contains(out_s, sha));
    expect(run(f, "user", "list", "--json"), 0, NULL);
    json_t *j = out_json();
    json_t *bob = jfind(j, "name", "bob");
    assert_string_equal(jstr(bob, "realm"), REALM);
    json_t *cams = json_object_get(bob, "cameras");
    assert_int_equal(json_array_size(cams), 2);
    assert_string_equal(json_string_value(json_array_get(cams, 0)), "dock");
    assert_string_equal(json_string_value(json_array_get(cams, 1)), "lobby");
    assert_null(json_object_get(bob, "ha1_md5"));
    json_decref(j);
    assert_false(contains(out_s, md5) || contains(out_s, sha));

    /* Failures of add: duplicate, unknown camera (nothing added), bad names, passwords. */
    expect(run_stdin(f, "x\n", "user", "add", "bob"), 1,
           "user add: user 'bob' already exists (remove it first: rtsp-broker user rm bob)");
    expect(run_stdin(f, "x\n", "user", "add", "dave", "--camera", "lobby", "--camera", "nope"), 1,
           "user add: camera 'nope' does not exist (rtsp-broker camera list)");
    expect(run_stdin(f, "x\n", "user", "add", "dave", "--camera", "no pe"), 1, "bad camera id");
    expect(run(f, "user", "rm", "dave"), 1, "user rm: user 'dave' does not exist");
    expect(run_stdin(f, "x\n", "user", "add", "da:ve"), 1,
           "user add: bad user name 'da:ve': use 1 to 128 printable ASCII characters without "
           "':'");
    expect(run_stdin(f, "x\n", "user", "add", "da\"ve"), 1, "bad user name");
    expect(run(f, "user", "add", "dave"), 1, "user add: no password on stdin");
    expect(run_stdin(f, "\n", "user", "add", "dave"), 1, "user add: empty password");
    char pw[RD_AUTH_MAX_PASSWORD + 3];
    memset(pw, 'p', RD_AUTH_MAX_PASSWORD + 1);
    pw[RD_AUTH_MAX_PASSWORD + 1] = '\n';
    pw[RD_AUTH_MAX_PASSWORD + 2] = '\0';
    expect(run_stdin(f, pw, "user", "add", "dave"), 1,
           "user add: password is too long (at most 128 bytes)");
    expect(run_bytes(f, "a\0b\n", "user", "add", "dave"), 1,
           "user add: password contains a control character");
    memmove(pw, pw + 1, sizeof pw - 1);
    expect(run_stdin(f, pw, "user", "add", "dave"), 0, NULL); /* exactly the limit */
    /* Only the first line is the password. */
    expect(run_stdin(f, "first\nsecond\n", "user", "add", "erin"), 0, NULL);
    reg = reg_open(f);
    assert_int_equal(registry_user_get(reg, "erin", &u), RD_OK);
    hex_of(RD_HASH_MD5, "erin", REALM, "first", md5);
    assert_string_equal(u.ha1_md5, md5);
    registry_close(reg);
    struct broker_conf no_realm = f->conf;
    no_realm.realm[0] = '\0';
    expect(run_with(&no_realm, "pw\n", "user", "add", "fred"), 1,
           "user add: the configuration has an empty realm: set realm in the config file");
    struct broker_conf bad_realm = f->conf;
    snprintf(bad_realm.realm, sizeof bad_realm.realm, "%s", "say \"hi\"");
    expect(run_with(&bad_realm, "pw\n", "user", "add", "fred"), 1,
           "user add: the configured realm is not usable for Digest");
    expect(run(f, "user", "rm", "fred"), 1, "user 'fred' does not exist");

    /* Grants. */
    expect(run(f, "user", "revoke", "bob", "dock"), 0, NULL);
    assert_string_equal(out_s, "user 'bob' may no longer view camera 'dock'\n");
    expect(run(f, "user", "revoke", "bob", "dock"), 1,
           "user revoke: user 'bob' has no grant for camera 'dock'");
    expect(run(f, "user", "grant", "bob", "dock", "--json"), 0, NULL);
    j = out_json();
    assert_string_equal(jstr(j, "command"), "user grant");
    json_decref(j);
    expect(run(f, "user", "grant", "bob", "dock"), 0, NULL); /* idempotent */
    reg = reg_open(f);
    assert_int_equal(registry_user_may_view(reg, "bob", "dock", &may), RD_OK);
    assert_true(may);
    registry_close(reg);
    expect(run(f, "user", "grant", "nobody", "dock"), 1,
           "user grant: user 'nobody' does not exist");
    expect(run(f, "user", "grant", "bob", "nope"), 1,
           "user grant: camera 'nope' does not exist (rtsp-broker camera list)");
    expect(run(f, "user", "revoke", "nobody", "dock"), 1, "user 'nobody' does not exist");
    expect(run(f, "user", "grant", "bob", "a b"), 1, "bad camera id");

    expect(run(f, "user", "rm", "bob"), 0, NULL);
    assert_string_equal(out_s, "user 'bob' removed\n");
    expect(run(f, "user", "rm", "bob"), 1, "user rm: user 'bob' does not exist\n");
    expect(run(f, "user", "rm", "b:b"), 1, "bad user name");
}

/* ---- Registry failures ------------------------------------------------------------------- */

static void
test_registry_busy(void **state)
{
    struct fx *f = *state;
    seed(f);
    /* Another process holds the write lock. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    expect(run(f, "camera", "add", "c9", "rtsp://10.0.0.9/"), 1,
           "camera add: registry busy, retry");
    expect(run(f, "relay", "rotate-key", "relay-a"), 1, "relay rotate-key: registry busy, retry");
    assert_false(key_line(out_s, (char[65]){0}));
    expect(run(f, "site", "add", "s9"), 1, "site add: registry busy, retry");
    /* Reads go on (WAL). */
    expect(run(f, "camera", "list", "--json"), 0, NULL);
    json_t *j = out_json();
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect(run(f, "camera", "add", "c9", "rtsp://10.0.0.9/"), 0, NULL);
}

static void
test_open_failures(void **state)
{
    struct fx *f = *state;
    /* Not a database. */
    FILE *g = fopen(f->path, "w");
    assert_non_null(g);
    fputs("this is not an SQLite database, just text that is long enough to matter......\n", g);
    fclose(g);
    expect(run(f, "camera", "list"), 1, "camera list: cannot open the registry /tmp/rd_cli_");
    /* Newer than this binary. */
    unlink(f->path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 9999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect(run(f, "site", "list"), 1, "site list: cannot open the registry");
    /* A directory that does not exist. */
    struct broker_conf bad = f->conf;
    snprintf(bad.database, sizeof bad.database, "/nonexistent-dir-rd/registry.db");
    expect(run_with(&bad, NULL, "site", "list"), 1,
           "site list: cannot open the registry /nonexistent-dir-rd/registry.db: ");
}

static void
test_write_error(void **state)
{
    struct fx *f = *state;
    seed(f);
    FILE *full = fopen("/dev/full", "w");
    if (full == NULL)
        skip();
    FILE *err = tmpfile();
    assert_non_null(err);
    char a0[] = "camera", a1[] = "list";
    char *argv[] = {a0, a1, NULL};
    assert_int_equal(cli_main(&f->conf, 2, argv, NULL, full, err), 1);
    slurp(err, err_s, sizeof err_s);
    assert_true(contains(err_s, "cannot write the output"));
    fclose(full);
    fclose(err);
}

/* --json anywhere on the line, and every JSON output parses. */
static void
test_json_anywhere(void **state)
{
    struct fx *f = *state;
    seed(f);
    const char *where[][6] = {
        {"camera", "--json", "list", NULL},
        {"camera", "list", "--json", NULL},
        {"relay", "--json", "show", "relay-a", NULL},
        {"relay", "show", "--json", "relay-a", NULL},
        {"site", "list", "--json", NULL},
        {"user", "list", "--json", NULL},
    };
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        expect(run(f, where[i][0], where[i][1], where[i][2], where[i][3], where[i][4]), 0, NULL);
        json_decref(out_json());
    }
    expect(run(f, "camera", "add", "c7", "--json", "rtsp://10.0.0.9/", "--site", "hq"), 0, NULL);
    json_t *j = out_json();
    assert_string_equal(jstr(j, "site"), "hq");
    json_decref(j);
    /* An empty list is [] in JSON. */
    expect(run(f, "user", "list", "--json"), 0, NULL);
    assert_string_equal(out_s, "[]\n");
    /* "--" ends the options: an id that starts with '-' can be given. */
    expect(run(f, "camera", "add", "--", "-odd", "rtsp://10.0.0.9/"), 0, NULL);
    expect(run(f, "camera", "show", "--", "-odd"), 0, NULL);
    expect(run(f, "camera", "add", "x", "rtsp://10.0.0.9/", "--name=Named"), 0, NULL);
    expect(run(f, "camera", "show", "x", "--json"), 0, NULL);
    j = out_json();
    assert_string_equal(jstr(j, "name"), "Named");
    json_decref(j);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_is_command),
    cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_help, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sites, setup, teardown),
    cmocka_unit_test_setup_teardown(test_camera_add, setup, teardown),
    cmocka_unit_test_setup_teardown(test_camera_list_show, setup, teardown),
    cmocka_unit_test_setup_teardown(test_camera_enable_disable_rm, setup, teardown),
    cmocka_unit_test_setup_teardown(test_relay_add_key_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_relay_rotate_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_relay_states_show_rm, setup, teardown),
    cmocka_unit_test_setup_teardown(test_users, setup, teardown),
    cmocka_unit_test_setup_teardown(test_registry_busy, setup, teardown),
    cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
    cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_json_anywhere, setup, teardown),
};

RD_TEST_MAIN(tests)
