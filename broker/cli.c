/* SPDX-License-Identifier: MIT */
/* Registry management from the command line (rtsp-broker camera|relay|user|site ...): one row
 * per subcommand in cli_cmds[] (usage, options, handler), aligned tables or --json, clear
 * one-line errors. Talks to SQLite only through registry.h; secrets are never printed. */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rd_str.h"
#include "registry.h"
#include "url.h"

/* ---- Command table types ----------------------------------------------------------------- */

/* Every option any subcommand takes; each row of cli_cmds[] allows a subset (bit mask). */
enum cli_opt {
    CLI_OPT_NAME,
    CLI_OPT_SITE,
    CLI_OPT_MAX_RELAYS,
    CLI_OPT_AUTH,
    CLI_OPT_ALWAYS_ON,
    CLI_OPT_TRANSPORT,
    CLI_OPT_USER,
    CLI_OPT_RTSP_URL,
    CLI_OPT_CAPACITY,
    CLI_OPT_EGRESS_MBPS,
    CLI_OPT_CAMERA,
    CLI_OPT__COUNT,
};

#define CLI_OPT_BIT(o) (1u << (o))

struct cli_opt_def {
    const char *name; /* without the leading "--" */
    bool has_value;   /* --name VALUE or --name=VALUE; else a flag */
    bool repeatable;  /* --camera may be given more than once */
};

static const struct cli_opt_def cli_opts[CLI_OPT__COUNT] = {
    [CLI_OPT_NAME] = {"name", true, false},
    [CLI_OPT_SITE] = {"site", true, false},
    [CLI_OPT_MAX_RELAYS] = {"max-relays", true, false},
    [CLI_OPT_AUTH] = {"auth", false, false},
    [CLI_OPT_ALWAYS_ON] = {"always-on", false, false},
    [CLI_OPT_TRANSPORT] = {"transport", true, false},
    [CLI_OPT_USER] = {"user", true, false},
    [CLI_OPT_RTSP_URL] = {"rtsp-url", true, false},
    [CLI_OPT_CAPACITY] = {"capacity", true, false},
    [CLI_OPT_EGRESS_MBPS] = {"egress-mbps", true, false},
    [CLI_OPT_CAMERA] = {"camera", true, true},
};

/* Most positional arguments a subcommand takes (camera add ID URL). */
#define CLI_MAX_POS 2

/* Defaults of "add" when an option is not given (documented in docs/cli.md). */
#define CLI_DEFAULT_MAX_RELAYS  2    /* the schema's default for cameras.max_relays */
#define CLI_DEFAULT_CAPACITY    1000 /* viewers per relay */
#define CLI_DEFAULT_EGRESS_MBPS 1000 /* one 1 Gbit/s port */

/* Where the operator is told to put a relay key (the relay agent's default paths). */
#define CLI_RELAY_KEY_FILE      "/etc/rtsp-director/relay.key"
#define CLI_RELAY_CONF_FILE     "/etc/rtsp-director/relay.conf"
#define CLI_RELAY_PREV_KEY_FILE "/etc/rtsp-director/relay.prev.key"

/* Arguments shown back in error messages are cut (display only) at this many bytes. */
#define CLI_SHOW_MAX 80

struct cli_cmd;

/* One run of cli_main(): streams, the parsed command line and the open registry. */
struct cli {
    const struct broker_conf *conf;
    FILE *in, *out, *err;
    bool json;
    const struct cli_cmd *cmd;
    struct registry *reg;
    const char *pos[CLI_MAX_POS];
    size_t n_pos;
    const char *opt[CLI_OPT__COUNT]; /* value of each option given (flags: "") */
    const char **cameras;            /* every --camera value, in order */
    size_t n_cameras;
    char shown[2][CLI_SHOW_MAX + 8]; /* sanitized copies of arguments for messages */
    unsigned shown_next;
};

typedef int cli_handler_fn(struct cli *c);

struct cli_cmd {
    const char *group; /* "camera" */
    const char *name;  /* "add" */
    cli_handler_fn *run;
    unsigned n_pos_min, n_pos_max;
    unsigned opts;    /* CLI_OPT_BIT() of the options allowed */
    const char *args; /* usage after "<group> <name>" */
    const char *help; /* one line */
};

/* ---- Small helpers ----------------------------------------------------------------------- */

/* All output goes through put(): a failed write (disk full, closed pipe) is noticed once, by
 * ferror() at the end of cli_main(), so single results are deliberately not checked. */
