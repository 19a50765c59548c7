/* SPDX-License-Identifier: MIT */
/* Every hard limit of rtsp-director, each with its reason and what happens on breach
 * (SECURITY.md §2.2; SQLite's sqliteLimit.h is the model). Configuration may lower a limit,
 * never raise it past the value here. Parsers size their fixed arrays from these. */
#ifndef RD_PROTO_RD_LIMITS_H
#define RD_PROTO_RD_LIMITS_H

/* ---- RTSP messages (broker and relay listeners; relay as a client of cameras) ---------- */

/* Empty lines tolerated before a request line (RFC 2326 keep-alive CRLFs). More: 400, close. */
#define RD_RTSP_MAX_LEADING_EMPTY_LINES 4
/* Request or status line. Longer: 414 when the URI is what overflows, else 400; close.
 * Every historical RTSP request-line CVE (CVE-2013-6933/6934) is a missing version of this. */
#define RD_RTSP_MAX_START_LINE 4096
/* Method token [A-Z_]{1,32}. Longer or other characters: 400, close. */
#define RD_RTSP_MAX_METHOD 32
/* Request-URI: printable ASCII. Longer: 414, close. */
#define RD_RTSP_MAX_URI 4000
/* One header line, name and value. Longer: 400, close (VU#460350). */
#define RD_RTSP_MAX_HEADER_LINE 4096
/* Header lines per message; also the size of the parser's header-view array. More: 400. */
#define RD_RTSP_MAX_HEADERS 64
/* Header block, start line included, up to the empty line. Larger: 400, close. */
#define RD_RTSP_MAX_HEADER_BLOCK 16384
/* CSeq: exactly one, 1-9 digits. Otherwise 400 without CSeq in the reply, close. */
#define RD_RTSP_MAX_CSEQ_DIGITS 9
/* Content-Length: at most one, digits only, at most 9 of them. Otherwise 400, close. */
#define RD_RTSP_MAX_CLEN_DIGITS 9
/* Request body (GET_PARAMETER / SET_PARAMETER only). Larger: 413, close without reading it. */
#define RD_RTSP_MAX_REQUEST_BODY 4096
/* Response body from a camera (the SDP). Larger: upstream error, reconnect with backoff. */
#define RD_RTSP_MAX_RESPONSE_BODY 65536
/* Session header as received. Longer: 454. Our own ids are 32 hex characters. */
#define RD_RTSP_MAX_SESSION_HEADER 128
#define RD_RTSP_SESSION_ID_BYTES   16 /* random bytes in a session id we issue (128 bits) */
/* Authorization from viewers (broker Digest). Longer: 400. */
#define RD_RTSP_MAX_AUTHORIZATION 1024
/* Pipelined requests answered per connection before waiting for output to drain. */
#define RD_RTSP_MAX_PIPELINED 16
/* Queued response bytes above which a connection stops reading (backpressure). */
#define RD_RTSP_MAX_QUEUED_OUTPUT 65536

/* ---- Transport header (RFC 2326 §12.39) ------------------------------------------------ */

/* Whole header. Longer: 461. */
#define RD_TRANSPORT_MAX_LEN 1024
/* Comma-separated alternatives. More: 461. */
#define RD_TRANSPORT_MAX_SPECS 4
/* ';' parameters per alternative. More: 461. */
#define RD_TRANSPORT_MAX_PARAMS 16
/* UDP client ports: 1024-65535, RTP even, RTCP = RTP + 1 (live555#66: port 0). Else 461. */
#define RD_TRANSPORT_MIN_CLIENT_PORT 1024
/* Interleaved channels 0-254 as an even/odd pair (255 would leave no RTCP channel). */
#define RD_TRANSPORT_MAX_CHANNEL 254

/* ---- Digest authentication (RFC 2617 / RFC 7616) --------------------------------------- */

