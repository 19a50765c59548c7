/* SPDX-License-Identifier: MIT */
/* rd_seed_registry: fills a broker registry for tests from a line format (through registry.h,
 * like the CLI) and prints the new relays' keys as JSON, so a test can sign heartbeats.
 *
 *   rd_seed_registry DB [SPEC]        (SPEC defaults to stdin)
 *
 * Lines (blank lines and lines starting with '#' are skipped; fields separated by blanks):
 *   site ID [NAME]
 *   camera ID SITE [max_relays=N] [auth] [disabled] [always_on] [url=URL]
 *   relay ID SITE BASE_URL [capacity=N] [mbps=N] [state=active|draining|disabled]
 *   user NAME PASSWORD [realm=R] [grant=CAM[,CAM...]]
 * Output: {"relay-a": {"kid": "k1", "key": "<64 hex>"}, ...} on one line.
 * Exit 0, or 1 with "spec:<line>: <reason>" on stderr. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rd_err.h"
#include "registry.h"

#define SEED_MAX_FIELDS 16
#define SEED_MAX_RELAYS 64

struct seed {
    struct registry *reg;
    unsigned line;
    char relay_ids[SEED_MAX_RELAYS][RD_RELAY_ID_MAX + 1];
    struct reg_relay_key keys[SEED_MAX_RELAYS];
    size_t n_relays;
};

static int
fail(const struct seed *s, const char *what, const char *detail)
{
    fprintf(stderr, "spec:%u: %s%s%s\n", s->line, what, detail[0] ? ": " : "", detail);
    return 1;
}

static int
copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return RD_ELIMIT;
    memcpy(dst, src, n + 1);
    return RD_OK;
}

/* "key=value" option lookup; returns the value or NULL. Bare flags return "". */
static const char *
opt(char **f, size_t n, size_t from, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = from; i < n; i++) {
        if (strncmp(f[i], key, kl) == 0 && (f[i][kl] == '=' || f[i][kl] == '\0'))
            return f[i][kl] == '=' ? f[i] + kl + 1 : "";
    }
    return NULL;
}

static uint32_t
num(const char *v, uint32_t def)
{
    if (v == NULL || *v == '\0')
        return def;
    char *end = NULL;
    unsigned long x = strtoul(v, &end, 10);
    return end != NULL && *end == '\0' ? (uint32_t)x : def;
}

static int
do_site(struct seed *s, char **f, size_t n)
{
    struct reg_site site;
    memset(&site, 0, sizeof(site));
    if (n < 2 || copy(site.id, sizeof(site.id), f[1]) != RD_OK
        || copy(site.name, sizeof(site.name), n > 2 ? f[2] : f[1]) != RD_OK)
        return fail(s, "site ID [NAME]", "");
    if (registry_site_add(s->reg, &site) != RD_OK)
        return fail(s, "site add", registry_errmsg(s->reg));
    return 0;
}

static int
do_camera(struct seed *s, char **f, size_t n)
{
    struct reg_camera c;
    memset(&c, 0, sizeof(c));
    if (n < 3 || copy(c.id, sizeof(c.id), f[1]) != RD_OK
        || copy(c.name, sizeof(c.name), f[1]) != RD_OK
        || copy(c.site_id, sizeof(c.site_id), f[2]) != RD_OK)
        return fail(s, "camera ID SITE [options]", "");
    const char *url = opt(f, n, 3, "url");
    char def_url[128];
    snprintf(def_url, sizeof(def_url), "rtsp://192.0.2.10:554/%s", c.id);
    if (copy(c.upstream_url, sizeof(c.upstream_url), url != NULL ? url : def_url) != RD_OK)
        return fail(s, "camera url too long", "");
    c.max_relays = num(opt(f, n, 3, "max_relays"), 2);
    c.auth_required = opt(f, n, 3, "auth") != NULL;
    c.enabled = opt(f, n, 3, "disabled") == NULL;
    c.always_on = opt(f, n, 3, "always_on") != NULL;
    if (registry_camera_add(s->reg, &c) != RD_OK)
        return fail(s, "camera add", registry_errmsg(s->reg));
    return 0;
}

