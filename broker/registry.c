/* SPDX-License-Identifier: MIT */
/* The broker's SQLite registry: open with WAL/FULL/foreign keys, embedded migrations checked
 * against PRAGMA user_version, persistent prepared statements, typed copies of rows, and the
 * one-transaction flush of live state. The only file in the broker that includes sqlite3.h. */
#define _POSIX_C_SOURCE 200809L

#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crypto.h"
#include "rd_err.h"
#include "rd_str.h"
#include "registry_schema.h"
#include "url.h"

#define REG_ERRMSG_LEN 512 /* an operation, an id (<= 128 bytes) and SQLite's text */
#define REG_KID_RAND   6   /* random bytes behind a kid: 8 base64url characters */

/* Every statement, prepared once at open with SQLITE_PREPARE_PERSISTENT. */
enum st {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_VERSION,
    ST_SITE_ADD,
    ST_SITE_GET,
    ST_SITE_RM,
    ST_SITE_LIST,
    ST_CAM_ADD,
    ST_CAM_UPDATE,
    ST_CAM_GET,
    ST_CAM_RM,
    ST_CAM_ENABLE,
    ST_CAM_LIST,
    ST_RELAY_ADD,
    ST_RELAY_UPDATE,
    ST_RELAY_GET,
    ST_RELAY_RM,
    ST_RELAY_STATE,
    ST_RELAY_LIST,
    ST_KEY_ADD,
    ST_KEY_NEXT_GEN,
    ST_KEY_RETIRE_OLD,
    ST_KEY_LIVE,
    ST_USER_ADD,
    ST_USER_GET,
    ST_USER_RM,
    ST_USER_LIST,
    ST_GRANT,
    ST_REVOKE,
    ST_MAY_VIEW,
    ST_GRANTS,
    ST_PAIR_UPSERT,
    ST_PAIR_DEL,
    ST_PAIR_DEL_RELAY,
    ST_LOAD_UPSERT,
    ST_SAMPLE_TAKE,
    ST_DECISION_ADD,
    ST_TRIM_DECISIONS,
    ST_TRIM_SAMPLES_AGE,
    ST_TRIM_SAMPLES_ROWS,
    ST_RESET_PAIRS,
    ST_RESET_LOADS,
    ST_PAIR_LIST,
    ST_DECISION_LIST,
    ST_SAMPLE_LIST,
    ST__COUNT
};

#define CAM_COLS                                                                                   \
    "id, name, site_id, upstream_url, upstream_user, upstream_password, transport, max_relays, "   \
    "auth_required, enabled, always_on, created_at, updated_at"
#define RELAY_COLS                                                                                 \
    "id, name, site_id, rtsp_base_url, capacity_viewers, capacity_mbps, state, created_at, "       \
    "updated_at"
#define USER_COLS "name, realm, ha1_md5, ha1_sha256, created_at"

