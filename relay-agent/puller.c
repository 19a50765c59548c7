/* SPDX-License-Identifier: MIT */
/* The camera puller's attempt state machine: OPTIONS, DESCRIBE (401 answers, redirects),
 * SETUP of every media section, PLAY, keepalives, the no-media watchdog, the UDP fallback,
 * reconnect backoff and the long pause after refused credentials. Sockets: puller_conn.c. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "evx.h"
#include "puller_int.h"
#include "rd_err.h"
#include "rtsp_build.h"
#include "rtsp_transport.h"
#include "stream.h"
#include "url.h"

/* How a failure affects the next attempt. */
enum fail_kind {
    FAIL_RETRY,   /* backoff, state RETRYING */
    FAIL_AUTH,    /* credentials refused: backoff, or the long pause once repeated */
    FAIL_REFUSED, /* permanent refusal: state FAILED, refused pause */
};

static const char *const phase_names[] = {
    [PULL_IDLE] = "idle",         [PULL_CONNECTING] = "connect", [PULL_OPTIONS] = "options",
    [PULL_DESCRIBE] = "describe", [PULL_SETUP] = "setup",        [PULL_PLAY] = "play",
    [PULL_PLAYING] = "playing",
};

const char *
puller_state_name(enum puller_state st)
{
    switch (st) {
    case PULLER_STARTING:
        return "starting";
    case PULLER_PLAYING:
        return "playing";
    case PULLER_RETRYING:
        return "retrying";
    case PULLER_FAILED:
        return "failed";
    }
    return "unknown";
}

void
puller_timings_default(struct puller_timings *t)
{
    t->connect_timeout_s = RD_PULL_CONNECT_TIMEOUT_S;
    t->step_timeout_s = RD_PULL_STEP_TIMEOUT_S;
    t->no_media_s = RD_PULL_NO_MEDIA_S;
    t->udp_fallback_s = RD_PULL_UDP_FALLBACK_S;
    t->backoff_min_s = RD_PULL_BACKOFF_MIN_S;
    t->backoff_max_s = RD_PULL_BACKOFF_MAX_S;
    t->jitter_pct = RD_PULL_BACKOFF_JITTER_PCT;
    t->backoff_reset_s = RD_PULL_BACKOFF_RESET_S;
    t->auth_fails_max = RD_PULL_AUTH_FAILS_MAX;
    t->auth_pause_s = RD_PULL_AUTH_PAUSE_S;
    t->refused_pause_s = RD_PULL_REFUSED_PAUSE_S;
    t->rr_interval_s = RD_PULL_RR_INTERVAL_S;
}

static bool
timings_valid(const struct puller_timings *t)
{
    return t->connect_timeout_s > 0 && t->step_timeout_s > 0 && t->no_media_s > 0
           && t->udp_fallback_s > 0 && t->backoff_min_s > 0 && t->backoff_max_s >= t->backoff_min_s
           && t->jitter_pct <= 50 && t->backoff_reset_s > 0 && t->auth_fails_max >= 1
           && t->auth_pause_s > 0 && t->refused_pause_s > 0 && t->rr_interval_s > 0;
}

static void
set_state(struct puller *p, enum puller_state st, const char *why)
{
    if (p->state == st)
        return;
    p->state = st;
    if (p->cb != NULL && p->cb->on_state != NULL)
        p->cb->on_state(p->arg, st, why);
}

/* d +- jitter_pct percent, from the CSPRNG (rand() is banned; the draw is rare). */
static double
jittered(const struct puller *p, double d)
{
    uint32_t r = 0;
    if (p->tm.jitter_pct == 0 || rd_random_bytes(&r, sizeof(r)) != RD_OK)
        return d;
    double u = (double)r / 4294967295.0 * 2.0 - 1.0; /* -1..1 */
    return d * (1.0 + u * (double)p->tm.jitter_pct / 100.0);
}

static void
fail_with(struct puller *p, const char *why, enum log_level level, enum fail_kind kind)
{
    double now = ev_now(p->env.loop);
    RD_LOG(level, &p->log, "camera attempt failed reason=%s step=%s", why, phase_names[p->phase]);
    bool played_long =
        p->st.playing_since > 0 && now - p->st.playing_since >= p->tm.backoff_reset_s;
    pull_conn_close(p, true);
    p->st.last_error = why;
    if (played_long)
        p->backoff_s = p->tm.backoff_min_s;
    enum puller_state st;
    double delay;
    p->auth_paused = false;
    if (kind == FAIL_AUTH && p->auth_fails >= p->tm.auth_fails_max) {
        RD_LOG(RD_LOG_WARN, &p->log,
               "camera refused the credentials repeatedly: pausing fails=%u pause_s=%.0f",
               p->auth_fails, p->tm.auth_pause_s);
        st = PULLER_FAILED;
        delay = p->tm.auth_pause_s;
        p->auth_paused = true;
    } else if (kind == FAIL_REFUSED) {
        st = PULLER_FAILED;
        delay = p->tm.refused_pause_s;
    } else {
        st = PULLER_RETRYING;
        delay = jittered(p, p->backoff_s);
        p->backoff_s *= 2;
        if (p->backoff_s > p->tm.backoff_max_s)
            p->backoff_s = p->tm.backoff_max_s;
    }
    evx_timer_rearm(p->env.loop, &p->retry_timer, delay);
    p->retry_at = ev_now(p->env.loop) + delay;
    set_state(p, st, why);
}

