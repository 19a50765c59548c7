/* SPDX-License-Identifier: MIT */
/* The registry's configuration as an immutable in-memory snapshot: sorted arrays searched by
 * bsearch, built in one pass over the registry and never modified after. */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "rd_err.h"
#include "rd_str.h"

struct catalog {
    uint64_t version;
    struct catalog_camera *cameras; /* sorted by id */
    size_t n_cameras, cap_cameras;
    struct catalog_relay *relays; /* sorted by id */
    size_t n_relays, cap_relays;
    struct catalog_user *users; /* sorted by name */
    size_t n_users, cap_users;
    char (*grants)[RD_CAMERA_ID_MAX + 1]; /* per user: users[i].first_grant.. sorted */
    size_t n_grants, cap_grants;
    int rc; /* first error met inside a registry callback */
};

static int
add_camera(void *arg, const struct reg_camera *row)
{
    struct catalog *c = arg;
    if ((c->rc = rd_array_grow((void **)&c->cameras, &c->cap_cameras, c->n_cameras,
                               sizeof(*c->cameras)))
        != RD_OK)
        return 1;
    struct catalog_camera *cam = &c->cameras[c->n_cameras++];
    memset(cam, 0, sizeof(*cam));
    memcpy(cam->id, row->id, sizeof(cam->id));
    memcpy(cam->site_id, row->site_id, sizeof(cam->site_id));
    cam->max_relays = row->max_relays;
    cam->auth_required = row->auth_required;
    cam->enabled = row->enabled;
    cam->always_on = row->always_on;
    return 0;
}

static int
add_relay(void *arg, const struct reg_relay *row)
{
    struct catalog *c = arg;
    if ((c->rc =
             rd_array_grow((void **)&c->relays, &c->cap_relays, c->n_relays, sizeof(*c->relays)))
        != RD_OK)
        return 1;
    struct catalog_relay *r = &c->relays[c->n_relays++];
    memset(r, 0, sizeof(*r));
    r->relay = *row;
    return 0;
}

static int
add_user(void *arg, const struct reg_user *row)
{
    struct catalog *c = arg;
    if ((c->rc = rd_array_grow((void **)&c->users, &c->cap_users, c->n_users, sizeof(*c->users)))
        != RD_OK)
        return 1;
    struct catalog_user *u = &c->users[c->n_users++];
    memset(u, 0, sizeof(*u));
    u->user = *row;
    return 0;
}

static int
add_grant(void *arg, const char *camera_id)
{
    struct catalog *c = arg;
    if ((c->rc =
             rd_array_grow((void **)&c->grants, &c->cap_grants, c->n_grants, sizeof(*c->grants)))
        != RD_OK)
        return 1;
    if ((c->rc = rd_str_copy(c->grants[c->n_grants], sizeof(c->grants[0]), rd_str_cstr(camera_id)))
        != RD_OK)
        return 1;
    c->n_grants++;
    return 0;
}

static int
cmp_camera(const void *a, const void *b)
{
    return strcmp(((const struct catalog_camera *)a)->id, ((const struct catalog_camera *)b)->id);
}

static int
cmp_relay(const void *a, const void *b)
{
    return strcmp(((const struct catalog_relay *)a)->relay.id,
                  ((const struct catalog_relay *)b)->relay.id);
}

static int
cmp_user(const void *a, const void *b)
{
    return strcmp(((const struct catalog_user *)a)->user.name,
                  ((const struct catalog_user *)b)->user.name);
}

