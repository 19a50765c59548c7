/* SPDX-License-Identifier: MIT */
/* rtsp-camsim process: listener and connections, the shared UDP pair, the media clock (one
 * timer tick sends what is due for every playing session), fault switches and stats. */
#define _GNU_SOURCE /* MSG_NOSIGNAL, mkfifo flags */
#include "camsim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "camsim_int.h"
#include "evx.h"
#include "log.h"
#include "rd_err.h"
#include "rtsp_build.h"
#include "rtsp_frame.h"
#include "url.h"

#define CAMSIM_ACCEPT_BATCH RD_ACCEPT_BATCH
#define CAMSIM_UDP_SNDBUF   (4 * 1024 * 1024)
#define CAMSIM_CATCHUP_S    1.0 /* behind by more than this: skip time instead of flooding */

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);

/* ---- paths --------------------------------------------------------------------------------- */

static uint32_t
name_hash(const char *p, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

struct cpath *
camsim_path_find(struct camsim *s, const char *name, size_t len)
{
    for (size_t i = name_hash(name, len) & s->hash_mask;; i = (i + 1) & s->hash_mask) {
        uint32_t v = s->path_hash[i];
        if (v == 0)
            return NULL;
        struct cpath *p = &s->paths[v - 1];
        if (p->name_len == len && memcmp(p->name, name, len) == 0)
            return p;
    }
}

static int
paths_init(struct camsim *s, struct rd_errbuf *err)
{
    if (s->conf.n_paths == 0 || s->conf.n_paths > RD_CAMSIM_MAX_PATHS) {
        rd_errbuf_set(err, "between 1 and %d camera paths needed", RD_CAMSIM_MAX_PATHS);
        return RD_ELIMIT;
    }
    size_t hn = 16;
    while (hn < 2 * s->conf.n_paths)
        hn *= 2;
    s->paths = calloc(s->conf.n_paths, sizeof(*s->paths));
    s->path_hash = calloc(hn, sizeof(*s->path_hash));
    if (!s->paths || !s->path_hash) {
        rd_errbuf_set(err, "out of memory");
        return RD_ENOMEM;
    }
    s->hash_mask = hn - 1;
    for (size_t i = 0; i < s->conf.n_paths; i++) {
        const char *n = s->conf.paths[i];
        if (n[0] == '/')
            n++;
        struct rd_str v = rd_str_cstr(n);
        if (!url_id_valid(v, RD_CAMSIM_PATH_MAX)) {
            rd_errbuf_set(err, "bad path name '%s' (want [A-Za-z0-9_-]{1,%d})", s->conf.paths[i],
                          RD_CAMSIM_PATH_MAX);
            return RD_EPROTO;
        }
        if (camsim_path_find(s, v.p, v.len)) {
            rd_errbuf_set(err, "path '%s' given twice", n);
            return RD_EPROTO;
        }
        struct cpath *p = &s->paths[s->n_paths++];
        memcpy(p->name, v.p, v.len);
        p->name_len = v.len;
        size_t j = name_hash(v.p, v.len) & s->hash_mask;
        while (s->path_hash[j] != 0)
            j = (j + 1) & s->hash_mask;
        s->path_hash[j] = (uint32_t)s->n_paths;
    }
    return RD_OK;
}

uint32_t
camsim_random32(struct camsim *s)
{
    uint32_t v = 0;
    if (rd_rand_pool_take(&s->rand, &v, sizeof(v)) != RD_OK)
        v = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&v; /* a simulator: never fatal */
    return v;
}

/* ---- sessions ------------------------------------------------------------------------------ */

static void
playing_unlink(struct csession *x)
{
    struct camsim *s = x->c->s;
    if (!x->playing)
        return;
    if (x->prev)
        x->prev->next = x->next;
    else
        s->playing = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    x->playing = false;
    x->path->st.playing--;
}

struct csession *
camsim_session_new(struct cconn *c, struct cpath *p)
{
    struct camsim *s = c->s;
    int slot = -1;
    for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
        if (!c->sess[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0)
        return NULL;
    struct csession *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    uint8_t raw[RD_RTSP_SESSION_ID_BYTES];
    if (rd_rand_pool_take(&s->rand, raw, sizeof(raw)) != RD_OK) {
        free(x);
        return NULL;
    }
    rd_hex_encode(raw, sizeof(raw), x->id);
    x->c = c;
    x->path = p;
    x->ssrc = camsim_random32(s);
    x->seq = (uint16_t)camsim_random32(s);
    x->ts_base = camsim_random32(s);
    x->last_req_at = ev_now(s->loop);
    c->sess[slot] = x;
    p->st.sessions++;
    p->st.active++;
    return x;
}

void
camsim_session_free(struct csession *x)
{
    struct cconn *c = x->c;
    playing_unlink(x);
    for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
        if (c->sess[i] == x)
            c->sess[i] = NULL;
    }
    x->path->st.active--;
    free(x);
}

void
camsim_session_play(struct csession *x)
{
    struct camsim *s = x->c->s;
    if (x->playing)
        return;
    /* Frame x->frame is due now: the clock continues where PAUSE left it. */
    x->t0 = ev_now(s->loop) - (double)x->cur.frame / s->media.fps;
    x->playing = true;
    x->prev = NULL;
    x->next = s->playing;
    if (s->playing)
        s->playing->prev = x;
    s->playing = x;
    x->path->st.playing++;
    if (!ev_is_active(&s->tick))
        ev_timer_again(s->loop, &s->tick); /* the clock runs only while something plays */
}

void
camsim_session_pause(struct csession *x)
{
    playing_unlink(x);
}

/* Restart fault: as if the camera's encoder restarted (new SSRC, sequence and timestamp base,
 * from the first IDR of the file) while connections stay. */
static void
session_restart(struct csession *x)
{
    struct camsim *s = x->c->s;
    x->ssrc = camsim_random32(s);
    x->seq = (uint16_t)camsim_random32(s);
    x->ts_base = camsim_random32(s);
    memset(&x->cur, 0, sizeof(x->cur));
    x->wait_idr = false;
    x->t0 = ev_now(s->loop);
}

/* ---- connections --------------------------------------------------------------------------- */

static void
conn_kill(struct cconn *c)
{
    struct camsim *s = c->s;
    if (c->closing)
        return;
    c->closing = true;
    ev_io_stop(s->loop, &c->io);
    for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
        if (c->sess[i])
            camsim_session_free(c->sess[i]);
    }
    if (c->path)
        c->path->st.open--;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = s->closing;
    s->closing = c;
    s->n_conns--;
}