/* WWW-Authenticate from a camera. Longer: upstream error. */
#define RD_AUTH_MAX_CHALLENGE 2048
/* Field caps while parsing either header. Longer: 400 (server) / upstream error (client). */
#define RD_AUTH_MAX_NONCE    256
#define RD_AUTH_MAX_REALM    128
#define RD_AUTH_MAX_USERNAME 128
#define RD_AUTH_MAX_URI      RD_RTSP_MAX_URI
#define RD_AUTH_MAX_PARAMS   16
/* opaque from a camera's challenge, stored and echoed by the relay. Longer: upstream error. */
#define RD_AUTH_MAX_OPAQUE 256
/* Challenges in all WWW-Authenticate headers of one response (a camera offers 1-3: Digest
 * SHA-256, Digest MD5, Basic). More: upstream error. */
#define RD_AUTH_MAX_CHALLENGES 8
/* Password for a camera (client side) or for `user add` (HA1). Longer: refused as a
 * configuration error; the CLI says so instead of hashing a cut-off password. */
#define RD_AUTH_MAX_PASSWORD 128
/* Lifetime of a nonce we issue; an older one gets a new challenge with stale=true. It is
 * also what bounds replay of a captured Authorization: we keep no nonce-count state. */
#define RD_AUTH_NONCE_TTL_S 300
/* Shortest secret accepted for the stateless nonce MAC. Shorter: mint/check refuse. */
#define RD_AUTH_NONCE_KEY_MIN_BYTES 16

/* ---- URLs and viewer tokens (ARCHITECTURE.md §4.1) ------------------------------------- */

/* Camera id [A-Za-z0-9_-]{1,64}. Anything else: 404 (broker) / 403 (relay). */
#define RD_CAMERA_ID_MAX 64
/* Token path segment, [A-Za-z0-9._-]. Longer: 403. */
#define RD_TOKEN_MAX_LEN 256
/* Token lifetime: default, and the most the broker may be configured to issue. */
#define RD_TOKEN_TTL_DEFAULT_S 60
#define RD_TOKEN_TTL_MAX_S     300
/* Clock skew accepted between broker and relay when checking expiry. */
#define RD_TOKEN_SKEW_S 30
/* Key ids [A-Za-z0-9_-]{1,16}; relay keys are 256-bit. */
#define RD_TOKEN_KID_MAX   16
#define RD_TOKEN_KEY_BYTES 32
/* Host names in URLs (DNS maximum); longer: rejected as malformed. */
#define RD_URL_MAX_HOST 253
/* Path segments split out of one URL path. Ours have at most 4 (/v1/<camera>/<token>/<control>);
 * more: url_path_split() returns RD_ELIMIT (broker 404, relay 403). */
#define RD_URL_MAX_SEGMENTS 16
/* Live key ids per relay keyring: the current key and the previous one during rotation. */
#define RD_TOKEN_LIVE_KIDS 2
/* Relay id as bound into a token's MAC: 1-64 printable ASCII bytes, no space. Else mint/verify
 * refuse (a registry bug, never a viewer's input). */
#define RD_RELAY_ID_MAX 64
/* Textual viewer IP bound into a token (INET6_ADDRSTRLEN 46 plus a "%zone"). Longer: refused. */
#define RD_TOKEN_VIEWER_IP_MAX 64

/* ---- SDP (relay as a client of cameras) ------------------------------------------------ */

/* Whole SDP. Larger: upstream error. */
#define RD_SDP_MAX_BYTES RD_RTSP_MAX_RESPONSE_BODY
/* Media sections. More: upstream error. Also the cap on tracks per camera. */
#define RD_SDP_MAX_MEDIA 16
/* Lines kept per SDP (session and all media). More: upstream error. */
#define RD_SDP_MAX_LINES 256
/* Formats on one m= line, and a=rtpmap / a=fmtp lines per media section (cameras use 1-4;
 * sizes the per-media arrays). More: upstream error. */
#define RD_SDP_MAX_FORMATS 16

/* ---- RTSP sessions and media (relay) --------------------------------------------------- */

/* Sessions per viewer connection (a normal client needs 1). More: 453. */
#define RD_MAX_SESSIONS_PER_CONN 4
/* Tracks per session. More: 453. */
#define RD_MAX_TRACKS_PER_SESSION 8
/* RTSP session timeout, advertised as Session: <id>;timeout=60 (RFC 2326 §12.37). */
#define RD_RTSP_SESSION_TIMEOUT_S 60
/* Largest RTP/RTCP packet carried: the interleaved frame's 16-bit length. */
#define RD_RTP_MAX_PACKET 65535
/* Per-viewer send queue (SECURITY.md §2.2): bytes and packets, then drop to the next key
 * frame. 1024 packets of 16-byte entries is 16 KiB per viewer; 1 MiB binds first for video
 * (~750 packets of 1400 bytes, ~2 s of a 4 Mbit/s camera). The packets themselves are shared
 * by all viewers of a camera. */