void
pull_fail(struct puller *p, const char *why, enum log_level level)
{
    fail_with(p, why, level, FAIL_RETRY);
}

/* Ends this attempt and starts another one at once over TCP, remembered until the source
 * changes (UDP gave nothing, or the camera refused it). Not a failure: no backoff. */
static void
restart_over_tcp(struct puller *p, const char *why)
{
    RD_LOG(RD_LOG_NOTICE, &p->log, "camera over UDP failed: switching to TCP reason=%s", why);
    p->force_tcp = true;
    pull_conn_close(p, true);
    evx_timer_rearm(p->env.loop, &p->retry_timer, 0.);
    p->retry_at = ev_now(p->env.loop);
    set_state(p, PULLER_STARTING, why);
}

/* A static reason for a status code. */
static const char *
status_why(int status)
{
    switch (status) {
    case 400:
        return "status_400";
    case 403:
        return "status_403";
    case 404:
        return "status_404";
    case 405:
        return "status_405";
    case 406:
        return "status_406";
    case 410:
        return "status_410";
    case 451:
        return "status_451";
    case 453:
        return "status_453";
    case 454:
        return "status_454";
    case 455:
        return "status_455";
    case 459:
        return "status_459";
    case 461:
        return "status_461";
    case 500:
        return "status_500";
    case 501:
        return "status_501";
    case 503:
        return "status_503";
    default:
        break;
    }
    if (status < 300)
        return "status_2xx";
    if (status < 400)
        return "status_3xx";
    if (status < 500)
        return "status_4xx";
    return "status_5xx";
}

static void
status_fail(struct puller *p, int status)
{
    bool permanent = status == 403 || status == 404 || status == 410;
    fail_with(p, status_why(status), RD_LOG_INFO, permanent ? FAIL_REFUSED : FAIL_RETRY);
}

/* ---- URLs ------------------------------------------------------------------------------ */

/* An rtsp:// URL the puller can connect to: numeric host (no name lookups: getaddrinfo would
 * block the loop), no userinfo, no TLS. Fills host (NET_IP_STRLEN) and *port. */
static bool
url_usable(const char *url, char *host, uint16_t *port, const char **why)
{
    struct url_parts u;
    if (url_split(rd_str_cstr(url), &u) != RD_OK) {
        *why = "malformed";
        return false;
    }
    if (u.is_star || u.scheme != URL_SCHEME_RTSP) {
        *why = "scheme not rtsp";
        return false;
    }
    if (u.has_userinfo) {
        *why = "userinfo in url";
        return false;
    }
    if (u.host_kind == URL_HOST_NAME) {
        *why = "host is a name: only numeric addresses are supported";
        return false;
    }
    if (u.zone.len > 0 || rd_str_copy(host, NET_IP_STRLEN, u.host) != RD_OK) {
        *why = "address";
        return false;
    }
    *port = u.port;
    return true;
}

/* SECURITY.md §2.2: a control or base URL must stay on the camera's host and port. */
static bool
same_camera(const struct puller *p, const char *url)
{
    struct url_parts u;
    return url_split(rd_str_cstr(url), &u) == RD_OK && !u.is_star && u.scheme == URL_SCHEME_RTSP
           && !u.has_userinfo && rd_str_eq_ci_cstr(u.host, p->host) && u.port == p->port;
}

/* ---- Requests -------------------------------------------------------------------------- */