/* Frees connections closed during this callback (never while a caller may touch them). */
static void
conns_reap(struct camsim *s)
{
    while (s->closing) {
        struct cconn *c = s->closing;
        s->closing = c->next;
        close(c->fd);
        rd_buf_free(&c->out);
        free(c->in);
        free(c);
    }
}

/* Sends queued output. Returns false when the connection was closed. */
static bool
conn_flush(struct cconn *c)
{
    while (rd_buf_len(&c->out) > 0) {
        ssize_t n = send(c->fd, rd_buf_head(&c->out), rd_buf_len(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            rd_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            evx_io_set_events(c->s->loop, &c->io, EV_READ | EV_WRITE);
            return true;
        }
        conn_kill(c);
        return false;
    }
    if (c->close_after_flush) {
        conn_kill(c);
        return false;
    }
    evx_io_set_events(c->s->loop, &c->io, EV_READ);
    return true;
}

/* Answers a framing error and closes (SECURITY.md §2.2: the stream cannot be trusted). */
static void
conn_error(struct cconn *c, const struct rtsp_msg *m)
{
    struct rtsp_out o;
    cconn_out_begin(c, &o);
    int status = m->status_hint ? m->status_hint : 400;
    if (rtsp_resp_begin(&o, status, rtsp_resp_cseq_of(m)) == RD_OK
        && rtsp_resp_end(&o, NULL, 0) == RD_OK)
        cconn_out_commit(c, &o);
    c->close_after_flush = true;
}

static void
conn_read(struct cconn *c)
{
    struct camsim *s = c->s;
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, CAMSIM_IN_BYTES - c->in_len, 0);
        if (n == 0) {
            conn_kill(c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_kill(c);
            break;
        }
        c->in_len += (size_t)n;
        size_t pos = 0;
        while (!c->closing && !c->close_after_flush && pos < c->in_len) {
            struct rtsp_frame item;
            struct rtsp_msg m;
            ssize_t used =
                rtsp_frame_next(c->in + pos, c->in_len - pos, RTSP_MSG_REQUEST, NULL, &item, &m);
            if (used == RD_AGAIN)
                break;
            if (used < 0) {
                conn_error(c, &m);
                break;
            }
            if (item.kind == RTSP_FRAME_MSG) {
                c->last_req_at = ev_now(s->loop);
                creq_handle(c, &m);
            } else if (item.kind == RTSP_FRAME_DATA) {
                /* RTCP from the client on an odd channel: a keepalive of that session. */
                for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
                    if (c->sess[i] && c->sess[i]->tcp && c->sess[i]->ch_rtcp == item.channel)
                        c->sess[i]->last_req_at = ev_now(s->loop);
                }
            }
            pos += (size_t)used;
        }
        if (c->closing)
            return;
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
        if (c->in_len == CAMSIM_IN_BYTES && !c->close_after_flush) {
            struct rtsp_msg m = {.status_hint = 400};
            conn_error(c, &m);
        }
        if (c->close_after_flush)
            break;
    }
    if (!c->closing)
        (void)conn_flush(c);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct cconn *c = RD_CONTAINER_OF(w, struct cconn, io);
    struct camsim *s = c->s;
    if (revents & EV_WRITE)
        (void)conn_flush(c);
    if (!c->closing && (revents & EV_READ) && !c->close_after_flush)
        conn_read(c);
    conns_reap(s);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct camsim *s = RD_CONTAINER_OF(w, struct camsim, accept_io);
    for (int i = 0; i < CAMSIM_ACCEPT_BATCH; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = net_accept(s->lfd, &peer, &plen);
        if (fd < 0)
            break;
        if (s->n_conns >= RD_CAMSIM_MAX_CONNS) {
            s->conns_refused++;
            close(fd);
            continue;
        }
        struct cconn *c = calloc(1, sizeof(*c));
        if (!c || !(c->in = malloc(CAMSIM_IN_BYTES))
            || rd_buf_alloc(&c->out, RD_CAMSIM_TCP_OUT_BYTES) != RD_OK) {
            if (c)
                free(c->in);
            free(c);
            close(fd);
            s->conns_refused++;
            continue;
        }
        (void)net_set_nodelay(fd);
        c->fd = fd;
        c->s = s;
        c->peer = peer;
        c->peer_len = plen;
        if (net_format_ip((struct sockaddr *)&peer, plen, c->peer_ip, sizeof(c->peer_ip)) != RD_OK)
            c->peer_ip[0] = '\0';
        c->last_req_at = ev_now(loop);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
}