static const char *const st_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_VERSION] = "SELECT version FROM registry_version WHERE id = 1",
    [ST_SITE_ADD] = "INSERT INTO sites (id, name) VALUES (?1, ?2)",
    [ST_SITE_GET] = "SELECT id, name, created_at FROM sites WHERE id = ?1",
    [ST_SITE_RM] = "DELETE FROM sites WHERE id = ?1",
    [ST_SITE_LIST] = "SELECT id, name, created_at FROM sites ORDER BY id",
    [ST_CAM_ADD] = "INSERT INTO cameras (id, name, site_id, upstream_url, upstream_user, "
                   "upstream_password, transport, max_relays, auth_required, enabled, always_on) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_CAM_UPDATE] = "UPDATE cameras SET name = ?2, site_id = ?3, upstream_url = ?4, "
                      "upstream_user = ?5, upstream_password = ?6, transport = ?7, "
                      "max_relays = ?8, auth_required = ?9, enabled = ?10, always_on = ?11, "
                      "updated_at = unixepoch() WHERE id = ?1",
    [ST_CAM_GET] = "SELECT " CAM_COLS " FROM cameras WHERE id = ?1",
    [ST_CAM_RM] = "DELETE FROM cameras WHERE id = ?1",
    [ST_CAM_ENABLE] = "UPDATE cameras SET enabled = ?2, updated_at = unixepoch() WHERE id = ?1",
    [ST_CAM_LIST] = "SELECT " CAM_COLS " FROM cameras WHERE ?1 IS NULL OR site_id = ?1 "
                    "ORDER BY id",
    [ST_RELAY_ADD] = "INSERT INTO relays (id, name, site_id, rtsp_base_url, capacity_viewers, "
                     "capacity_mbps, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_RELAY_UPDATE] = "UPDATE relays SET name = ?2, site_id = ?3, rtsp_base_url = ?4, "
                        "capacity_viewers = ?5, capacity_mbps = ?6, state = ?7, "
                        "updated_at = unixepoch() WHERE id = ?1",
    [ST_RELAY_GET] = "SELECT " RELAY_COLS " FROM relays WHERE id = ?1",
    [ST_RELAY_RM] = "DELETE FROM relays WHERE id = ?1",
    [ST_RELAY_STATE] = "UPDATE relays SET state = ?2, updated_at = unixepoch() WHERE id = ?1",
    [ST_RELAY_LIST] = "SELECT " RELAY_COLS " FROM relays ORDER BY id",
    [ST_KEY_ADD] = "INSERT INTO relay_keys (relay_id, kid, gen, key, created_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_KEY_NEXT_GEN] = "SELECT coalesce(max(gen), 0) + 1 FROM relay_keys WHERE relay_id = ?1",
    /* Retiring overwrites the key: a copy of the file can no longer mint with it. */
    [ST_KEY_RETIRE_OLD] = "UPDATE relay_keys SET retired = 1, key = zeroblob(32) "
                          "WHERE relay_id = ?1 AND retired = 0 AND gen < ?2",
    [ST_KEY_LIVE] = "SELECT kid, key, gen, created_at FROM relay_keys "
                    "WHERE relay_id = ?1 AND retired = 0 ORDER BY gen DESC LIMIT 2",
    [ST_USER_ADD] = "INSERT INTO users (name, realm, ha1_md5, ha1_sha256) VALUES (?1, ?2, ?3, ?4)",
    [ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE name = ?1",
    [ST_USER_RM] = "DELETE FROM users WHERE name = ?1",
    [ST_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY name",
    [ST_GRANT] = "INSERT OR IGNORE INTO user_cameras (user_name, camera_id) VALUES (?1, ?2)",
    [ST_REVOKE] = "DELETE FROM user_cameras WHERE user_name = ?1 AND camera_id = ?2",
    [ST_MAY_VIEW] = "SELECT 1 FROM user_cameras WHERE user_name = ?1 AND camera_id = ?2",
    [ST_GRANTS] = "SELECT camera_id FROM user_cameras WHERE user_name = ?1 ORDER BY camera_id",
    /* Rows naming a camera or relay deleted meanwhile are skipped (changes() == 0) rather than
     * failing the whole batch on the foreign key. */
    [ST_PAIR_UPSERT] = "INSERT INTO relay_cameras (camera_id, relay_id, state, viewers, "
                       "ingress_kbps, since, updated_at) "
                       "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 "
                       "WHERE EXISTS (SELECT 1 FROM cameras WHERE id = ?1) "
                       "AND EXISTS (SELECT 1 FROM relays WHERE id = ?2) "
                       "ON CONFLICT (camera_id, relay_id) DO UPDATE SET state = excluded.state, "
                       "viewers = excluded.viewers, ingress_kbps = excluded.ingress_kbps, "
                       "updated_at = excluded.updated_at",
    [ST_PAIR_DEL] = "DELETE FROM relay_cameras WHERE camera_id = ?1 AND relay_id = ?2",
    [ST_PAIR_DEL_RELAY] = "DELETE FROM relay_cameras WHERE relay_id = ?1",
    [ST_LOAD_UPSERT] = "INSERT INTO relay_load (relay_id, reported_state, healthy, viewers, "
                       "egress_kbps, cpu_pct, last_seen, updated_at) "
                       "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 "
                       "WHERE EXISTS (SELECT 1 FROM relays WHERE id = ?1) "
                       "ON CONFLICT (relay_id) DO UPDATE SET "
                       "reported_state = excluded.reported_state, healthy = excluded.healthy, "
                       "viewers = excluded.viewers, egress_kbps = excluded.egress_kbps, "
                       "cpu_pct = excluded.cpu_pct, last_seen = excluded.last_seen, "
                       "updated_at = excluded.updated_at",
    [ST_SAMPLE_TAKE] = "INSERT INTO load_samples (relay_id, at, healthy, viewers, egress_kbps, "
                       "cpu_pct) SELECT relay_id, ?1, healthy, viewers, egress_kbps, cpu_pct "
                       "FROM relay_load",
    [ST_DECISION_ADD] = "INSERT INTO decisions (at_ms, camera_id, relay_id, status, reason, "
                        "client) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* ids grow by one per insert and only the oldest are deleted, so max(id) - keep is the
     * boundary of the newest keep rows. */
    [ST_TRIM_DECISIONS] = "DELETE FROM decisions WHERE id <= (SELECT max(id) FROM decisions) - ?1",
    [ST_TRIM_SAMPLES_AGE] = "DELETE FROM load_samples WHERE at < ?1",
    [ST_TRIM_SAMPLES_ROWS] = "DELETE FROM load_samples "
                             "WHERE id <= (SELECT max(id) FROM load_samples) - ?1",
    [ST_RESET_PAIRS] = "DELETE FROM relay_cameras",
    [ST_RESET_LOADS] = "DELETE FROM relay_load",
    [ST_PAIR_LIST] = "SELECT camera_id, relay_id, state, viewers, ingress_kbps, since, "
                     "updated_at FROM relay_cameras "
                     "WHERE (?1 IS NULL OR relay_id = ?1) AND (?2 IS NULL OR camera_id = ?2) "
                     "ORDER BY camera_id, relay_id",
    [ST_DECISION_LIST] = "SELECT at_ms, camera_id, relay_id, status, reason, client "
                         "FROM decisions WHERE ?1 IS NULL OR camera_id = ?1 "
                         "ORDER BY id DESC LIMIT ?2",
    [ST_SAMPLE_LIST] = "SELECT relay_id, at, healthy, viewers, egress_kbps, cpu_pct "
                       "FROM load_samples WHERE relay_id = ?1 AND at >= ?2 ORDER BY at, id",
};

struct registry {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
    enum reg_fail fail;
    struct registry_stats stats;
    char errmsg[REG_ERRMSG_LEN];
};

/* ---- Errors ------------------------------------------------------------------------------ */

static void set_msg(struct registry *reg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_msg(struct registry *reg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(reg->errmsg, sizeof reg->errmsg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        reg->errmsg[0] = '\0';
    } else if ((size_t)n >= sizeof reg->errmsg) {
        /* Only ever shown to an operator: cut, with a visible marker. */
        memcpy(reg->errmsg + sizeof reg->errmsg - 4, "...", 4);
    }
}

static void
ok(struct registry *reg)
{
    reg->fail = REG_FAIL_NONE;
    reg->errmsg[0] = '\0';
}

/* A malformed argument: nothing was sent to the database. */
static int
invalid(struct registry *reg, int code, const char *op, const char *field, const char *why)
{
    reg->fail = REG_FAIL_NONE;
    set_msg(reg, "%s: %s %s", op, field, why);
    return code;
}

static enum reg_fail
fail_kind(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return REG_FAIL_EXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return REG_FAIL_REFERENCE;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return REG_FAIL_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return REG_FAIL_BUSY;
    case SQLITE_FULL:
        return REG_FAIL_FULL;
    case SQLITE_READONLY:
        return REG_FAIL_READONLY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return REG_FAIL_CORRUPT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return REG_FAIL_IO;
    default:
        return REG_FAIL_OTHER;
    }
}

static const char *
fail_hint(enum reg_fail kind)
{
    switch (kind) {
    case REG_FAIL_EXISTS:
        return " (already exists)";
    case REG_FAIL_REFERENCE:
        return " (refers to a missing row, or is still referenced)";
    case REG_FAIL_BUSY:
        return " (another connection holds the write lock; retry)";
    case REG_FAIL_FULL:
        return " (nothing written; free space or raise the size limit)";
    case REG_FAIL_READONLY:
        return " (nothing written; the file or file system is read-only)";
    default:
        return "";
    }
}

/* Records SQLite failure rc of operation op on row id (may be NULL) and returns RD_EDB.
 * SQLite's messages name constraints and columns, never values, so no secret leaks here. */
static int
db_fail(struct registry *reg, const char *op, const char *id, int rc)
{
    reg->fail = fail_kind(rc);
    const char *text = sqlite3_errmsg(reg->db);
    if (rc != sqlite3_extended_errcode(reg->db))
        text = sqlite3_errstr(rc);
    if (id != NULL)
        set_msg(reg, "%s '%s': %s%s", op, id, text, fail_hint(reg->fail));
    else
        set_msg(reg, "%s: %s%s", op, text, fail_hint(reg->fail));
    return RD_EDB;
}

/* A row that the schema should have made impossible (edited by hand, or a bug). */
static int
corrupt_row(struct registry *reg, const char *op, const char *what)
{
    reg->fail = REG_FAIL_CORRUPT;
    set_msg(reg, "%s: unexpected value in column %s", op, what);
    return RD_EDB;
}

/* ---- Statements -------------------------------------------------------------------------- */

static void
st_done(sqlite3_stmt *st)
{
    /* reset repeats the step's error code, already reported; it also ends the implicit read
     * transaction, so a finished SELECT never holds back a WAL checkpoint. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Hands out statement id, or fails if it is still running: a list callback called back into
 * the registry (documented as not allowed). */
static int
st_take(struct registry *reg, enum st id, const char *op, sqlite3_stmt **out)
{
    sqlite3_stmt *st = reg->st[id];
    if (sqlite3_stmt_busy(st)) {
        reg->fail = REG_FAIL_OTHER;
        set_msg(reg, "%s: called from a list callback of the same registry handle", op);
        return RD_EDB;
    }
    *out = st;
    return RD_OK;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* "" binds NULL: optional references (relay site, decision relay, list filters). */
static int
bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return sqlite3_bind_null(st, i);
    return bind_text(st, i, s);
}

/* Runs a statement that returns no rows (bindings done). Returns RD_OK or RD_EDB. */
static int
st_exec(struct registry *reg, sqlite3_stmt *st, const char *op, const char *id)
{
    int rc = sqlite3_step(st);
    int r = RD_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        r = db_fail(reg, op, id, rc);
    st_done(st);
    return r;
}

/* Steps a query: 1 with a row, 0 when done (statement reset), RD_EDB on error (reset). */
static int
st_row(struct registry *reg, sqlite3_stmt *st, const char *op, const char *id)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    int r = 0;
    if (rc != SQLITE_DONE)
        r = db_fail(reg, op, id, rc);
    st_done(st);
    return r;
}

/* Bind failures are SQLITE_RANGE / SQLITE_NOMEM only: report them like a step failure. */
static int
bind_fail(struct registry *reg, sqlite3_stmt *st, const char *op, const char *id, int rc)
{
    int r = db_fail(reg, op, id, rc);
    st_done(st);
    return r;
}

/* ---- Transactions ------------------------------------------------------------------------ */

static int
tx_begin(struct registry *reg, const char *op, const char *id)
{
    sqlite3_stmt *st = reg->st[ST_BEGIN];
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? RD_OK : db_fail(reg, op, id, rc);
    (void)sqlite3_reset(st);
    return r;
}

/* Rolls back if a transaction is still open: SQLite may already have rolled it back by itself
 * (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_NOMEM), so ask sqlite3_get_autocommit(). */
static void
tx_abort(struct registry *reg)
{
    if (sqlite3_get_autocommit(reg->db))
        return;
    sqlite3_stmt *st = reg->st[ST_ROLLBACK];
    if (st != NULL) {
        (void)sqlite3_step(st);
        (void)sqlite3_reset(st);
    }
    if (!sqlite3_get_autocommit(reg->db)) {
        /* Not prepared yet (migrations) or it failed: the plain one also aborts statements. */
        (void)sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static int
tx_commit(struct registry *reg, const char *op, const char *id)
{
    sqlite3_stmt *st = reg->st[ST_COMMIT];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        int r = db_fail(reg, op, id, rc);
        (void)sqlite3_reset(st);
        tx_abort(reg);
        return r;
    }
    (void)sqlite3_reset(st);
    reg->stats.commits++;
    return RD_OK;
}

/* ---- Validation (before anything reaches SQLite; the schema's CHECKs say the same) ------- */

enum text_kind {
    TEXT_ID,    /* [A-Za-z0-9_-] */
    TEXT_NAME,  /* valid UTF-8 without control characters */
    TEXT_PRINT, /* printable ASCII, space included */
    TEXT_USER,  /* printable ASCII without ':' '"' '\' (Digest user name in HA1) */
    TEXT_REALM, /* printable ASCII without '"' '\' */
};

/* Length of the UTF-8 sequence at s[0..n) (RFC 3629 §4: no overlongs, no surrogates, at
 * most U+10FFFF), or 0 if it is malformed. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

static bool
text_chars_ok(const char *s, size_t len, enum text_kind kind)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        switch (kind) {
        case TEXT_ID:
            if (!url_id_char(c))
                return false;
            break;
        case TEXT_NAME:
            if (c < 0x20 || c == 0x7f)
                return false;
            if (c >= 0x80) {
                size_t n = utf8_seq(p + i, len - i);
                if (n == 0)
                    return false;
                i += n;
                continue;
            }
            break;
        case TEXT_USER:
            if (c == ':')
                return false;
            /* fall through */
        case TEXT_REALM:
            if (c == '"' || c == '\\')
                return false;
            /* fall through */
        case TEXT_PRINT:
            if (c < 0x20 || c > 0x7e)
                return false;
            break;
        }
        i++;
    }
    return true;
}

/* Checks s: NUL within max + 1 bytes (else RD_ELIMIT), length >= min_len, characters of kind
 * (else RD_EPROTO). */
static int
check_text(struct registry *reg, const char *op, const char *field, const char *s, size_t min_len,
           size_t max, enum text_kind kind)
{
    if (s == NULL)
        return invalid(reg, RD_EPROTO, op, field, "is missing");
    size_t len = strnlen(s, max + 1);
    if (len > max)
        return invalid(reg, RD_ELIMIT, op, field, "is too long");
    if (len < min_len)
        return invalid(reg, RD_EPROTO, op, field, "is empty");
    if (!text_chars_ok(s, len, kind)) {
        const char *why = "has characters outside [A-Za-z0-9_-]";
        if (kind == TEXT_NAME)
            why = "is not UTF-8 or has control characters";
        else if (kind == TEXT_USER)
            why = "must be printable ASCII without ':', '\"' or '\\'";
        else if (kind == TEXT_REALM)
            why = "must be printable ASCII without '\"' or '\\'";
        else if (kind == TEXT_PRINT)
            why = "must be printable ASCII";
        return invalid(reg, RD_EPROTO, op, field, why);
    }
    return RD_OK;
}

static int
check_id(struct registry *reg, const char *op, const char *field, const char *s, size_t max)
{
    return check_text(reg, op, field, s, 1, max, TEXT_ID);
}

/* rtsp[s]://host[:port][rest]: host a DNS name or IPv4 ([A-Za-z0-9.-]) or [IPv6], no user
 * info (credentials go in their own fields, never in a URL that may be logged), printable
 * ASCII without spaces. base_only: nothing may follow the port (a relay base URL). */
