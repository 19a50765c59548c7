/* SPDX-License-Identifier: MIT */
/* Where a camera's media comes from: its upstream URL, credentials and pull options, as
 * answered by the broker over the relay channel (docs/relay-channel.md) or listed in the
 * relay's own sources file. Plain data, copied by value. Never logged, never shown: the URL
 * may carry userinfo and the password is clear text (ARCHITECTURE.md §4.3). */
#ifndef RD_RELAY_CAMERA_SOURCE_H
#define RD_RELAY_CAMERA_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "rd_limits.h"

enum camera_transport {
    CAMERA_TRANSPORT_TCP = 0, /* RTP interleaved on the RTSP connection (the default) */
    CAMERA_TRANSPORT_UDP,     /* RTP over UDP, falling back to TCP when nothing arrives */
};

struct camera_source {
    char id[RD_CAMERA_ID_MAX + 1];
    char url[RD_REG_URL_MAX + 1];       /* rtsp://host[:port]/path[?query]; no userinfo */
    char user[RD_REG_CRED_MAX + 1];     /* "" = no credentials */
    char password[RD_REG_CRED_MAX + 1]; /* clear text; wiped (rd_cleanse) when dropped */
    enum camera_transport transport;
    bool always_on; /* pulled while the relay runs, viewers or not */
    bool enabled;   /* false: the camera exists but must not be pulled (viewers get 503) */
    uint64_t registry_version; /* broker's registry_version when fetched; 0 for local files */
};

#endif