/* ---- media clock --------------------------------------------------------------------------- */

static void
udp_flush(struct camsim *s)
{
    unsigned done = 0;
    while (done < s->n_batch) {
        int n = net_udp_sendmmsg(s->udp_fd[0], s->batch + done, s->n_batch - done);
        if (n <= 0) {
            /* The head datagram failed (socket full, peer gone): drop it and go on. */
            s->slots[done].path->st.dropped++;
            done++;
            continue;
        }
        for (unsigned i = done; i < done + (unsigned)n; i++) {
            struct cpath *p = s->slots[i].path;
            p->st.packets++;
            p->st.bytes += s->batch[i].sent;
        }
        done += (unsigned)n;
    }
    s->n_batch = 0;
}

/* Queues one packet of session x. Returns false when it could not be queued (TCP full). */
static bool
emit(struct camsim *s, struct csession *x, const struct h264pack_pkt *pk)
{
    size_t len = pk->hdr_len + pk->payload_len;
    if (x->tcp) {
        struct rd_buf *b = &x->c->out;
        if (rd_buf_space(b) < RTSP_FRAME_HEADER_LEN + len)
            return false;
        uint8_t fh[RTSP_FRAME_HEADER_LEN] = {RTSP_FRAME_MAGIC, x->ch_rtp, (uint8_t)(len >> 8),
                                             (uint8_t)len};
        (void)rd_buf_append(b, fh, sizeof(fh));
        (void)rd_buf_append(b, pk->hdr, pk->hdr_len);
        (void)rd_buf_append(b, pk->payload, pk->payload_len);
        x->path->st.packets++;
        x->path->st.bytes += len;
        return true;
    }
    if (s->n_batch == RD_CAMSIM_UDP_BATCH)
        udp_flush(s);
    unsigned i = s->n_batch++;
    struct udp_slot *u = &s->slots[i];
    memcpy(u->hdr, pk->hdr, pk->hdr_len);
    u->iov[0].iov_base = u->hdr;
    u->iov[0].iov_len = pk->hdr_len;
    u->iov[1].iov_base = (void *)(uintptr_t)pk->payload;
    u->iov[1].iov_len = pk->payload_len;
    memcpy(&u->dst, &x->udp_dst, x->udp_dst_len);
    u->path = x->path;
    s->batch[i] = (struct net_dgram){.dest = (const struct sockaddr *)&u->dst,
                                     .dest_len = x->udp_dst_len,
                                     .iov = u->iov,
                                     .iov_len = 2};
    return true;
}

