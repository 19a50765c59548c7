/* SPDX-License-Identifier: MIT */
/* SDP (RFC 4566, as used by RTSP: RFC 2326 Appendix C): parse a camera's session description
 * into fixed arrays of views, resolve a=control URLs (C.1.1) and write the relay's own
 * description for viewers. Never allocates. */
#ifndef RD_PROTO_SDP_H
#define RD_PROTO_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"
#include "rd_str.h"

/* What a line means to this module; the rewriter replaces some kinds and copies the rest. */
enum sdp_line_kind {
    SDP_LINE_OTHER = 0,  /* anything not interpreted: kept verbatim */
    SDP_LINE_VERSION,    /* v= */
    SDP_LINE_ORIGIN,     /* o= */
    SDP_LINE_NAME,       /* s= */
    SDP_LINE_CONNECTION, /* c= */
    SDP_LINE_BANDWIDTH,  /* b= */
    SDP_LINE_TIME,       /* t= */
    SDP_LINE_MEDIA,      /* m= */
    SDP_LINE_CONTROL,    /* a=control: */
    SDP_LINE_RANGE,      /* a=range: (session level) */
    SDP_LINE_RTPMAP,     /* a=rtpmap: (media level) */
    SDP_LINE_FMTP        /* a=fmtp: (media level) */
};

/* One line as received, without its line end. */
struct sdp_line {
    char type; /* 'a'..'z' */
    enum sdp_line_kind kind;
    struct rd_str value; /* everything after "x=", untrimmed; may be empty */
};

/* a=rtpmap:<pt> <encoding name>/<clock rate>[/<channels>] (RFC 4566 §6). */
struct sdp_rtpmap {
    uint8_t pt;             /* 0..127 */
    struct rd_str encoding; /* "H264", as sent */
    uint32_t clock_rate;    /* Hz, never 0 (the parser refuses 0) */
    uint32_t channels;      /* 1..255; 0 when absent */
};

/* a=fmtp:<pt> <format specific parameters> (RFC 4566 §6). */
struct sdp_fmtp {
    uint8_t pt;
    struct rd_str params; /* trimmed; may be empty */
};

/* The session part: everything before the first m= line. */
struct sdp_session {
    bool has_origin, has_name, has_connection, has_time, has_control, has_range;
    struct rd_str origin;     /* o= value */
    struct rd_str name;       /* s= value */
    struct rd_str connection; /* c= value, e.g. "IN IP4 0.0.0.0" */
    struct rd_str time;       /* first t= value */
    struct rd_str bandwidth;  /* first b= value (n_bandwidth > 0) */
    unsigned n_bandwidth;
    struct rd_str control; /* a=control: value, trimmed */
    struct rd_str range;   /* a=range: value, trimmed */
    unsigned first_line;   /* this part's lines are lines[first_line .. first_line+n_lines) */
    unsigned n_lines;      /* v= included */
};

/* One media section: its m= line and everything up to the next m= line. */
struct sdp_media {
    struct rd_str media;   /* "video", "audio", "application", ... */
    uint16_t port;         /* m= port (0 is usual in RTSP) */
    uint16_t n_ports;      /* "/<number of ports>", 0 when absent */
    struct rd_str proto;   /* "RTP/AVP", ... */
    struct rd_str formats; /* the format list verbatim, e.g. "96 97" */
    unsigned n_formats;    /* 1..RD_SDP_MAX_FORMATS */
    bool rtp;              /* proto is RTP/... or TCP/RTP/...: formats are payload types */
    uint8_t pts[RD_SDP_MAX_FORMATS]; /* payload types in m= order, when rtp */
    bool has_connection, has_control;
    struct rd_str connection; /* c= value */
    struct rd_str bandwidth;  /* first b= value (n_bandwidth > 0) */
    unsigned n_bandwidth;
    struct rd_str control; /* a=control: value, trimmed */
    struct sdp_rtpmap rtpmap[RD_SDP_MAX_FORMATS];
    unsigned n_rtpmap;
    struct sdp_fmtp fmtp[RD_SDP_MAX_FORMATS];
    unsigned n_fmtp;
    unsigned first_line; /* lines[first_line] is the m= line */
    unsigned n_lines;
};