static void
send_request(struct puller *p, enum rtsp_method m, const char *uri, bool keepalive)
{
    if (uri != p->req_uri
        && rd_str_copy(p->req_uri, sizeof(p->req_uri), rd_str_cstr(uri)) != RD_OK) {
        pull_fail(p, "limit", RD_LOG_WARN);
        return;
    }
    struct rtsp_out o;
    rtsp_out_init(&o, p->out, PULL_OUT_CAP, p->out_len);
    uint32_t cseq = ++p->cseq;
    (void)rtsp_req_begin(&o, m, p->req_uri, cseq);
    if (p->env.user_agent != NULL)
        (void)rtsp_resp_header(&o, "User-Agent", p->env.user_agent);
    if (p->session[0] != '\0')
        (void)rtsp_resp_header(&o, "Session", p->session);
    if (m == RTSP_METHOD_DESCRIBE)
        (void)rtsp_resp_header(&o, "Accept", "application/sdp");
    else if (m == RTSP_METHOD_SETUP)
        (void)rtsp_resp_header(&o, "Transport", p->transport_req);
    else if (m == RTSP_METHOD_PLAY)
        (void)rtsp_resp_header(&o, "Range", "npt=0.000-");
    if (p->have_challenge) {
        char auth[DIGEST_AUTHORIZATION_MAX];
        struct digest_client_request rq = {
            .method = rd_str_cstr(rtsp_method_name(m)),
            .uri = rd_str_cstr(p->req_uri),
            .username = rd_str_cstr(p->src.user),
            .password = rd_str_cstr(p->src.password),
        };
        int n = digest_authorization_build(&p->ch, &rq, auth, sizeof(auth));
        if (n > 0)
            (void)rtsp_resp_header(&o, "Authorization", auth);
        rd_cleanse(auth, sizeof(auth));
        if (n <= 0) {
            RD_LOG(RD_LOG_WARN, &p->log, "cannot answer the camera's challenge rc=%d", n);
            fail_with(p, "auth", RD_LOG_WARN, FAIL_REFUSED);
            return;
        }
    }
    if (rtsp_req_end(&o, NULL, 0) != RD_OK) {
        pull_fail(p, "limit", RD_LOG_WARN);
        return;
    }
    p->out_len = o.len;
    p->pending = m;
    p->pending_cseq = cseq;
    p->pending_authed = p->have_challenge;
    p->pending_stale_retried = false;
    p->pending_keepalive = keepalive;
    evx_timer_rearm(p->env.loop, &p->step_timer, p->tm.step_timeout_s);
    (void)pull_conn_flush(p);
}

void
pull_on_connected(struct puller *p)
{
    ev_timer_stop(p->env.loop, &p->step_timer);
    p->phase = PULL_OPTIONS;
    send_request(p, RTSP_METHOD_OPTIONS, p->url, false);
}

static void
send_setup(struct puller *p)
{
    struct pull_track *t = &p->tracks[p->setup_idx];
    const struct sdp_media *m = &p->sdp->media[p->setup_idx];
    int n = sdp_resolve_control(rd_str_cstr(p->base), m->has_control ? m->control : RD_STR_NULL,
                                p->req_uri, sizeof(p->req_uri));
    if (n < 0 || !same_camera(p, p->req_uri)) {
        RD_LOG(RD_LOG_INFO, &p->log, "track control unusable or off the camera host track=%u",
               p->setup_idx);
        pull_fail(p, n == RD_ELIMIT ? "limit" : "protocol", RD_LOG_DEBUG);
        return;
    }
    struct rtsp_transport_choice c = {0};
    if (p->trans == CAMERA_TRANSPORT_UDP) {
        int rc = pull_udp_open(p, t);
        if (rc != RD_OK) {
            restart_over_tcp(p, "udp_ports");
            return;
        }
        c.lower = RTSP_TRANSPORT_UDP;
        c.client_rtp = t->udp_port;
        c.client_rtcp = (uint16_t)(t->udp_port + 1);
    } else {
        c.lower = RTSP_TRANSPORT_TCP;
        c.has_channels = true;
        c.channel_rtp = (uint8_t)(2 * p->setup_idx);
        c.channel_rtcp = (uint8_t)(2 * p->setup_idx + 1);
    }
    if (rtsp_transport_format(&c, p->transport_req, sizeof(p->transport_req)) < 0) {
        pull_fail(p, "limit", RD_LOG_WARN);
        return;
    }
    p->phase = PULL_SETUP;
    send_request(p, RTSP_METHOD_SETUP, p->req_uri, false);
}

/* ---- Responses ------------------------------------------------------------------------- */

static void
auth_failure(struct puller *p)
{
    p->auth_fails++;
    p->st.auth_failures++;
    fail_with(p, "auth", RD_LOG_WARN, FAIL_AUTH);
}