/* Sends what is due for session x at now: every packet of the frames whose time has come,
 * the current frame's spread over pace_s. */
static void
session_tick(struct camsim *s, struct csession *x, ev_tstamp now)
{
    const struct media *m = &s->media;
    bool stopped = s->media_stopped || x->path->media_stopped;
    for (;;) {
        ev_tstamp due = x->t0 + (double)x->cur.frame / m->fps;
        if (now < due)
            return;
        if (now - due > CAMSIM_CATCHUP_S) {
            /* The loop stalled (or was stopped by a debugger): skip time, never flood. */
            x->t0 += now - due;
            due = now;
        }
        const struct media_au *au = &m->aus[x->cur.au];
        if (x->cur.pkt == 0 && (stopped || (x->wait_idr && !au->idr))) {
            /* A stalled camera sends nothing (the sequence does not advance) and resumes at
             * an IDR picture, with timestamps from the wall clock. */
            x->wait_idr = x->wait_idr || stopped;
            media_cursor_next_au(m, &x->cur);
            continue;
        }
        x->wait_idr = false;
        uint32_t allowed = au->n_pkts;
        if (s->pace_s > 0 && now - due < s->pace_s) {
            allowed = (uint32_t)((now - due) / s->pace_s * au->n_pkts) + 1;
            if (allowed > au->n_pkts)
                allowed = au->n_pkts;
        }
        while (x->cur.pkt < allowed) {
            struct h264pack_pkt pk;
            struct media_cursor after;
            if (media_packet(m, &x->cur, CAMSIM_PT, x->seq, x->ssrc, x->ts_base, &pk, &after)
                != RD_OK)
                return; /* cannot happen: media_index checked the mtu */
            if (!emit(s, x, &pk)) {
                /* TCP queue full: the rest of this frame is lost (the sequence shows it) and
                 * the session resumes at the next IDR picture. */
                uint32_t lost = au->n_pkts - x->cur.pkt;
                x->path->st.dropped += lost;
                x->seq = (uint16_t)(x->seq + lost);
                x->wait_idr = true;
                break;
            }
            x->seq++;
            x->cur = after;
        }
        if (!x->wait_idr && x->cur.pkt < au->n_pkts)
            return; /* the rest of this frame is paced */
        media_cursor_next_au(m, &x->cur);
    }
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct camsim *s = RD_CONTAINER_OF(w, struct camsim, tick);
    ev_tstamp now = ev_time();
    for (struct csession *x = s->playing; x; x = x->next) {
        if (x->c->closing)
            continue;
        struct cconn *c = x->c;
        size_t before = rd_buf_len(&c->out);
        session_tick(s, x, now);
        if (x->tcp && rd_buf_len(&c->out) > before && !c->dirty) {
            c->dirty = true;
            c->dirty_next = s->dirty;
            s->dirty = c;
        }
    }
    if (s->n_batch)
        udp_flush(s);
    /* One send per connection per tick; a connection waiting for EV_WRITE is flushed by its
     * watcher. Sessions are not touched any more, so a failing send may close here. */
    while (s->dirty) {
        struct cconn *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = false;
        if (!c->closing && !(c->io.events & EV_WRITE))
            (void)conn_flush(c);
    }
    conns_reap(s);
    if (!s->playing)
        ev_timer_stop(loop, &s->tick);
}