static int
check_url(struct registry *reg, const char *op, const char *field, const char *url, bool base_only)
{
    int r = check_text(reg, op, field, url, 1, RD_REG_URL_MAX, TEXT_PRINT);
    if (r != RD_OK)
        return r;
    size_t len = strlen(url);
    for (size_t i = 0; i < len; i++) {
        if (url[i] == ' ')
            return invalid(reg, RD_EPROTO, op, field, "contains a space");
    }
    const char *p;
    if (strncmp(url, "rtsp://", 7) == 0)
        p = url + 7;
    else if (strncmp(url, "rtsps://", 8) == 0)
        p = url + 8;
    else
        return invalid(reg, RD_EPROTO, op, field, "must start with rtsp:// or rtsps://");
    size_t auth_len = strcspn(p, "/?#");
    const char *end = p + auth_len;
    if (memchr(p, '@', auth_len) != NULL)
        return invalid(reg, RD_EPROTO, op, field,
                       "must not carry credentials (use the user and password fields)");
    const char *host_end;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (close == NULL || close == p + 1)
            return invalid(reg, RD_EPROTO, op, field, "has a malformed [IPv6] host");
        for (const char *q = p + 1; q < close; q++) {
            unsigned char c = (unsigned char)*q;
            if (!(c == ':' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                  || (c >= 'A' && c <= 'F')))
                return invalid(reg, RD_EPROTO, op, field, "has a malformed [IPv6] host");
        }
        host_end = close + 1;
    } else {
        host_end = p;
        while (host_end < end && *host_end != ':') {
            unsigned char c = (unsigned char)*host_end;
            if (!(c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                  || (c >= 'A' && c <= 'Z')))
                return invalid(reg, RD_EPROTO, op, field, "has a malformed host");
            host_end++;
        }
        if (host_end == p)
            return invalid(reg, RD_EPROTO, op, field, "has no host");
        if ((size_t)(host_end - p) > RD_URL_MAX_HOST)
            return invalid(reg, RD_ELIMIT, op, field, "has a host name that is too long");
    }
    if (host_end < end) {
        uint32_t port;
        if (*host_end != ':'
            || rd_str_to_u32(rd_str_make(host_end + 1, (size_t)(end - host_end - 1)), 5, 65535,
                             &port)
                   != RD_OK
            || port == 0)
            return invalid(reg, RD_EPROTO, op, field, "has a malformed port");
    }
    if (base_only && *end != '\0')
        return invalid(reg, RD_EPROTO, op, field,
                       "must be rtsp[s]://host[:port] with nothing after the port");
    return RD_OK;
}

static int
check_u32_range(struct registry *reg, const char *op, const char *field, uint32_t v, uint32_t lo,
                uint32_t hi)
{
    if (v < lo)
        return invalid(reg, RD_EPROTO, op, field, "is below its minimum");
    if (v > hi)
        return invalid(reg, RD_ELIMIT, op, field, "is above its limit");
    return RD_OK;
}

/* ---- Enum names -------------------------------------------------------------------------- */

static const char *const transport_names[] = {"auto", "tcp", "udp"};
static const char *const relay_state_names[] = {"active", "draining", "disabled"};
static const char *const pull_state_names[] = {"starting", "playing", "retrying", "failed"};

#define NAMES_N(a) (sizeof(a) / sizeof((a)[0]))

static int
name_parse(const char *const *names, size_t n, const char *s, unsigned *out)
{
    if (s == NULL)
        return RD_EPROTO;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = (unsigned)i;
            return RD_OK;
        }
    }
    return RD_EPROTO;
}

const char *
registry_transport_name(enum reg_transport t)
{
    return (unsigned)t < NAMES_N(transport_names) ? transport_names[t] : "?";
}

int
registry_transport_parse(const char *s, enum reg_transport *out)
{
    unsigned v;
    int r = name_parse(transport_names, NAMES_N(transport_names), s, &v);
    if (r == RD_OK)
        *out = (enum reg_transport)v;
    return r;
}

const char *
registry_relay_state_name(enum reg_relay_state s)
{
    return (unsigned)s < NAMES_N(relay_state_names) ? relay_state_names[s] : "?";
}

int
registry_relay_state_parse(const char *s, enum reg_relay_state *out)
{
    unsigned v;
    int r = name_parse(relay_state_names, NAMES_N(relay_state_names), s, &v);
    if (r == RD_OK)
        *out = (enum reg_relay_state)v;
    return r;
}

const char *
registry_pull_state_name(enum reg_pull_state s)
{
    return (unsigned)s < NAMES_N(pull_state_names) ? pull_state_names[s] : "?";
}

int
registry_pull_state_parse(const char *s, enum reg_pull_state *out)
{
    unsigned v;
    int r = name_parse(pull_state_names, NAMES_N(pull_state_names), s, &v);
    if (r == RD_OK)
        *out = (enum reg_pull_state)v;
    return r;
}

/* ---- Column copies (never hand out SQLite's pointers: they die at the next step) ---------- */

/* Copies text column i into dst[cap]; NULL becomes "". false if it does not fit. */
static bool
col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        dst[0] = '\0';
        return true;
    }
    const unsigned char *t = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (t == NULL || n < 0 || (size_t)n >= cap)
        return false;
    memcpy(dst, t, (size_t)n);
    dst[n] = '\0';
    return true;
}

static bool
col_u32(sqlite3_stmt *st, int i, uint32_t *out)
{
    /* Type first: after a conversion by column_int64 the type would be undefined. */
    if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
        return false;
    sqlite3_int64 v = sqlite3_column_int64(st, i);
    if (v < 0 || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool
col_bool(sqlite3_stmt *st, int i, bool *out)
{
    if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
        return false;
    sqlite3_int64 v = sqlite3_column_int64(st, i);
    if (v != 0 && v != 1)
        return false;
    *out = v == 1;
    return true;
}

static bool
col_enum(sqlite3_stmt *st, int i, const char *const *names, size_t n, unsigned *out)
{
    char buf[16];
    return col_text(st, i, buf, sizeof buf) && name_parse(names, n, buf, out) == RD_OK;
}

static int
read_site(struct registry *reg, sqlite3_stmt *st, struct reg_site *out)
{
    if (!col_text(st, 0, out->id, sizeof out->id) || !col_text(st, 1, out->name, sizeof out->name))
        return corrupt_row(reg, "site", "id/name");
    out->created_at = sqlite3_column_int64(st, 2);
    return RD_OK;
}

static int
read_camera(struct registry *reg, sqlite3_stmt *st, struct reg_camera *out)
{
    unsigned transport;
    memset(out, 0, sizeof *out);
    if (!col_text(st, 0, out->id, sizeof out->id) || !col_text(st, 1, out->name, sizeof out->name)
        || !col_text(st, 2, out->site_id, sizeof out->site_id)
        || !col_text(st, 3, out->upstream_url, sizeof out->upstream_url)
        || !col_text(st, 4, out->upstream_user, sizeof out->upstream_user)
        || !col_text(st, 5, out->upstream_password, sizeof out->upstream_password))
        return corrupt_row(reg, "camera", "text");
    if (!col_enum(st, 6, transport_names, NAMES_N(transport_names), &transport))
        return corrupt_row(reg, "camera", "transport");
    out->transport = (enum reg_transport)transport;
    if (!col_u32(st, 7, &out->max_relays) || !col_bool(st, 8, &out->auth_required)
        || !col_bool(st, 9, &out->enabled) || !col_bool(st, 10, &out->always_on))
        return corrupt_row(reg, "camera", "max_relays/flags");
    out->created_at = sqlite3_column_int64(st, 11);
    out->updated_at = sqlite3_column_int64(st, 12);
    return RD_OK;
}

static int
read_relay(struct registry *reg, sqlite3_stmt *st, struct reg_relay *out)
{
    unsigned state;
    memset(out, 0, sizeof *out);
    if (!col_text(st, 0, out->id, sizeof out->id) || !col_text(st, 1, out->name, sizeof out->name)
        || !col_text(st, 2, out->site_id, sizeof out->site_id)
        || !col_text(st, 3, out->base_url, sizeof out->base_url))
        return corrupt_row(reg, "relay", "text");
    if (!col_u32(st, 4, &out->capacity_viewers) || !col_u32(st, 5, &out->capacity_mbps))
        return corrupt_row(reg, "relay", "capacity");
    if (!col_enum(st, 6, relay_state_names, NAMES_N(relay_state_names), &state))
        return corrupt_row(reg, "relay", "state");
    out->state = (enum reg_relay_state)state;
    out->created_at = sqlite3_column_int64(st, 7);
    out->updated_at = sqlite3_column_int64(st, 8);
    return RD_OK;
}

static int
read_key(struct registry *reg, sqlite3_stmt *st, struct reg_relay_key *out)
{
    memset(out, 0, sizeof *out);
    const void *key = sqlite3_column_blob(st, 1);
    if (!col_text(st, 0, out->kid, sizeof out->kid) || key == NULL
        || sqlite3_column_bytes(st, 1) != RD_TOKEN_KEY_BYTES || !col_u32(st, 2, &out->gen))
        return corrupt_row(reg, "relay key", "kid/key/gen");
    memcpy(out->key, key, RD_TOKEN_KEY_BYTES);
    out->created_at = sqlite3_column_int64(st, 3);
    return RD_OK;
}

static int
read_user(struct registry *reg, sqlite3_stmt *st, struct reg_user *out)
{
    memset(out, 0, sizeof *out);
    if (!col_text(st, 0, out->name, sizeof out->name)
        || !col_text(st, 1, out->realm, sizeof out->realm)
        || !col_text(st, 2, out->ha1_md5, sizeof out->ha1_md5)
        || !col_text(st, 3, out->ha1_sha256, sizeof out->ha1_sha256))
        return corrupt_row(reg, "user", "text");
    out->created_at = sqlite3_column_int64(st, 4);
    return RD_OK;
}

static int
read_pair(struct registry *reg, sqlite3_stmt *st, struct reg_pair *out)
{
    unsigned state;
    memset(out, 0, sizeof *out);
    if (!col_text(st, 0, out->camera_id, sizeof out->camera_id)
        || !col_text(st, 1, out->relay_id, sizeof out->relay_id)
        || !col_enum(st, 2, pull_state_names, NAMES_N(pull_state_names), &state)
        || !col_u32(st, 3, &out->viewers) || !col_u32(st, 4, &out->ingress_kbps))
        return corrupt_row(reg, "pair", "relay_cameras");
    out->state = (enum reg_pull_state)state;
    out->since = sqlite3_column_int64(st, 5);
    out->updated_at = sqlite3_column_int64(st, 6);
    return RD_OK;
}

static int
read_decision(struct registry *reg, sqlite3_stmt *st, struct reg_decision *out)
{
    uint32_t status;
    memset(out, 0, sizeof *out);
    out->at_ms = sqlite3_column_int64(st, 0);
    if (!col_text(st, 1, out->camera_id, sizeof out->camera_id)
        || !col_text(st, 2, out->relay_id, sizeof out->relay_id) || !col_u32(st, 3, &status)
        || status > UINT16_MAX || !col_text(st, 4, out->reason, sizeof out->reason)
        || !col_text(st, 5, out->client, sizeof out->client))
        return corrupt_row(reg, "decision", "decisions");
    out->status = (uint16_t)status;
    return RD_OK;
}

static int
read_sample(struct registry *reg, sqlite3_stmt *st, struct reg_load *out)
{
    memset(out, 0, sizeof *out);
    if (!col_text(st, 0, out->relay_id, sizeof out->relay_id) || !col_bool(st, 2, &out->healthy)
        || !col_u32(st, 3, &out->viewers) || !col_u32(st, 4, &out->egress_kbps))
        return corrupt_row(reg, "sample", "load_samples");
    out->last_seen = sqlite3_column_int64(st, 1);
    out->cpu_pct = sqlite3_column_double(st, 5);
    return RD_OK;
}

/* ---- Open, migrate, close ---------------------------------------------------------------- */

static void err_put(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_put(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        err[0] = '\0';
}

/* Creates the file with mode 0600, or takes group/other access away from an existing one:
 * it holds camera credentials and relay keys. SQLite gives -wal and -shm the same mode. */
static int
secure_file(const char *path, char *err, size_t cap)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_put(err, cap, "registry %s: cannot open: %s", path, strerror(errno));
        return RD_EIO;
    }
    struct stat sb;
    int r = RD_OK;
    if (fstat(fd, &sb) != 0) {
        err_put(err, cap, "registry %s: fstat: %s", path, strerror(errno));
        r = RD_EIO;
    } else if (!S_ISREG(sb.st_mode)) {
        err_put(err, cap, "registry %s: not a regular file", path);
        r = RD_EIO;
    } else if ((sb.st_mode & 077) != 0 && fchmod(fd, (sb.st_mode & 0700) | 0600) != 0) {
        err_put(err, cap, "registry %s: mode %03o gives others access and chmod 0600 failed: %s",
                path, (unsigned)(sb.st_mode & 0777), strerror(errno));
        r = RD_EIO;
    }
    (void)close(fd); /* read-only fd use: close cannot lose data */
    return r;
}

/* Runs a one-row PRAGMA and copies its first column as text into buf[cap]. */
static int
pragma_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    buf[0] = '\0';
    if (rc == SQLITE_ROW) {
        if (!col_text(st, 0, buf, cap))
            buf[0] = '\0';
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int
pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
    char buf[32];
    int rc = pragma_text(db, sql, buf, sizeof buf);
    if (rc != SQLITE_OK)
        return rc;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || *end != '\0')
        return SQLITE_ERROR;
    *out = v;
    return SQLITE_OK;
}