#define RD_VIEWER_QUEUE_MAX_BYTES   (1024 * 1024)
#define RD_VIEWER_QUEUE_MAX_PACKETS 1024
/* Media age in a viewer queue: when the oldest queued packet has waited this long the queue
 * counts as full (drop, then resync at the next key frame). */
#define RD_VIEWER_QUEUE_MAX_MS 2000
/* Above this share of any queue cap, packets that are not part of a key frame are dropped and
 * that track resyncs at the next key frame (nginx-rtmp's priority drop). */
#define RD_VIEWER_QUEUE_HIGH_WATER_PCT 50
/* A viewer whose TCP writes make no progress this long, or that keeps overflowing (queue drops
 * recurring with no pause longer than half of this) this long, is disconnected. */
#define RD_VIEWER_STALL_S 10
/* A UDP viewer's instant-start backlog (the cached key frame and what follows it) is paced at
 * this many bytes per tick (64 Mbit/s), so it does not overflow the player's socket buffer;
 * live packets are sent at once. */
#define RD_UDP_JOIN_BYTES_PER_TICK 16384
#define RD_UDP_JOIN_TICK_MS        2
/* Longest wait for the rest of a video frame before writing to viewers what has arrived:
 * cameras that pace a frame's packets over several reads still cost one write per viewer and
 * frame (issue 4: a whole frame per writev). Half a frame interval at 25 fps; a frame that
 * takes longer is written in parts. */
#define RD_FANOUT_FRAME_HOLD_MS 20

/* ---- Relay media plane: packet pool and instant-start cache ---------------------------- */

/* Packet buffer size classes (bytes): a UDP RTP packet (1500-byte MTU), a large interleaved
 * frame, the largest interleaved frame (RD_RTP_MAX_PACKET). A packet goes in the smallest
 * class that fits, or a larger one when that class is exhausted. */
#define RD_PKTPOOL_SMALL_BUF 2048
#define RD_PKTPOOL_MID_BUF   16384
#define RD_PKTPOOL_LARGE_BUF 65536
/* Buffers per class (128 MiB, 32 MiB, 32 MiB), allocated in slabs on demand: queues hold at
 * most ~2 s of media and caches one GOP, so this is ~100 cameras at 4 Mbit/s. More: the
 * packet is dropped and counted (pool exhausted). */
#define RD_PKTPOOL_SMALL_MAX 65536
#define RD_PKTPOOL_MID_MAX   2048
#define RD_PKTPOOL_LARGE_MAX 512
/* Instant-start cache per H.264/H.265 track: the packets since the last key-frame start (a
 * 2 s GOP up to ~8 Mbit/s). Larger: the cache is dropped until the next key frame, and
 * viewers joining meanwhile wait for it. Other tracks keep the packets since that key frame
 * under the same caps, dropping the oldest. */
#define RD_STREAM_CACHE_MAX_BYTES   (2 * 1024 * 1024)
#define RD_STREAM_CACHE_MAX_PACKETS 2048
/* An H.264/H.265 track that shows no key-frame start this long (intra refresh, open GOP)
 * lets waiting viewers start at the next access unit instead of never. */
#define RD_STREAM_KEY_FALLBACK_S 10
/* Upstream restart: viewers' RTP timestamps advance by the wall-clock gap times the clock
 * rate, the gap clamped to this (2^31 ticks of a 90 kHz clock is 6.6 h). */
#define RD_STREAM_RESTART_MAX_GAP_S 3600

/* ---- Deadlines (absolute, not per read) ------------------------------------------------ */

#define RD_DEADLINE_FIRST_BYTE_S 10 /* accept -> first byte: close */
#define RD_DEADLINE_HEADER_S     5  /* first byte -> end of header block: 408, close */
#define RD_DEADLINE_BODY_S       5  /* end of headers -> end of body: 408, close */
#define RD_DEADLINE_TLS_S        5  /* TLS handshake: close */
#define RD_DEADLINE_WRITE_S      10 /* one response written: close */
#define RD_IDLE_BROKER_S         10 /* broker connection without a request: close */
#define RD_IDLE_RELAY_S          30 /* relay connection without a session: close */

