/* SPDX-License-Identifier: MIT */
/* The configuration keys of rtsp-broker (struct broker_conf in broker.h): one table row per
 * key with its bounds, default and help (base/conf.h), plus the checks that span keys. */
#ifndef RD_BROKER_BROKER_CONF_H
#define RD_BROKER_BROKER_CONF_H

#include <stdbool.h>

#include "broker.h"
#include "conf.h"
#include "errbuf.h"

/* Used when no -c is given and this file exists; without it the defaults apply. */
#define BROKER_CONF_DEFAULT_PATH "/etc/rtsp-director/broker.conf"

/* The table: keys, types, bounds, defaults (ARCHITECTURE.md §5, SECURITY.md §2.2). */
extern const struct conf_table broker_conf_table;

/* Fills *c with every default. Returns RD_OK (anything else is a bug in the table: err says
 * which key). */
int broker_conf_defaults(struct broker_conf *c, struct rd_errbuf *err);

/* Checks that span keys, after the file and the -o overrides: an admin listener beyond
 * loopback needs admin_token_file; public_names must parse (broker_conf_public_names).
 * Returns RD_OK, or RD_EPROTO with err naming the key. */
int broker_conf_check(const struct broker_conf *c, struct rd_errbuf *err);

/* True for 127.0.0.0/8 and ::1 (numeric text as in struct conf_listen). */
bool broker_conf_is_loopback(const char *host);

/* Calls fn(ctx, host, port) for each "host[:port]" of the comma-separated public_names
 * (blanks around entries ignored; a missing port means default_port; IPv6 in brackets).
 * host is NUL-terminated and valid during the call. Stops at the first fn result != RD_OK and
 * returns it. Returns RD_OK, or RD_EPROTO (with err saying which entry) for an empty entry, a
 * host over RD_URL_MAX_HOST bytes or outside [A-Za-z0-9.:_-], or a bad port. */
int broker_conf_public_names(const char *names, unsigned default_port,
                             int (*fn)(void *ctx, const char *host, unsigned port), void *ctx,
                             struct rd_errbuf *err);

#endif