static int
open_fail(struct registry *reg, char *err, size_t cap, const char *what, int rc)
{
    err_put(err, cap, "registry: %s: %s", what,
            reg->db != NULL && rc == sqlite3_extended_errcode(reg->db) ? sqlite3_errmsg(reg->db)
                                                                       : sqlite3_errstr(rc));
    return RD_EDB;
}

/* Applies every embedded migration above the file's user_version, each in its own
 * BEGIN IMMEDIATE transaction that re-reads user_version (another process may be migrating the
 * same file right now) and sets it inside the transaction, so a crash leaves either the old or
 * the new version, never half a migration. */
static int
migrate(struct registry *reg, char *err, size_t cap)
{
    unsigned latest = registry_schema_latest();
    int64_t have;
    int rc = pragma_int(reg->db, "PRAGMA user_version", &have);
    if (rc != SQLITE_OK)
        return open_fail(reg, err, cap, "reading user_version", rc);
    if (have < 0 || have > (int64_t)latest) {
        err_put(err, cap,
                "registry: schema version %lld is newer than this binary's %u: refusing to open "
                "it (upgrade rtsp-broker, or restore a matching backup)",
                (long long)have, latest);
        return RD_EDB;
    }
    for (unsigned i = 0; i < registry_n_migrations; i++) {
        const struct registry_migration *m = &registry_migrations[i];
        if (m->version != i + 1) {
            err_put(err, cap, "registry: embedded migrations out of order at %s", m->name);
            return RD_EDB;
        }
        if ((int64_t)m->version <= have)
            continue;
        rc = sqlite3_exec(reg->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return open_fail(reg, err, cap, "starting a migration", rc);
        int64_t now_have;
        rc = pragma_int(reg->db, "PRAGMA user_version", &now_have);
        if (rc == SQLITE_OK && now_have < (int64_t)m->version) {
            rc = sqlite3_exec(reg->db, m->sql, NULL, NULL, NULL);
            if (rc == SQLITE_OK) {
                char sql[48];
                int n = snprintf(sql, sizeof sql, "PRAGMA user_version = %u", m->version);
                rc = n > 0 && (size_t)n < sizeof sql ? sqlite3_exec(reg->db, sql, NULL, NULL, NULL)
                                                     : SQLITE_ERROR;
            }
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(reg->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err_put(err, cap, "registry: migration %s failed: %s", m->name,
                    sqlite3_errmsg(reg->db));
            tx_abort(reg);
            return RD_EDB;
        }
        have = m->version;
    }
    return RD_OK;
}

int
registry_open(const char *path, struct registry **out, char *err, size_t err_cap)
{
    *out = NULL;
    err_put(err, err_cap, "%s", "");
    if (path == NULL || path[0] == '\0') {
        err_put(err, err_cap, "registry: no path");
        return RD_EDB;
    }
    bool memory = strcmp(path, ":memory:") == 0;
    if (!memory) {
        int r = secure_file(path, err, err_cap);
        if (r != RD_OK)
            return r;
    }
    struct registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL) {
        err_put(err, err_cap, "registry: out of memory");
        return RD_ENOMEM;
    }
    int r = RD_EDB;
    int rc = sqlite3_open_v2(path, &reg->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
                                 | SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc != SQLITE_OK) {
        open_fail(reg, err, err_cap, path, rc);
        goto fail;
    }
    (void)sqlite3_extended_result_codes(reg->db, 1);
    (void)sqlite3_busy_timeout(reg->db, RD_REG_BUSY_TIMEOUT_MS);
    /* Defensive: no writable_schema tricks; untrusted schema: functions in triggers and CHECKs
     * must be innocuous (a hand-edited file cannot make us run arbitrary SQL functions). */
    (void)sqlite3_db_config(reg->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    (void)sqlite3_db_config(reg->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    if (sqlite3_db_readonly(reg->db, "main") == 1) {
        err_put(err, err_cap, "registry %s: opened read-only (check permissions)", path);
        goto fail;
    }
    rc = sqlite3_exec(reg->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        open_fail(reg, err, err_cap, "foreign_keys", rc);
        goto fail;
    }
    char mode[16];
    rc = pragma_text(reg->db, "PRAGMA journal_mode = WAL", mode, sizeof mode);
    if (rc != SQLITE_OK) {
        open_fail(reg, err, err_cap, "journal_mode", rc);
        goto fail;
    }
    if (strcmp(mode, memory ? "memory" : "wal") != 0) {
        err_put(err, err_cap, "registry %s: journal mode is '%s', not WAL", path, mode);
        goto fail;
    }
    /* The registry of record (SECURITY.md rule 10): FULL syncs the WAL at every commit, so an
     * acknowledged admin write survives power loss. Writes are rare, so this costs nothing. */
    rc = sqlite3_exec(reg->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        open_fail(reg, err, err_cap, "synchronous", rc);
        goto fail;
    }
    char check[64];
    rc = pragma_text(reg->db, "PRAGMA quick_check", check, sizeof check);
    if (rc != SQLITE_OK) {
        open_fail(reg, err, err_cap, "quick_check", rc);
        goto fail;
    }
    if (strcmp(check, "ok") != 0) {
        err_put(err, err_cap, "registry %s: quick_check failed: %s", path, check);
        goto fail;
    }
    r = migrate(reg, err, err_cap);
    if (r != RD_OK)
        goto fail;
    r = RD_EDB;
    for (int i = 0; i < ST__COUNT; i++) {
        rc = sqlite3_prepare_v3(reg->db, st_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &reg->st[i],
                                NULL);
        if (rc != SQLITE_OK) {
            err_put(err, err_cap, "registry: preparing statement %d: %s", i,
                    sqlite3_errmsg(reg->db));
            goto fail;
        }
    }
    ok(reg);
    *out = reg;
    return RD_OK;

fail:
    registry_close(reg);
    return r;
}

void
registry_close(struct registry *reg)
{
    if (reg == NULL)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(reg->st[i]);
    /* close_v2 never fails on unfinalized statements: all are finalized above. */
    (void)sqlite3_close_v2(reg->db);
    free(reg);
}

int
registry_cache_limit(struct registry *reg, unsigned kib)
{
    char sql[64];
    int n = snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%u", kib);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return RD_EDB;
    return sqlite3_exec(reg->db, sql, NULL, NULL, NULL) == SQLITE_OK ? RD_OK : RD_EDB;
}

const char *
registry_errmsg(const struct registry *reg)
{
    return reg->errmsg;
}

enum reg_fail
registry_last_fail(const struct registry *reg)
{
    return reg->fail;
}

unsigned
registry_schema_latest(void)
{
    return registry_n_migrations;
}

void
registry_stats_get(const struct registry *reg, struct registry_stats *out)
{
    *out = reg->stats;
}

int
registry_version(struct registry *reg, uint64_t *out)
{
    sqlite3_stmt *st = NULL;
    int r = st_take(reg, ST_VERSION, "version", &st);
    if (r != RD_OK)
        return r;
    r = st_row(reg, st, "version", NULL);
    if (r < 0)
        return r;
    if (r == 0)
        return corrupt_row(reg, "version", "registry_version (no row)");
    sqlite3_int64 v = sqlite3_column_int64(st, 0);
    st_done(st);
    if (v < 1)
        return corrupt_row(reg, "version", "registry_version");
    *out = (uint64_t)v;
    ok(reg);
    return RD_OK;
}

int
registry_check(struct registry *reg)
{
    char result[256];
    int rc = pragma_text(reg->db, "PRAGMA integrity_check", result, sizeof result);
    if (rc != SQLITE_OK)
        return db_fail(reg, "integrity_check", NULL, rc);
    if (strcmp(result, "ok") != 0) {
        reg->fail = REG_FAIL_CORRUPT;
        set_msg(reg, "integrity_check: %s", result);
        return RD_EDB;
    }
    ok(reg);
    return RD_OK;
}

int
registry_set_max_bytes(struct registry *reg, uint64_t max_bytes)
{
    int64_t page_size;
    int rc = pragma_int(reg->db, "PRAGMA page_size", &page_size);
    if (rc != SQLITE_OK || page_size <= 0)
        return db_fail(reg, "set max size", NULL, rc != SQLITE_OK ? rc : SQLITE_ERROR);
    /* 0xfffffffe is SQLite's default (and largest) max_page_count. */
    uint64_t pages = max_bytes == 0 ? 0xfffffffeu : max_bytes / (uint64_t)page_size;
    if (pages == 0)
        pages = 1;
    if (pages > 0xfffffffeu)
        pages = 0xfffffffeu;
    char sql[64];
    int n = snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu", (unsigned long long)pages);
    if (n < 0 || (size_t)n >= sizeof sql)
        return invalid(reg, RD_ELIMIT, "set max size", "value", "does not fit");
    char result[32];
    rc = pragma_text(reg->db, sql, result, sizeof result);
    if (rc != SQLITE_OK)
        return db_fail(reg, "set max size", NULL, rc);
    ok(reg);
    return RD_OK;
}

/* ---- Generic helpers for single-row operations ------------------------------------------- */

/* Runs a prepared UPDATE/DELETE on one id; RD_ENOTFOUND when it changed no row. */
static int
exec_one(struct registry *reg, sqlite3_stmt *st, const char *op, const char *id, const char *what)
{
    int r = st_exec(reg, st, op, id);
    if (r != RD_OK)
        return r;
    if (sqlite3_changes(reg->db) == 0) {
        reg->fail = REG_FAIL_NONE;
        set_msg(reg, "%s '%s': no such %s", op, id, what);
        return RD_ENOTFOUND;
    }
    reg->stats.commits++;
    ok(reg);
    return RD_OK;
}

/* Binds id as ?1 of statement sid and runs it as exec_one. */
static int
exec_by_id(struct registry *reg, enum st sid, const char *op, const char *id, size_t id_max,
           const char *what, enum text_kind kind)
{
    int r = check_text(reg, op, what, id, 1, id_max, kind);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, sid, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, id);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, id, rc);
    return exec_one(reg, st, op, id, what);
}

/* Looks id up with statement sid (?1) and leaves the statement on its row: returns RD_OK with
 * a row (caller reads it, then st_done), RD_ENOTFOUND or RD_EDB. */
static int
get_by_id(struct registry *reg, enum st sid, const char *op, const char *id, size_t id_max,
          const char *what, enum text_kind kind, sqlite3_stmt **out)
{
    int r = check_text(reg, op, what, id, 1, id_max, kind);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, sid, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, id);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, id, rc);
    r = st_row(reg, st, op, id);
    if (r < 0)
        return r;
    if (r == 0) {
        reg->fail = REG_FAIL_NONE;
        set_msg(reg, "%s '%s': no such %s", op, id, what);
        return RD_ENOTFOUND;
    }
    *out = st;
    return RD_OK;
}