static int
cmp_grant(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* One pass over the registry. The lists are read one after the other (a list callback must
 * not call into the registry), so the caller checks the version did not move meanwhile. */
static int
load_once(struct registry *reg, struct catalog *c)
{
    int rc;
    if ((rc = registry_version(reg, &c->version)) != RD_OK)
        return rc;
    if ((rc = registry_camera_list(reg, NULL, add_camera, c)) != RD_OK || c->rc != RD_OK)
        return rc != RD_OK ? rc : c->rc;
    if ((rc = registry_relay_list(reg, add_relay, c)) != RD_OK || c->rc != RD_OK)
        return rc != RD_OK ? rc : c->rc;
    for (size_t i = 0; i < c->n_relays; i++) {
        size_t n = 0;
        struct catalog_relay *r = &c->relays[i];
        if ((rc = registry_relay_keys(reg, r->relay.id, r->keys, &n)) != RD_OK)
            return rc;
        r->n_keys = (uint32_t)n;
    }
    if ((rc = registry_user_list(reg, add_user, c)) != RD_OK || c->rc != RD_OK)
        return rc != RD_OK ? rc : c->rc;
    for (size_t i = 0; i < c->n_users; i++) {
        struct catalog_user *u = &c->users[i];
        u->first_grant = (uint32_t)c->n_grants;
        if ((rc = registry_user_grants(reg, u->user.name, add_grant, c)) != RD_OK || c->rc != RD_OK)
            return rc != RD_OK ? rc : c->rc;
        u->n_grants = (uint32_t)(c->n_grants - u->first_grant);
        if (u->n_grants > 1)
            qsort(c->grants + u->first_grant, u->n_grants, sizeof(c->grants[0]), cmp_grant);
    }
    /* qsort and bsearch take no NULL arrays, even with 0 elements (C11 §7.22.5). */
    if (c->n_cameras > 1)
        qsort(c->cameras, c->n_cameras, sizeof(*c->cameras), cmp_camera);
    if (c->n_relays > 1)
        qsort(c->relays, c->n_relays, sizeof(*c->relays), cmp_relay);
    if (c->n_users > 1)
        qsort(c->users, c->n_users, sizeof(*c->users), cmp_user);
    uint64_t after;
    if ((rc = registry_version(reg, &after)) != RD_OK)
        return rc;
    return after == c->version ? RD_OK : RD_AGAIN;
}

static void
catalog_clear(struct catalog *c)
{
    free(c->cameras);
    free(c->relays);
    free(c->users);
    free(c->grants);
    memset(c, 0, sizeof(*c));
}

int
catalog_load(struct registry *reg, struct catalog **out)
{
    struct catalog *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return RD_ENOMEM;
    int rc = RD_AGAIN;
    /* A write between the list reads (the CLI, the admin API) changes the version: read again
     * so the snapshot is one consistent version. Three tries; writers are rare. */
    for (int attempt = 0; attempt < 3 && rc == RD_AGAIN; attempt++) {
        catalog_clear(c);
        rc = load_once(reg, c);
    }
    if (rc == RD_AGAIN)
        rc = RD_EBUSY;
    if (rc != RD_OK) {
        RD_LOG(RD_LOG_WARN, NULL, "catalog load failed error=\"%s\"", rd_strstatus(rc));
        catalog_free(c);
        return rc;
    }
    *out = c;
    return RD_OK;
}

void
catalog_free(struct catalog *cat)
{
    if (cat == NULL)
        return;
    catalog_clear(cat);
    free(cat);
}

uint64_t
catalog_version(const struct catalog *cat)
{
    return cat->version;
}

const struct catalog_camera *
catalog_camera(const struct catalog *cat, const char *id)
{
    struct catalog_camera key;
    if (cat->n_cameras == 0 || rd_str_copy(key.id, sizeof(key.id), rd_str_cstr(id)) != RD_OK)
        return NULL;
    return bsearch(&key, cat->cameras, cat->n_cameras, sizeof(key), cmp_camera);
}

const struct reg_relay_key *
catalog_relay_signing_key(const struct catalog_relay *r, bool reported, const char *const *held,
                          size_t n_held)
{
    if (r->n_keys == 0)
        return NULL;
    if (reported) {
        /* keys[] is newest first: the first one held is the newest one held. Kids are not
         * secret, a plain compare is fine. */
        for (uint32_t i = 0; i < r->n_keys; i++) {
            for (size_t j = 0; j < n_held; j++) {
                if (held[j] != NULL && strcmp(r->keys[i].kid, held[j]) == 0)
                    return &r->keys[i];
            }
        }
    }
    return &r->keys[0];
}

const struct catalog_relay *
catalog_relay(const struct catalog *cat, const char *id)
{
    struct catalog_relay key;
    if (cat->n_relays == 0
        || rd_str_copy(key.relay.id, sizeof(key.relay.id), rd_str_cstr(id)) != RD_OK)
        return NULL;
    return bsearch(&key, cat->relays, cat->n_relays, sizeof(key), cmp_relay);
}

const struct catalog_user *
catalog_user(const struct catalog *cat, const char *name)
{
    struct catalog_user key;
    if (cat->n_users == 0
        || rd_str_copy(key.user.name, sizeof(key.user.name), rd_str_cstr(name)) != RD_OK)
        return NULL;
    return bsearch(&key, cat->users, cat->n_users, sizeof(key), cmp_user);
}

bool
catalog_user_may_view(const struct catalog *cat, const struct catalog_user *u,
                      const char *camera_id)
{
    if (u->n_grants == 0)
        return false;
    return bsearch(camera_id, cat->grants + u->first_grant, u->n_grants, sizeof(cat->grants[0]),
                   cmp_grant)
           != NULL;
}

size_t
catalog_relay_count(const struct catalog *cat)
{
    return cat->n_relays;
}

const struct catalog_relay *
catalog_relay_at(const struct catalog *cat, size_t i)
{
    return i < cat->n_relays ? &cat->relays[i] : NULL;
}

size_t
catalog_camera_count(const struct catalog *cat)
{
    return cat->n_cameras;
}

const struct catalog_camera *
catalog_camera_at(const struct catalog *cat, size_t i)
{
    return i < cat->n_cameras ? &cat->cameras[i] : NULL;
}
