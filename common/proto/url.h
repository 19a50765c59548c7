/* SPDX-License-Identifier: MIT */
/* rtsp:// and rtsps:// URL splitting (RFC 3986 syntax, RFC 2326 §3.2 schemes), strict
 * percent-decoding, path segments, camera ids, the broker and relay request paths and the
 * broker's Location builder. No allocation: results are views into the caller's input. */
#ifndef RD_PROTO_URL_H
#define RD_PROTO_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_str.h"

#define URL_PORT_RTSP  554 /* RFC 2326 §3.2 */
#define URL_PORT_RTSPS 322 /* IANA "rtsps" */

enum url_scheme {
    URL_SCHEME_RTSP,
    URL_SCHEME_RTSPS,
};

enum url_host_kind {
    URL_HOST_NAME, /* reg-name: dot-separated labels of [A-Za-z0-9_-] */
    URL_HOST_IPV4, /* strict dotted quad, no leading zeros */
    URL_HOST_IPV6, /* IP-literal "[...]" (RFC 3986 §3.2.2), optional zone (RFC 6874) */
};

/* The parts of one URL. Every view points into the string given to url_split(), except
 * path when the URL has none: then it is a static "/". */
struct url_parts {
    bool is_star;           /* the request URI was exactly "*" (OPTIONS *): nothing else set */
    enum url_scheme scheme; /* matched case-insensitively */
    bool has_userinfo;      /* "user[:pass]@" was present: callers strip it, never use it */
    struct rd_str userinfo; /* raw, without the '@' */
    enum url_host_kind host_kind;
    struct rd_str host;  /* without brackets for IPv6; zone included as written ("%25eth0") */
    struct rd_str zone;  /* IPv6 zone id after "%25", still percent-encoded; empty if none */
    uint16_t port;       /* given, or 554 (rtsp) / 322 (rtsps) */
    bool port_given;     /* the URL carried ":port" */
    struct rd_str path;  /* starts with '/'; "/" when the URL has no path */
    bool has_query;      /* a '?' was present */
    struct rd_str query; /* after the '?', may be empty */
};

/* Splits an absolute rtsp:// or rtsps:// URL, or "*", into views.
 * Accepts: scheme rtsp|rtsps (any case) "://" [userinfo "@"] host [":" port] [path] ["?" query].
 * host is a reg-name (labels 1-63 of [A-Za-z0-9_-], no empty label, no '-' at a label's
 * edge, and a name whose last label looks numeric must be a strict IPv4 address), an IPv4
 * dotted quad, or an IPv6 literal in brackets with an optional "%25<zone>"; at most
 * RD_URL_MAX_HOST bytes. port is 1-65535 (at most 5 digits). Path and query are RFC 3986
 * pchars with well-formed %xx.
 * Rejects: any byte outside 0x21-0x7e (CTL, SP, non-ASCII), backslash, '#' (RTSP has no
 * fragments), "\"<>^`{|}", relative URLs and other schemes, an empty host or port, more
 * than one '@'.
 * Returns RD_OK and fills *out (views into url; see struct url_parts), RD_EPROTO when
 * malformed, RD_ELIMIT when url is longer than RD_RTSP_MAX_URI or host longer than
 * RD_URL_MAX_HOST. *out is unspecified on error. Never allocates, never reads past url.len. */
int url_split(struct rd_str url, struct url_parts *out);

/* Percent-decodes in (RFC 3986 §2.1) into out[cap] with a terminating NUL.
 * Rejects: '%' not followed by two hex digits, a decoded or raw NUL, C0 controls and DEL,
 * C1 controls (U+0080-U+009F), backslash, and invalid UTF-8 (overlong forms such as
 * c0 ae, surrogates, > U+10FFFF, truncated sequences). '+' is not a space.
 * Returns the decoded length (without the NUL), RD_EPROTO when in is malformed, or RD_ELIMIT
 * when the result and its NUL do not fit in cap (nothing useful is left in out then). */
int url_pct_decode(struct rd_str in, char *out, size_t cap);

/* Splits an absolute path ("/a/b/") into its segments, as raw (still percent-encoded) views
 * into path. "/" has no segments. A single trailing '/' is allowed and reported through
 * *trailing_slash (may be NULL); any other empty segment ("//", a path not starting with
 * '/') is RD_EPROTO. Every segment must percent-decode under url_pct_decode()'s rules and
 * must not decode to a '/', "." or ".." (so "%2e%2E" and ".%2e" are rejected too).
 * Returns RD_OK with *n_segs set, RD_EPROTO when malformed, RD_ELIMIT when there are more
 * than min(max_segs, RD_URL_MAX_SEGMENTS) segments. Views live as long as path. */
int url_path_split(struct rd_str path, struct rd_str *segs, size_t max_segs, size_t *n_segs,
                   bool *trailing_slash);

/* The id rule shared by cameras, sites and relays: [A-Za-z0-9_-]{1,max}. */
bool url_id_char(unsigned char c);
bool url_id_valid(struct rd_str id, size_t max);

/* true when id matches [A-Za-z0-9_-]{1,RD_CAMERA_ID_MAX} (ARCHITECTURE.md §4.1). Camera ids
 * are never percent-encoded in our URLs, so "%6Cobby" is not a valid id. */
bool url_camera_id_valid(struct rd_str id);

/* true when tok has the token charset and length: [A-Za-z0-9._-]{1,RD_TOKEN_MAX_LEN}. Only a
 * shape check: url_token_verify() decides whether it is a valid token. */
bool url_token_charset_valid(struct rd_str tok);

/* The camera a broker request path names: "/<camera>", "/<camera>/" or, on a stray SETUP,
 * "/<camera>/<control>" (e.g. "/lobby/trackID=0"). path is url_parts.path.
 * Returns RD_OK with *camera (and *control, may be NULL; empty when absent) as views into
 * path, RD_EPROTO when the path is malformed (answer 400), RD_ENOTFOUND when it is well formed
 * but does not name a valid camera id in that shape (answer 404). */
int url_broker_camera(struct rd_str path, struct rd_str *camera, struct rd_str *control);

/* Parses a relay request path "/v1/<camera>/<token>/<rest>" where the trailing "/<rest>" may
 * be "/", absent, or one segment such as "trackID=0" (a track control). camera must pass
 * url_camera_id_valid() and token url_token_charset_valid(); the token is NOT verified here.
 * Returns RD_OK with views into path (rest empty when absent), RD_EPROTO otherwise (the relay
 * answers every failure with the same 403). */
int url_relay_path_parse(struct rd_str path, struct rd_str *camera, struct rd_str *token,
                         struct rd_str *rest);

/* Builds the broker's Location: relay_base + "/v1/" + camera + "/" + token + "/" into
 * out[cap] (NUL-terminated). relay_base comes from the registry and is validated with
 * url_split(): absolute, scheme equal to `scheme` (never mix rtsp and rtsps), no userinfo,
 * no query, path empty or "/" (a trailing '/' is not doubled). camera must pass
 * url_camera_id_valid() and token url_token_charset_valid(). No request bytes go in, and
 * the result cannot contain CR, LF or any byte outside 0x21-0x7e.
 * Returns the length written (without the NUL), RD_EPROTO for an invalid base, camera or
 * token or a scheme mismatch, RD_ELIMIT when it does not fit (out is then an empty string
 * if cap > 0; never a truncated URL). */
int url_build_location(struct rd_str relay_base, enum url_scheme scheme, struct rd_str camera,
                       struct rd_str token, char *out, size_t cap);

#endif