static void put(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vput(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void
vput(FILE *f, const char *fmt, va_list ap)
{
    (void)vfprintf(f, fmt, ap);
}

static void
put(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(f, fmt, ap);
    va_end(ap);
}

static bool
is_set(const struct cli *c, enum cli_opt o)
{
    return c->opt[o] != NULL;
}

/* A copy of untrusted text that is safe to print: non-printable bytes become '?', long text
 * is cut with "..." (display only). Two slots, so one message can show two arguments. */
static const char *
shown(struct cli *c, const char *s)
{
    char *dst = c->shown[c->shown_next++ % 2];
    size_t i = 0;
    for (; s[i] != '\0' && i < CLI_SHOW_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[i] = (char)((ch >= 0x20 && ch < 0x7f) ? ch : '?');
    }
    if (s[i] != '\0') {
        memcpy(dst + i, "...", 3);
        i += 3;
    }
    dst[i] = '\0';
    return dst;
}

static void cli_msg(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "<group> <name>: <message>" on err. */
static void
cli_msg(struct cli *c, const char *fmt, ...)
{
    if (c->cmd != NULL)
        put(c->err, "%s %s: ", c->cmd->group, c->cmd->name);
    else
        put(c->err, "rtsp-broker: ");
    va_list ap;
    va_start(ap, fmt);
    vput(c->err, fmt, ap);
    va_end(ap);
    put(c->err, "\n");
}

/* Prints the error and returns exit code 1. */
#define CLI_FAIL(c, ...) (cli_msg((c), __VA_ARGS__), 1)

static void
print_cmd_usage(FILE *f, const struct cli_cmd *cmd)
{
    put(f, "  rtsp-broker [-c FILE] %s %s%s%s\n", cmd->group, cmd->name,
        cmd->args[0] != '\0' ? " " : "", cmd->args);
}

static int usage_fail(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A usage error: the message, then the usage of the subcommand. Returns exit code 2. */
static int
usage_fail(struct cli *c, const char *fmt, ...)
{
    if (c->cmd != NULL)
        put(c->err, "%s %s: ", c->cmd->group, c->cmd->name);
    va_list ap;
    va_start(ap, fmt);
    vput(c->err, fmt, ap);
    va_end(ap);
    put(c->err, "\nusage:\n");
    if (c->cmd != NULL)
        print_cmd_usage(c->err, c->cmd);
    return 2;
}

/* Writes the UTC time of unix seconds t as "2024-05-01 12:00:00" into buf; "-" for 0. */
static const char *
fmt_time(int64_t t, char buf[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t <= 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        return "-";
    return buf;
}

static const char *
yes_no(bool b)
{
    return b ? "yes" : "no";
}

/* True when s is a registry id: [A-Za-z0-9_-]{1,max}. */
static bool
id_valid(const char *s, size_t max)
{
    return url_id_valid(rd_str_make(s, strnlen(s, max + 1)), max);
}

/* The longest id of each kind of row. */
static const struct {
    const char *what;
    size_t max;
} cli_id_max[] = {
    {"camera", RD_CAMERA_ID_MAX},
    {"relay", RD_RELAY_ID_MAX},
    {"site", RD_SITE_ID_MAX},
};

/* Checks an id argument; prints why it is wrong. what: "camera", "relay", "site". */
static bool
want_id(struct cli *c, const char *what, const char *s)
{
    size_t max = RD_CAMERA_ID_MAX;
    for (size_t i = 0; i < sizeof cli_id_max / sizeof cli_id_max[0]; i++) {
        if (strcmp(cli_id_max[i].what, what) == 0)
            max = cli_id_max[i].max;
    }
    if (id_valid(s, max))
        return true;
    cli_msg(c, "bad %s id '%s': use 1 to %zu characters of A-Z a-z 0-9 _ -", what, shown(c, s),
            max);
    return false;
}

/* Checks a viewer user name (a Digest username: RFC 7616 §3.4.2 puts it in A1 with ':'). */
static bool
want_user_name(struct cli *c, const char *s)
{
    size_t n = strnlen(s, RD_AUTH_MAX_USERNAME + 1);
    bool good = n >= 1 && n <= RD_AUTH_MAX_USERNAME;
    for (size_t i = 0; good && i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        good = ch >= 0x20 && ch <= 0x7e && ch != ':' && ch != '"' && ch != '\\';
    }
    if (!good)
        cli_msg(c,
                "bad user name '%s': use 1 to %d printable ASCII characters without ':', '\"' "
                "or '\\'",
                shown(c, s), RD_AUTH_MAX_USERNAME);
    return good;
}

/* Parses the value of a numeric option into [lo, hi]. A bad value is a usage error (exit 2):
 * returns false after printing it. */
static bool
want_u32(struct cli *c, enum cli_opt o, uint32_t lo, uint32_t hi, uint32_t *out, int *rc)
{
    uint32_t v;
    if (rd_str_to_u32(rd_str_cstr(c->opt[o]), 10, UINT32_MAX, &v) != RD_OK || v < lo || v > hi) {
        *rc = usage_fail(c, "--%s must be a whole number from %u to %u (got '%s')",
                         cli_opts[o].name, lo, hi, shown(c, c->opt[o]));
        return false;
    }
    *out = v;
    return true;
}

/* Copies an option or argument into a fixed registry field; too long is an error (never cut). */
static bool
want_copy(struct cli *c, const char *what, char *dst, size_t cap, const char *src)
{
    if (rd_str_copy(dst, cap, rd_str_cstr(src)) == RD_OK)
        return true;
    cli_msg(c, "%s is too long (at most %zu bytes)", what, cap - 1);
    return false;
}

/* ---- Registry errors --------------------------------------------------------------------- */

/* The part of registry_errmsg() after "<op>: " (the registry names its own operation; the
 * operator typed ours). */
static const char *
reg_detail(const struct cli *c)
{
    const char *m = registry_errmsg(c->reg);
    const char *colon = strstr(m, ": ");
    return colon != NULL ? colon + 2 : m;
}

/* Prints a registry failure as one clear line and returns exit code 1. what and id name the
 * row the command was about ("camera", "lobby"); used for "not found" and "exists". */
static int
reg_error(struct cli *c, int rc, const char *what, const char *id)
{
    switch (rc) {
    case RD_ENOTFOUND:
        return CLI_FAIL(c, "%s '%s' does not exist", what, id);
    case RD_EPROTO:
    case RD_ELIMIT:
        return CLI_FAIL(c, "%s", reg_detail(c));
    case RD_EDB:
        break;
    default:
        return CLI_FAIL(c, "%s (%s)", reg_detail(c), rd_strstatus(rc));
    }
    switch (registry_last_fail(c->reg)) {
    case REG_FAIL_EXISTS:
        return CLI_FAIL(c, "%s '%s' already exists", what, id);
    case REG_FAIL_REFERENCE:
        return CLI_FAIL(c, "%s '%s' refers to a row that does not exist, or is still in use (%s)",
                        what, id, reg_detail(c));
    case REG_FAIL_CONSTRAINT:
        return CLI_FAIL(c, "the registry refused the %s: %s", what, reg_detail(c));
    case REG_FAIL_BUSY:
        return CLI_FAIL(c, "registry busy, retry (another process holds the write lock on %s)",
                        c->conf->database);
    case REG_FAIL_FULL:
        return CLI_FAIL(c, "disk full: nothing was written (free space where %s lives)",
                        c->conf->database);
    case REG_FAIL_READONLY:
        return CLI_FAIL(c, "registry %s is read-only: nothing was written", c->conf->database);
    case REG_FAIL_CORRUPT:
        return CLI_FAIL(c,
                        "registry %s is damaged (%s); check it with: sqlite3 %s 'PRAGMA "
                        "integrity_check'",
                        c->conf->database, reg_detail(c), c->conf->database);
    case REG_FAIL_SCHEMA:
        return CLI_FAIL(c, "registry schema problem: %s", reg_detail(c));
    case REG_FAIL_IO:
        return CLI_FAIL(c, "I/O error on %s: %s", c->conf->database, reg_detail(c));
    case REG_FAIL_NONE:
    case REG_FAIL_OTHER:
    default:
        return CLI_FAIL(c, "registry error: %s", reg_detail(c));
    }
}

/* ---- Growable arrays (rows copied out of list callbacks) --------------------------------- */

struct vec {
    unsigned char *data;
    size_t n, cap, size; /* size: bytes per item */
    bool oom;
};

static void
vec_init(struct vec *v, size_t size)
{
    *v = (struct vec){.size = size};
}

static void *
vec_at(const struct vec *v, size_t i)
{
    return v->data + i * v->size;
}

static int
vec_push(struct vec *v, const void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap != 0 ? v->cap * 2 : 16;
        unsigned char *d = realloc(v->data, cap * v->size);
        if (d == NULL) {
            v->oom = true;
            return 1; /* stops the listing */
        }
        v->data = d;
        v->cap = cap;
    }
    memcpy(vec_at(v, v->n++), item, v->size);
    return 0;
}

/* Frees the array; rows may hold camera credentials, so they are wiped first. */
static void
vec_free(struct vec *v)
{
    if (v->data != NULL)
        rd_cleanse(v->data, v->cap * v->size);
    free(v->data);
    vec_init(v, v->size);
}

static int
collect_site(void *arg, const struct reg_site *row)
{
    return vec_push(arg, row);
}

static int
collect_relay(void *arg, const struct reg_relay *row)
{
    return vec_push(arg, row);
}

static int
collect_user(void *arg, const struct reg_user *row)
{
    return vec_push(arg, row);
}

static int
collect_pair(void *arg, const struct reg_pair *row)
{
    return vec_push(arg, row);
}

static int
collect_grant(void *arg, const char *camera_id)
{
    char id[RD_CAMERA_ID_MAX + 1];
    if (rd_str_copy(id, sizeof id, rd_str_cstr(camera_id)) != RD_OK)
        return 1;
    return vec_push(arg, id);
}

/* The last load sample of a relay (registry_sample_list gives them oldest first). */
static int
keep_last_sample(void *arg, const struct reg_load *row)
{
    struct reg_load *last = arg;
    *last = *row;
    return 0;
}

/* ---- Camera <-> relay pairs, summed per camera or per relay ------------------------------ */

static int
pair_cmp_camera(const void *a, const void *b)
{
    const struct reg_pair *x = a, *y = b;
    int d = strcmp(x->camera_id, y->camera_id);
    return d != 0 ? d : strcmp(x->relay_id, y->relay_id);
}

static int
pair_cmp_relay(const void *a, const void *b)
{
    const struct reg_pair *x = a, *y = b;
    int d = strcmp(x->relay_id, y->relay_id);
    return d != 0 ? d : strcmp(x->camera_id, y->camera_id);
}

static const char *
pair_key(const struct reg_pair *p, bool by_relay)
{
    return by_relay ? p->relay_id : p->camera_id;
}

/* Counts the pairs of id and sums their viewers; pairs must be sorted by that key. */
static void
pairs_sum(const struct vec *pairs, bool by_relay, const char *id, unsigned *count,
          uint64_t *viewers)
{
    size_t lo = 0, hi = pairs->n;
    while (lo < hi) { /* lower bound */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(pair_key(vec_at(pairs, mid), by_relay), id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *count = 0;
    *viewers = 0;
    for (; lo < pairs->n; lo++) {
        const struct reg_pair *p = vec_at(pairs, lo);
        if (strcmp(pair_key(p, by_relay), id) != 0)
            break;
        (*count)++;
        *viewers += p->viewers;
    }
}

/* Loads the mapping rows (relay_id / camera_id NULL = any), sorted by camera or relay. */
static int
pairs_load(struct cli *c, const char *relay_id, const char *camera_id, bool by_relay,
           struct vec *pairs)
{
    vec_init(pairs, sizeof(struct reg_pair));
    int r = registry_pair_list(c->reg, relay_id, camera_id, collect_pair, pairs);
    if (r != RD_OK) {
        vec_free(pairs);
        return reg_error(c, r, "pair", "*");
    }
    if (pairs->oom) {
        vec_free(pairs);
        return CLI_FAIL(c, "out of memory");
    }
    if (pairs->n > 1)
        qsort(pairs->data, pairs->n, pairs->size, by_relay ? pair_cmp_relay : pair_cmp_camera);
    return 0;
}

/* ---- Aligned tables ---------------------------------------------------------------------- */

#define CLI_TABLE_MAX_COLS 12

struct table {
    size_t n_cols; /* 1..CLI_TABLE_MAX_COLS */
    char **cells;  /* row-major; the first row is the header */
    size_t n_cells, cap_cells;
    bool oom;
};

static void cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one cell; a row is complete after n_cols cells. */
static void
cell(struct table *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    if (t->n_cells == t->cap_cells) {
        size_t cap = t->cap_cells != 0 ? t->cap_cells * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (cells == NULL) {
            t->oom = true;
            return;
        }
        t->cells = cells;
        t->cap_cells = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s == NULL) {
        t->oom = true;
        return;
    }
    va_start(ap, fmt);
    int m = vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (m != n) {
        free(s);
        t->oom = true;
        return;
    }
    t->cells[t->n_cells++] = s;
}

static void
table_init(struct table *t, const char *const *head, size_t n_cols)
{
    *t = (struct table){.n_cols = n_cols};
    if (n_cols == 0 || n_cols > CLI_TABLE_MAX_COLS) {
        t->oom = true; /* a programming error: table_done() reports it */
        return;
    }
    for (size_t i = 0; i < n_cols; i++)
        cell(t, "%s", head[i]);
}

static size_t
table_rows(const struct table *t)
{
    return t->n_cols != 0 && t->n_cells > t->n_cols ? t->n_cells / t->n_cols - 1 : 0;
}

/* Display width: UTF-8 code points (names may be UTF-8; the rest is ASCII). */
static size_t
text_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* Prints the header and the rows, columns two spaces apart, the last one unpadded. */
static void
table_print(const struct table *t, FILE *f)
{
    size_t width[CLI_TABLE_MAX_COLS] = {0};
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t col = i % t->n_cols, w = text_width(t->cells[i]);
        if (w > width[col])
            width[col] = w;
    }
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t col = i % t->n_cols;
        if (col + 1 == t->n_cols)
            put(f, "%s\n", t->cells[i]);
        else
            put(f, "%s%*s", t->cells[i], (int)(width[col] + 2 - text_width(t->cells[i])), "");
    }
}

static void
table_free(struct table *t)
{
    for (size_t i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    *t = (struct table){0};
}

/* Prints the table (or "none" when it has no rows) and frees it; returns the exit code. */
static int
table_done(struct cli *c, struct table *t, const char *empty)
{
    int rc = 0;
    if (t->oom)
        rc = CLI_FAIL(c, "out of memory");
    else if (table_rows(t) == 0)
        put(c->out, "%s\n", empty);
    else
        table_print(t, c->out);
    table_free(t);
    return rc;
}

/* "key   value" lines of a show command. */
static void kv(struct cli *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
kv(struct cli *c, const char *key, const char *fmt, ...)
{
    put(c->out, "%-13s ", key);
    va_list ap;
    va_start(ap, fmt);
    vput(c->out, fmt, ap);
    va_end(ap);
    put(c->out, "\n");
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* Prints v (stolen) as indented JSON. NULL means an allocation failed. */
static int
json_emit(struct cli *c, json_t *v)
{
    if (v == NULL)
        return CLI_FAIL(c, "out of memory building JSON");
    int r = json_dumpf(v, c->out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(v);
    if (r != 0)
        return CLI_FAIL(c, "cannot write the JSON output");
    put(c->out, "\n");
    return 0;
}

/* Appends item (stolen) to arr; false (and arr freed, *arr = NULL) when item is NULL or the
 * append fails, so callers just check the array at the end. */
static void
json_push(json_t **arr, json_t *item)
{
    if (*arr == NULL) {
        json_decref(item);
        return;
    }
    if (item == NULL || json_array_append_new(*arr, item) != 0) {
        json_decref(*arr);
        *arr = NULL;
    }
}

/* Adds key = v (stolen) to obj; on failure frees obj and sets it NULL. */
static void
json_put(json_t **obj, const char *key, json_t *v)
{
    if (*obj == NULL) {
        json_decref(v);
        return;
    }
    if (v == NULL || json_object_set_new(*obj, key, v) != 0) {
        json_decref(*obj);
        *obj = NULL;
    }
}

/* {"ok": true, "command": "camera rm", "id": id} for simple writes. */
static int
json_done(struct cli *c, const char *id)
{
    char command[32];
    int n = snprintf(command, sizeof command, "%s %s", c->cmd->group, c->cmd->name);
    if (n < 0 || (size_t)n >= sizeof command)
        return CLI_FAIL(c, "internal error: command name too long");
    return json_emit(c, json_pack("{s:b, s:s, s:s}", "ok", 1, "command", command, "id", id));
}

/* A camera without its credentials: creds only says whether it has some. */
static json_t *
camera_json(const struct reg_camera *cam, bool creds, unsigned relays, uint64_t viewers)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:b, s:b, s:b, s:I, s:I, s:I, s:I}", "id",
                     cam->id, "name", cam->name, "site", cam->site_id, "url", cam->upstream_url,
                     "has_credentials", creds, "transport", registry_transport_name(cam->transport),
                     "max_relays", (json_int_t)cam->max_relays, "auth", cam->auth_required,
                     "enabled", cam->enabled, "always_on", cam->always_on, "relays",
                     (json_int_t)relays, "viewers", (json_int_t)viewers, "created_at",
                     (json_int_t)cam->created_at, "updated_at", (json_int_t)cam->updated_at);
}

static json_t *
relay_json(const struct reg_relay *rl, const char *signing_kid, unsigned cameras, uint64_t viewers)
{
    return json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I, s:s, s:s?, s:I, s:I, s:I, s:I}", "id", rl->id,
                     "name", rl->name, "site", rl->site_id[0] != '\0' ? rl->site_id : NULL,
                     "rtsp_url", rl->base_url, "capacity", (json_int_t)rl->capacity_viewers,
                     "egress_mbps", (json_int_t)rl->capacity_mbps, "state",
                     registry_relay_state_name(rl->state), "signing_kid", signing_kid, "cameras",
                     (json_int_t)cameras, "viewers", (json_int_t)viewers, "created_at",
                     (json_int_t)rl->created_at, "updated_at", (json_int_t)rl->updated_at);
}

static json_t *
pair_json(const struct reg_pair *p, bool show_relay)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I}", show_relay ? "relay" : "camera",
                     show_relay ? p->relay_id : p->camera_id, "state",
                     registry_pull_state_name(p->state), "viewers", (json_int_t)p->viewers,
                     "ingress_kbps", (json_int_t)p->ingress_kbps, "since", (json_int_t)p->since);
}