static void
on_401(struct puller *p, const struct rtsp_msg *msg, enum rtsp_method m, bool authed,
       bool keepalive)
{
    if (p->src.user[0] == '\0') {
        RD_LOG(RD_LOG_WARN, &p->log, "camera requires credentials and none are configured");
        auth_failure(p);
        return;
    }
    struct rd_str values[RD_AUTH_MAX_CHALLENGES];
    size_t n = rtsp_msg_header_count(msg, "WWW-Authenticate");
    if (n > RD_AUTH_MAX_CHALLENGES) {
        pull_fail(p, "limit", RD_LOG_WARN);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!rtsp_msg_header_nth(msg, "WWW-Authenticate", i, &values[i]))
            values[i] = RD_STR_NULL;
    }
    struct digest_challenge ch;
    int rc = digest_challenge_pick(values, n, true, &ch);
    if (rc == RD_ENOTFOUND) {
        RD_LOG(RD_LOG_WARN, &p->log, "camera offers no usable authentication scheme");
        fail_with(p, "auth_scheme", RD_LOG_INFO, FAIL_REFUSED);
        return;
    }
    if (rc != RD_OK) {
        RD_LOG(RD_LOG_INFO, &p->log, "bad WWW-Authenticate from camera rc=%d", rc);
        pull_fail(p, rc == RD_ELIMIT ? "limit" : "protocol", RD_LOG_DEBUG);
        return;
    }
    /* Our credentials were refused, unless the camera only says the nonce went stale (RFC
     * 7616 §3.3): then retry once with the new nonce. */
    bool stale_retry = authed && ch.stale && !p->pending_stale_retried;
    if (authed && !stale_retry) {
        rd_cleanse(&ch, sizeof(ch));
        auth_failure(p);
        return;
    }
    p->ch = ch;
    p->have_challenge = true;
    rd_cleanse(&ch, sizeof(ch));
    uint64_t gen = p->gen;
    send_request(p, m, p->req_uri, keepalive);
    if (p->gen == gen)
        p->pending_stale_retried = stale_retry;
}

static void
on_options(struct puller *p, const struct rtsp_msg *msg)
{
    struct rd_str v;
    p->public_get_parameter = false;
    if (msg->status >= 200 && msg->status < 300 && rtsp_msg_header(msg, "Public", &v)) {
        bool found = true;
        while (found) {
            struct rd_str head;
            v = rd_str_split(v, ',', &head, &found);
            if (rd_str_eq_cstr(rd_str_trim(head), "GET_PARAMETER"))
                p->public_get_parameter = true;
        }
    }
    /* Other statuses: some cameras refuse OPTIONS; DESCRIBE gives the real answer. */
    p->phase = PULL_DESCRIBE;
    send_request(p, RTSP_METHOD_DESCRIBE, p->url, false);
}

static void
on_redirect(struct puller *p, const struct rtsp_msg *msg)
{
    struct rd_str loc;
    if (!rtsp_msg_header(msg, "Location", &loc)) {
        pull_fail(p, "protocol", RD_LOG_INFO);
        return;
    }
    if (p->redirects >= RD_PULL_MAX_REDIRECTS) {
        RD_LOG(RD_LOG_INFO, &p->log, "too many redirects from camera redirects=%u", p->redirects);
        pull_fail(p, "redirect", RD_LOG_DEBUG);
        return;
    }
    char url[RD_RTSP_MAX_URI + 1];
    char host[NET_IP_STRLEN];
    uint16_t port;
    const char *why = NULL;
    if (rd_str_copy(url, sizeof(url), loc) != RD_OK)
        why = "too long";
    else if (!url_usable(url, host, &port, &why))
        ; /* why set */
    else if (strcmp(host, p->host) != 0)
        why = "another host"; /* SECURITY.md §2.2: no allow-list, so the camera's own host */
    if (why != NULL) {
        char sample[LOG_SAMPLE_BUF];
        RD_LOG(RD_LOG_INFO, &p->log, "camera redirect refused why=\"%s\" location=%s", why,
               log_sanitize(sample, sizeof(sample), loc.p, loc.len));
        pull_fail(p, "redirect", RD_LOG_DEBUG);
        return;
    }
    p->redirects++;
    pull_conn_close(p, false);
    memcpy(p->url, url, sizeof(url));
    p->port = port;
    RD_LOG(RD_LOG_DEBUG, &p->log, "following camera redirect n=%u", p->redirects);
    if (pull_conn_open(p) != RD_OK)
        pull_fail(p, "connect", RD_LOG_INFO);
}

/* Content-Base, else an absolute Content-Location, else the request URL (RFC 2326 C.1.1). */
static int
pick_base(struct puller *p, const struct rtsp_msg *msg)
{
    struct rd_str v;
    if (rtsp_msg_header(msg, "Content-Base", &v) && v.len > 0)
        return rd_str_copy(p->base, sizeof(p->base), v);
    if (rtsp_msg_header(msg, "Content-Location", &v) && rd_str_starts_with_ci(v, "rtsp://"))
        return rd_str_copy(p->base, sizeof(p->base), v);
    memcpy(p->base, p->url, sizeof(p->base));
    return RD_OK;
}

