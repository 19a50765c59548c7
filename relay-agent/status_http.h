/* SPDX-License-Identifier: MIT */
/* The relay's status HTTP (issue #4 item 7): /healthz, /api/v1/status (JSON) and /metrics
 * (Prometheus text format), served by libmicrohttpd inside the relay's loop. Read-only; bind
 * it to loopback (default 127.0.0.1:9555) or a management network. */
#ifndef RD_RELAY_STATUS_HTTP_H
#define RD_RELAY_STATUS_HTTP_H

#include <stdint.h>

#include "conf.h"
#include "errbuf.h"

struct relay;
struct status_http;

/* Starts serving r's state on l (r borrowed; must outlive the server). Returns RD_OK and
 * *out (owned by the caller: status_http_stop), or an error with err filled. */
int status_http_start(struct relay *r, const struct conf_listen *l, struct status_http **out,
                      struct rd_errbuf *err);

/* The bound port (for port 0 in tests). */
uint16_t status_http_port(const struct status_http *s);

/* Stops and frees. NULL is a no-op. */
void status_http_stop(struct status_http *s);

#endif