/* ---- Reading a secret from stdin --------------------------------------------------------- */

/* Reads one line (the password) from c->in into buf[cap]: the newline (and a CR before it)
 * is dropped. With a terminal, echo is off and prompt goes to err. Returns RD_OK, RD_ENOTFOUND
 * when stdin is empty, RD_ELIMIT when the line is longer than cap - 1, RD_EPROTO for a NUL or
 * another control byte. buf is wiped on failure. */
static int
read_secret(struct cli *c, const char *prompt, char *buf, size_t cap)
{
    if (c->in == NULL)
        return RD_ENOTFOUND;
    int fd = fileno(c->in);
    struct termios saved;
    bool tty = fd >= 0 && isatty(fd) && tcgetattr(fd, &saved) == 0;
    if (tty) {
        struct termios quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
            tty = false;
        put(c->err, "%s", prompt);
        (void)fflush(c->err); /* the prompt must show before we block on the terminal */
    }
    size_t len = 0;
    int r = RD_OK, ch;
    bool any = false;
    while ((ch = getc(c->in)) != EOF) {
        any = true;
        if (ch == '\n')
            break;
        if (r != RD_OK)
            continue; /* consume the rest of a bad line */
        if (len + 1 >= cap)
            r = RD_ELIMIT;
        else if (ch == '\0' || (ch < 0x20 && ch != '\r') || ch == 0x7f)
            r = RD_EPROTO;
        else
            buf[len++] = (char)ch;
    }
    if (tty) {
        (void)tcsetattr(fd, TCSAFLUSH, &saved); /* best effort: nothing else to do */
        put(c->err, "\n");
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    for (size_t i = 0; r == RD_OK && i < len; i++) {
        if (buf[i] == '\r')
            r = RD_EPROTO;
    }
    if (r == RD_OK && !any)
        r = RD_ENOTFOUND;
    if (r != RD_OK) {
        rd_cleanse(buf, cap);
        return r;
    }
    buf[len] = '\0';
    return RD_OK;
}

/* read_secret with the error printed; returns 0 or exit code 1. */
static int
want_secret(struct cli *c, const char *what, char *buf, size_t cap)
{
    char prompt[96];
    int n = snprintf(prompt, sizeof prompt, "%s: ", what);
    if (n < 0 || (size_t)n >= sizeof prompt)
        prompt[0] = '\0';
    switch (read_secret(c, prompt, buf, cap)) {
    case RD_OK:
        return 0;
    case RD_ENOTFOUND:
        return CLI_FAIL(c, "no %s on stdin (give it as one line on standard input)", what);
    case RD_ELIMIT:
        return CLI_FAIL(c, "%s is too long (at most %zu bytes)", what, cap - 1);
    default:
        return CLI_FAIL(c, "%s contains a control character", what);
    }
}

/* ---- Sites ------------------------------------------------------------------------------- */

/* Checks that site id exists (cameras and relays must name an existing site); prints the
 * error, with the command that creates it. Returns 0 or exit code 1. */
static int
site_must_exist(struct cli *c, const char *id)
{
    struct reg_site s;
    int r = registry_site_get(c->reg, id, &s);
    if (r == RD_ENOTFOUND)
        return CLI_FAIL(c, "site '%s' does not exist (rtsp-broker site add %s)", id, id);
    if (r != RD_OK)
        return reg_error(c, r, "site", id);
    return 0;
}

static int
cmd_site_add(struct cli *c)
{
    const char *id = c->pos[0];
    if (!want_id(c, "site", id))
        return 1;
    struct reg_site s = {0};
    if (!want_copy(c, "site id", s.id, sizeof s.id, id)
        || !want_copy(c, "--name", s.name, sizeof s.name,
                      is_set(c, CLI_OPT_NAME) ? c->opt[CLI_OPT_NAME] : id))
        return 1;
    int r = registry_site_add(c->reg, &s);
    if (r != RD_OK)
        return reg_error(c, r, "site", id);
    if (c->json)
        return json_done(c, id);
    put(c->out, "site '%s' added\n", id);
    return 0;
}

/* Counts cameras or relays per site while listing (callbacks may not call the registry). */
struct site_count {
    struct vec *sites; /* struct reg_site, ordered by id (registry_site_list order) */
    unsigned *cameras, *relays;
};

static size_t
site_index(const struct vec *sites, const char *id)
{
    size_t lo = 0, hi = sites->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(((const struct reg_site *)vec_at(sites, mid))->id, id);
        if (d == 0)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

static int
count_camera_site(void *arg, const struct reg_camera *row)
{
    struct site_count *sc = arg;
    size_t i = site_index(sc->sites, row->site_id);
    if (i != SIZE_MAX)
        sc->cameras[i]++;
    return 0;
}

static int
count_relay_site(void *arg, const struct reg_relay *row)
{
    struct site_count *sc = arg;
    size_t i = site_index(sc->sites, row->site_id);
    if (i != SIZE_MAX)
        sc->relays[i]++;
    return 0;
}

static int
site_cmp(const void *a, const void *b)
{
    return strcmp(((const struct reg_site *)a)->id, ((const struct reg_site *)b)->id);
}

static int
cmd_site_list(struct cli *c)
{
    struct vec sites;
    vec_init(&sites, sizeof(struct reg_site));
    int r = registry_site_list(c->reg, collect_site, &sites);
    if (r != RD_OK || sites.oom) {
        vec_free(&sites);
        return r != RD_OK ? reg_error(c, r, "site", "*") : CLI_FAIL(c, "out of memory");
    }
    if (sites.n > 1)
        qsort(sites.data, sites.n, sites.size, site_cmp);
    struct site_count sc = {&sites, calloc(sites.n + 1, sizeof(unsigned)),
                            calloc(sites.n + 1, sizeof(unsigned))};
    int rc = 0;
    if (sc.cameras == NULL || sc.relays == NULL) {
        rc = CLI_FAIL(c, "out of memory");
        goto out;
    }
    if ((r = registry_camera_list(c->reg, NULL, count_camera_site, &sc)) != RD_OK
        || (r = registry_relay_list(c->reg, count_relay_site, &sc)) != RD_OK) {
        rc = reg_error(c, r, "site", "*");
        goto out;
    }
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < sites.n; i++) {
            const struct reg_site *s = vec_at(&sites, i);
            json_push(&arr,
                      json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", s->id, "name", s->name,
                                "cameras", (json_int_t)sc.cameras[i], "relays",
                                (json_int_t)sc.relays[i], "created_at", (json_int_t)s->created_at));
        }
        rc = json_emit(c, arr);
        goto out;
    }
    static const char *const head[] = {"ID", "NAME", "CAMERAS", "RELAYS", "CREATED (UTC)"};
    struct table t;
    table_init(&t, head, 5);
    for (size_t i = 0; i < sites.n; i++) {
        const struct reg_site *s = vec_at(&sites, i);
        char when[32];
        cell(&t, "%s", s->id);
        cell(&t, "%s", s->name);
        cell(&t, "%u", sc.cameras[i]);
        cell(&t, "%u", sc.relays[i]);
        cell(&t, "%s", fmt_time(s->created_at, when));
    }
    rc = table_done(c, &t, "no sites (add one: rtsp-broker site add ID)");