static void
on_describe(struct puller *p, const struct rtsp_msg *msg)
{
    if (msg->status == 301 || msg->status == 302) {
        on_redirect(p, msg);
        return;
    }
    if (msg->status < 200 || msg->status >= 300) {
        status_fail(p, msg->status);
        return;
    }
    struct rd_str ct;
    if (msg->body.len == 0
        || (rtsp_msg_header(msg, "Content-Type", &ct)
            && !rd_str_starts_with_ci(ct, "application/sdp"))) {
        RD_LOG(RD_LOG_INFO, &p->log, "camera DESCRIBE answer is not an SDP");
        pull_fail(p, "sdp", RD_LOG_DEBUG);
        return;
    }
    if (msg->body.len > RD_SDP_MAX_BYTES) { /* the response limits already refuse it */
        pull_fail(p, "limit", RD_LOG_WARN);
        return;
    }
    memcpy(p->sdp_raw, msg->body.p, msg->body.len);
    p->sdp_len = msg->body.len;
    int rc = sdp_parse(p->sdp_raw, p->sdp_len, p->sdp);
    if (rc != RD_OK || p->sdp->n_media == 0) {
        RD_LOG(RD_LOG_INFO, &p->log, "camera SDP refused rc=%d media=%u", rc,
               rc == RD_OK ? p->sdp->n_media : 0);
        pull_fail(p, rc == RD_ELIMIT ? "limit" : "sdp", RD_LOG_DEBUG);
        return;
    }
    if (pick_base(p, msg) != RD_OK) {
        pull_fail(p, "limit", RD_LOG_INFO);
        return;
    }
    const struct sdp_session *s = &p->sdp->session;
    int n = sdp_resolve_control(rd_str_cstr(p->base), s->has_control ? s->control : RD_STR_NULL,
                                p->play_uri, sizeof(p->play_uri));
    if (n < 0 || !same_camera(p, p->base) || !same_camera(p, p->play_uri)) {
        RD_LOG(RD_LOG_INFO, &p->log, "camera base or session control unusable or off its host");
        pull_fail(p, n == RD_ELIMIT ? "limit" : "protocol", RD_LOG_DEBUG);
        return;
    }
    struct stream *st = p->cb->on_sdp(p->arg, p->sdp_raw, p->sdp_len, p->sdp);
    if (st == NULL || stream_track_count(st) != p->sdp->n_media) {
        RD_LOG(RD_LOG_INFO, &p->log, "camera SDP refused by the owner");
        pull_fail(p, "sdp", RD_LOG_DEBUG);
        return;
    }
    p->stream = st;
    p->n_tracks = p->sdp->n_media;
    for (unsigned i = 0; i < p->n_tracks; i++) {
        struct pull_track *t = &p->tracks[i];
        memset(t, 0, sizeof(*t));
        t->p = p;
        t->idx = i;
        t->fds[0] = t->fds[1] = -1;
        struct sdp_codec c;
        if (sdp_media_codec(&p->sdp->media[i], &c) == RD_OK)
            t->clock_rate = c.clock_rate;
    }
    p->setup_idx = 0;
    send_setup(p);
}

/* Session: <id>[;timeout=<seconds>] (RFC 2326 §12.37). */
static int
parse_session(struct puller *p, struct rd_str v)
{
    if (v.len > RD_RTSP_MAX_SESSION_HEADER)
        return RD_ELIMIT;
    struct rd_str id;
    bool found;
    struct rd_str rest = rd_str_split(v, ';', &id, &found);
    id = rd_str_trim(id);
    if (id.len == 0)
        return RD_EPROTO;
    for (size_t i = 0; i < id.len; i++) {
        unsigned char c = (unsigned char)id.p[i];
        if (c < 0x21 || c > 0x7e)
            return RD_EPROTO;
    }
    if (p->session[0] != '\0') {
        if (!rd_str_eq_cstr(id, p->session))
            return RD_EPROTO; /* one aggregate session for all tracks */
    } else if (rd_str_copy(p->session, sizeof(p->session), id) != RD_OK) {
        return RD_ELIMIT;
    }
    while (found) {
        struct rd_str param;
        rest = rd_str_split(rest, ';', &param, &found);
        param = rd_str_trim(param);
        if (!rd_str_starts_with_ci(param, "timeout="))
            continue;
        uint32_t t;
        if (rd_str_to_u32(rd_str_make(param.p + 8, param.len - 8), 9, 999999999, &t) != RD_OK)
            return RD_EPROTO;
        if (t < RD_PULL_SESSION_TIMEOUT_MIN_S)
            t = RD_PULL_SESSION_TIMEOUT_MIN_S;
        if (t > RD_PULL_SESSION_TIMEOUT_MAX_S)
            t = RD_PULL_SESSION_TIMEOUT_MAX_S;
        p->session_timeout_s = t;
    }
    return RD_OK;
}