struct sdp {
    struct sdp_session session;
    struct sdp_media media[RD_SDP_MAX_MEDIA];
    unsigned n_media;
    struct sdp_line lines[RD_SDP_MAX_LINES]; /* every line in input order */
    unsigned n_lines;
};

/* Parses the SDP in buf[0..len) into *out (zeroed first).
 * Lines end in CRLF or a bare LF (the last one may have neither); every line must be
 * `<a-z>=<value>` with no CTL in the value except HT (bytes >= 0x80 are allowed: UTF-8 names),
 * the first line must be exactly "v=0" and empty lines may only trail. Structured lines are
 * checked strictly: m= (media, port[/n], proto, 1+ formats; payload types 0..127 for RTP
 * protos), a=rtpmap (pt, name, clock rate 1..2^32-1, channels 1..255), a=fmtp (pt, params),
 * attribute names must be tokens. Duplicates that would make the meaning ambiguous are errors:
 * o=, s=, a=control, a=range in the session; c=, a=control in a section; a=rtpmap or a=fmtp for
 * the same payload type; v=, o=, s= inside a media section. Lines this module does not
 * interpret are kept in order in lines[] with kind SDP_LINE_OTHER. Missing o=/s=/t= are
 * tolerated (cameras omit them; the relay writes its own o=).
 * Returns RD_OK; RD_ELIMIT when len > RD_SDP_MAX_BYTES, more than RD_SDP_MAX_LINES non-empty
 * lines, RD_SDP_MAX_MEDIA media sections, or RD_SDP_MAX_FORMATS formats, rtpmaps or fmtps in
 * one section; RD_EPROTO for anything malformed. On error *out is unspecified.
 * Never allocates; views point into buf and live as long as it. */
int sdp_parse(const char *buf, size_t len, struct sdp *out);

/* Codec of a media section, from the first format of its m= line. */
enum sdp_codec_id {
    SDP_CODEC_OTHER = 0,
    SDP_CODEC_H264, /* rtpmap "H264/90000" (RFC 6184) */
    SDP_CODEC_H265  /* rtpmap "H265/90000" or "HEVC/90000" (RFC 7798) */
};

struct sdp_codec {
    enum sdp_codec_id id;
    uint8_t pt;
    uint32_t clock_rate;    /* Hz; 0 = unknown: callers must check before dividing by it */
    struct rd_str encoding; /* from the rtpmap or the RFC 3551 static table; may be empty */
};

/* Describes the codec of m's first payload type: its rtpmap if present, else the RFC 3551
 * static payload table. H.264/H.265 are reported only with a 90000 Hz clock, as their RFCs
 * require; anything else is SDP_CODEC_OTHER. Returns RD_OK and fills *out, or RD_ENOTFOUND
 * when the section's proto is not RTP (its formats are not payload types). encoding points
 * into the SDP's buffer or at a static string. */
int sdp_media_codec(const struct sdp_media *m, struct sdp_codec *out);

/* The rtpmap or fmtp of payload type pt in m, or NULL. Borrowed from m. */
const struct sdp_rtpmap *sdp_media_rtpmap(const struct sdp_media *m, uint8_t pt);
const struct sdp_fmtp *sdp_media_fmtp(const struct sdp_media *m, uint8_t pt);