out:
    free(sc.cameras);
    free(sc.relays);
    vec_free(&sites);
    return rc;
}

/* What still uses a site (for the message when it cannot be removed). */
struct site_users {
    const char *id;
    unsigned cameras, relays;
};

static int
count_site_camera(void *arg, const struct reg_camera *row)
{
    (void)row; /* the listing is already filtered by site */
    ((struct site_users *)arg)->cameras++;
    return 0;
}

static int
count_site_relay(void *arg, const struct reg_relay *row)
{
    struct site_users *su = arg;
    su->relays += strcmp(row->site_id, su->id) == 0;
    return 0;
}

static int
cmd_site_rm(struct cli *c)
{
    const char *id = c->pos[0];
    if (!want_id(c, "site", id))
        return 1;
    int r = registry_site_rm(c->reg, id);
    if (r == RD_EDB && registry_last_fail(c->reg) == REG_FAIL_REFERENCE) {
        /* Say what still uses it. */
        struct site_users su = {.id = id};
        if (registry_camera_list(c->reg, id, count_site_camera, &su) == RD_OK
            && registry_relay_list(c->reg, count_site_relay, &su) == RD_OK)
            return CLI_FAIL(c,
                            "site '%s' is still used by %u camera(s) and %u relay(s); move or "
                            "remove them first",
                            id, su.cameras, su.relays);
        return CLI_FAIL(
            c, "site '%s' is still used by cameras or relays; move or remove them first", id);
    }
    if (r != RD_OK)
        return reg_error(c, r, "site", id);
    if (c->json)
        return json_done(c, id);
    put(c->out, "site '%s' removed\n", id);
    return 0;
}

/* ---- Cameras ----------------------------------------------------------------------------- */

/* True when the URL carries "userinfo@" before its host (RFC 3986 §3.2.1). */
static bool
url_has_userinfo(const char *url)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return false;
    p += 3;
    size_t auth_len = strcspn(p, "/?#");
    return memchr(p, '@', auth_len) != NULL;
}

static int
cmd_camera_add(struct cli *c)
{
    const char *id = c->pos[0], *url = c->pos[1];
    int rc = 0;
    struct reg_camera cam = {.transport = REG_TRANSPORT_AUTO,
                             .max_relays = CLI_DEFAULT_MAX_RELAYS,
                             .enabled = true,
                             .auth_required = is_set(c, CLI_OPT_AUTH),
                             .always_on = is_set(c, CLI_OPT_ALWAYS_ON)};
    /* Syntax first (exit 2), then content (exit 1), then stdin, then the database. */
    if (is_set(c, CLI_OPT_MAX_RELAYS)
        && !want_u32(c, CLI_OPT_MAX_RELAYS, 1, RD_REG_MAX_RELAYS_PER_CAMERA, &cam.max_relays, &rc))
        return rc;
    if (is_set(c, CLI_OPT_TRANSPORT)
        && registry_transport_parse(c->opt[CLI_OPT_TRANSPORT], &cam.transport) != RD_OK)
        return usage_fail(c, "--transport must be auto, tcp or udp (got '%s')",
                          shown(c, c->opt[CLI_OPT_TRANSPORT]));
    if (url_has_userinfo(url))
        return CLI_FAIL(c, "the URL carries credentials (user:password@host): give it without them "
                           "and pass --user USER; the password is then read from stdin (never put "
                           "it on the command line)");
    if (!want_id(c, "camera", id))
        return 1;
    const char *site = is_set(c, CLI_OPT_SITE) ? c->opt[CLI_OPT_SITE] : "default";
    if (!want_id(c, "site", site))
        return 1;
    if (!want_copy(c, "camera id", cam.id, sizeof cam.id, id)
        || !want_copy(c, "--name", cam.name, sizeof cam.name,
                      is_set(c, CLI_OPT_NAME) ? c->opt[CLI_OPT_NAME] : id)
        || !want_copy(c, "site id", cam.site_id, sizeof cam.site_id, site)
        || !want_copy(c, "URL", cam.upstream_url, sizeof cam.upstream_url, url))
        return 1;
    if (is_set(c, CLI_OPT_USER)) {
        if (c->opt[CLI_OPT_USER][0] == '\0')
            return usage_fail(c, "--user must not be empty");
        if (!want_copy(c, "--user", cam.upstream_user, sizeof cam.upstream_user,
                       c->opt[CLI_OPT_USER]))
            return 1;
    }
    if ((rc = site_must_exist(c, site)) != 0)
        return rc;
    struct reg_camera old;
    int r = registry_camera_get(c->reg, id, &old);
    rd_cleanse(&old, sizeof old);
    if (r == RD_OK)
        return CLI_FAIL(c, "camera '%s' already exists (remove it first: rtsp-broker camera rm %s)",
                        id, id);
    if (is_set(c, CLI_OPT_USER)
        && (rc = want_secret(c, "camera password", cam.upstream_password,
                             sizeof cam.upstream_password))
               != 0)
        return rc;
    r = registry_camera_add(c->reg, &cam);
    rd_cleanse(cam.upstream_password, sizeof cam.upstream_password);
    if (r != RD_OK)
        return reg_error(c, r, "camera", id);
    if (registry_camera_get(c->reg, id, &cam) != RD_OK) /* timestamps for the JSON */
        cam.created_at = cam.updated_at = 0;
    bool creds = cam.upstream_user[0] != '\0';
    json_t *j = c->json ? camera_json(&cam, creds, 0, 0) : NULL;
    rd_cleanse(&cam, sizeof cam);
    if (c->json)
        return json_emit(c, j);
    put(c->out, "camera '%s' added (site %s%s)\n", id, site,
        creds ? ", with upstream credentials" : "");
    return 0;
}

/* Camera list: rows are formatted in the listing callback, which may not call the registry,
 * so the pairs are loaded before. */
struct camera_listing {
    const struct vec *pairs; /* sorted by camera */
    json_t *arr;             /* --json */
    struct table tab;        /* otherwise */
    bool json;
};

static int
list_camera_row(void *arg, const struct reg_camera *cam)
{
    struct camera_listing *l = arg;
    unsigned relays;
    uint64_t viewers;
    pairs_sum(l->pairs, false, cam->id, &relays, &viewers);
    if (l->json) {
        json_push(&l->arr, camera_json(cam, cam->upstream_user[0] != '\0', relays, viewers));
        return l->arr == NULL;
    }
    cell(&l->tab, "%s", cam->id);
    cell(&l->tab, "%s", cam->name);
    cell(&l->tab, "%s", cam->site_id);
    cell(&l->tab, "%s", cam->enabled ? "enabled" : "disabled");
    cell(&l->tab, "%s", yes_no(cam->auth_required));
    cell(&l->tab, "%s", yes_no(cam->always_on));
    cell(&l->tab, "%s", registry_transport_name(cam->transport));
    cell(&l->tab, "%u/%u", relays, cam->max_relays);
    cell(&l->tab, "%llu", (unsigned long long)viewers);
    cell(&l->tab, "%s", cam->upstream_url);
    return l->tab.oom;
}

static int
cmd_camera_list(struct cli *c)
{
    const char *site = is_set(c, CLI_OPT_SITE) ? c->opt[CLI_OPT_SITE] : NULL;
    if (site != NULL && !want_id(c, "site", site))
        return 1;
    struct vec pairs;
    int rc = pairs_load(c, NULL, NULL, false, &pairs);
    if (rc != 0)
        return rc;
    static const char *const head[] = {"ID",        "NAME",      "SITE",   "STATE",   "AUTH",
                                       "ALWAYS_ON", "TRANSPORT", "RELAYS", "VIEWERS", "URL"};
    struct camera_listing l = {.pairs = &pairs, .json = c->json};
    if (c->json)
        l.arr = json_array();
    else
        table_init(&l.tab, head, 10);
    int r = registry_camera_list(c->reg, site, list_camera_row, &l);
    vec_free(&pairs);
    if (r != RD_OK) {
        json_decref(l.arr);
        table_free(&l.tab);
        return reg_error(c, r, "camera", "*");
    }
    if (c->json)
        return json_emit(c, l.arr);
    return table_done(c, &l.tab, "no cameras (add one: rtsp-broker camera add ID URL)");
}