static int
take_transport(struct puller *p, struct pull_track *t, const struct rtsp_msg *msg)
{
    struct rd_str v;
    bool tcp = p->trans != CAMERA_TRANSPORT_UDP;
    uint8_t rtp = (uint8_t)(2 * t->idx), rtcp = (uint8_t)(2 * t->idx + 1);
    if (rtsp_msg_header(msg, "Transport", &v)) {
        struct rtsp_transport tr;
        int rc = rtsp_transport_parse(v.p, v.len, &tr);
        if (rc != RD_OK)
            return rc;
        const struct rtsp_transport_spec *s = &tr.specs[0];
        if (!s->supported || s->multicast
            || s->lower != (tcp ? RTSP_TRANSPORT_TCP : RTSP_TRANSPORT_UDP))
            return RD_EPROTO;
        if (tcp && s->interleaved.present
            && rtsp_transport_check_interleaved(&s->interleaved, &rtp, &rtcp) != RD_OK)
            return RD_EPROTO;
        if (!tcp && s->server_port.present && s->server_port.lo > 0) {
            unsigned port = s->server_port.has_hi ? s->server_port.hi : s->server_port.lo + 1u;
            if (port <= 65535) {
                t->rtcp_dest = p->peer;
                t->rtcp_dest_len = p->peer_len;
                if (p->peer.ss_family == AF_INET)
                    ((struct sockaddr_in *)(void *)&t->rtcp_dest)->sin_port = htons((uint16_t)port);
                else
                    ((struct sockaddr_in6 *)(void *)&t->rtcp_dest)->sin6_port =
                        htons((uint16_t)port);
                t->has_rtcp_dest = true;
            }
        }
    }
    if (tcp) {
        if (p->chan_map[rtp] != 0 || p->chan_map[rtcp] != 0)
            return RD_EPROTO;
        p->chan_map[rtp] = (uint8_t)(t->idx + 1);
        p->chan_map[rtcp] = (uint8_t)((t->idx + 1) | 0x80);
        t->ch_rtp = rtp;
        t->ch_rtcp = rtcp;
    }
    return RD_OK;
}

static void
on_setup(struct puller *p, const struct rtsp_msg *msg)
{
    if (msg->status == 461 && p->trans == CAMERA_TRANSPORT_UDP) {
        restart_over_tcp(p, "udp_refused");
        return;
    }
    if (msg->status < 200 || msg->status >= 300) {
        status_fail(p, msg->status);
        return;
    }
    struct rd_str v;
    int rc = RD_OK;
    if (rtsp_msg_header(msg, "Session", &v))
        rc = parse_session(p, v);
    else if (p->session[0] == '\0')
        rc = RD_EPROTO;
    if (rc == RD_OK)
        rc = take_transport(p, &p->tracks[p->setup_idx], msg);
    if (rc != RD_OK) {
        RD_LOG(RD_LOG_INFO, &p->log, "bad SETUP answer from camera track=%u rc=%d", p->setup_idx,
               rc);
        pull_fail(p, rc == RD_ELIMIT ? "limit" : "protocol", RD_LOG_DEBUG);
        return;
    }
    if (++p->setup_idx < p->n_tracks) {
        send_setup(p);
        return;
    }
    pull_udp_start(p);
    p->phase = PULL_PLAY;
    send_request(p, RTSP_METHOD_PLAY, p->play_uri, false);
}

static void
on_play(struct puller *p, const struct rtsp_msg *msg)
{
    if (msg->status < 200 || msg->status >= 300) {
        status_fail(p, msg->status);
        return;
    }
    struct ev_loop *loop = p->env.loop;
    double now = ev_now(loop);
    p->phase = PULL_PLAYING;
    p->play_at = now;
    p->st.playing_since = now;
    p->udp_got = false;
    double ka = p->session_timeout_s / 2;
    ev_timer_set(&p->keepalive_timer, ka, ka);
    ev_timer_start(loop, &p->keepalive_timer);
    evx_timer_rearm(loop, &p->media_timer, p->tm.no_media_s);
    ev_timer_set(&p->rr_timer, p->tm.rr_interval_s, p->tm.rr_interval_s);
    ev_timer_start(loop, &p->rr_timer);
    if (p->trans == CAMERA_TRANSPORT_UDP)
        evx_timer_rearm(loop, &p->udp_timer, p->tm.udp_fallback_s);
    RD_LOG(RD_LOG_INFO, &p->log, "camera playing tracks=%u transport=%s attempt=%llu", p->n_tracks,
           p->trans == CAMERA_TRANSPORT_UDP ? "udp" : "tcp", (unsigned long long)p->st.attempts);
    set_state(p, PULLER_PLAYING, NULL);
}

static void
on_keepalive(struct puller *p, const struct rtsp_msg *msg, enum rtsp_method m)
{
    if (msg->status == 454) {
        RD_LOG(RD_LOG_INFO, &p->log, "camera forgot the session");
        pull_fail(p, "session", RD_LOG_DEBUG);
        return;
    }
    if ((msg->status == 405 || msg->status == 501) && m == RTSP_METHOD_GET_PARAMETER)
        p->public_get_parameter = false; /* use OPTIONS from now on */
    else if (msg->status >= 300)
        RD_LOG(RD_LOG_DEBUG, &p->log, "keepalive answered status=%d", msg->status);
}

