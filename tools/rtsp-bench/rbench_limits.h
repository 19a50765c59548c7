/* SPDX-License-Identifier: MIT */
/* Caps of the rtsp-bench load generator (a tool, not a daemon: these bound its own memory and
 * work, and every breach is reported as an error of the session or a usage error, never a
 * silent truncation). Daemon limits stay in common/proto/rd_limits.h. */
#ifndef RD_TOOLS_RBENCH_LIMITS_H
#define RD_TOOLS_RBENCH_LIMITS_H

/* Viewer sessions in one run: each holds two descriptors per UDP track plus one TCP socket,
 * and its fixed input buffer. Over: usage error. */
#define RBENCH_MAX_VIEWERS 20000
/* URLs after pattern expansion (rtsp://h/cam{1..200}). Over: usage error. */
#define RBENCH_MAX_URLS 100000
/* Bytes of one URL we request (start URL, redirect Location, track control). The daemons
 * accept up to RD_RTSP_MAX_URI; ours are short, so a longer one is the "url" error. */
#define RBENCH_URL_MAX 512
/* Redirects followed per session, as players do (FFmpeg and the relay's puller: 3). */
#define RBENCH_MAX_REDIRECTS 3
/* Tracks set up per session: the first RBENCH_MAX_TRACKS RTP media sections of the SDP;
 * further sections are counted in tracks_skipped and not set up. */
#define RBENCH_MAX_TRACKS 4
/* The Session header's id (RFC 2326 §12.37: at least 8 octets, no maximum; the relay's are
 * 32 hex digits). Longer: the "session" error. */
#define RBENCH_SESSION_ID_MAX 128
/* Per-session TCP input buffer: one whole RTSP response (SDP included) or interleaved frame
 * must fit; a larger item is the "too_big" error. Media frames from the relay are at most a
 * camera's MTU-sized RTP packet; 32 KiB keeps 1,000 viewers within 32 MiB. */
#define RBENCH_TCP_IN_BYTES 32768
/* Requests we send (OPTIONS .. TEARDOWN with a URL of RBENCH_URL_MAX and a session id). */
#define RBENCH_OUT_BYTES 2048
/* recv() calls per TCP wakeup before yielding to other sessions (fairness). */
#define RBENCH_TCP_READS_PER_WAKEUP 16
/* UDP: datagrams per recvmmsg() call, and the buffer of each (shared by all sessions: one
 * loop, one thread). A larger datagram is truncated by the kernel and counted "truncated". */
#define RBENCH_UDP_BATCH     64
#define RBENCH_UDP_PKT_BYTES 2048
/* recvmmsg() calls per UDP wakeup before yielding. */
#define RBENCH_UDP_READS_PER_WAKEUP 8
/* SO_RCVBUF asked for each UDP socket (the kernel caps it at net.core.rmem_max), so bursts
 * of a key frame are not lost in our own socket. */
#define RBENCH_UDP_RCVBUF 1048576
/* First RTP port tried for UDP client ports; pairs in use are skipped up to 65534. */
#define RBENCH_UDP_PORT_FIRST 30000
/* Arrivals remembered behind the highest sequence number, to tell a duplicate from a late
 * (reordered) packet. Older packets are counted "late" (treated as unique). */
#define RBENCH_SEQ_WINDOW 1024
/* Seconds to wait for the TEARDOWN response before closing anyway. */
#define RBENCH_TEARDOWN_WAIT_S 2.0

#endif