/* ---- Sites ------------------------------------------------------------------------------- */

static int
check_site(struct registry *reg, const char *op, const struct reg_site *s)
{
    int r = check_id(reg, op, "site id", s->id, RD_SITE_ID_MAX);
    if (r == RD_OK)
        r = check_text(reg, op, "site name", s->name, 1, RD_REG_NAME_MAX, TEXT_NAME);
    return r;
}

int
registry_site_add(struct registry *reg, const struct reg_site *site)
{
    const char *op = "site add";
    int r = check_site(reg, op, site);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_SITE_ADD, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, site->id);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, site->name);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, site->id, rc);
    if ((r = st_exec(reg, st, op, site->id)) != RD_OK)
        return r;
    reg->stats.commits++;
    ok(reg);
    return RD_OK;
}

int
registry_site_get(struct registry *reg, const char *id, struct reg_site *out)
{
    sqlite3_stmt *st = NULL;
    int r = get_by_id(reg, ST_SITE_GET, "site get", id, RD_SITE_ID_MAX, "site", TEXT_ID, &st);
    if (r != RD_OK)
        return r;
    r = read_site(reg, st, out);
    st_done(st);
    if (r == RD_OK)
        ok(reg);
    return r;
}

int
registry_site_rm(struct registry *reg, const char *id)
{
    return exec_by_id(reg, ST_SITE_RM, "site rm", id, RD_SITE_ID_MAX, "site", TEXT_ID);
}

int
registry_site_list(struct registry *reg, registry_site_fn *cb, void *arg)
{
    sqlite3_stmt *st = NULL;
    int r = st_take(reg, ST_SITE_LIST, "site list", &st);
    if (r != RD_OK)
        return r;
    while ((r = st_row(reg, st, "site list", NULL)) == 1) {
        struct reg_site row;
        if ((r = read_site(reg, st, &row)) != RD_OK || cb(arg, &row) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}

/* ---- Cameras ----------------------------------------------------------------------------- */

static int
check_camera(struct registry *reg, const char *op, const struct reg_camera *c)
{
    int r = check_id(reg, op, "camera id", c->id, RD_CAMERA_ID_MAX);
    if (r == RD_OK)
        r = check_text(reg, op, "camera name", c->name, 1, RD_REG_NAME_MAX, TEXT_NAME);
    if (r == RD_OK)
        r = check_text(reg, op, "site id", c->site_id, 0, RD_SITE_ID_MAX, TEXT_ID);
    if (r == RD_OK)
        r = check_url(reg, op, "upstream URL", c->upstream_url, false);
    if (r == RD_OK)
        r = check_text(reg, op, "upstream user", c->upstream_user, 0, RD_REG_CRED_MAX, TEXT_NAME);
    if (r == RD_OK)
        r = check_text(reg, op, "upstream password", c->upstream_password, 0, RD_REG_CRED_MAX,
                       TEXT_NAME);
    if (r == RD_OK && (unsigned)c->transport >= NAMES_N(transport_names))
        r = invalid(reg, RD_EPROTO, op, "transport", "is not auto, tcp or udp");
    if (r == RD_OK)
        r = check_u32_range(reg, op, "max_relays", c->max_relays, 1, RD_REG_MAX_RELAYS_PER_CAMERA);
    return r;
}

/* Binds ?1..?11 of ST_CAM_ADD / ST_CAM_UPDATE. */
static int
bind_camera(sqlite3_stmt *st, const struct reg_camera *c)
{
    int rc = bind_text(st, 1, c->id);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, c->name);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 3, c->site_id[0] != '\0' ? c->site_id : "default");
    if (rc == SQLITE_OK)
        rc = bind_text(st, 4, c->upstream_url);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 5, c->upstream_user);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 6, c->upstream_password);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 7, transport_names[c->transport]);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 8, c->max_relays);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 9, c->auth_required);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 10, c->enabled);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 11, c->always_on);
    return rc;
}

static int
camera_write(struct registry *reg, enum st sid, const char *op, const struct reg_camera *cam)
{
    int r = check_camera(reg, op, cam);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, sid, op, &st)) != RD_OK)
        return r;
    int rc = bind_camera(st, cam);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, cam->id, rc);
    if (sid == ST_CAM_UPDATE)
        return exec_one(reg, st, op, cam->id, "camera");
    if ((r = st_exec(reg, st, op, cam->id)) != RD_OK)
        return r;
    reg->stats.commits++;
    ok(reg);
    return RD_OK;
}

int
registry_camera_add(struct registry *reg, const struct reg_camera *cam)
{
    return camera_write(reg, ST_CAM_ADD, "camera add", cam);
}

int
registry_camera_update(struct registry *reg, const struct reg_camera *cam)
{
    return camera_write(reg, ST_CAM_UPDATE, "camera update", cam);
}

int
registry_camera_get(struct registry *reg, const char *id, struct reg_camera *out)
{
    sqlite3_stmt *st = NULL;
    int r = get_by_id(reg, ST_CAM_GET, "camera get", id, RD_CAMERA_ID_MAX, "camera", TEXT_ID, &st);
    if (r != RD_OK)
        return r;
    r = read_camera(reg, st, out);
    st_done(st);
    if (r == RD_OK)
        ok(reg);
    return r;
}