/* ---- faults -------------------------------------------------------------------------------- */

static void
close_all(struct camsim *s, struct cpath *only)
{
    for (struct cconn *c = s->conns, *next; c; c = next) {
        next = c->next;
        bool match = !only || c->path == only;
        for (int i = 0; !match && i < RD_MAX_SESSIONS_PER_CONN; i++)
            match = c->sess[i] && c->sess[i]->path == only;
        if (match)
            conn_kill(c);
    }
}

static void
restart_all(struct camsim *s, struct cpath *only)
{
    for (struct csession *x = s->playing; x; x = x->next) {
        if (!only || x->path == only)
            session_restart(x);
    }
}

static void write_stats(struct camsim *s);

int
camsim_command(struct camsim *s, const char *line, size_t len)
{
    struct rd_str rest = rd_str_trim(rd_str_make(line, len)), cmd, arg;
    bool found;
    rest = rd_str_split(rest, ' ', &cmd, &found);
    arg = rd_str_trim(rest);
    cmd = rd_str_trim(cmd);
    if (rd_str_eq_cstr(cmd, "refuse")) {
        if (rd_str_eq_cstr(arg, "on") || arg.len == 0)
            s->refuse = true;
        else if (rd_str_eq_cstr(arg, "off"))
            s->refuse = false;
        else
            return RD_EPROTO;
        RD_LOG(RD_LOG_NOTICE, NULL, "fault refuse=%s", s->refuse ? "on" : "off");
        return RD_OK;
    }
    if (rd_str_eq_cstr(cmd, "stats")) {
        write_stats(s);
        return RD_OK;
    }
    struct cpath *p = NULL;
    if (arg.len > 0) {
        if (arg.p[0] == '/') {
            arg.p++;
            arg.len--;
        }
        if (!(p = camsim_path_find(s, arg.p, arg.len)))
            return RD_ENOTFOUND;
    }
    if (rd_str_eq_cstr(cmd, "stop-media") || rd_str_eq_cstr(cmd, "start-media")) {
        bool stop = rd_str_eq_cstr(cmd, "stop-media");
        if (p)
            p->media_stopped = stop;
        else {
            s->media_stopped = stop;
            for (size_t i = 0; i < s->n_paths; i++)
                s->paths[i].media_stopped = false;
        }
    } else if (rd_str_eq_cstr(cmd, "close-all")) {
        close_all(s, p);
        conns_reap(s);
    } else if (rd_str_eq_cstr(cmd, "restart")) {
        restart_all(s, p);
    } else {
        return RD_EPROTO;
    }
    RD_LOG(RD_LOG_NOTICE, NULL, "fault cmd=%.*s path=%s", (int)cmd.len, cmd.p, p ? p->name : "*");
    return RD_OK;
}