/* ---- Connections ----------------------------------------------------------------------- */

#define RD_BROKER_MAX_CONNS        20000
#define RD_BROKER_MAX_CONNS_PER_IP 100
#define RD_RELAY_MAX_CONNS_PER_IP  50
/* New connections per source IP: token bucket refilled at this rate per second, holding at
 * most the burst (GStreamer reconnect storms, CLIENTS.md). Over: closed at once (refused_rate). */
#define RD_BROKER_ACCEPT_RATE_PER_IP  20
#define RD_BROKER_ACCEPT_BURST_PER_IP 50
/* Source addresses remembered for the accept rate besides those with open connections; when
 * full, the address idle for longest is forgotten (it regains a full burst). */
#define RD_BROKER_RATE_TRACKED_IPS 4096
/* The kernel holds a new broker connection until its first bytes arrive, at most this long
 * (TCP_DEFER_ACCEPT, one SYN-ACK retransmit); the listener then reads the request at once,
 * saving a loop wakeup per viewer. A silent connection is handed over after it and closed at
 * the first-byte deadline: at most RD_BROKER_DEFER_ACCEPT_S + RD_DEADLINE_FIRST_BYTE_S. 0: off. */
#define RD_BROKER_DEFER_ACCEPT_S 1
/* Connections accepted per wakeup of a listening socket, so open connections still get served. */
#define RD_ACCEPT_BATCH 64
/* Out of descriptors or memory while accepting (EMFILE, ENFILE): accepting pauses this long
 * instead of spinning on a readable listening socket (nginx). */
#define RD_ACCEPT_PAUSE_MS 100
/* After a final response (close after it), input is read and dropped for this long or up to
 * this many bytes, waiting for the peer's FIN, so unread input cannot turn our close into a
 * reset that destroys the response in flight (nginx lingering_close). Then: close. */
#define RD_LINGER_S         2
#define RD_LINGER_MAX_BYTES 65536
/* Bytes one CSPRNG call puts in a struct rd_rand_pool (crypto.h): 512 token jtis per
 * RAND_bytes call on the broker's redirect path. Takes larger than this are refused. */
#define RD_RAND_POOL_BYTES 4096
/* Closed connection structs kept for reuse; more are freed. */
#define RD_BROKER_CONN_FREELIST 256
/* SIGTERM/SIGINT: responses still being written and requests still arriving get this long,
 * then the daemon closes what is left and exits. */
#define RD_SHUTDOWN_GRACE_S 2

/* ---- Admin, status and heartbeat HTTP (libmicrohttpd) ---------------------------------- */

/* Relay-channel requests carry their signing time; one further than this from the broker's
 * clock is refused with 401 (replays of old captures fail even with a new boot id). */
#define RD_HEARTBEAT_SKEW_S 30
/* Heartbeats per relay: sustained rate (per second at the default 1 s interval; scaled up for
 * a shorter heartbeat_interval_ms) and burst of the token bucket. More: 429. */
#define RD_HEARTBEAT_RATE_PER_S 2
#define RD_HEARTBEAT_BURST      5
#define RD_HTTP_CONN_TIMEOUT_S  10 /* MHD default is no timeout */
#define RD_HTTP_CONN_LIMIT      256
#define RD_HTTP_PER_IP_LIMIT    16
#define RD_HTTP_CONN_MEMORY     (64 * 1024)
#define RD_HTTP_MAX_ADMIN_BODY  (64 * 1024) /* larger: 413 */
/* Heartbeat body: RD_HEARTBEAT_MAX_CAMERAS camera entries and the relay fields. Larger: 413. */
#define RD_HTTP_MAX_HEARTBEAT_BODY (64 * 1024)
/* Camera-source requests per relay (GET /api/v1/relay/cameras/<id>), a token bucket apart from
 * the heartbeats': a relay refetches every camera it serves when the registry version moves, so
 * the burst holds two heartbeats' worth of cameras. More: 429 with Retry-After. */