int
registry_camera_rm(struct registry *reg, const char *id)
{
    return exec_by_id(reg, ST_CAM_RM, "camera rm", id, RD_CAMERA_ID_MAX, "camera", TEXT_ID);
}

int
registry_camera_set_enabled(struct registry *reg, const char *id, bool enabled)
{
    const char *op = enabled ? "camera enable" : "camera disable";
    int r = check_id(reg, op, "camera id", id, RD_CAMERA_ID_MAX);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_CAM_ENABLE, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, enabled);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, id, rc);
    return exec_one(reg, st, op, id, "camera");
}

int
registry_camera_list(struct registry *reg, const char *site_id, registry_camera_fn *cb, void *arg)
{
    const char *op = "camera list";
    int r;
    if (site_id != NULL && (r = check_id(reg, op, "site id", site_id, RD_SITE_ID_MAX)) != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_CAM_LIST, op, &st)) != RD_OK)
        return r;
    int rc = bind_opt_text(st, 1, site_id);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, site_id, rc);
    while ((r = st_row(reg, st, op, NULL)) == 1) {
        struct reg_camera row;
        if ((r = read_camera(reg, st, &row)) != RD_OK || cb(arg, &row) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}

/* ---- Relays and keys --------------------------------------------------------------------- */

static int
check_relay(struct registry *reg, const char *op, const struct reg_relay *rl)
{
    int r = check_id(reg, op, "relay id", rl->id, RD_RELAY_ID_MAX);
    if (r == RD_OK)
        r = check_text(reg, op, "relay name", rl->name, 1, RD_REG_NAME_MAX, TEXT_NAME);
    if (r == RD_OK)
        r = check_text(reg, op, "site id", rl->site_id, 0, RD_SITE_ID_MAX, TEXT_ID);
    if (r == RD_OK)
        r = check_url(reg, op, "RTSP base URL", rl->base_url, true);
    if (r == RD_OK)
        r = check_u32_range(reg, op, "capacity_viewers", rl->capacity_viewers, 1,
                            RD_REG_MAX_CAPACITY_VIEWERS);
    if (r == RD_OK)
        r = check_u32_range(reg, op, "capacity_mbps", rl->capacity_mbps, 1,
                            RD_REG_MAX_CAPACITY_MBPS);
    if (r == RD_OK && (unsigned)rl->state >= NAMES_N(relay_state_names))
        r = invalid(reg, RD_EPROTO, op, "state", "is not active, draining or disabled");
    return r;
}

static int
bind_relay(sqlite3_stmt *st, const struct reg_relay *rl)
{
    int rc = bind_text(st, 1, rl->id);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, rl->name);
    if (rc == SQLITE_OK)
        rc = bind_opt_text(st, 3, rl->site_id);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 4, rl->base_url);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, rl->capacity_viewers);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 6, rl->capacity_mbps);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 7, relay_state_names[rl->state]);
    return rc;
}

/* Inside a transaction: creates key generation gen for relay_id and copies it to *out. */
static int
key_insert(struct registry *reg, const char *op, const char *relay_id, uint32_t gen,
           struct reg_relay_key *out)
{
    uint8_t rnd[REG_KID_RAND];
    memset(out, 0, sizeof *out);
    if (rd_random_bytes(out->key, sizeof out->key) != RD_OK
        || rd_random_bytes(rnd, sizeof rnd) != RD_OK) {
        reg->fail = REG_FAIL_NONE;
        set_msg(reg, "%s '%s': the random number generator failed", op, relay_id);
        return RD_EIO;
    }
    if (rd_b64url_encode(rnd, sizeof rnd, out->kid, sizeof out->kid) < 0)
        return invalid(reg, RD_ELIMIT, op, "kid", "does not fit");
    out->gen = gen;
    out->created_at = (int64_t)time(NULL);
    sqlite3_stmt *st = NULL;
    int r = st_take(reg, ST_KEY_ADD, op, &st);
    if (r != RD_OK)
        return r;
    int rc = bind_text(st, 1, relay_id);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, out->kid);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, gen);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(st, 4, out->key, sizeof out->key, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, out->created_at);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, relay_id, rc);
    return st_exec(reg, st, op, relay_id);
}

int
registry_relay_add(struct registry *reg, const struct reg_relay *relay,
                   struct reg_relay_key *key_out)
{
    const char *op = "relay add";
    int r = check_relay(reg, op, relay);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_RELAY_ADD, op, &st)) != RD_OK)
        return r;
    if ((r = tx_begin(reg, op, relay->id)) != RD_OK)
        return r;
    int rc = bind_relay(st, relay);
    if (rc != SQLITE_OK) {
        r = bind_fail(reg, st, op, relay->id, rc);
        goto fail;
    }
    if ((r = st_exec(reg, st, op, relay->id)) != RD_OK)
        goto fail;
    if ((r = key_insert(reg, op, relay->id, 1, key_out)) != RD_OK)
        goto fail;
    if ((r = tx_commit(reg, op, relay->id)) != RD_OK)
        goto fail;
    ok(reg);
    return RD_OK;
fail:
    tx_abort(reg);
    memset(key_out, 0, sizeof *key_out);
    return r;
}

int
registry_relay_update(struct registry *reg, const struct reg_relay *relay)
{
    const char *op = "relay update";
    int r = check_relay(reg, op, relay);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_RELAY_UPDATE, op, &st)) != RD_OK)
        return r;
    int rc = bind_relay(st, relay);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, relay->id, rc);
    return exec_one(reg, st, op, relay->id, "relay");
}

int
registry_relay_get(struct registry *reg, const char *id, struct reg_relay *out)
{
    sqlite3_stmt *st = NULL;
    int r = get_by_id(reg, ST_RELAY_GET, "relay get", id, RD_RELAY_ID_MAX, "relay", TEXT_ID, &st);
    if (r != RD_OK)
        return r;
    r = read_relay(reg, st, out);
    st_done(st);
    if (r == RD_OK)
        ok(reg);
    return r;
}

int
registry_relay_rm(struct registry *reg, const char *id)
{
    return exec_by_id(reg, ST_RELAY_RM, "relay rm", id, RD_RELAY_ID_MAX, "relay", TEXT_ID);
}

int
registry_relay_set_state(struct registry *reg, const char *id, enum reg_relay_state state)
{
    const char *op = "relay set state";
    int r = check_id(reg, op, "relay id", id, RD_RELAY_ID_MAX);
    if (r != RD_OK)
        return r;
    if ((unsigned)state >= NAMES_N(relay_state_names))
        return invalid(reg, RD_EPROTO, op, "state", "is not active, draining or disabled");
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_RELAY_STATE, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, id);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, relay_state_names[state]);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, id, rc);
    return exec_one(reg, st, op, id, "relay");
}

int
registry_relay_list(struct registry *reg, registry_relay_fn *cb, void *arg)
{
    sqlite3_stmt *st = NULL;
    int r = st_take(reg, ST_RELAY_LIST, "relay list", &st);
    if (r != RD_OK)
        return r;
    while ((r = st_row(reg, st, "relay list", NULL)) == 1) {
        struct reg_relay row;
        if ((r = read_relay(reg, st, &row)) != RD_OK || cb(arg, &row) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}

int
registry_relay_rotate_key(struct registry *reg, const char *id, struct reg_relay_key *key_out)
{
    const char *op = "relay rotate-key";
    int r = check_id(reg, op, "relay id", id, RD_RELAY_ID_MAX);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = tx_begin(reg, op, id)) != RD_OK)
        return r;
    /* The relay must exist (a missing relay would otherwise fail later on the foreign key). */
    if ((r = st_take(reg, ST_RELAY_GET, op, &st)) != RD_OK)
        goto fail;
    int rc = bind_text(st, 1, id);
    if (rc != SQLITE_OK) {
        r = bind_fail(reg, st, op, id, rc);
        goto fail;
    }
    r = st_row(reg, st, op, id);
    if (r < 0)
        goto fail;
    if (r == 0) {
        reg->fail = REG_FAIL_NONE;
        set_msg(reg, "%s '%s': no such relay", op, id);
        r = RD_ENOTFOUND;
        goto fail;
    }
    st_done(st);

    if ((r = st_take(reg, ST_KEY_NEXT_GEN, op, &st)) != RD_OK)
        goto fail;
    if ((rc = bind_text(st, 1, id)) != SQLITE_OK) {
        r = bind_fail(reg, st, op, id, rc);
        goto fail;
    }
    r = st_row(reg, st, op, id);
    if (r < 0)
        goto fail;
    uint32_t next = 0;
    bool good = r == 1 && col_u32(st, 0, &next) && next >= 1 && next < UINT32_MAX;
    if (r == 1)
        st_done(st);
    if (!good) {
        r = corrupt_row(reg, op, "relay_keys.gen");
        goto fail;
    }

    /* Keep generation next - 1 (it signed until now; tokens it minted are still in flight),
     * retire everything older, then add the new signing key. */
    if ((r = st_take(reg, ST_KEY_RETIRE_OLD, op, &st)) != RD_OK)
        goto fail;
    rc = bind_text(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)next - 1);
    if (rc != SQLITE_OK) {
        r = bind_fail(reg, st, op, id, rc);
        goto fail;
    }
    if ((r = st_exec(reg, st, op, id)) != RD_OK)
        goto fail;
    if ((r = key_insert(reg, op, id, next, key_out)) != RD_OK)
        goto fail;
    if ((r = tx_commit(reg, op, id)) != RD_OK)
        goto fail;
    ok(reg);
    return RD_OK;
fail:
    tx_abort(reg);
    memset(key_out, 0, sizeof *key_out);
    return r;
}