void
pull_on_response(struct puller *p, const struct rtsp_msg *msg)
{
    if (p->pending == RTSP_METHOD_UNKNOWN || !msg->has_cseq || msg->cseq != p->pending_cseq) {
        RD_LOG(RD_LOG_INFO, &p->log, "unexpected response from camera status=%d cseq_ok=%d",
               msg->status, p->pending != RTSP_METHOD_UNKNOWN && msg->has_cseq);
        pull_fail(p, "protocol", RD_LOG_DEBUG);
        return;
    }
    enum rtsp_method m = p->pending;
    bool keepalive = p->pending_keepalive;
    bool authed = p->pending_authed;
    p->pending = RTSP_METHOD_UNKNOWN;
    ev_timer_stop(p->env.loop, &p->step_timer);
    if (msg->status == 401) {
        on_401(p, msg, m, authed, keepalive);
        return;
    }
    if (authed && msg->status >= 200 && msg->status < 300)
        p->auth_fails = 0;
    if (keepalive) {
        on_keepalive(p, msg, m);
        return;
    }
    switch (p->phase) {
    case PULL_OPTIONS:
        on_options(p, msg);
        break;
    case PULL_DESCRIBE:
        on_describe(p, msg);
        break;
    case PULL_SETUP:
        on_setup(p, msg);
        break;
    case PULL_PLAY:
        on_play(p, msg);
        break;
    default:
        pull_fail(p, "protocol", RD_LOG_INFO);
        break;
    }
}

/* ---- Timers ---------------------------------------------------------------------------- */

static void
start_attempt(struct puller *p)
{
    p->st.attempts++;
    if (p->st.attempts > 1)
        p->st.reconnects++;
    set_state(p, PULLER_STARTING, NULL);
    if (!p->src_usable) {
        fail_with(p, "url", RD_LOG_WARN, FAIL_REFUSED);
        return;
    }
    memcpy(p->url, p->src.url,
           sizeof(p->url) < sizeof(p->src.url) ? sizeof(p->url) : sizeof(p->src.url));
    const char *why;
    (void)url_usable(p->url, p->host, &p->port, &why);
    p->redirects = 0;
    p->cseq = 0;
    p->session_timeout_s = RD_RTSP_SESSION_TIMEOUT_S;
    p->public_get_parameter = false;
    p->trans = (p->force_tcp || p->env.ports == NULL) ? CAMERA_TRANSPORT_TCP : p->src.transport;
    p->st.transport = (int)p->trans;
    if (pull_conn_open(p) != RD_OK)
        pull_fail(p, "connect", RD_LOG_INFO);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    start_attempt(RD_CONTAINER_OF(w, struct puller, retry_timer));
}

static void
step_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct puller *p = RD_CONTAINER_OF(w, struct puller, step_timer);
    pull_fail(p, p->phase == PULL_CONNECTING ? "connect" : "timeout", RD_LOG_INFO);
}

static void
keepalive_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct puller *p = RD_CONTAINER_OF(w, struct puller, keepalive_timer);
    if (p->phase != PULL_PLAYING || p->pending != RTSP_METHOD_UNKNOWN)
        return; /* an unanswered keepalive is caught by its step deadline */
    p->st.keepalives++;
    send_request(p, p->public_get_parameter ? RTSP_METHOD_GET_PARAMETER : RTSP_METHOD_OPTIONS,
                 p->play_uri, true);
}

static void
media_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct puller *p = RD_CONTAINER_OF(w, struct puller, media_timer);
    double last = p->st.last_media_at > p->play_at ? p->st.last_media_at : p->play_at;
    double left = last + p->tm.no_media_s - ev_now(loop);
    if (left > 0.001) {
        evx_timer_rearm(loop, w, left);
        return;
    }
    pull_fail(p, "no_media", RD_LOG_INFO);
}

static void
udp_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct puller *p = RD_CONTAINER_OF(w, struct puller, udp_timer);
    if (!p->udp_got)
        restart_over_tcp(p, "no_udp");
}

static void
rr_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    pull_rr_send(RD_CONTAINER_OF(w, struct puller, rr_timer));
}

/* ---- Public API ------------------------------------------------------------------------ */

static void
take_source(struct puller *p, const struct camera_source *src)
{
    if (&p->src != src)
        memcpy(&p->src, src, sizeof(p->src));
    char host[NET_IP_STRLEN];
    uint16_t port;
    const char *why = NULL;
    p->src_usable = url_usable(p->src.url, host, &port, &why);
    if (!p->src_usable)
        RD_LOG(RD_LOG_WARN, &p->log, "camera source url unusable why=\"%s\"", why);
}