static void
control_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct camsim *s = RD_CONTAINER_OF(w, struct camsim, control_io);
    char buf[1024];
    ssize_t n;
    while ((n = read(s->control_fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (s->control_len < sizeof(s->control_line))
                    s->control_line[s->control_len++] = buf[i];
                else
                    s->control_overflow = true;
                continue;
            }
            if (s->control_overflow)
                RD_LOG(RD_LOG_WARN, NULL, "control line too long, ignored");
            else if (s->control_len > 0) {
                int rc = camsim_command(s, s->control_line, s->control_len);
                if (rc != RD_OK)
                    RD_LOG(RD_LOG_WARN, NULL, "control command refused rc=%s", rd_strstatus(rc));
            }
            s->control_len = 0;
            s->control_overflow = false;
        }
    }
}

/* ---- stats --------------------------------------------------------------------------------- */

static void
stats_json(FILE *f, const struct cstats *st)
{
    const char *sep = "";
#define CSTATS_PRINT(field, name)                                                                  \
    fprintf(f, "%s\"" name "\": %llu", sep, (unsigned long long)st->field);                        \
    sep = ", ";
    CSTATS_FIELDS(CSTATS_PRINT)
#undef CSTATS_PRINT
}

static void
write_stats(struct camsim *s)
{
    if (!s->conf.stats_file)
        return;
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", s->conf.stats_file);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, NULL, 10, "cannot write stats file errno=%d", errno);
        return;
    }
    struct cstats tot = {0};
    for (size_t i = 0; i < s->n_paths; i++) {
        const struct cstats *p = &s->paths[i].st;
#define CSTATS_ADD(field, name) tot.field += p->field;
        CSTATS_FIELDS(CSTATS_ADD)
#undef CSTATS_ADD
    }
    struct rusage ru = {0};
    double cpu_user = 0, cpu_sys = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        cpu_user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        cpu_sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    fprintf(f,
            "{\"uptime_s\": %.3f, \"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, \"maxrss_kib\": %ld, "
            "\"port\": %u, \"udp_port\": %u, \"refuse\": %s, \"media_stopped\": %s, "
            "\"conns_now\": %zu, \"conns_refused\": %llu, "
            "\"media\": {\"aus\": %zu, \"fps\": %u, \"kbps\": %u, \"packets_per_loop\": %llu}, ",
            ev_time() - s->started_at, cpu_user, cpu_sys, ru.ru_maxrss, s->port, s->udp_port,
            s->refuse ? "true" : "false", s->media_stopped ? "true" : "false", s->n_conns,
            (unsigned long long)s->conns_refused, s->media.n_aus, s->media.fps,
            media_kbps(&s->media), (unsigned long long)s->media.total_pkts);
    stats_json(f, &tot);
    fputs(", \"paths\": {", f);
    for (size_t i = 0; i < s->n_paths; i++) {
        fprintf(f, "%s\n  \"%s\": {", i ? "," : "", s->paths[i].name);
        stats_json(f, &s->paths[i].st);
        fputs("}", f);
    }
    fputs("}}\n", f);
    if (fclose(f) != 0 || rename(tmp, s->conf.stats_file) != 0)
        RD_LOG_RATELIMITED(RD_LOG_WARN, NULL, 10, "cannot write stats file errno=%d", errno);
    s->stats_written_at = ev_now(s->loop);
}