#define RD_RELAY_SOURCE_RATE_PER_S 50
#define RD_RELAY_SOURCE_BURST      512
/* Relays whose token buckets the admin server tracks at once (twice the relays it can know, so
 * deleted and re-added relays fit until their buckets refill and are dropped). Beyond: the
 * request is let through unlimited and counted. */
#define RD_RELAY_CHANNEL_BUCKETS (2 * RD_BROKER_MAX_RELAYS)
/* cpu_pct in a heartbeat: percent of one core, so up to 1000 cores. More: 400. */
#define RD_HEARTBEAT_MAX_CPU_PCT 100000

/* ---- Registry (broker SQLite; the CHECKs in schema/001_init.sql repeat these numbers) ------ */

/* Site and relay ids share the camera id charset [A-Za-z0-9_-]; relay ids enter token MACs.
 * Longer or other characters: the registry call fails with RD_ELIMIT / RD_EPROTO. */
#define RD_SITE_ID_MAX  64
#define RD_RELAY_ID_MAX 64
/* Display names of cameras, relays and sites: UTF-8 bytes, no control characters. Longer:
 * RD_ELIMIT. */
#define RD_REG_NAME_MAX 128
/* Camera upstream URL and relay RTSP base URL. 1 KiB holds any real camera path; a relay base
 * plus /v1/<camera>/<token>/ stays far below RD_RTSP_MAX_URI. Longer: RD_ELIMIT. */
#define RD_REG_URL_MAX 1024
/* Camera (upstream) user name and password, as cameras accept them in Digest. Longer:
 * RD_ELIMIT. */
#define RD_REG_CRED_MAX 128
/* Relays that may pull one camera at the same time (camera max_relays is 1..this): cameras
 * tolerate few sessions. More: RD_ELIMIT. */
#define RD_REG_MAX_RELAYS_PER_CAMERA 64
/* Declared relay capacity, viewers and egress Mbit/s, 1..these: sanity bounds on operator
 * input so load scores cannot overflow. More: RD_ELIMIT. */
#define RD_REG_MAX_CAPACITY_VIEWERS 1000000
#define RD_REG_MAX_CAPACITY_MBPS    1000000
/* Live keys per relay: the signing key and the previous one while tokens signed with it may
 * still be in flight (rotation). A third: the schema refuses it. */
#define RD_REG_LIVE_KEYS 2
/* A write waits this long for another connection (the CLI, a backup) to release the write
 * lock, then fails with RD_EDB (busy): the event loop never blocks longer. */
#define RD_REG_BUSY_TIMEOUT_MS 100
/* History kept for the admin page, trimmed by every registry_flush_load: the newest N
 * decisions; load samples of the last hour, one per relay every RD_REG_SAMPLE_INTERVAL_S. */
#define RD_REG_DECISIONS_KEEP     1000
#define RD_REG_SAMPLE_RETENTION_S 3600
#define RD_REG_SAMPLE_INTERVAL_S  10
/* Load sample rows whatever the clock does (an hour of samples for 1024 relays). More: the
 * oldest rows are deleted. */
#define RD_REG_SAMPLES_MAX_ROWS (360 * 1024)
/* Decision reason and viewer address ("[v6]:port") in history rows. Longer: RD_ELIMIT. */
#define RD_REG_REASON_MAX 64
#define RD_REG_CLIENT_MAX 64

/* ---- Broker relay view and selection (ARCHITECTURE.md §4.2, §4.5) ---------------------- */

/* Relays the broker tracks; sizes relay_view's tables and the policy snapshot array. A fleet
 * of 200 relays is the design point. More: relay_view_relay_set() returns RD_ELIMIT and the
 * registry must refuse the new relay. */
#define RD_BROKER_MAX_RELAYS 1024
/* A relay's public RTSP base URL: whatever the registry accepts (RD_REG_URL_MAX). */
#define RD_RELAY_URL_MAX RD_REG_URL_MAX
/* Distinct cameras the broker's view knows as pulled or reserved somewhere (the design point
 * is 10,000). More: the pairs that would need a new camera are not stored, counted in
 * pulls_dropped and reported as RD_ELIMIT; placement then ignores them (no affinity). */