/* The camera<->relay pull pairs of `camera show` (one row per relay) or `relay show` (one row
 * per camera: by_camera), after a blank line; frees pairs. */
static int
pairs_table(struct cli *c, struct vec *pairs, bool by_camera)
{
    put(c->out, "\n");
    static const char *const head[] = {"RELAY", "STATE", "VIEWERS", "INGRESS_KBPS", "SINCE (UTC)"};
    static const char *const head_cam[] = {"CAMERA", "STATE", "VIEWERS", "INGRESS_KBPS",
                                           "SINCE (UTC)"};
    struct table t;
    table_init(&t, by_camera ? head_cam : head, 5);
    for (size_t i = 0; i < pairs->n; i++) {
        const struct reg_pair *p = vec_at(pairs, i);
        char when[32];
        cell(&t, "%s", by_camera ? p->camera_id : p->relay_id);
        cell(&t, "%s", registry_pull_state_name(p->state));
        cell(&t, "%u", p->viewers);
        cell(&t, "%u", p->ingress_kbps);
        cell(&t, "%s", fmt_time(p->since, when));
    }
    vec_free(pairs);
    return table_done(c, &t, "");
}

static int
cmd_camera_show(struct cli *c)
{
    const char *id = c->pos[0];
    if (!want_id(c, "camera", id))
        return 1;
    struct reg_camera cam;
    int r = registry_camera_get(c->reg, id, &cam);
    /* Credentials never leave this function: only whether there are some. */
    bool creds = r == RD_OK && cam.upstream_user[0] != '\0';
    rd_cleanse(cam.upstream_user, sizeof cam.upstream_user);
    rd_cleanse(cam.upstream_password, sizeof cam.upstream_password);
    if (r != RD_OK)
        return reg_error(c, r, "camera", id);
    struct vec pairs;
    int rc = pairs_load(c, NULL, id, false, &pairs);
    if (rc != 0)
        return rc;
    unsigned relays;
    uint64_t viewers;
    pairs_sum(&pairs, false, id, &relays, &viewers);
    if (c->json) {
        json_t *o = camera_json(&cam, creds, relays, viewers);
        json_t *arr = json_array();
        for (size_t i = 0; i < pairs.n; i++)
            json_push(&arr, pair_json(vec_at(&pairs, i), true));
        json_put(&o, "pulls", arr);
        vec_free(&pairs);
        return json_emit(c, o);
    }
    char t1[32], t2[32];
    kv(c, "camera", "%s", cam.id);
    kv(c, "name", "%s", cam.name);
    kv(c, "site", "%s", cam.site_id);
    kv(c, "url", "%s", cam.upstream_url);
    kv(c, "credentials", "%s", creds ? "set (not shown)" : "none");
    kv(c, "transport", "%s", registry_transport_name(cam.transport));
    kv(c, "max relays", "%u", cam.max_relays);
    kv(c, "viewer auth", "%s", cam.auth_required ? "required (Digest)" : "none");
    kv(c, "state", "%s", cam.enabled ? "enabled" : "disabled");
    kv(c, "always on", "%s", yes_no(cam.always_on));
    kv(c, "created", "%s UTC", fmt_time(cam.created_at, t1));
    kv(c, "updated", "%s UTC", fmt_time(cam.updated_at, t2));
    if (pairs.n == 0) {
        kv(c, "pulled by", "no relay right now");
        vec_free(&pairs);
        return 0;
    }
    kv(c, "pulled by", "%u relay(s), %llu viewer(s)", relays, (unsigned long long)viewers);
    return pairs_table(c, &pairs, false);
}

static int
cmd_camera_rm(struct cli *c)
{
    const char *id = c->pos[0];
    if (!want_id(c, "camera", id))
        return 1;
    int r = registry_camera_rm(c->reg, id);
    if (r != RD_OK)
        return reg_error(c, r, "camera", id);
    if (c->json)
        return json_done(c, id);
    put(c->out, "camera '%s' removed (with its grants)\n", id);
    return 0;
}

static int
camera_set_enabled(struct cli *c, bool enabled)
{
    const char *id = c->pos[0];
    if (!want_id(c, "camera", id))
        return 1;
    int r = registry_camera_set_enabled(c->reg, id, enabled);
    if (r != RD_OK)
        return reg_error(c, r, "camera", id);
    if (c->json)
        return json_done(c, id);
    put(c->out, "camera '%s' %s\n", id,
        enabled ? "enabled" : "disabled (viewers get 404 on their next request)");
    return 0;
}

static int
cmd_camera_enable(struct cli *c)
{
    return camera_set_enabled(c, true);
}

static int
cmd_camera_disable(struct cli *c)
{
    return camera_set_enabled(c, false);
}

/* ---- Relays ------------------------------------------------------------------------------ */

/* Prints a relay key once (relay add, rotate-key): the key line in the key-file format of
 * url_token_key_parse() (64 hex digits), its kid and how to install it. */
static int
print_key(struct cli *c, const char *relay_id, struct reg_relay_key *key, const char *prev_kid)
{
    char hex[2 * RD_TOKEN_KEY_BYTES + 1];
    rd_hex_encode(key->key, sizeof key->key, hex);
    rd_cleanse(key->key, sizeof key->key);
    int rc = 0;
    if (c->json) {
        rc = json_emit(c, json_pack("{s:s, s:s, s:I, s:s?, s:s, s:s}", "relay", relay_id, "kid",
                                    key->kid, "gen", (json_int_t)key->gen, "previous_kid", prev_kid,
                                    "key", hex, "key_format", "hex"));
        rd_cleanse(hex, sizeof hex);
        return rc;
    }
    put(c->out,
        "\nkey id (kid): %s   (generation %u)\n"
        "key (shown only now; it is not printed again):\n"
        "%s\n\n",
        key->kid, key->gen, hex);
    rd_cleanse(hex, sizeof hex);
    if (prev_kid != NULL) {
        put(c->out,
            "The broker keeps signing this relay's viewer tokens with the key the relay holds\n"
            "until its heartbeats report the new one, so viewers keep playing meanwhile.\n"
            "The previous key (kid %s) stays valid until the next rotation, which retires it:\n"
            "install the new key before rotating again.\n\n",
            prev_kid);
        put(c->out,
            "Install it on the relay host, keeping the previous key:\n"
            "  mv %s %s\n"
            "  umask 077 && cat > %s    # paste the key line above, then Ctrl-D\n"
            "and in %s:\n"
            "  relay_id      = %s\n"
            "  key_id        = %s\n"
            "  key_file      = %s\n"
            "  prev_key_id   = %s\n"
            "  prev_key_file = %s\n"
            "then reload the relay (SIGHUP).\n",
            CLI_RELAY_KEY_FILE, CLI_RELAY_PREV_KEY_FILE, CLI_RELAY_KEY_FILE, CLI_RELAY_CONF_FILE,
            relay_id, key->kid, CLI_RELAY_KEY_FILE, prev_kid, CLI_RELAY_PREV_KEY_FILE);
        return rc;
    }
    put(c->out,
        "Install it on the relay host:\n"
        "  umask 077 && cat > %s    # paste the key line above, then Ctrl-D\n"
        "and in %s:\n"
        "  relay_id = %s\n"
        "  key_id   = %s\n"
        "  key_file = %s\n",
        CLI_RELAY_KEY_FILE, CLI_RELAY_CONF_FILE, relay_id, key->kid, CLI_RELAY_KEY_FILE);
    return rc;
}

static int
cmd_relay_add(struct cli *c)
{
    const char *id = c->pos[0];
    int rc = 0;
    struct reg_relay rl = {.capacity_viewers = CLI_DEFAULT_CAPACITY,
                           .capacity_mbps = CLI_DEFAULT_EGRESS_MBPS,
                           .state = REG_RELAY_ACTIVE};
    if (!is_set(c, CLI_OPT_SITE))
        return usage_fail(c, "--site is required (a site id, or '*' for a relay that serves "
                             "every site)");
    if (!is_set(c, CLI_OPT_RTSP_URL))
        return usage_fail(c, "--rtsp-url is required (the relay's public rtsp://host:port)");
    if (is_set(c, CLI_OPT_CAPACITY)
        && !want_u32(c, CLI_OPT_CAPACITY, 1, RD_REG_MAX_CAPACITY_VIEWERS, &rl.capacity_viewers,
                     &rc))
        return rc;
    if (is_set(c, CLI_OPT_EGRESS_MBPS)
        && !want_u32(c, CLI_OPT_EGRESS_MBPS, 1, RD_REG_MAX_CAPACITY_MBPS, &rl.capacity_mbps, &rc))
        return rc;
    if (!want_id(c, "relay", id))
        return 1;
    const char *site = c->opt[CLI_OPT_SITE];
    bool any_site = strcmp(site, "*") == 0;
    if (!any_site && !want_id(c, "site", site))
        return 1;
    if (url_has_userinfo(c->opt[CLI_OPT_RTSP_URL]))
        return CLI_FAIL(c, "--rtsp-url must not carry user info (user@host)");
    if (!want_copy(c, "relay id", rl.id, sizeof rl.id, id)
        || !want_copy(c, "--name", rl.name, sizeof rl.name,
                      is_set(c, CLI_OPT_NAME) ? c->opt[CLI_OPT_NAME] : id)
        || !want_copy(c, "site id", rl.site_id, sizeof rl.site_id, any_site ? "" : site)
        || !want_copy(c, "--rtsp-url", rl.base_url, sizeof rl.base_url, c->opt[CLI_OPT_RTSP_URL]))
        return 1;
    if (!any_site && (rc = site_must_exist(c, site)) != 0)
        return rc;
    struct reg_relay_key key;
    int r = registry_relay_add(c->reg, &rl, &key);
    if (r != RD_OK)
        return reg_error(c, r, "relay", id);
    if (!c->json)
        put(c->out, "relay '%s' added: site %s, %s, capacity %u viewers / %u Mbit/s\n", id,
            any_site ? "* (every site)" : site, rl.base_url, rl.capacity_viewers, rl.capacity_mbps);
    rc = print_key(c, id, &key, NULL);
    rd_cleanse(&key, sizeof key);
    return rc;
}

