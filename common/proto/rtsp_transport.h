/* SPDX-License-Identifier: MIT */
/* RTSP Transport header (RFC 2326 §12.39; RFC 7826 §18.54 for reference): parse a header
 * value into a fixed array of alternatives, check one against the relay's viewer policy
 * (SECURITY.md §2.2, §3.2) and format the chosen transport back. Never allocates. */
#ifndef RD_PROTO_RTSP_TRANSPORT_H
#define RD_PROTO_RTSP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"
#include "rd_str.h"

enum rtsp_transport_lower {
    RTSP_TRANSPORT_UDP = 0, /* "RTP/AVP" or "RTP/AVP/UDP" */
    RTSP_TRANSPORT_TCP = 1  /* "RTP/AVP/TCP": interleaved on the RTSP connection */
};

/* mode= bits (RFC 2326 §12.39: "mode" = <"> *Method <"> | Method; absent means PLAY). */
#define RTSP_TRANSPORT_MODE_PLAY   0x1u
#define RTSP_TRANSPORT_MODE_RECORD 0x2u
#define RTSP_TRANSPORT_MODE_OTHER  0x4u /* any other method name (kept, refused by policy) */

/* "a" or "a-b" (client_port, server_port, port, interleaved). hi == lo when has_hi is false. */
struct rtsp_transport_range {
    bool present;
    bool has_hi;
    uint16_t lo;
    uint16_t hi; /* >= lo, guaranteed by the parser */
};

/* One comma-separated alternative. Every view points into the buffer given to
 * rtsp_transport_parse() and lives as long as it. */
struct rtsp_transport_spec {
    struct rd_str raw;      /* the whole alternative, trimmed (for logs) */
    struct rd_str protocol; /* "RTP/AVP/TCP" as sent */
    bool supported;         /* RTP/AVP over UDP or TCP; false: another profile, e.g. RTP/SAVP */
    enum rtsp_transport_lower lower; /* meaningful only when supported */
    bool unicast;                    /* "unicast" was sent */
    bool multicast;                  /* "multicast" was sent (never both: that is a parse error) */
    bool append;                     /* "append" was sent */
    struct rtsp_transport_range client_port; /* ports 0..65535 */
    struct rtsp_transport_range server_port;
    struct rtsp_transport_range port;        /* multicast port= */
    struct rtsp_transport_range interleaved; /* channels 0..255 */
    bool has_ssrc;
    uint32_t ssrc;             /* 1..8 hex digits */
    unsigned mode;             /* RTSP_TRANSPORT_MODE_* bits; 0 = absent (PLAY by default) */
    bool has_destination;      /* "destination" with or without a value: the caller compares it
                                * with the peer (rtsp_transport_destination_is_peer) */
    struct rd_str destination; /* verbatim, quotes removed, never resolved; may be empty */
    bool has_source;
    struct rd_str source; /* verbatim, quotes removed; clients' values are ignored by policy */
    bool has_ttl;
    uint8_t ttl;
    unsigned n_params;  /* ';' parameters seen (0..RD_TRANSPORT_MAX_PARAMS, a trailing empty
                         * one not counted) */
    unsigned n_unknown; /* of those, parameters this parser does not interpret */
};

struct rtsp_transport {
    struct rtsp_transport_spec specs[RD_TRANSPORT_MAX_SPECS]; /* in the client's preference order */
    unsigned n_specs;                                         /* 1..RD_TRANSPORT_MAX_SPECS */
};

/* Parses the Transport header value buf[0..len) (the part after "Transport:").
 * Grammar (RFC 2326 §12.39): alternatives separated by ',', each a protocol id
 * ("RTP/AVP[/UDP|/TCP]" or any other token["/"token...]) followed by ';' parameters, each
 * `name[=value]` where a value may contain quoted strings. LWS around separators is skipped.
 * Returns RD_OK and fills *out (zeroed first); RD_ELIMIT when len > RD_TRANSPORT_MAX_LEN, more
 * than RD_TRANSPORT_MAX_SPECS alternatives or more than RD_TRANSPORT_MAX_PARAMS parameters in
 * one; RD_EPROTO for anything malformed anywhere in the header: a byte outside HT/SP/VCHAR,
 * an empty alternative or parameter (a single trailing ';' is tolerated), an unterminated
 * quote or a backslash in one, a duplicate parameter in one alternative (names compare
 * case-insensitively), both unicast and multicast, a flag with a value, a known parameter with
 * a missing or bad value (ports > 65535, channels or ttl > 255, a range with hi < lo, ssrc not
 * 1-8 hex digits, an empty mode). Another profile is not an error: spec.supported = false.
 * Unknown parameters are counted and otherwise ignored. Never allocates; views point into buf
 * (valid as long as buf). On error *out is unspecified. */