#define RD_BROKER_MAX_CAMERAS 65536
/* camera<->relay pull pairs (10,000 cameras x an upstream budget of a few relays, plus the
 * pairs removed since the registry flusher's last collect). Breach: as for cameras. */
#define RD_BROKER_MAX_PULLS 131072
/* Cameras listed in one heartbeat: 256 x a few Mbit/s is more ingress than one relay host
 * carries, and 256 entries of ~200 JSON bytes fit RD_HTTP_MAX_HEARTBEAT_BODY. More: the whole
 * heartbeat is refused (RD_ELIMIT; the admin endpoint answers 413). */
#define RD_HEARTBEAT_MAX_CAMERAS 256
/* Heartbeat boot id: 1-64 printable ASCII bytes, no space. Else the heartbeat is refused. */
#define RD_HEARTBEAT_BOOT_ID_MAX 64

/* ---- Relay camera table (relay-agent/cameras.c, udp_ports.c) ---------------------------- */

/* Cameras one relay keeps in its table (sources file + fetched from the broker). 1,024 x a
 * few Mbit/s is far beyond one relay host's ingress. More: RD_ELIMIT, the viewer gets 503. */
#define RD_RELAY_MAX_CAMERAS 1024
/* Seconds an on-demand pull stays up after its last viewer left (ARCHITECTURE.md §5): a
 * viewer that reconnects (player restart, drain) finds the camera still playing. */
#define RD_PULL_LINGER_S 10
/* Seconds a DESCRIBE waits for a camera that is connecting (source fetch, connect, DESCRIBE,
 * SETUP, PLAY of the first attempt). Then: 503 with Retry-After. */
#define RD_PULL_READY_S 15
/* A source fetched from the broker is trusted for this long before it is fetched again at
 * the next use (besides every registry_version change). */
#define RD_SOURCE_TTL_S 300
/* Viewer connections one relay holds open (config max_conns is at most this). Each carries
 * a fixed input buffer and a bounded queue; more are closed at accept. */
#define RD_RELAY_MAX_CONNS 20000
/* The relay's stand-alone sources file (one camera per line, credentials included, so it
 * is read like a key file). Larger: the file is refused at start and on reload. */
#define RD_SOURCES_FILE_MAX (1024 * 1024)
/* UDP port pairs in one relay's udp_ports range (bitmap size). A larger range: config error. */
#define RD_UDP_PORTS_MAX_PAIRS 32768

/* ---- Configuration files and logs ------------------------------------------------------ */

#define RD_CONF_MAX_LINE  1024 /* longer line: error naming the line */
#define RD_CONF_MAX_VALUE 512
#define RD_CONF_MAX_KEY   64 /* key names [a-z0-9_]; longer: error naming the line */
/* Keys per config table (sizes the duplicate-key bitmap). More: assert. */
#define RD_CONF_MAX_ITEMS 128
/* -o key=value options accepted on one daemon command line; more: usage error (exit 2). */
#define RD_CONF_MAX_OVERRIDES 64
#define RD_LOG_MAX_LINE       1024 /* longer: truncated with a visible marker */
/* Per-object log context ("conn=17 peer=[::1]:5123"). Longer: RD_ELIMIT, the prefix is kept
 * with a "..." marker. */
#define RD_LOG_MAX_CTX 160
/* Peer bytes quoted into one log field by log_sanitize(), quotes and escapes included.
 * Longer input: sampled with a "...+N" marker (redis setProtocolError). */
#define RD_LOG_MAX_SAMPLE 128
/* Startup error text (struct rd_errbuf, anet style). Longer: ends with a "..." marker. */
#define RD_ERRBUF_LEN 256

/* ---- Broker client (relay-agent/bclient.c) ---------------------------------------------- */

/* Whole request to the broker (heartbeat or camera source), connect included, when the
 * configuration gives none. Breach: the transfer is aborted; a heartbeat counts as failed
 * (backoff), a fetch answers RD_EIO. */
#define RD_BCLIENT_TIMEOUT_S 5
/* TCP connect to the broker, capped further by the request timeout. Breach: as above. */
#define RD_BCLIENT_CONNECT_TIMEOUT_S 3
/* Longest wait between heartbeats while the broker fails (the wait doubles from the heartbeat
 * interval up to this, or to the interval itself when that is longer). */
