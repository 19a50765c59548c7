/* SPDX-License-Identifier: MIT */
/* The broker's admin HTTP server (libmicrohttpd inside the loop, base/httpd): the load page,
 * the JSON API under /api/v1/, /metrics, /healthz, and the relay channel (heartbeats and
 * camera sources, docs/relay-channel.md). */
#ifndef RD_BROKER_ADMIN_H
#define RD_BROKER_ADMIN_H

#include "broker.h"
#include "errbuf.h"

/* Starts serving on b->conf.admin_listen. Refuses (RD_EPROTO, err filled) to bind beyond
 * loopback without an admin token. Sets b->admin (owned by b). Returns RD_OK or an error. */
int admin_start(struct broker *b, struct rd_errbuf *err);
/* Stops serving and frees b->admin. Safe when not started. */
void admin_stop(struct broker *b);
/* The bound port (tests use port 0). */
unsigned admin_port(const struct broker *b);

#endif
