/* SPDX-License-Identifier: MIT */
/* libmicrohttpd inside the daemon's libev loop (external epoll mode, no MHD thread), plus
 * the request helpers our handlers share: capped body reading (never MHD_PostProcessor),
 * copied responses, and a constant-time bearer-token check. Include only from httpd.c,
 * admin.c and status_http.c: it is the one door to microhttpd.h (STYLE.md §3). */
#ifndef RD_BASE_HTTPD_H
#define RD_BASE_HTTPD_H

#include <ev.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "log.h"

struct httpd {
    struct ev_loop *loop;
    struct MHD_Daemon *mhd;
    ev_io io;           /* readable: MHD's epoll fd has events */
    ev_timer timer;     /* MHD's next timeout (MHD_get_timeout after each MHD_run) */
    uint16_t port;      /* the bound port (useful after asking for port 0) */
    struct log_ctx log; /* "http=<ip:port>" */
};

/* Listens on ip:port (numeric IPv4 or IPv6, port 0 for any) and serves requests through
 * handler(handler_cls, ...) on loop. Limits from rd_limits.h: connection timeout
 * RD_HTTP_CONN_TIMEOUT_S, RD_HTTP_CONN_LIMIT connections, RD_HTTP_PER_IP_LIMIT per client
 * address, RD_HTTP_CONN_MEMORY per connection (headers larger than that get 431/414 from
 * MHD). h is filled in place and must not move until httpd_stop. The handler owns nothing in
 * *con_cls: httpd uses it for httpd_body_read state and frees it when the request ends.
 * Returns RD_OK, or RD_EPROTO/RD_EIO with err filled. */
int httpd_start(struct httpd *h, struct ev_loop *loop, const char *ip, uint16_t port,
                MHD_AccessHandlerCallback handler, void *handler_cls, struct rd_errbuf *err);

/* Stops the watchers and the daemon (open connections are closed, completion callbacks
 * run, the listening socket is closed). Safe on a zeroed or already stopped struct. */
void httpd_stop(struct httpd *h);

/* A request body collected by httpd_body_read; owned by httpd, valid until the request
 * completes. */
struct httpd_body {
    size_t cap;  /* bytes data can hold */
    size_t len;  /* bytes received */
    char data[]; /* len bytes and a NUL (data is also a C string if it holds no NUL) */
};

/* Collects the request body inside an access handler, at most cap bytes. Call it first with
 * the handler's own con_cls, upload_data and upload_data_size, and act on the result:
 *   RD_AGAIN:  return MHD_YES (more to come; MHD calls again);
 *   RD_OK:     *body is complete: answer the request;
 *   RD_ELIMIT: too large: return httpd_queue_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, ...).
 *              A Content-Length over cap is refused before any of the body is read, so the
 *              413 goes out; a chunked body that grows past cap can no longer be answered
 *              (MHD accepts a response only before or after the body), so the queue call
 *              returns MHD_NO and the connection is closed;
 *   RD_ENOMEM: return MHD_NO (closes the connection).
 * Memory: min(Content-Length, cap) + 1 bytes, freed when the request completes. */
int httpd_body_read(struct MHD_Connection *conn, void **con_cls, size_t cap,
                    const char *upload_data, size_t *upload_data_size, struct httpd_body **body);

/* Queues status with a copy of data[0..len) (MHD_RESPMEM_MUST_COPY: data may be a stack
 * buffer) and Content-Type content_type. Returns what the handler should return: MHD_YES,
 * or MHD_NO if MHD refused (out of memory, wrong request phase), which closes the
 * connection. */
enum MHD_Result httpd_queue_buf(struct MHD_Connection *conn, unsigned int status,
                                const char *content_type, const void *data, size_t len);

/* httpd_queue_buf with a NUL-terminated text and "text/plain; charset=utf-8". */
enum MHD_Result httpd_queue_text(struct MHD_Connection *conn, unsigned int status,
                                 const char *text);

/* True if the request carries "Authorization: Bearer <token>" (scheme case-insensitive, RFC
 * 6750 §2.1) with exactly token[0..token_len). The values are compared as SHA-256 digests
 * with rd_ct_equal, so neither content nor length leaks through timing. An empty token
 * never matches. */
bool httpd_bearer_ok(struct MHD_Connection *conn, const char *token, size_t token_len);

/* Queues 401 with "WWW-Authenticate: Bearer realm=<realm>" (RFC 6750 §3). realm must be a
 * constant of printable characters without '"'. */
enum MHD_Result httpd_queue_unauthorized(struct MHD_Connection *conn, const char *realm);

/* The client's "ip:port" / "[ip]:port" into out[NET_ADDR_STRLEN]; "?" if unknown. */
void httpd_peer(struct MHD_Connection *conn, char *out, size_t cap);

#endif