int rtsp_transport_parse(const char *buf, size_t len, struct rtsp_transport *out);

/* Relay policy for UDP client ports (SECURITY.md §3.2 rule 3): the range must be present, RTP
 * even and in RD_TRANSPORT_MIN_CLIENT_PORT..65534, RTCP = RTP + 1 (a single port implies it).
 * Returns RD_OK and sets *rtp, *rtcp (either may be NULL), else RD_EPROTO (answer 461). */
int rtsp_transport_check_client_ports(const struct rtsp_transport_range *r, uint16_t *rtp,
                                      uint16_t *rtcp);

/* Relay policy for interleaved channels: present, RTP channel even and <=
 * RD_TRANSPORT_MAX_CHANNEL, RTCP channel = RTP + 1 (a single channel implies it).
 * Returns RD_OK and sets *rtp, *rtcp (either may be NULL), else RD_EPROTO (answer 461). */
int rtsp_transport_check_interleaved(const struct rtsp_transport_range *r, uint8_t *rtp,
                                     uint8_t *rtcp);

/* A transport chosen for one track: what the relay answers a viewer's SETUP with, or what it
 * asks a camera for. Plain values; no views. */
struct rtsp_transport_choice {
    enum rtsp_transport_lower lower;
    uint16_t client_rtp; /* UDP: client ports */
    uint16_t client_rtcp;
    bool has_server_port; /* UDP: append server_port=server_rtp-server_rtcp */
    uint16_t server_rtp;
    uint16_t server_rtcp;
    bool has_channels;   /* TCP: false when the viewer left the choice to the server */
    uint8_t channel_rtp; /* TCP: interleaved channels */
    uint8_t channel_rtcp;
    bool has_ssrc;
    uint32_t ssrc;
};

/* Checks one alternative from a viewer against the relay policy, except destination= (see
 * rtsp_transport_destination_is_peer): RTP/AVP over UDP or TCP, not multicast, mode absent or
 * exactly PLAY, UDP client ports per rtsp_transport_check_client_ports, TCP channels per
 * rtsp_transport_check_interleaved when given. source=, ttl= and port= are ignored (we never
 * send anywhere but the peer). Returns RD_OK and fills *choice (zeroed first, server fields
 * left for the caller), else RD_EPROTO (try the next alternative; none left: 461). */
int rtsp_transport_check_viewer(const struct rtsp_transport_spec *spec,
                                struct rtsp_transport_choice *choice);

/* SECURITY.md §3.2 rule 1: true when the alternative names no destination, an empty one, or
 * exactly peer_ip (the textual address of the TCP peer, e.g. from inet_ntop; compared
 * case-insensitively, IPv6 brackets around the destination ignored). Anything else, including
 * other spellings of the same address and host names (never resolved), is false: refuse it
 * (403) or try the next alternative. */
bool rtsp_transport_destination_is_peer(const struct rtsp_transport_spec *spec,
                                        struct rd_str peer_ip);

/* Formats choice as a Transport header value into out[cap], NUL-terminated:
 *   UDP: "RTP/AVP;unicast;client_port=a-b[;server_port=c-d][;ssrc=XXXXXXXX]"
 *   TCP: "RTP/AVP/TCP;unicast;interleaved=a-b[;ssrc=XXXXXXXX]"
 * (a SETUP reply, or with has_server_port/has_ssrc false the relay's SETUP request to a
 * camera). Returns the length written (without the NUL); RD_ELIMIT if it does not fit in cap
 * (nothing is truncated; out then holds an empty string when cap > 0); RD_EPROTO if the choice
 * cannot be expressed: a TCP choice without channels, or a port or channel pair whose second
 * value is below the first. The output always parses back with rtsp_transport_parse. */
int rtsp_transport_format(const struct rtsp_transport_choice *choice, char *out, size_t cap);

#endif
