/* SPDX-License-Identifier: MIT */
/* The broker's RTSP/TCP listener on one libev loop (SECURITY.md §2.2): accepting with global
 * and per-IP caps and a per-IP accept rate, fixed per-connection buffers, absolute deadlines,
 * pipelined requests answered in order with backpressure, close after final responses.
 * What to answer is the handler's business (router.c in the daemon). */
#ifndef RD_BROKER_LISTENER_H
#define RD_BROKER_LISTENER_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "log.h"
#include "metrics.h"
#include "rtsp_build.h"
#include "rtsp_msg.h"

struct listener; /* opaque; owned by the caller of listener_start */

/* Output buffer per connection: room for several pipelined answers. A request is only taken
 * from the input while at least LISTENER_RESPONSE_ROOM bytes are free, so the handler never
 * meets a full buffer; otherwise reading pauses until the peer has read (backpressure). */
#define LISTENER_OUT_BYTES     8192
#define LISTENER_RESPONSE_ROOM 2048

/* Limits and deadlines (seconds). listener_params_default fills SECURITY.md §2.2 values;
 * tests shorten the deadlines. */
struct listener_params {
    const char *ip; /* numeric IPv4 or IPv6 */
    uint16_t port;  /* 0: the kernel picks (listener_port) */
    uint32_t max_conns;
    uint32_t max_conns_per_ip;
    double accept_rate_per_ip; /* new connections per second per source IP */
    double accept_burst_per_ip;
    /* TCP_DEFER_ACCEPT seconds (0: off): a connection is accepted with its first request,
     * which is read and answered at once. Silent ones wait in the kernel's SYN queue (not
     * counted in the caps) for about this long, then first_byte_s applies. */
    unsigned defer_accept_s;
    double first_byte_s; /* accept -> first byte, else close */
    double header_s;     /* first byte -> end of header block, else 408 + close */
    double body_s;       /* end of headers -> end of body, else 408 + close */
    double idle_s;       /* between requests, else close */
    double write_s;      /* pending output must drain within this, else close */
    double linger_s;     /* after a final response: wait this long for the peer's FIN */
};

void listener_params_default(struct listener_params *p);

/* The connection a request came from. Strings are valid during the handler call. */
struct listener_peer {
    uint64_t conn_id;
    const char *addr;          /* "1.2.3.4:5678" / "[v6]:port" */
    const char *ip;            /* address alone; IPv4-mapped IPv6 unmapped */
    const struct log_ctx *log; /* "conn=<id> peer=<addr>" */
};

/* Answers one request the parser accepted: appends exactly one complete response to out and
 * sets *close_after when the connection must close once it is written. Returns RD_OK, or an
 * error (nothing appended): the connection is closed. Must not call listener functions. */
typedef int listener_request_fn(void *ctx, const struct rtsp_msg *msg,
                                const struct listener_peer *peer, struct rtsp_out *out,
                                bool *close_after);

/* Binds, listens and starts accepting on loop. m (borrowed, may be NULL) receives connection,
 * response and parse-error counts. Returns RD_OK with *out owned by the caller, or an error
 * with err filled (address in use, ...). SIGPIPE must be ignored by the process (main does;
 * sends also use MSG_NOSIGNAL). */
int listener_start(struct ev_loop *loop, const struct listener_params *p,
                   listener_request_fn *handler, void *handler_ctx, struct metrics *m,
                   struct listener **out, struct rd_errbuf *err);

/* The bound port. */
uint16_t listener_port(const struct listener *l);

/* Connections open now. */
size_t listener_open_count(const struct listener *l);

/* Shutdown, first step: closes the listening socket, closes connections with nothing pending,
 * and lets the others finish the request being read and the responses queued (each closes
 * after its next response). Idempotent. */
void listener_drain(struct listener *l);

/* Closes every connection and the socket and frees l. NULL is a no-op. Not from a handler. */
void listener_destroy(struct listener *l);

#endif