#define RD_BCLIENT_BACKOFF_MAX_S 10
/* Longest Retry-After (429, 503) a heartbeat honours; a larger value waits this long, so a
 * confused broker cannot silence a relay for hours. */
#define RD_BCLIENT_RETRY_AFTER_MAX_S 60
/* Response body from the broker (a heartbeat answer is ~200 bytes, a camera source ~1.5 KiB).
 * Larger: the transfer is aborted (heartbeat failed, fetch RD_EIO). */
#define RD_BCLIENT_MAX_RESPONSE (64 * 1024)
/* Camera-source fetches in flight (distinct camera ids; joined duplicates do not count), a
 * quarter of a full heartbeat's cameras. More: bclient_fetch_source() returns RD_ELIMIT and
 * the caller retries later. */
#define RD_BCLIENT_MAX_FETCHES 64
/* TCP connections to the broker at once (CURLMOPT_MAX_HOST_CONNECTIONS), well under the
 * broker's RD_HTTP_PER_IP_LIMIT. More requests wait in libcurl's queue for a free one. */
#define RD_BCLIENT_MAX_CONNS 4
/* broker_url ("http://host:port"). Longer: bclient_new() refuses it (RD_EPROTO). */
#define RD_BCLIENT_URL_MAX 256
/* User-Agent sent to the broker. Longer: bclient_new() refuses it (RD_EPROTO). */
#define RD_BCLIENT_USER_AGENT_MAX 128

/* ---- Viewer RTSP server (relay-agent/vserver.c, vsession.c) ---------------------------- */

/* SO_SNDBUF of every viewer connection (SECURITY.md §2.2: 256-512 KiB; the kernel doubles
 * the value). Bounds the kernel memory one slow TCP viewer can pin. */
#define RD_VSERVER_SNDBUF_BYTES (256 * 1024)
/* Interleaved frames a viewer may send per second (RTCP receiver reports come a few per
 * second). More in one second: dropped and counted; RD_VSERVER_FRAMES_ABUSE in one second
 * closes the connection. */
#define RD_VSERVER_FRAMES_PER_S 50
#define RD_VSERVER_FRAMES_ABUSE 500
/* UDP sessions per peer IP (SECURITY.md §3.2 rule 6). More: 453. */
#define RD_VSERVER_UDP_SESSIONS_PER_IP 16
/* A session set up and never played is ended this long after its SETUP (SECURITY.md §2.2,
 * SETUP -> PLAY window). */
#define RD_VSERVER_SETUP_PLAY_S 30
/* Datagrams read from one server_port socket per wakeup (viewers' RTCP), so a flood on one
 * socket cannot hold the loop. The rest waits for the next iteration. */
#define RD_VSERVER_RTCP_READ_BATCH 64
/* While output backpressure holds on a connection whose output belongs to the fanout
 * (control bytes queued above RD_RTSP_MAX_QUEUED_OUTPUT), the queue is checked this often. */
#define RD_VSERVER_POLL_MS 20
/* Session ids remembered in the lookup table's buckets (power of two). */
#define RD_VSERVER_SESSION_BUCKETS 1024
/* Retry-After of a 503 for a camera that is disabled or in its long pause (seconds). */
#define RD_VSERVER_RETRY_AFTER_S 5
/* Listen backlog of the viewer port. */
#define RD_VSERVER_BACKLOG 1024

/* ---- Camera puller (relay-agent/puller.c) ---------------------------------------------- */

/* TCP connect to a camera, from socket() to writable. Later: the attempt fails ("connect"),
 * reconnect with backoff (SECURITY.md §2.2: 5 s). */
#define RD_PULL_CONNECT_TIMEOUT_S 5
/* One request to a camera, sent to its whole response received. Later: the attempt fails
 * ("timeout"), reconnect with backoff (SECURITY.md §2.2: 10 s). */
#define RD_PULL_STEP_TIMEOUT_S 10
/* No RTP at all this long after PLAY (or since the last packet): the attempt fails
 * ("no_media") and reconnects (SECURITY.md §2.2). */