static int
cmd_relay_rotate_key(struct cli *c)
{
    const char *id = c->pos[0];
    if (!want_id(c, "relay", id))
        return 1;
    struct reg_relay_key keys[RD_REG_LIVE_KEYS], key;
    int r = registry_relay_rotate_key(c->reg, id, &key);
    if (r != RD_OK)
        return reg_error(c, r, "relay", id);
    /* The key that signed until now is the second live one (none if all were retired). */
    size_t n = 0;
    char prev[RD_TOKEN_KID_MAX + 1] = "";
    if (registry_relay_keys(c->reg, id, keys, &n) == RD_OK && n == 2)
        memcpy(prev, keys[1].kid, sizeof prev);
    rd_cleanse(keys, sizeof keys);
    if (!c->json)
        put(c->out, "relay '%s': new signing key\n", id);
    int rc = print_key(c, id, &key, prev[0] != '\0' ? prev : NULL);
    rd_cleanse(&key, sizeof key);
    return rc;
}

/* Relay list: relays are collected first, since the signing kid needs a registry call each. */
static int
cmd_relay_list(struct cli *c)
{
    struct vec relays, pairs;
    vec_init(&relays, sizeof(struct reg_relay));
    int r = registry_relay_list(c->reg, collect_relay, &relays);
    if (r != RD_OK || relays.oom) {
        vec_free(&relays);
        return r != RD_OK ? reg_error(c, r, "relay", "*") : CLI_FAIL(c, "out of memory");
    }
    int rc = pairs_load(c, NULL, NULL, true, &pairs);
    if (rc != 0) {
        vec_free(&relays);
        return rc;
    }
    static const char *const head[] = {"ID",          "NAME",    "SITE",    "STATE", "CAPACITY",
                                       "EGRESS_MBPS", "CAMERAS", "VIEWERS", "KID",   "URL"};
    struct table t = {0};
    json_t *arr = NULL;
    if (c->json)
        arr = json_array();
    else
        table_init(&t, head, 10);
    for (size_t i = 0; i < relays.n; i++) {
        const struct reg_relay *rl = vec_at(&relays, i);
        struct reg_relay_key keys[RD_REG_LIVE_KEYS];
        size_t n_keys = 0;
        char kid[RD_TOKEN_KID_MAX + 1] = "";
        r = registry_relay_keys(c->reg, rl->id, keys, &n_keys);
        if (r == RD_OK)
            memcpy(kid, keys[0].kid, sizeof kid);
        rd_cleanse(keys, sizeof keys);
        if (r != RD_OK && r != RD_ENOTFOUND) {
            rc = reg_error(c, r, "relay", rl->id);
            break;
        }
        unsigned cameras;
        uint64_t viewers;
        pairs_sum(&pairs, true, rl->id, &cameras, &viewers);
        if (c->json) {
            json_push(&arr, relay_json(rl, kid[0] != '\0' ? kid : NULL, cameras, viewers));
            continue;
        }
        cell(&t, "%s", rl->id);
        cell(&t, "%s", rl->name);
        cell(&t, "%s", rl->site_id[0] != '\0' ? rl->site_id : "*");
        cell(&t, "%s", registry_relay_state_name(rl->state));
        cell(&t, "%u", rl->capacity_viewers);
        cell(&t, "%u", rl->capacity_mbps);
        cell(&t, "%u", cameras);
        cell(&t, "%llu", (unsigned long long)viewers);
        cell(&t, "%s", kid[0] != '\0' ? kid : "-");
        cell(&t, "%s", rl->base_url);
    }
    vec_free(&pairs);
    vec_free(&relays);
    if (rc != 0) {
        json_decref(arr);
        table_free(&t);
        return rc;
    }
    if (c->json)
        return json_emit(c, arr);
    return table_done(c, &t,
                      "no relays (add one: rtsp-broker relay add ID --site S --rtsp-url URL)");
}

static int
cmd_relay_show(struct cli *c)
{
    const char *id = c->pos[0];
    if (!want_id(c, "relay", id))
        return 1;
    struct reg_relay rl;
    int r = registry_relay_get(c->reg, id, &rl);
    if (r != RD_OK)
        return reg_error(c, r, "relay", id);
    struct reg_relay_key keys[RD_REG_LIVE_KEYS];
    size_t n_keys = 0;
    r = registry_relay_keys(c->reg, id, keys, &n_keys);
    for (size_t i = 0; i < RD_REG_LIVE_KEYS; i++)
        rd_cleanse(keys[i].key, sizeof keys[i].key); /* only kids are shown */
    if (r != RD_OK && r != RD_ENOTFOUND)
        return reg_error(c, r, "relay", id);
    struct reg_load load = {0};
    r = registry_sample_list(c->reg, id, (int64_t)time(NULL) - RD_REG_SAMPLE_RETENTION_S,
                             keep_last_sample, &load);
    if (r != RD_OK)
        return reg_error(c, r, "relay", id);
    struct vec pairs;
    int rc = pairs_load(c, id, NULL, true, &pairs);
    if (rc != 0)
        return rc;
    unsigned cameras;
    uint64_t viewers;
    pairs_sum(&pairs, true, id, &cameras, &viewers);
    const char *signing = n_keys > 0 ? keys[0].kid : NULL;
    if (c->json) {
        json_t *o = relay_json(&rl, signing, cameras, viewers);
        json_t *ks = json_array();
        for (size_t i = 0; i < n_keys; i++)
            json_push(&ks, json_pack("{s:s, s:I, s:b, s:I}", "kid", keys[i].kid, "gen",
                                     (json_int_t)keys[i].gen, "signing", i == 0, "created_at",
                                     (json_int_t)keys[i].created_at));
        json_put(&o, "keys", ks);
        json_put(&o, "load",
                 load.last_seen == 0
                     ? json_null()
                     : json_pack("{s:I, s:b, s:I, s:I, s:f}", "at", (json_int_t)load.last_seen,
                                 "healthy", load.healthy, "viewers", (json_int_t)load.viewers,
                                 "egress_kbps", (json_int_t)load.egress_kbps, "cpu_pct",
                                 load.cpu_pct));
        json_t *arr = json_array();
        for (size_t i = 0; i < pairs.n; i++)
            json_push(&arr, pair_json(vec_at(&pairs, i), false));
        json_put(&o, "pulls", arr);
        vec_free(&pairs);
        return json_emit(c, o);
    }
    char t1[32], t2[32];
    kv(c, "relay", "%s", rl.id);
    kv(c, "name", "%s", rl.name);
    kv(c, "site", "%s", rl.site_id[0] != '\0' ? rl.site_id : "* (every site)");
    kv(c, "rtsp url", "%s", rl.base_url);
    kv(c, "capacity", "%u viewers, %u Mbit/s", rl.capacity_viewers, rl.capacity_mbps);
    kv(c, "state", "%s", registry_relay_state_name(rl.state));
    if (n_keys == 0)
        kv(c, "keys", "none live (rtsp-broker relay rotate-key %s)", id);
    for (size_t i = 0; i < n_keys; i++) {
        char when[32];
        kv(c, i == 0 ? "keys" : "", "%s (generation %u, %s, created %s UTC)", keys[i].kid,
           keys[i].gen, i == 0 ? "signing" : "verify only", fmt_time(keys[i].created_at, when));
    }
    if (load.last_seen == 0) {
        kv(c, "load", "no sample in the last hour");
    } else {
        char when[32];
        kv(c, "load", "%u viewers, %u kbit/s, cpu %.1f%%, %s (sample of %s UTC)", load.viewers,
           load.egress_kbps, load.cpu_pct, load.healthy ? "healthy" : "unhealthy",
           fmt_time(load.last_seen, when));
    }
    kv(c, "created", "%s UTC", fmt_time(rl.created_at, t1));
    kv(c, "updated", "%s UTC", fmt_time(rl.updated_at, t2));
    if (pairs.n == 0) {
        kv(c, "pulls", "no camera right now");
        vec_free(&pairs);
        return 0;
    }
    kv(c, "pulls", "%u camera(s), %llu viewer(s)", cameras, (unsigned long long)viewers);
    return pairs_table(c, &pairs, true);
}

static int
cmd_relay_rm(struct cli *c)
{
    const char *id = c->pos[0];
    if (!want_id(c, "relay", id))
        return 1;
    int r = registry_relay_rm(c->reg, id);
    if (r != RD_OK)
        return reg_error(c, r, "relay", id);
    if (c->json)
        return json_done(c, id);
    put(c->out, "relay '%s' removed (its keys no longer work)\n", id);
    return 0;
}

static int
relay_set_state(struct cli *c, enum reg_relay_state state, const char *what)
{
    const char *id = c->pos[0];
    if (!want_id(c, "relay", id))
        return 1;
    int r = registry_relay_set_state(c->reg, id, state);
    if (r != RD_OK)
        return reg_error(c, r, "relay", id);
    if (c->json)
        return json_done(c, id);
    put(c->out, "relay '%s' is now %s: %s\n", id, registry_relay_state_name(state), what);
    return 0;
}