/* Session and connection timeouts; the periodic stats file. */
static void
housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct camsim *s = RD_CONTAINER_OF(w, struct camsim, housekeeping);
    ev_tstamp now = ev_now(loop);
    for (struct cconn *c = s->conns, *next; c; c = next) {
        next = c->next;
        bool any = false;
        for (int i = 0; i < RD_MAX_SESSIONS_PER_CONN; i++) {
            struct csession *x = c->sess[i];
            if (!x)
                continue;
            ev_tstamp last = x->last_req_at > c->last_req_at ? x->last_req_at : c->last_req_at;
            if (now - last > s->conf.session_timeout_s) {
                x->path->st.timeouts++;
                camsim_session_free(x);
            } else {
                any = true;
            }
        }
        if (!any && now - c->last_req_at > RD_CAMSIM_IDLE_S)
            conn_kill(c);
    }
    conns_reap(s);
    if (s->conf.stats_file && now - s->stats_written_at >= s->conf.stats_interval_s)
        write_stats(s);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct camsim *s = w->data;
    if (w->signum == SIGUSR1) {
        write_stats(s);
    } else if (w->signum == SIGUSR2) {
        restart_all(s, NULL);
        RD_LOG(RD_LOG_NOTICE, NULL, "fault cmd=restart path=*");
    } else {
        ev_break(loop, EVBREAK_ALL);
    }
}

static void
rtcp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct camsim *s = RD_CONTAINER_OF(w, struct camsim, rtcp_io);
    uint8_t buf[2048];
    for (int i = 0; i < 64; i++) {
        if (recv(w->fd, buf, sizeof(buf), 0) < 0)
            break; /* receiver reports are read and ignored */
    }
    (void)s;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static int
udp_init(struct camsim *s, struct rd_errbuf *err)
{
    uint16_t want = s->conf.udp_port;
    for (int attempt = 0; attempt < 200; attempt++) {
        uint16_t p = want ? want : (uint16_t)(20000 + 2 * (camsim_random32(s) % 20000));
        int rc = net_udp_bind_pair(s->conf.listen_ip, p, s->udp_fd, err);
        if (rc == RD_OK) {
            s->udp_port = p;
            (void)net_set_sndbuf(s->udp_fd[0], CAMSIM_UDP_SNDBUF);
            return RD_OK;
        }
        if (rc != RD_EBUSY || want)
            return rc;
    }
    rd_errbuf_set(err, "no free UDP port pair");
    return RD_EBUSY;
}