int
registry_relay_keys(struct registry *reg, const char *id,
                    struct reg_relay_key out[RD_REG_LIVE_KEYS], size_t *n)
{
    const char *op = "relay keys";
    *n = 0;
    int r = check_id(reg, op, "relay id", id, RD_RELAY_ID_MAX);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_KEY_LIVE, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, id);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, id, rc);
    size_t got = 0;
    while ((r = st_row(reg, st, op, id)) == 1) {
        if (got == RD_REG_LIVE_KEYS) { /* LIMIT 2 makes this unreachable */
            st_done(st);
            break;
        }
        if ((r = read_key(reg, st, &out[got])) != RD_OK) {
            st_done(st);
            break;
        }
        got++;
    }
    if (r < 0) {
        memset(out, 0, sizeof(struct reg_relay_key) * RD_REG_LIVE_KEYS);
        return r;
    }
    if (got == 0) {
        reg->fail = REG_FAIL_NONE;
        set_msg(reg, "%s '%s': no such relay, or it has no live key", op, id);
        return RD_ENOTFOUND;
    }
    *n = got;
    ok(reg);
    return RD_OK;
}

/* ---- Users ------------------------------------------------------------------------------- */

static int
check_user_names(struct registry *reg, const char *op, const struct reg_user *u)
{
    int r = check_text(reg, op, "user name", u->name, 1, RD_AUTH_MAX_USERNAME, TEXT_USER);
    if (r == RD_OK)
        r = check_text(reg, op, "realm", u->realm, 1, RD_AUTH_MAX_REALM, TEXT_REALM);
    return r;
}

static bool
lower_hex(const char *s, size_t len)
{
    if (strnlen(s, len + 1) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

int
registry_user_ha1(struct reg_user *u, const char *password)
{
    size_t nlen = strnlen(u->name, sizeof u->name);
    size_t rlen = strnlen(u->realm, sizeof u->realm);
    if (nlen == sizeof u->name || rlen == sizeof u->realm)
        return RD_ELIMIT;
    if (nlen == 0 || rlen == 0 || password == NULL || !text_chars_ok(u->name, nlen, TEXT_USER)
        || !text_chars_ok(u->realm, rlen, TEXT_REALM))
        return RD_EPROTO;
    /* RFC 7616 §3.4.2: A1 = username ":" realm ":" passwd; HA1 = H(A1) in lower hex. */
    const struct rd_str parts[5] = {rd_str_make(u->name, nlen), RD_STR_LIT(":"),
                                    rd_str_make(u->realm, rlen), RD_STR_LIT(":"),
                                    rd_str_cstr(password)};
    uint8_t md5[RD_MD5_LEN], sha[RD_SHA256_LEN];
    if (rd_hash_parts(RD_HASH_MD5, parts, 5, md5) != RD_OK
        || rd_hash_parts(RD_HASH_SHA256, parts, 5, sha) != RD_OK)
        return RD_EIO;
    rd_hex_encode(md5, sizeof md5, u->ha1_md5);
    rd_hex_encode(sha, sizeof sha, u->ha1_sha256);
    return RD_OK;
}

int
registry_user_add(struct registry *reg, const struct reg_user *user)
{
    const char *op = "user add";
    int r = check_user_names(reg, op, user);
    if (r != RD_OK)
        return r;
    if (!lower_hex(user->ha1_md5, 32) || !lower_hex(user->ha1_sha256, 64))
        return invalid(reg, RD_EPROTO, op, "HA1", "must be lower hex (see registry_user_ha1)");
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_USER_ADD, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, user->name);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, user->realm);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 3, user->ha1_md5);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 4, user->ha1_sha256);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, user->name, rc);
    if ((r = st_exec(reg, st, op, user->name)) != RD_OK)
        return r;
    reg->stats.commits++;
    ok(reg);
    return RD_OK;
}

int
registry_user_get(struct registry *reg, const char *name, struct reg_user *out)
{
    sqlite3_stmt *st = NULL;
    int r =
        get_by_id(reg, ST_USER_GET, "user get", name, RD_AUTH_MAX_USERNAME, "user", TEXT_USER, &st);
    if (r != RD_OK)
        return r;
    r = read_user(reg, st, out);
    st_done(st);
    if (r == RD_OK)
        ok(reg);
    return r;
}

int
registry_user_rm(struct registry *reg, const char *name)
{
    return exec_by_id(reg, ST_USER_RM, "user rm", name, RD_AUTH_MAX_USERNAME, "user", TEXT_USER);
}

int
registry_user_list(struct registry *reg, registry_user_fn *cb, void *arg)
{
    sqlite3_stmt *st = NULL;
    int r = st_take(reg, ST_USER_LIST, "user list", &st);
    if (r != RD_OK)
        return r;
    while ((r = st_row(reg, st, "user list", NULL)) == 1) {
        struct reg_user row;
        if ((r = read_user(reg, st, &row)) != RD_OK || cb(arg, &row) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}

/* Binds user ?1 and camera ?2 of a grant statement after checking both. */
static int
grant_stmt(struct registry *reg, enum st sid, const char *op, const char *user,
           const char *camera_id, sqlite3_stmt **out)
{
    int r = check_text(reg, op, "user name", user, 1, RD_AUTH_MAX_USERNAME, TEXT_USER);
    if (r == RD_OK)
        r = check_id(reg, op, "camera id", camera_id, RD_CAMERA_ID_MAX);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, sid, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, user);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, camera_id);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, user, rc);
    *out = st;
    return RD_OK;
}

int
registry_user_grant(struct registry *reg, const char *user, const char *camera_id)
{
    sqlite3_stmt *st = NULL;
    int r = grant_stmt(reg, ST_GRANT, "user grant", user, camera_id, &st);
    if (r != RD_OK)
        return r;
    if ((r = st_exec(reg, st, "user grant", user)) != RD_OK)
        return r;
    reg->stats.commits++;
    ok(reg);
    return RD_OK;
}

int
registry_user_revoke(struct registry *reg, const char *user, const char *camera_id)
{
    sqlite3_stmt *st = NULL;
    int r = grant_stmt(reg, ST_REVOKE, "user revoke", user, camera_id, &st);
    if (r != RD_OK)
        return r;
    return exec_one(reg, st, "user revoke", user, "grant");
}

int
registry_user_may_view(struct registry *reg, const char *user, const char *camera_id, bool *allowed)
{
    *allowed = false;
    sqlite3_stmt *st = NULL;
    int r = grant_stmt(reg, ST_MAY_VIEW, "user may view", user, camera_id, &st);
    if (r != RD_OK)
        return r;
    r = st_row(reg, st, "user may view", user);
    if (r < 0)
        return r;
    if (r == 1) {
        *allowed = true;
        st_done(st);
    }
    ok(reg);
    return RD_OK;
}