static int
cmd_relay_drain(struct cli *c)
{
    return relay_set_state(c, REG_RELAY_DRAINING,
                           "no new viewers go there; the relay hears it in its next heartbeat");
}

static int
cmd_relay_activate(struct cli *c)
{
    return relay_set_state(c, REG_RELAY_ACTIVE, "it takes new viewers again");
}

static int
cmd_relay_disable(struct cli *c)
{
    return relay_set_state(c, REG_RELAY_DISABLED, "out of placement entirely");
}

/* ---- Users ------------------------------------------------------------------------------- */

/* Checks that user name exists; returns 0 or exit code 1. */
static int
user_must_exist(struct cli *c, const char *name)
{
    struct reg_user u;
    int r = registry_user_get(c->reg, name, &u);
    rd_cleanse(&u, sizeof u);
    if (r != RD_OK)
        return reg_error(c, r, "user", name);
    return 0;
}

static int
camera_must_exist(struct cli *c, const char *id)
{
    struct reg_camera cam;
    int r = registry_camera_get(c->reg, id, &cam);
    rd_cleanse(&cam, sizeof cam);
    if (r == RD_ENOTFOUND)
        return CLI_FAIL(c, "camera '%s' does not exist (rtsp-broker camera list)", id);
    if (r != RD_OK)
        return reg_error(c, r, "camera", id);
    return 0;
}

static int
cmd_user_add(struct cli *c)
{
    const char *name = c->pos[0];
    if (!want_user_name(c, name))
        return 1;
    int rc;
    for (size_t i = 0; i < c->n_cameras; i++) {
        if (!want_id(c, "camera", c->cameras[i]))
            return 1;
    }
    struct reg_user u = {0};
    if (!want_copy(c, "user name", u.name, sizeof u.name, name))
        return 1;
    if (c->conf->realm[0] == '\0')
        return CLI_FAIL(c, "the configuration has an empty realm: set realm in the config file");
    if (!want_copy(c, "realm", u.realm, sizeof u.realm, c->conf->realm))
        return 1;
    struct reg_user old;
    int r = registry_user_get(c->reg, name, &old);
    rd_cleanse(&old, sizeof old);
    if (r == RD_OK)
        return CLI_FAIL(c, "user '%s' already exists (remove it first: rtsp-broker user rm %s)",
                        name, name);
    if (r != RD_ENOTFOUND)
        return reg_error(c, r, "user", name);
    for (size_t i = 0; i < c->n_cameras; i++) {
        if ((rc = camera_must_exist(c, c->cameras[i])) != 0)
            return rc;
    }
    char password[RD_AUTH_MAX_PASSWORD + 1];
    if ((rc = want_secret(c, "password", password, sizeof password)) != 0)
        return rc;
    if (password[0] == '\0') {
        rd_cleanse(password, sizeof password);
        return CLI_FAIL(c, "empty password");
    }
    r = registry_user_ha1(&u, password);
    rd_cleanse(password, sizeof password);
    if (r == RD_EPROTO || r == RD_ELIMIT) /* the name was checked above: the realm is bad */
        return CLI_FAIL(c,
                        "the configured realm is not usable for Digest (1 to %d printable ASCII "
                        "characters without '\"' or '\\')",
                        RD_AUTH_MAX_REALM);
    if (r != RD_OK)
        return CLI_FAIL(c, "cannot compute the password hashes (%s)", rd_strstatus(r));
    r = registry_user_add(c->reg, &u);
    rd_cleanse(&u, sizeof u);
    if (r != RD_OK)
        return reg_error(c, r, "user", name);
    for (size_t i = 0; i < c->n_cameras; i++) {
        r = registry_user_grant(c->reg, name, c->cameras[i]);
        if (r != RD_OK) {
            rc = reg_error(c, r, "camera", c->cameras[i]);
            /* All or nothing: a user without the grants asked for is not what was meant. */
            if (registry_user_rm(c->reg, name) != RD_OK)
                cli_msg(c,
                        "user '%s' was added without all its cameras; remove it with: "
                        "rtsp-broker user rm %s",
                        name, name);
            return rc;
        }
    }
    if (c->json)
        return json_done(c, name);
    put(c->out, "user '%s' added (realm \"%s\", %zu camera(s))\n", name, c->conf->realm,
        c->n_cameras);
    return 0;
}

static int
cmd_user_list(struct cli *c)
{
    struct vec users;
    vec_init(&users, sizeof(struct reg_user));
    int r = registry_user_list(c->reg, collect_user, &users);
    if (r != RD_OK || users.oom) {
        vec_free(&users);
        return r != RD_OK ? reg_error(c, r, "user", "*") : CLI_FAIL(c, "out of memory");
    }
    static const char *const head[] = {"NAME", "REALM", "CAMERAS", "CREATED (UTC)"};
    struct table t = {0};
    json_t *arr = NULL;
    if (c->json)
        arr = json_array();
    else
        table_init(&t, head, 4);
    int rc = 0;
    bool other_realm = false;
    for (size_t i = 0; i < users.n && rc == 0; i++) {
        const struct reg_user *u = vec_at(&users, i);
        struct vec grants;
        vec_init(&grants, RD_CAMERA_ID_MAX + 1);
        r = registry_user_grants(c->reg, u->name, collect_grant, &grants);
        if (r != RD_OK || grants.oom) {
            rc = r != RD_OK ? reg_error(c, r, "user", u->name) : CLI_FAIL(c, "out of memory");
            vec_free(&grants);
            break;
        }
        other_realm |= strcmp(u->realm, c->conf->realm) != 0;
        if (c->json) {
            json_t *cams = json_array();
            for (size_t k = 0; k < grants.n; k++)
                json_push(&cams, json_string(vec_at(&grants, k)));
            json_push(&arr, json_pack("{s:s, s:s, s:o, s:I}", "name", u->name, "realm", u->realm,
                                      "cameras", cams, "created_at", (json_int_t)u->created_at));
        } else {
            /* One cell "a,b,c": joined into a heap string of the exact size. */
            size_t len = 1;
            for (size_t k = 0; k < grants.n; k++)
                len += strlen(vec_at(&grants, k)) + 1;
            char *list = malloc(len);
            if (list == NULL) {
                t.oom = true;
            } else {
                size_t at = 0;
                for (size_t k = 0; k < grants.n; k++) {
                    size_t n = strlen(vec_at(&grants, k));
                    if (k > 0)
                        list[at++] = ',';
                    memcpy(list + at, vec_at(&grants, k), n);
                    at += n;
                }
                list[at] = '\0';
                char when[32];
                cell(&t, "%s", u->name);
                cell(&t, "%s", u->realm);
                cell(&t, "%s", grants.n > 0 ? list : "-");
                cell(&t, "%s", fmt_time(u->created_at, when));
                free(list);
            }
        }
        vec_free(&grants);
    }
    vec_free(&users);
    if (rc != 0) {
        json_decref(arr);
        table_free(&t);
        return rc;
    }
    if (c->json)
        return json_emit(c, arr);
    rc = table_done(c, &t, "no users (add one: rtsp-broker user add NAME < password-file)");
    if (rc == 0 && other_realm)
        put(c->err,
            "note: users of another realm than \"%s\" cannot log in until they are added "
            "again\n",
            c->conf->realm);
    return rc;
}

static int
cmd_user_rm(struct cli *c)
{
    const char *name = c->pos[0];
    if (!want_user_name(c, name))
        return 1;
    int r = registry_user_rm(c->reg, name);
    if (r != RD_OK)
        return reg_error(c, r, "user", name);
    if (c->json)
        return json_done(c, name);
    put(c->out, "user '%s' removed\n", name);
    return 0;
}

static int
cmd_user_grant(struct cli *c)
{
    const char *name = c->pos[0], *cam = c->pos[1];
    if (!want_user_name(c, name) || !want_id(c, "camera", cam))
        return 1;
    int rc;
    if ((rc = user_must_exist(c, name)) != 0 || (rc = camera_must_exist(c, cam)) != 0)
        return rc;
    int r = registry_user_grant(c->reg, name, cam);
    if (r != RD_OK)
        return reg_error(c, r, "grant", cam);
    if (c->json)
        return json_done(c, name);
    put(c->out, "user '%s' may view camera '%s'\n", name, cam);
    return 0;
}

static int
cmd_user_revoke(struct cli *c)
{
    const char *name = c->pos[0], *cam = c->pos[1];
    if (!want_user_name(c, name) || !want_id(c, "camera", cam))
        return 1;
    int rc;
    if ((rc = user_must_exist(c, name)) != 0)
        return rc;
    int r = registry_user_revoke(c->reg, name, cam);
    if (r == RD_ENOTFOUND)
        return CLI_FAIL(c, "user '%s' has no grant for camera '%s'", name, cam);
    if (r != RD_OK)
        return reg_error(c, r, "grant", cam);
    if (c->json)
        return json_done(c, name);
    put(c->out, "user '%s' may no longer view camera '%s'\n", name, cam);
    return 0;
}

/* ---- The command table ------------------------------------------------------------------- */

#define CLI_CAMERA_ADD_OPTS                                                                        \
    (CLI_OPT_BIT(CLI_OPT_NAME) | CLI_OPT_BIT(CLI_OPT_SITE) | CLI_OPT_BIT(CLI_OPT_MAX_RELAYS)       \
     | CLI_OPT_BIT(CLI_OPT_AUTH) | CLI_OPT_BIT(CLI_OPT_ALWAYS_ON) | CLI_OPT_BIT(CLI_OPT_TRANSPORT) \
     | CLI_OPT_BIT(CLI_OPT_USER))