/* Resolves an a=control value against base (RFC 2326 C.1.1; base is the Content-Base,
 * Content-Location or request URL, by that precedence, chosen by the caller) into out[cap],
 * NUL-terminated:
 *   - empty control (absent) or "*": base itself;
 *   - an absolute rtsp:// or rtsps:// URL (scheme case-insensitive): control as is. The caller
 *     must check that its host is the camera's (SECURITY.md: never leave the camera host);
 *   - any other scheme, or a network-path reference "//host...": RD_EPROTO (never followed);
 *   - otherwise a relative reference, joined to base with exactly one '/': one trailing '/'
 *     of the base path and one leading '/' of control are merged, so "/x", "x" and a base with
 *     or without a trailing slash all give "<base path>/x" (live555 and FFmpeg join this way,
 *     not by RFC 3986 §5.2, which would drop the base's last segment).
 * A base with a query string ("rtsp://cam/media.amp?videocodec=h264") keeps its query after
 * the joined path ("rtsp://cam/media.amp/trackID=1?videocodec=h264"), as GStreamer does and
 * Axis cameras expect; if control has its own '?', the base's query is dropped (RFC 3986:
 * a reference's query replaces the base's). A base fragment ('#') is treated like a query.
 * A non-empty control, and the base whenever it is used, must be visible ASCII only (0x21-0x7e),
 * since the result goes into a request line: else RD_EPROTO. An empty base is RD_EPROTO unless
 * control is absolute.
 * Returns the length written (without the NUL) or RD_ELIMIT if it does not fit in cap (out then
 * holds an empty string when cap > 0; nothing is ever truncated). */
int sdp_resolve_control(struct rd_str base, struct rd_str control, char *out, size_t cap);

/* What the relay writes in its own o= and c= lines. */
struct sdp_rewrite {
    struct rd_str origin_username; /* e.g. "-": 1+ visible ASCII characters, no space */
    uint64_t origin_session_id;    /* RFC 4566 §5.2: NTP-based numbers are suggested */
    uint64_t origin_session_version;
    struct rd_str origin_address; /* "<nettype> <addrtype> <address>", e.g. "IN IP4 192.0.2.7" */
    struct rd_str connection;     /* c= value, e.g. "IN IP4 0.0.0.0" */
};

/* The relay's per-media control value is SDP_RELAY_TRACK_PREFIX followed by the media index,
 * so a viewer's SETUP URL is <Content-Base>trackID=<n> with a Content-Base ending in '/'. */
#define SDP_RELAY_TRACK_PREFIX "trackID="

/* Writes the description the relay serves to viewers into out[cap], NUL-terminated, lines
 * ending in CRLF, in this order: "v=0"; "o=<username> <id> <version> <address>" replacing the
 * camera's o=; the other session lines verbatim and in order, except that the c= line becomes
 * "c=<opts->connection>" (inserted before the first b=/t=/r=/z=/k=/a= line if the camera had
 * none) and the camera's a=control is replaced by "a=control:*" (appended at the end of the
 * session part if it had none); then each media section verbatim and in order, except that a
 * media-level c= also becomes opts->connection (never the camera's address, nor a multicast
 * group it named) and its a=control becomes "a=control:trackID=<index>" (appended at the end of
 * the section if it had none). Trailing empty lines are dropped.
 * The output always parses again with sdp_parse: if it would exceed RD_SDP_MAX_BYTES or
 * RD_SDP_MAX_LINES the result is RD_ELIMIT. Returns the length written (without the NUL);
 * RD_ELIMIT if it does not fit in cap (out then holds an empty string when cap > 0; never
 * truncated); RD_EPROTO if an opts field is empty, contains a CTL or non-ASCII byte, or the
 * username contains a space. sdp's views must still be valid; out must not overlap them. */
int sdp_write_for_relay(const struct sdp *sdp, const struct sdp_rewrite *opts, char *out,
                        size_t cap);

/* Maps a viewer's track control back to a media index: s is either "trackID=<n>" or ends with
 * "/trackID=<n>" (a SETUP URL; the caller has checked its prefix is its own Content-Base and
 * removed any query), n decimal without leading zeros and < n_media. Returns RD_OK and sets
 * *index, else RD_ENOTFOUND. */
int sdp_relay_track_index(struct rd_str s, unsigned n_media, unsigned *index);

#endif