#define RD_PULL_NO_MEDIA_S 5
/* A UDP pull that has received no packet this long after PLAY is torn down and retried over
 * TCP interleaved, which is then kept for this camera until its source changes. */
#define RD_PULL_UDP_FALLBACK_S 3
/* Reconnect backoff: first delay, doubling up to the maximum, each delay +-JITTER_PCT percent
 * (so cameras restarting together are not hit in step). Reset once a session has played for
 * RESET_S. */
#define RD_PULL_BACKOFF_MIN_S      1
#define RD_PULL_BACKOFF_MAX_S      30
#define RD_PULL_BACKOFF_JITTER_PCT 20
#define RD_PULL_BACKOFF_RESET_S    30
/* Consecutive attempts whose credentials the camera refused (a 401 answering our
 * Authorization). Reached: state FAILED and AUTH_PAUSE_S before the next attempt, so a camera
 * account with a lockout policy is never locked by the relay (SECURITY.md §2.2: 5 min). */
#define RD_PULL_AUTH_FAILS_MAX 3
#define RD_PULL_AUTH_PAUSE_S   300
/* A permanent refusal (403, 404, 410, an unusable URL or host): state FAILED, this pause. */
#define RD_PULL_REFUSED_PAUSE_S 60
/* 301/302 redirects followed on DESCRIBE within one attempt, only to rtsp:// URLs on the
 * camera's own host. More: the attempt fails ("redirect"). */
#define RD_PULL_MAX_REDIRECTS 3
/* The relay's RTCP receiver reports to the camera, per track (RFC 3550 §6.2 minimum). */
#define RD_PULL_RR_INTERVAL_S 5
/* Camera session timeout (Session: id;timeout=N, RFC 2326 §12.37): 60 when absent; a value
 * outside MIN..MAX is clamped (keepalives go out at half of it). */
#define RD_PULL_SESSION_TIMEOUT_MIN_S 2
#define RD_PULL_SESSION_TIMEOUT_MAX_S 3600
/* Bytes of stray empty lines between interleaved frames accepted per connection (some
 * cameras send CRLF after a body); more: the attempt fails ("protocol"). */
#define RD_PULL_MAX_STRAY_BYTES 4096
/* Datagrams or TCP reads handled per wakeup of one socket, so one camera cannot starve the
 * loop; the rest is read on the next iteration. */
#define RD_PULL_READS_PER_WAKEUP 64

/* ---- Camera simulator (tools/rtsp-camsim) ---- */
/* Camera paths one rtsp-camsim process serves (--path/--paths). More: refused at start-up. */
#define RD_CAMSIM_MAX_PATHS 10000
/* Bytes of one path name (without the leading '/'): a camera id. Longer: refused at start-up. */
#define RD_CAMSIM_PATH_MAX RD_CAMERA_ID_MAX
/* Size of the media file (mmap'd once and shared by every camera). Larger: refused at start-up. */
#define RD_CAMSIM_MEDIA_MAX_BYTES (1024 * 1024 * 1024)
/* Access units (frames) in the media file. More: refused at start-up. */
#define RD_CAMSIM_MEDIA_MAX_AUS (1024 * 1024)
/* RTP packet size (header included) for --mtu: a payload must fit a loopback or Ethernet path
 * with room for the interleaved header; outside: refused at start-up. */
#define RD_CAMSIM_MTU_MIN 200
#define RD_CAMSIM_MTU_MAX 8000
/* RTSP connections open at once. More: accepted and closed at once (counted as refused). */
#define RD_CAMSIM_MAX_CONNS 8192
/* Queued output per TCP connection (responses and interleaved media). Full: media packets
 * are dropped (counted) and that session resumes at the next IDR frame. */
#define RD_CAMSIM_TCP_OUT_BYTES (512 * 1024)
/* UDP datagrams gathered in one tick before sendmmsg; more are sent in further batches. */
#define RD_CAMSIM_UDP_BATCH 1024
/* Bytes of one control command line (--control FIFO). Longer: the line is ignored. */
#define RD_CAMSIM_CONTROL_LINE 256
/* A connection without a request for this long and no playing session is closed; a session
 * without a request (keepalive) for the session timeout is ended (--session-timeout). */
#define RD_CAMSIM_IDLE_S RD_IDLE_RELAY_S

#endif