struct camsim *
camsim_new(const struct camsim_conf *conf, struct rd_errbuf *err)
{
    struct camsim *s = calloc(1, sizeof(*s));
    if (!s) {
        rd_errbuf_set(err, "out of memory");
        return NULL;
    }
    s->conf = *conf;
    s->lfd = s->udp_fd[0] = s->udp_fd[1] = s->control_fd = -1;
    s->refuse = conf->refuse;
    s->media_stopped = conf->media_stopped;
    s->pace_s = (double)conf->pace_pct / 100.0 / (conf->fps ? conf->fps : 1);
    rd_rand_pool_init(&s->rand);
    s->loop = ev_default_loop(EVFLAG_AUTO);
    if (media_load(&s->media, conf->media_path, conf->fps, conf->mtu, err) != RD_OK)
        goto fail;
    if (paths_init(s, err) != RD_OK)
        goto fail;
    if (conf->user) {
        s->auth = true;
        if (rd_random_bytes(s->nonce_key, sizeof(s->nonce_key)) != RD_OK) {
            rd_errbuf_set(err, "no random bytes");
            goto fail;
        }
        s->dsrv.realm = rd_str_cstr(CAMSIM_REALM);
        s->dsrv.key = s->nonce_key;
        s->dsrv.key_len = sizeof(s->nonce_key);
        if (digest_ha1_hex(RD_HASH_MD5, rd_str_cstr(conf->user), s->dsrv.realm,
                           rd_str_cstr(conf->password ? conf->password : ""), s->ha1,
                           sizeof(s->ha1))
            < 0) {
            rd_errbuf_set(err, "bad --user or --password");
            goto fail;
        }
    }
    s->lfd = net_tcp_listen(conf->listen_ip, conf->port, 1024, err);
    if (s->lfd < 0)
        goto fail;
    if (net_local_port(s->lfd, &s->port) != RD_OK) {
        rd_errbuf_set(err, "cannot read the bound port");
        goto fail;
    }
    if (udp_init(s, err) != RD_OK)
        goto fail;
    if (conf->control_path) {
        if (mkfifo(conf->control_path, 0600) != 0 && errno != EEXIST) {
            rd_errbuf_set(err, "cannot create control FIFO %s: %s", conf->control_path,
                          strerror(errno));
            goto fail;
        }
        /* O_RDWR: the FIFO never reports EOF when a writer goes away (Linux). */
        s->control_fd = open(conf->control_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (s->control_fd < 0) {
            rd_errbuf_set(err, "cannot open control FIFO %s", conf->control_path);
            goto fail;
        }
        ev_io_init(&s->control_io, control_cb, s->control_fd, EV_READ);
        ev_io_start(s->loop, &s->control_io);
    }
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
    ev_io_init(&s->accept_io, accept_cb, s->lfd, EV_READ);
    ev_io_start(s->loop, &s->accept_io);
    ev_io_init(&s->rtcp_io, rtcp_cb, s->udp_fd[1], EV_READ);
    ev_io_start(s->loop, &s->rtcp_io);
    double tick_s = conf->tick_ms / 1000.0;
    ev_timer_init(&s->tick, tick_cb, 0., tick_s); /* started by the first PLAY */
    ev_timer_init(&s->housekeeping, housekeeping_cb, 1.0, 1.0);
    ev_timer_start(s->loop, &s->housekeeping);
    ev_signal *sigs[] = {&s->sigterm, &s->sigint, &s->sigusr1, &s->sigusr2};
    int nums[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    for (int i = 0; i < 4; i++) {
        ev_signal_init(sigs[i], signal_cb, nums[i]);
        sigs[i]->data = s;
        ev_signal_start(s->loop, sigs[i]);
    }
    s->started_at = ev_time();
    write_stats(s);
    RD_LOG(RD_LOG_NOTICE, NULL,
           "listening port=%u udp_port=%u paths=%zu aus=%zu fps=%u kbps=%u pkts_per_s=%llu "
           "auth=%s",
           s->port, s->udp_port, s->n_paths, s->media.n_aus, s->media.fps, media_kbps(&s->media),
           (unsigned long long)(s->media.total_pkts * s->media.fps / s->media.n_aus),
           s->auth ? "digest" : "none");
    return s;
fail:
    camsim_free(s);
    return NULL;
}

uint16_t
camsim_port(const struct camsim *s)
{
    return s->port;
}

void
camsim_run(struct camsim *s)
{
    ev_run(s->loop, 0);
    write_stats(s);
}

void
camsim_free(struct camsim *s)
{
    if (!s)
        return;
    while (s->conns)
        conn_kill(s->conns);
    conns_reap(s);
    if (s->loop) {
        ev_io_stop(s->loop, &s->accept_io);
        ev_io_stop(s->loop, &s->rtcp_io);
        ev_io_stop(s->loop, &s->control_io);
        ev_timer_stop(s->loop, &s->tick);
        ev_timer_stop(s->loop, &s->housekeeping);
        ev_signal_stop(s->loop, &s->sigterm);
        ev_signal_stop(s->loop, &s->sigint);
        ev_signal_stop(s->loop, &s->sigusr1);
        ev_signal_stop(s->loop, &s->sigusr2);
    }
    if (s->lfd >= 0)
        close(s->lfd);
    for (int i = 0; i < 2; i++) {
        if (s->udp_fd[i] >= 0)
            close(s->udp_fd[i]);
    }
    if (s->control_fd >= 0)
        close(s->control_fd);
    media_free(&s->media);
    free(s->paths);
    free(s->path_hash);
    rd_rand_pool_wipe(&s->rand);
    rd_cleanse(s->nonce_key, sizeof(s->nonce_key));
    free(s);
}