static int
do_relay(struct seed *s, char **f, size_t n)
{
    struct reg_relay r;
    memset(&r, 0, sizeof(r));
    if (n < 4 || s->n_relays == SEED_MAX_RELAYS || copy(r.id, sizeof(r.id), f[1]) != RD_OK
        || copy(r.name, sizeof(r.name), f[1]) != RD_OK
        || copy(r.site_id, sizeof(r.site_id), strcmp(f[2], "-") == 0 ? "" : f[2]) != RD_OK
        || copy(r.base_url, sizeof(r.base_url), f[3]) != RD_OK)
        return fail(s, "relay ID SITE|- BASE_URL [options]", "");
    r.capacity_viewers = num(opt(f, n, 4, "capacity"), 100);
    r.capacity_mbps = num(opt(f, n, 4, "mbps"), 1000);
    const char *state = opt(f, n, 4, "state");
    if (state != NULL && registry_relay_state_parse(state, &r.state) != RD_OK)
        return fail(s, "relay state", state);
    struct reg_relay_key *k = &s->keys[s->n_relays];
    if (registry_relay_add(s->reg, &r, k) != RD_OK)
        return fail(s, "relay add", registry_errmsg(s->reg));
    memcpy(s->relay_ids[s->n_relays], r.id, sizeof(r.id));
    s->n_relays++;
    return 0;
}

static int
do_user(struct seed *s, char **f, size_t n)
{
    struct reg_user u;
    memset(&u, 0, sizeof(u));
    const char *realm = opt(f, n, 3, "realm");
    if (n < 3 || copy(u.name, sizeof(u.name), f[1]) != RD_OK
        || copy(u.realm, sizeof(u.realm), realm != NULL ? realm : "rtsp-director") != RD_OK)
        return fail(s, "user NAME PASSWORD [options]", "");
    if (registry_user_ha1(&u, f[2]) != RD_OK)
        return fail(s, "user name, realm or password refused", "");
    if (registry_user_add(s->reg, &u) != RD_OK)
        return fail(s, "user add", registry_errmsg(s->reg));
    const char *grants = opt(f, n, 3, "grant");
    char list[1024];
    if (grants != NULL && copy(list, sizeof(list), grants) == RD_OK) {
        for (char *cam = list; cam != NULL && *cam != '\0';) {
            char *comma = strchr(cam, ',');
            if (comma != NULL)
                *comma = '\0';
            if (registry_user_grant(s->reg, u.name, cam) != RD_OK)
                return fail(s, "grant", registry_errmsg(s->reg));
            cam = comma != NULL ? comma + 1 : NULL;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: rd_seed_registry DB [SPEC]\n");
        return 2;
    }
    FILE *in = argc == 3 ? fopen(argv[2], "r") : stdin;
    if (in == NULL) {
        perror(argv[2]);
        return 1;
    }
    static struct seed s;
    char err[256];
    if (registry_open(argv[1], &s.reg, err, sizeof(err)) != RD_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    char text[2048];
    int rc = 0;
    while (rc == 0 && fgets(text, sizeof(text), in) != NULL) {
        s.line++;
        char *f[SEED_MAX_FIELDS];
        size_t n = 0;
        for (char *p = text; n < SEED_MAX_FIELDS;) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                *p++ = '\0';
            if (*p == '\0')
                break;
            f[n++] = p;
            while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                p++;
        }
        if (n == 0 || f[0][0] == '#')
            continue;
        if (strcmp(f[0], "site") == 0)
            rc = do_site(&s, f, n);
        else if (strcmp(f[0], "camera") == 0)
            rc = do_camera(&s, f, n);
        else if (strcmp(f[0], "relay") == 0)
            rc = do_relay(&s, f, n);
        else if (strcmp(f[0], "user") == 0)
            rc = do_user(&s, f, n);
        else
            rc = fail(&s, "unknown line kind", f[0]);
    }
    if (in != stdin)
        fclose(in);
    registry_close(s.reg);
    if (rc != 0)
        return rc;
    printf("{");
    for (size_t i = 0; i < s.n_relays; i++) {
        char hex[2 * RD_TOKEN_KEY_BYTES + 1];
        rd_hex_encode(s.keys[i].key, RD_TOKEN_KEY_BYTES, hex);
        printf("%s\"%s\": {\"kid\": \"%s\", \"key\": \"%s\"}", i > 0 ? ", " : "", s.relay_ids[i],
               s.keys[i].kid, hex);
    }
    printf("}\n");
    return 0;
}
