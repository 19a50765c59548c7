/* SPDX-License-Identifier: MIT */
/* One camera stream's media state: per track the key-frame classification, the instant-start
 * cache (packets since the last key-frame start), output continuity across camera reconnects
 * (SSRC, sequence and timestamp offsets, rewritten once per packet in the shared buffer), the
 * camera's RTCP sender reports rewritten to match, and the subscriber list. */
#ifndef RD_RELAY_STREAM_H
#define RD_RELAY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout.h"
#include "pktpool.h"

/* Ownership and threading, for the whole module:
 * - struct stream is owned by the camera puller (or whoever created it: stream_free). One
 *   per pulled camera, created once its SDP is known; single-threaded (the loop thread).
 * - stream_on_rtp / stream_on_rtcp take over the caller's reference to the packet, on
 *   success and on error alike; the stream keeps its own references (cache) and the viewer
 *   queues theirs. After the call the caller must not touch the packet.
 * - Subscribers (struct fanout_sub) are owned by their viewers; the stream only links them
 *   into its track lists. A sub must be unsubscribed (stream_unsubscribe or fanout_sub_free /
 *   fanout_viewer_free) before its viewer is freed, and stream_free unlinks any still there.
 * - Times are the packets' arrival_at and the now arguments: ev_now() seconds. */

/* Payload formats the key-frame gate understands. */
enum stream_codec {
    STREAM_CODEC_H264,  /* RFC 6184 (packetization-mode 0/1) */
    STREAM_CODEC_H265,  /* RFC 7798 */
    STREAM_CODEC_OTHER, /* anything else (audio, MJPEG, metadata): not gated, see below */
};

/* One media section of the camera's SDP, in SDP order (track index = position). */
struct stream_track_cfg {
    enum stream_codec codec;
    uint32_t clock_rate; /* RTP clock (rtpmap), Hz; must be > 0 */
};

/* Cache caps and the key-frame fallback; stream_limits_default() gives rd_limits.h values.
 * Configuration may lower the caps (values above them are clamped). */
struct stream_limits {
    size_t cache_max_bytes;
    uint32_t cache_max_packets;
    double key_fallback_s; /* > 0 */
};

/* What PLAY answers in RTP-Info for one track (RFC 2326 §12.33): the sequence number and RTP
 * timestamp of the first packet this viewer will receive, as rewritten for viewers. */
struct stream_rtp_info {
    bool known;      /* false before the track's first packet: send RTP-Info without seq and
                        rtptime (url only) */
    bool from_cache; /* the viewer starts with the cached key frame: seq/rtptime are exactly
                        those of its first packet. Otherwise seq is the next packet's number
                        and rtptime the current media time extrapolated from the last packet;
                        a gated track then starts later, at a key frame with a higher seq. */
    uint16_t seq;
    uint32_t rtptime;
    uint32_t ssrc; /* the viewer-facing SSRC (for Transport: ssrc=) */
};

struct stream_track_stats {
    uint64_t pkts_in;         /* RTP packets accepted */
    uint64_t bytes_in;        /* their bytes */
    uint64_t malformed;       /* RTP packets refused (rtp_view_parse failed; dropped) */
    uint64_t payload_odd;     /* H.26x payloads MALFORMED/UNSUPPORTED (forwarded, not keys) */
    uint64_t key_starts;      /* key-frame starts seen */
    uint64_t key_refuted;     /* parameter-set starts not followed by an IDR/IRAP slice */
    uint64_t key_forced;      /* fallback starts (no key frame for key_fallback_s) */
    uint64_t cache_overflows; /* caches dropped at a cap */
    uint64_t rtcp_in;         /* RTCP compounds from the camera */
    uint64_t rtcp_fwd;        /* forwarded to viewers */
    uint64_t rtcp_dropped;    /* invalid, without an SR of the current source, or before the
                                 first RTP packet of a (re)started source */
    uint64_t rebases;         /* output offsets recomputed (restart or new SSRC) */
    uint64_t ssrc_changes;    /* new upstream SSRC without stream_upstream_restart */
    uint32_t cache_pkts;      /* current instant-start cache */
    size_t cache_bytes;
    bool cache_valid;
    uint32_t subscribers;
};

struct stream;

/* Fills *l with RD_STREAM_CACHE_MAX_BYTES/_PACKETS and RD_STREAM_KEY_FALLBACK_S. */
void stream_limits_default(struct stream_limits *l);

/* A stream with n tracks (1..RD_SDP_MAX_MEDIA; cfg copied). lim NULL means the defaults.
 * Returns RD_OK and *out (owned by the caller: stream_free), RD_EPROTO for n out of range, a
 * clock rate of 0 (SECURITY.md: no division by a camera's zero clock rate) or bad limits,
 * RD_ENOMEM. */
