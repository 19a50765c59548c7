/* SPDX-License-Identifier: MIT */
/* The relay's camera table: for every camera this relay serves, its source, its puller, its
 * stream (kept across camera reconnects for continuity) and the viewer sessions using it.
 * Pulls start on demand at the first viewer and linger RD_PULL_LINGER_S after the last;
 * always-on cameras are pulled from the start. Sources come from the relay's sources file
 * or, on first use, from the broker (bclient_fetch_source). */
#ifndef RD_RELAY_CAMERAS_H
#define RD_RELAY_CAMERAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "camera_source.h"
#include "puller.h"
#include "rd_str.h"
#include "sdp.h"
#include "stream.h"

/* Ownership and threading:
 * - struct cameras is owned by the relay context (cameras_free), struct camera by the table.
 * - struct camera_user is embedded in a viewer's object and owned by it; the table links it
 *   while attached. Detach it (camera_user_release) before freeing its owner.
 * - Loop thread only. Callbacks are never called from inside cameras_acquire or
 *   camera_user_release; they may release any user (their own included). */

struct cameras;
struct camera;
struct bclient;

/* A viewer's hold on a camera: one per viewer session (UDP) or per connection and camera
 * (TCP). Holding it keeps the camera pulled. */
struct camera_user {
    /* Set by the owner before cameras_acquire. */
    /* The camera became ready (status RD_OK: camera_stream and camera_sdp are valid) or
     * could not be made ready (RD_ENOTFOUND: the camera is not served here, answer 403;
     * RD_EBUSY: the camera is unavailable, answer 503). Called at most once per
     * acquire that returned RD_AGAIN. On an error the user is already detached. */
    void (*ready)(struct camera_user *u, int status);
    /* The stream this user was given went away: the camera's SDP changed incompatibly, the
     * camera was disabled or removed. The user is already detached; the owner must close
     * its viewer's connection (players start over through the broker). */
    void (*gone)(struct camera_user *u);
    /* Private to cameras.c. */
    struct camera *cam_;
    struct camera_user *prev_, *next_;
    bool waiting_;
};

struct cameras_env {
    struct puller_env puller; /* passed to every puller (borrowed members) */
    struct bclient *broker;   /* NULL: sources only from the sources file */
    double linger_s;          /* RD_PULL_LINGER_S; tests use less */
    double ready_timeout_s;   /* how long a waiting user waits for the SDP: RD_PULL_READY_S */
};

struct camera_info {
    const char *id;    /* borrowed from the table, valid until the next table change */
    const char *state; /* "idle", "starting", "playing", "retrying", "failed" */
    uint32_t users;    /* attached users (viewer sessions) */
    uint32_t waiting;  /* of which waiting for the SDP */
    bool always_on, has_stream, from_broker;
    struct puller_stats puller; /* zeroed when not pulling */
    uint64_t pkts_in, bytes_in; /* over the stream's tracks, since the stream was made */
    uint64_t drops;             /* malformed + cache overflows + RTCP dropped */
    uint32_t ingress_kbps;      /* camera bitrate over the last few seconds */
};

/* An empty table using env (copied; members borrowed). Returns RD_OK and *out, RD_ENOMEM. */
int cameras_new(const struct cameras_env *env, struct cameras **out);

/* Stops every puller, frees every stream and camera. Users still attached are detached
 * without callbacks (the viewer server is freed first in normal shutdown). NULL: no-op. */
void cameras_free(struct cameras *t);

/* Adds or replaces a camera known from the sources file (src copied). A changed source is
 * passed to the running puller. Starts pulling at once when always_on. Returns RD_OK,
 * RD_EPROTO for an invalid id, RD_ELIMIT at RD_RELAY_MAX_CAMERAS, RD_ENOMEM. */
int cameras_set_source(struct cameras *t, const struct camera_source *src);

/* A camera fed by the caller instead of a puller (tests, benchmarks): the SDP (copied,
 * parsed now) and a stream made from it. Returns RD_OK and *stream (owned by the table),
 * RD_EPROTO for an SDP the relay cannot serve, RD_ENOMEM. */
int cameras_add_static(struct cameras *t, struct rd_str id, const char *sdp, size_t len,
                       struct stream **stream);

/* Attaches u to camera id (the token has been verified for it). Returns:
 *   RD_OK       attached; the camera's stream and SDP are ready now (no callback follows);
 *   RD_AGAIN    attached and waiting: u->ready is called later (the source is being fetched
 *               from the broker, or the camera is connecting);
 *   RD_ENOTFOUND the camera is not served here (no source, broker said 404): not attached;
 *   RD_EBUSY    the camera is disabled, or its puller is in the long pause: not attached;
 *   RD_ELIMIT   too many cameras: not attached.
 * Attaching to a camera that is retrying kicks its puller (puller_kick). */
int cameras_acquire(struct cameras *t, struct rd_str id, struct camera_user *u);

/* Detaches u (no callback follows). When the last user leaves a camera that is not
 * always-on, its pull stops after linger_s unless a user comes back. No-op when detached. */
void camera_user_release(struct camera_user *u);

/* Whether u is attached, and to which camera. */
static inline struct camera *
camera_user_camera(const struct camera_user *u)
{
    return u->cam_;
}

/* The ready camera's stream and SDP (parsed; views into the camera's own copy of the text).
 * Valid while any user holds the camera and until its gone callback; NULL when not ready. */
struct stream *camera_stream(const struct camera *c);
const struct sdp *camera_sdp(const struct camera *c);
const char *camera_id(const struct camera *c);

/* The broker's registry version changed: sources fetched from the broker are fetched again
 * for the cameras in use (and forgotten for idle ones). */
void cameras_registry_changed(struct cameras *t, uint64_t version);

/* Once a second (the relay's tick): updates each camera's ingress rate. */
void cameras_tick(struct cameras *t);

/* Number of cameras and their info, for the heartbeat and the status page: calls fn for
 * each camera in id order. */
size_t cameras_count(const struct cameras *t);
void cameras_each(const struct cameras *t, void (*fn)(void *arg, const struct camera_info *ci),
                  void *arg);

#endif