int
puller_new(const struct puller_env *env, const struct camera_source *src,
           const struct puller_cb *cb, void *arg, struct puller **out)
{
    struct puller_timings tm;
    if (env->timings != NULL)
        tm = *env->timings;
    else
        puller_timings_default(&tm);
    if (!timings_valid(&tm) || cb == NULL || cb->on_sdp == NULL)
        return RD_EPROTO;
    struct puller *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return RD_ENOMEM;
    p->out = malloc(PULL_OUT_CAP);
    p->sdp_raw = malloc(RD_SDP_MAX_BYTES);
    p->sdp = malloc(sizeof(*p->sdp));
    if (p->out == NULL || p->sdp_raw == NULL || p->sdp == NULL) {
        free(p->out);
        free(p->sdp_raw);
        free(p->sdp);
        free(p);
        return RD_ENOMEM;
    }
    p->env = *env;
    p->env.timings = NULL;
    p->tm = tm;
    p->cb = cb;
    p->arg = arg;
    p->fd = -1;
    /* Same key as the camera table's lines (camera ids are [A-Za-z0-9_-]: no quoting). */
    char sample[LOG_SAMPLE_BUF];
    (void)log_ctx_set(
        &p->log, "camera=%s",
        log_sanitize(sample, sizeof(sample), src->id, strnlen(src->id, sizeof(src->id))));
    take_source(p, src);
    if (!p->src_usable) {
        rd_cleanse(&p->src, sizeof(p->src));
        free(p->out);
        free(p->sdp_raw);
        free(p->sdp);
        free(p);
        return RD_EPROTO;
    }
    for (unsigned i = 0; i < RD_SDP_MAX_MEDIA; i++)
        p->tracks[i].fds[0] = p->tracks[i].fds[1] = -1;
    if (rd_random_bytes(&p->rr_ssrc, sizeof(p->rr_ssrc)) != RD_OK)
        p->rr_ssrc = 0x52454c59u;
    p->backoff_s = tm.backoff_min_s;
    p->state = PULLER_STARTING;
    p->st.last_error = NULL;
    ev_timer_init(&p->retry_timer, retry_cb, 0., 0.);
    ev_timer_init(&p->step_timer, step_cb, 0., 0.);
    ev_timer_init(&p->keepalive_timer, keepalive_cb, 0., 0.);
    ev_timer_init(&p->media_timer, media_cb, 0., 0.);
    ev_timer_init(&p->udp_timer, udp_cb, 0., 0.);
    ev_timer_init(&p->rr_timer, rr_cb, 0., 0.);
    ev_timer_start(p->env.loop, &p->retry_timer); /* the first attempt, next iteration */
    *out = p;
    return RD_OK;
}

void
puller_free(struct puller *p)
{
    if (p == NULL)
        return;
    pull_conn_close(p, true);
    ev_timer_stop(p->env.loop, &p->retry_timer);
    rd_cleanse(&p->src, sizeof(p->src));
    free(p->out);
    free(p->sdp_raw);
    free(p->sdp);
    free(p);
}

void
puller_update_source(struct puller *p, const struct camera_source *src)
{
    bool same = strcmp(p->src.url, src->url) == 0 && strcmp(p->src.user, src->user) == 0
                && strcmp(p->src.password, src->password) == 0
                && p->src.transport == src->transport;
    if (same) {
        p->src.always_on = src->always_on;
        p->src.enabled = src->enabled;
        p->src.registry_version = src->registry_version;
        return;
    }
    RD_LOG(RD_LOG_INFO, &p->log, "camera source changed: reconnecting");
    pull_conn_close(p, true);
    rd_cleanse(&p->src, sizeof(p->src));
    take_source(p, src);
    p->force_tcp = false;
    p->auth_fails = 0;
    p->auth_paused = false;
    p->backoff_s = p->tm.backoff_min_s;
    evx_timer_rearm(p->env.loop, &p->retry_timer, 0.);
    p->retry_at = ev_now(p->env.loop);
}

void
puller_kick(struct puller *p)
{
    if (p->phase != PULL_IDLE || p->auth_paused)
        return; /* in progress, or protecting the camera account (never skipped) */
    if (p->state == PULLER_RETRYING || p->state == PULLER_FAILED)
        evx_timer_rearm(p->env.loop, &p->retry_timer, 0.);
    p->retry_at = ev_now(p->env.loop);
}

void
puller_stats(const struct puller *p, struct puller_stats *out)
{
    *out = p->st;
    out->state = p->state;
    out->auth_paused = p->auth_paused;
    bool waiting =
        p->phase == PULL_IDLE && (p->state == PULLER_RETRYING || p->state == PULLER_FAILED);
    out->retry_at = waiting ? p->retry_at : 0;
}