int stream_new(const struct stream_track_cfg *tracks, unsigned n, const struct stream_limits *lim,
               struct stream **out);

/* Unlinks every subscriber (their gates close; their viewers stay open), releases the caches
 * and frees s. NULL is a no-op. */
void stream_free(struct stream *s);

unsigned stream_track_count(const struct stream *s);

/* One RTP packet from the camera on track (p->data[0..p->len), p->arrival_at set; takes over
 * the caller's reference). Validates the header (rtp_view_parse), rewrites seq, timestamp and
 * SSRC in place for continuity (once, in the shared buffer: viewers never see the camera's
 * own numbering change), fills p->seq/ts/track/flags, classifies it:
 *   - H.264/H.265 tracks: rtp_h26x_classify(); PKT_GATED; PKT_KEY_START where a viewer may
 *     start (parameter sets or an IDR/IRAP first slice); PKT_KEY_FORCED at the first access
 *     unit after key_fallback_s without any key start (intra-refresh cameras);
 *   - other codecs: every packet is PKT_KEY_START and never PKT_GATED, so gating and the
 *     priority drop never hold them back (audio keeps playing while video resyncs);
 * updates the instant-start cache and offers the packet to the track's subscribers
 * (fanout_deliver). The caller then calls fanout_flush() at the end of its read burst.
 * Returns RD_OK, RD_EPROTO (bad track index or malformed RTP: dropped and counted). */
int stream_on_rtp(struct stream *s, unsigned track, struct pkt *p);

/* One RTCP compound from the camera for track (the RTCP channel/port of that track; takes
 * over the reference). Forwarded only when it is at most RD_RTP_MAX_PACKET bytes,
 * rtcp_compound_check() accepts it and it carries an
 * SR of the track's current upstream SSRC after that source's first RTP packet: the SR is
 * rewritten in place (rtcp_sr_rewrite: viewer SSRC, RTP timestamp plus the offset), an SDES
 * first chunk of that SSRC gets the viewer SSRC, and every other packet (BYE: viewers keep
 * playing across a camera restart; RR/APP/feedback: about the upstream leg) is removed. The
 * SR's report blocks are kept as sent. Returns RD_OK (forwarded or counted as dropped) or
 * RD_EPROTO (bad track index or invalid RTCP). */
int stream_on_rtcp(struct stream *s, unsigned track, struct pkt *p);

/* The puller reconnected to the camera (new RTSP session): every track's next packet rebases
 * the output offsets so viewers see the same SSRC, the sequence number continuing at +1 and
 * the timestamp advanced by the wall-clock gap times the clock rate (gap clamped to
 * RD_STREAM_RESTART_MAX_GAP_S, at least one tick). Caches are dropped (they belong to the old
 * session); viewers keep their gates. A new SSRC without this call rebases the same way. */
void stream_upstream_restart(struct stream *s);

/* RTP-Info for a viewer about to be subscribed to track, at time now. Call it and
 * stream_subscribe() in the same loop callback, with no stream_on_rtp() in between, so the
 * answer matches the packets the viewer gets. Returns RD_OK or RD_EPROTO (bad track). */
int stream_rtp_info(const struct stream *s, unsigned track, double now,
                    struct stream_rtp_info *out);

/* Subscribes sub (borrowed; first unsubscribed from any other track) to track. If the track
 * has a usable cache (H.26x: valid; others: the packets since the video key frame), its
 * packets are queued first as instant-start data and the sub's gate is open (tentative when
 * the cache starts at parameter sets whose IDR slice has not arrived yet); otherwise an
 * H.26x sub waits for the next key frame and others start at the next packet. The track's
 * last forwarded sender report (if any, of the current source) follows, so players can map
 * the RTP clock to wall-clock time at once. Output starts
 * on the next loop iteration (the fanout's watchers). For TCP viewers, queue the PLAY
 * response (fanout_viewer_send_control) before subscribing so it precedes the media. Returns
 * RD_OK or RD_EPROTO (bad track). */
int stream_subscribe(struct stream *s, unsigned track, struct fanout_sub *sub);

/* Unlinks sub from whatever track it is subscribed to (PAUSE, TEARDOWN); packets already
 * queued for it are still sent. */
void stream_unsubscribe(struct fanout_sub *sub);

/* Counters of one track (RD_EPROTO for a bad index, else RD_OK). */
int stream_track_stats(const struct stream *s, unsigned track, struct stream_track_stats *out);

/* Subscribers over all tracks. */
uint32_t stream_subscribers(const struct stream *s);

#endif