int
registry_user_grants(struct registry *reg, const char *user, registry_grant_fn *cb, void *arg)
{
    const char *op = "user grants";
    int r = check_text(reg, op, "user name", user, 1, RD_AUTH_MAX_USERNAME, TEXT_USER);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_GRANTS, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, user);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, user, rc);
    while ((r = st_row(reg, st, op, user)) == 1) {
        char cam[RD_CAMERA_ID_MAX + 1];
        if (!col_text(st, 0, cam, sizeof cam)) {
            st_done(st);
            r = corrupt_row(reg, op, "user_cameras.camera_id");
            break;
        }
        if (cb(arg, cam) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}

/* ---- Live state and history -------------------------------------------------------------- */

static int
check_batch(struct registry *reg, const struct registry_load_batch *b)
{
    const char *op = "flush";
    int r = RD_OK;
    if ((b->n_pairs > 0 && b->pairs == NULL) || (b->n_removed > 0 && b->removed == NULL)
        || (b->n_loads > 0 && b->loads == NULL) || (b->n_decisions > 0 && b->decisions == NULL))
        return invalid(reg, RD_EPROTO, op, "batch", "has a count without its array");
    for (size_t i = 0; i < b->n_pairs && r == RD_OK; i++) {
        const struct reg_pair *p = &b->pairs[i];
        r = check_id(reg, op, "pair camera id", p->camera_id, RD_CAMERA_ID_MAX);
        if (r == RD_OK)
            r = check_id(reg, op, "pair relay id", p->relay_id, RD_RELAY_ID_MAX);
        if (r == RD_OK && (unsigned)p->state >= NAMES_N(pull_state_names))
            r = invalid(reg, RD_EPROTO, op, "pair state", "is unknown");
    }
    for (size_t i = 0; i < b->n_removed && r == RD_OK; i++) {
        r = check_text(reg, op, "removed camera id", b->removed[i].camera_id, 0, RD_CAMERA_ID_MAX,
                       TEXT_ID);
        if (r == RD_OK)
            r = check_id(reg, op, "removed relay id", b->removed[i].relay_id, RD_RELAY_ID_MAX);
    }
    for (size_t i = 0; i < b->n_loads && r == RD_OK; i++) {
        const struct reg_load *l = &b->loads[i];
        r = check_id(reg, op, "load relay id", l->relay_id, RD_RELAY_ID_MAX);
        if (r == RD_OK && !(isfinite(l->cpu_pct) && l->cpu_pct >= 0))
            r = invalid(reg, RD_EPROTO, op, "load cpu_pct", "must be a finite number >= 0");
    }
    for (size_t i = 0; i < b->n_decisions && r == RD_OK; i++) {
        const struct reg_decision *d = &b->decisions[i];
        r = check_text(reg, op, "decision camera id", d->camera_id, 0, RD_CAMERA_ID_MAX, TEXT_ID);
        if (r == RD_OK)
            r = check_text(reg, op, "decision relay id", d->relay_id, 0, RD_RELAY_ID_MAX, TEXT_ID);
        if (r == RD_OK && (d->status < 100 || d->status > 599))
            r = invalid(reg, RD_EPROTO, op, "decision status", "is not 100..599");
        if (r == RD_OK)
            r = check_text(reg, op, "decision reason", d->reason, 0, RD_REG_REASON_MAX, TEXT_PRINT);
        if (r == RD_OK)
            r = check_text(reg, op, "decision client", d->client, 0, RD_REG_CLIENT_MAX, TEXT_PRINT);
    }
    return r;
}

/* Runs statement st (bindings done) inside the flush; counts a skipped row when it changed
 * nothing and count_skip is set. */
static int
flush_exec(struct registry *reg, sqlite3_stmt *st, bool count_skip, uint64_t *skipped)
{
    int r = st_exec(reg, st, "flush", NULL);
    if (r == RD_OK && count_skip && sqlite3_changes(reg->db) == 0)
        (*skipped)++;
    return r;
}

static int
flush_rows(struct registry *reg, const struct registry_load_batch *b, uint64_t *skipped)
{
    sqlite3_stmt *st = NULL;
    int r, rc;
    const char *op = "flush";

    /* Removals first, then upserts: "all pairs of relay R" + R's pairs replaces R's mapping. */
    for (size_t i = 0; i < b->n_removed; i++) {
        const struct reg_pair_key *k = &b->removed[i];
        bool all = k->camera_id[0] == '\0';
        if ((r = st_take(reg, all ? ST_PAIR_DEL_RELAY : ST_PAIR_DEL, op, &st)) != RD_OK)
            return r;
        rc = all ? bind_text(st, 1, k->relay_id) : bind_text(st, 1, k->camera_id);
        if (rc == SQLITE_OK && !all)
            rc = bind_text(st, 2, k->relay_id);
        if (rc != SQLITE_OK)
            return bind_fail(reg, st, op, NULL, rc);
        if ((r = flush_exec(reg, st, false, skipped)) != RD_OK)
            return r;
    }
    for (size_t i = 0; i < b->n_pairs; i++) {
        const struct reg_pair *p = &b->pairs[i];
        if ((r = st_take(reg, ST_PAIR_UPSERT, op, &st)) != RD_OK)
            return r;
        rc = bind_text(st, 1, p->camera_id);
        if (rc == SQLITE_OK)
            rc = bind_text(st, 2, p->relay_id);
        if (rc == SQLITE_OK)
            rc = bind_text(st, 3, pull_state_names[p->state]);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 4, p->viewers);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 5, p->ingress_kbps);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 6, p->since != 0 ? p->since : b->now);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 7, b->now);
        if (rc != SQLITE_OK)
            return bind_fail(reg, st, op, NULL, rc);
        if ((r = flush_exec(reg, st, true, skipped)) != RD_OK)
            return r;
    }
    for (size_t i = 0; i < b->n_loads; i++) {
        const struct reg_load *l = &b->loads[i];
        if ((r = st_take(reg, ST_LOAD_UPSERT, op, &st)) != RD_OK)
            return r;
        rc = bind_text(st, 1, l->relay_id);
        if (rc == SQLITE_OK)
            rc = bind_text(st, 2, l->draining ? "draining" : "active");
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(st, 3, l->healthy);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 4, l->viewers);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 5, l->egress_kbps);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_double(st, 6, l->cpu_pct);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 7, l->last_seen);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 8, b->now);
        if (rc != SQLITE_OK)
            return bind_fail(reg, st, op, NULL, rc);
        if ((r = flush_exec(reg, st, true, skipped)) != RD_OK)
            return r;
    }
    if (b->take_sample) {
        if ((r = st_take(reg, ST_SAMPLE_TAKE, op, &st)) != RD_OK)
            return r;
        if ((rc = sqlite3_bind_int64(st, 1, b->now)) != SQLITE_OK)
            return bind_fail(reg, st, op, NULL, rc);
        if ((r = flush_exec(reg, st, false, skipped)) != RD_OK)
            return r;
    }
    for (size_t i = 0; i < b->n_decisions; i++) {
        const struct reg_decision *d = &b->decisions[i];
        if ((r = st_take(reg, ST_DECISION_ADD, op, &st)) != RD_OK)
            return r;
        rc = sqlite3_bind_int64(st, 1, d->at_ms);
        if (rc == SQLITE_OK)
            rc = bind_text(st, 2, d->camera_id);
        if (rc == SQLITE_OK)
            rc = bind_opt_text(st, 3, d->relay_id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(st, 4, d->status);
        if (rc == SQLITE_OK)
            rc = bind_text(st, 5, d->reason);
        if (rc == SQLITE_OK)
            rc = bind_text(st, 6, d->client);
        if (rc != SQLITE_OK)
            return bind_fail(reg, st, op, NULL, rc);
        if ((r = flush_exec(reg, st, false, skipped)) != RD_OK)
            return r;
    }

    /* History bounds, every flush: cheap (indexed ranges) and never lets the file grow. */
    static const struct {
        enum st sid;
        int64_t value;
    } trims[] = {
        {ST_TRIM_DECISIONS, RD_REG_DECISIONS_KEEP},
        {ST_TRIM_SAMPLES_AGE, 0}, /* value: now - retention, below */
        {ST_TRIM_SAMPLES_ROWS, RD_REG_SAMPLES_MAX_ROWS},
    };
    for (size_t i = 0; i < sizeof trims / sizeof trims[0]; i++) {
        int64_t v = trims[i].value;
        if (trims[i].sid == ST_TRIM_SAMPLES_AGE)
            v = b->now - RD_REG_SAMPLE_RETENTION_S;
        if ((r = st_take(reg, trims[i].sid, op, &st)) != RD_OK)
            return r;
        if ((rc = sqlite3_bind_int64(st, 1, v)) != SQLITE_OK)
            return bind_fail(reg, st, op, NULL, rc);
        if ((r = flush_exec(reg, st, false, skipped)) != RD_OK)
            return r;
    }
    return RD_OK;
}

int
registry_flush_load(struct registry *reg, const struct registry_load_batch *batch)
{
    int r = check_batch(reg, batch);
    if (r != RD_OK)
        return r;
    /* The live mapping, loads and history are soft state, rewritten every second: their
     * commits skip the fsync (synchronous=NORMAL keeps a WAL database consistent, only the
     * last commits may be lost on power failure), so the event loop never waits for the disk.
     * Configuration writes keep synchronous=FULL. */
    (void)sqlite3_exec(reg->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    r = tx_begin(reg, "flush", NULL);
    if (r != RD_OK) {
        (void)sqlite3_exec(reg->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
        reg->stats.flush_failures++;
        return r;
    }
    uint64_t skipped = 0;
    r = flush_rows(reg, batch, &skipped);
    if (r == RD_OK)
        r = tx_commit(reg, "flush", NULL);
    if (r != RD_OK)
        tx_abort(reg);
    (void)sqlite3_exec(reg->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (r != RD_OK) {
        reg->stats.flush_failures++;
        return r;
    }
    reg->stats.flushes++;
    reg->stats.rows_skipped += skipped;
    ok(reg);
    return RD_OK;
}

int
registry_live_reset(struct registry *reg)
{
    const char *op = "live reset";
    int r = tx_begin(reg, op, NULL);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_RESET_PAIRS, op, &st)) == RD_OK
        && (r = st_exec(reg, st, op, NULL)) == RD_OK
        && (r = st_take(reg, ST_RESET_LOADS, op, &st)) == RD_OK
        && (r = st_exec(reg, st, op, NULL)) == RD_OK)
        r = tx_commit(reg, op, NULL);
    if (r != RD_OK) {
        tx_abort(reg);
        return r;
    }
    ok(reg);
    return RD_OK;
}

int
registry_pair_list(struct registry *reg, const char *relay_id, const char *camera_id,
                   registry_pair_fn *cb, void *arg)
{
    const char *op = "pair list";
    int r = RD_OK;
    if (relay_id != NULL)
        r = check_id(reg, op, "relay id", relay_id, RD_RELAY_ID_MAX);
    if (r == RD_OK && camera_id != NULL)
        r = check_id(reg, op, "camera id", camera_id, RD_CAMERA_ID_MAX);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_PAIR_LIST, op, &st)) != RD_OK)
        return r;
    int rc = bind_opt_text(st, 1, relay_id);
    if (rc == SQLITE_OK)
        rc = bind_opt_text(st, 2, camera_id);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, NULL, rc);
    while ((r = st_row(reg, st, op, NULL)) == 1) {
        struct reg_pair row;
        if ((r = read_pair(reg, st, &row)) != RD_OK || cb(arg, &row) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}

int
registry_decision_list(struct registry *reg, const char *camera_id, unsigned limit,
                       registry_decision_fn *cb, void *arg)
{
    const char *op = "decision list";
    int r;
    if (camera_id != NULL
        && (r = check_id(reg, op, "camera id", camera_id, RD_CAMERA_ID_MAX)) != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_DECISION_LIST, op, &st)) != RD_OK)
        return r;
    int rc = bind_opt_text(st, 1, camera_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, limit);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, NULL, rc);
    while ((r = st_row(reg, st, op, NULL)) == 1) {
        struct reg_decision row;
        if ((r = read_decision(reg, st, &row)) != RD_OK || cb(arg, &row) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}

int
registry_sample_list(struct registry *reg, const char *relay_id, int64_t since,
                     registry_sample_fn *cb, void *arg)
{
    const char *op = "sample list";
    int r = check_id(reg, op, "relay id", relay_id, RD_RELAY_ID_MAX);
    if (r != RD_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if ((r = st_take(reg, ST_SAMPLE_LIST, op, &st)) != RD_OK)
        return r;
    int rc = bind_text(st, 1, relay_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, since);
    if (rc != SQLITE_OK)
        return bind_fail(reg, st, op, relay_id, rc);
    while ((r = st_row(reg, st, op, relay_id)) == 1) {
        struct reg_load row;
        if ((r = read_sample(reg, st, &row)) != RD_OK || cb(arg, &row) != 0) {
            st_done(st);
            break;
        }
    }
    if (r < 0)
        return r;
    ok(reg);
    return RD_OK;
}