#define CLI_RELAY_ADD_OPTS                                                                         \
    (CLI_OPT_BIT(CLI_OPT_SITE) | CLI_OPT_BIT(CLI_OPT_RTSP_URL) | CLI_OPT_BIT(CLI_OPT_NAME)         \
     | CLI_OPT_BIT(CLI_OPT_CAPACITY) | CLI_OPT_BIT(CLI_OPT_EGRESS_MBPS))

static const struct cli_cmd cli_cmds[] = {
    {"camera", "add", cmd_camera_add, 2, 2, CLI_CAMERA_ADD_OPTS,
     "ID URL [--name N] [--site S] [--max-relays N] [--auth] [--always-on] "
     "[--transport auto|tcp|udp] [--user U]",
     "add a camera; with --user its password is read from stdin"},
    {"camera", "list", cmd_camera_list, 0, 0, CLI_OPT_BIT(CLI_OPT_SITE), "[--site S]",
     "list cameras with the relays pulling them and their viewers"},
    {"camera", "show", cmd_camera_show, 1, 1, 0, "ID",
     "a camera's settings (no credentials), relays pulling it now and viewers"},
    {"camera", "rm", cmd_camera_rm, 1, 1, 0, "ID", "remove a camera and its grants"},
    {"camera", "enable", cmd_camera_enable, 1, 1, 0, "ID", "serve a camera again"},
    {"camera", "disable", cmd_camera_disable, 1, 1, 0, "ID", "stop serving a camera (404)"},
    {"relay", "add", cmd_relay_add, 1, 1, CLI_RELAY_ADD_OPTS,
     "ID --site S|'*' --rtsp-url URL [--name N] [--capacity N] [--egress-mbps N]",
     "add a relay; prints its key once"},
    {"relay", "list", cmd_relay_list, 0, 0, 0, "", "list relays with their load"},
    {"relay", "show", cmd_relay_show, 1, 1, 0, "ID",
     "a relay's settings, key ids, last load and cameras"},
    {"relay", "rm", cmd_relay_rm, 1, 1, 0, "ID", "remove a relay and its keys"},
    {"relay", "drain", cmd_relay_drain, 1, 1, 0, "ID", "send no new viewers to a relay"},
    {"relay", "activate", cmd_relay_activate, 1, 1, 0, "ID", "place viewers on a relay again"},
    {"relay", "disable", cmd_relay_disable, 1, 1, 0, "ID", "take a relay out of placement"},
    {"relay", "rotate-key", cmd_relay_rotate_key, 1, 1, 0, "ID",
     "new signing key, printed once; the previous one stays valid"},
    {"user", "add", cmd_user_add, 1, 1, CLI_OPT_BIT(CLI_OPT_CAMERA), "NAME [--camera ID]...",
     "add a viewer; its password is read from stdin (one line)"},
    {"user", "list", cmd_user_list, 0, 0, 0, "", "list viewers and their cameras"},
    {"user", "rm", cmd_user_rm, 1, 1, 0, "NAME", "remove a viewer"},
    {"user", "grant", cmd_user_grant, 2, 2, 0, "NAME ID", "allow a viewer to watch a camera"},
    {"user", "revoke", cmd_user_revoke, 2, 2, 0, "NAME ID", "withdraw that permission"},
    {"site", "add", cmd_site_add, 1, 1, CLI_OPT_BIT(CLI_OPT_NAME), "ID [--name N]", "add a site"},
    {"site", "list", cmd_site_list, 0, 0, 0, "", "list sites with their cameras and relays"},
    {"site", "rm", cmd_site_rm, 1, 1, 0, "ID", "remove an unused site"},
};

#define CLI_N_CMDS (sizeof cli_cmds / sizeof cli_cmds[0])

static const char *const cli_groups[] = {"camera", "relay", "user", "site"};

bool
cli_is_command(const char *word)
{
    if (word == NULL)
        return false;
    for (size_t i = 0; i < sizeof cli_groups / sizeof cli_groups[0]; i++) {
        if (strcmp(word, cli_groups[i]) == 0)
            return true;
    }
    return false;
}

/* Usage of every subcommand of group (NULL: all groups). */
static void
print_usage(FILE *f, const char *group)
{
    put(f, "usage:\n");
    for (size_t i = 0; i < CLI_N_CMDS; i++) {
        if (group == NULL || strcmp(cli_cmds[i].group, group) == 0)
            print_cmd_usage(f, &cli_cmds[i]);
    }
    put(f, "options: --json (JSON output, anywhere on the line), -h/--help\n");
}

static void
print_help(FILE *f, const char *group)
{
    print_usage(f, group);
    put(f, "\n");
    for (size_t i = 0; i < CLI_N_CMDS; i++) {
        if (group == NULL || strcmp(cli_cmds[i].group, group) == 0)
            put(f, "  %-6s %-11s %s\n", cli_cmds[i].group, cli_cmds[i].name, cli_cmds[i].help);
    }
}

static const struct cli_cmd *
find_cmd(const char *group, const char *name)
{
    for (size_t i = 0; i < CLI_N_CMDS; i++) {
        if (strcmp(cli_cmds[i].group, group) == 0 && strcmp(cli_cmds[i].name, name) == 0)
            return &cli_cmds[i];
    }
    return NULL;
}

/* Parses args[0..n) (after the subcommand, --json already removed) into c. Returns 0 or the
 * exit code 2 of a usage error. */
static int
parse_args(struct cli *c, char **args, size_t n)
{
    bool only_pos = false;
    for (size_t i = 0; i < n; i++) {
        const char *a = args[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (c->n_pos == c->cmd->n_pos_max)
                return usage_fail(c, "unexpected argument '%s'", shown(c, a));
            c->pos[c->n_pos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (a[1] != '-')
            return usage_fail(c, "unknown option '%s'", shown(c, a));
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        enum cli_opt o = CLI_OPT__COUNT;
        for (unsigned k = 0; k < CLI_OPT__COUNT; k++) {
            if (strlen(cli_opts[k].name) == name_len
                && memcmp(cli_opts[k].name, name, name_len) == 0)
                o = (enum cli_opt)k;
        }
        if (o == CLI_OPT__COUNT || (c->cmd->opts & CLI_OPT_BIT(o)) == 0)
            return usage_fail(c, "unknown option '%s'", shown(c, a));
        const struct cli_opt_def *d = &cli_opts[o];
        const char *value = "";
        if (d->has_value) {
            if (eq != NULL)
                value = eq + 1;
            else if (i + 1 < n)
                value = args[++i];
            else
                return usage_fail(c, "--%s needs a value", d->name);
        } else if (eq != NULL) {
            return usage_fail(c, "--%s takes no value", d->name);
        }
        if (d->repeatable) {
            c->cameras[c->n_cameras++] = value;
        } else if (c->opt[o] != NULL) {
            return usage_fail(c, "--%s given twice", d->name);
        }
        c->opt[o] = value;
    }
    if (c->n_pos < c->cmd->n_pos_min) {
        /* Name the first missing word of the usage ("ID URL ...": URL when one was given). */
        const char *w = c->cmd->args;
        for (size_t k = 0; k < c->n_pos; k++)
            w += strcspn(w, " ") + 1;
        return usage_fail(c, "missing %.*s", (int)strcspn(w, " "), w);
    }
    return 0;
}

static bool
is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0;
}

int
cli_main(const struct broker_conf *conf, int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    if (argc < 1 || argv == NULL || argv[0] == NULL) {
        print_usage(err, NULL);
        return 2;
    }
    struct cli c = {.conf = conf, .in = in, .out = out, .err = err};
    /* --json may be anywhere; the rest keeps its order. */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    c.cameras = calloc((size_t)argc + 1, sizeof *c.cameras);
    if (args == NULL || c.cameras == NULL) {
        free(args);
        free(c.cameras);
        put(err, "rtsp-broker: out of memory\n");
        return 1;
    }
    size_t n = 0;
    bool help = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            c.json = true;
        else if (is_help(argv[i]) && (n == 0 || strcmp(argv[i], "help") != 0))
            help = true;
        else
            args[n++] = argv[i];
    }
    int rc;
    const char *group = argv[0];
    if (!cli_is_command(group)) {
        put(err, "rtsp-broker: unknown command '%s'\n", shown(&c, group));
        print_usage(err, NULL);
        rc = 2;
        goto out;
    }
    if (n == 0) {
        if (help) {
            print_help(out, group);
            rc = 0;
        } else {
            put(err, "rtsp-broker %s: missing subcommand\n", group);
            print_usage(err, group);
            rc = 2;
        }
        goto out;
    }
    c.cmd = find_cmd(group, args[0]);
    if (c.cmd == NULL) {
        put(err, "rtsp-broker %s: unknown subcommand '%s'\n", group, shown(&c, args[0]));
        print_usage(err, group);
        rc = 2;
        goto out;
    }
    if (help) {
        put(out, "usage:\n");
        print_cmd_usage(out, c.cmd);
        put(out, "%s\n", c.cmd->help);
        rc = 0;
        goto out;
    }
    if ((rc = parse_args(&c, args + 1, n - 1)) != 0)
        goto out;

    char open_err[RD_ERRBUF_LEN];
    if (registry_open(conf->database, &c.reg, open_err, sizeof open_err) != RD_OK) {
        rc = CLI_FAIL(&c, "cannot open the registry %s: %s", conf->database, open_err);
        goto out;
    }
    rc = c.cmd->run(&c);
    registry_close(c.reg);
    if (fflush(out) != 0 || ferror(out)) {
        put(err, "rtsp-broker: cannot write the output\n");
        rc = 1;
    }
out:
    free(args);
    free(c.cameras);
    return rc;
}
