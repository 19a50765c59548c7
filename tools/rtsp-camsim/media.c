/* SPDX-License-Identifier: MIT */
/* Loads and indexes the simulator's H.264 file once at start-up (zero-copy: every NAL unit is
 * a view into the mapping), and derives the SDP's profile-level-id and sprop-parameter-sets. */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC */
#include "media.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "crypto.h"
#include "h264pack.h"
#include "rd_err.h"
#include "rd_limits.h"

static int
push_nal(struct media *m, const uint8_t *p, size_t len)
{
    if (rd_array_grow((void **)&m->nals, &m->cap_nals, m->n_nals, sizeof(*m->nals)) != RD_OK)
        return RD_ENOMEM;
    m->nals[m->n_nals].p = p;
    m->nals[m->n_nals].len = (uint32_t)len;
    m->n_nals++;
    return RD_OK;
}

/* The access unit being collected: NAL units of the file, before they go to the send list. */
struct au_acc {
    struct annexb_nal nal[256];
    size_t n;
    bool has_vcl, idr, has_sps, has_pps, overflow;
};

/* Moves the collected access unit into the send list (or skips it). */
static int
flush_au(struct media *m, struct au_acc *a, struct rd_errbuf *err)
{
    if (a->n == 0)
        return RD_OK;
    bool keep = a->has_vcl && (m->n_aus > 0 || a->idr) && m->sps.len > 0 && m->pps.len > 0;
    if (!keep) {
        m->skipped_aus++;
        a->n = 0;
        a->has_vcl = a->idr = a->has_sps = a->has_pps = false;
        return RD_OK;
    }
    if (a->overflow) {
        rd_errbuf_set(err, "an access unit has more than %zu NAL units",
                      sizeof(a->nal) / sizeof(a->nal[0]));
        return RD_ELIMIT;
    }
    if (m->n_aus >= RD_CAMSIM_MEDIA_MAX_AUS) {
        rd_errbuf_set(err, "more than %d access units", RD_CAMSIM_MEDIA_MAX_AUS);
        return RD_ELIMIT;
    }
    if (rd_array_grow((void **)&m->aus, &m->cap_aus, m->n_aus, sizeof(*m->aus)) != RD_OK)
        goto nomem;
    struct media_au *au = &m->aus[m->n_aus];
    memset(au, 0, sizeof(*au));
    au->first = (uint32_t)m->n_nals;
    au->idr = a->idr;
    /* RFC 6184 §8.4 / H.264 §7.4.1.2.3: parameter sets in-band before each IDR picture, after
     * an access unit delimiter if there is one. */
    bool inject = a->idr && !(a->has_sps && a->has_pps);
    for (size_t i = 0; i <= a->n; i++) {
        if (inject && (i == a->n || a->nal[i].type != ANNEXB_NAL_AUD)) {
            if (push_nal(m, m->sps.p, m->sps.len) != RD_OK
                || push_nal(m, m->pps.p, m->pps.len) != RD_OK)
                goto nomem;
            inject = false;
        }
        if (i == a->n)
            break;
        if (push_nal(m, a->nal[i].p, a->nal[i].len) != RD_OK)
            goto nomem;
    }
    au->n_nals = (uint32_t)(m->n_nals - au->first);
    for (uint32_t i = au->first; i < au->first + au->n_nals; i++) {
        au->n_pkts += (uint32_t)h264pack_count(m->nals[i].len, m->mtu);
        au->bytes += m->nals[i].len;
    }
    m->total_bytes += au->bytes;
    m->total_pkts += au->n_pkts;
    m->n_aus++;
    a->n = 0;
    a->has_vcl = a->idr = a->has_sps = a->has_pps = false;
    return RD_OK;
nomem:
    rd_errbuf_set(err, "out of memory indexing the media");
    return RD_ENOMEM;
}

static int
make_sdp_values(struct media *m, struct rd_errbuf *err)
{
    if (m->sps.len < 4) {
        rd_errbuf_set(err, "SPS too short");
        return RD_EPROTO;
    }
    rd_hex_encode(m->sps.p + 1, 3, m->profile_level_id);
    if (rd_b64_len(m->sps.len) + rd_b64_len(m->pps.len) + 2 > sizeof(m->sprop)) {
        rd_errbuf_set(err, "SPS/PPS too large for sprop-parameter-sets");
        return RD_EPROTO;
    }
    int n = rd_b64_encode(m->sps.p, m->sps.len, m->sprop, sizeof(m->sprop));
    if (n < 0)
        return RD_EPROTO;
    m->sprop[n] = ',';
    int k = rd_b64_encode(m->pps.p, m->pps.len, m->sprop + n + 1, sizeof(m->sprop) - (size_t)n - 1);
    return k < 0 ? RD_EPROTO : RD_OK;
}

int
media_index(struct media *m, const uint8_t *buf, size_t len, unsigned fps, size_t mtu,
            struct rd_errbuf *err)
{
    memset(m, 0, sizeof(*m));
    m->data = buf;
    m->data_len = len;
    m->fps = fps;
    m->mtu = mtu;
    if (fps == 0 || h264pack_count(1, mtu) == 0) {
        rd_errbuf_set(err, "bad frame rate or MTU");
        return RD_EPROTO;
    }
    struct au_acc *a = calloc(1, sizeof(*a));
    if (!a) {
        rd_errbuf_set(err, "out of memory");
        return RD_ENOMEM;
    }
    size_t pos = 0;
    struct annexb_nal nal;
    int rc, r;
    while ((r = annexb_next(buf, len, &pos, &nal)) == 1) {
        if (nal.type >= 10 && nal.type <= 12)
            continue; /* end of sequence/stream, filler: would break the loop */
        if (annexb_starts_au(&nal, a->has_vcl) && (rc = flush_au(m, a, err)) != RD_OK)
            goto fail;
        if (nal.type == ANNEXB_NAL_SPS) {
            a->has_sps = true;
            if (m->sps.len == 0)
                m->sps = nal;
        } else if (nal.type == ANNEXB_NAL_PPS) {
            a->has_pps = true;
            if (m->pps.len == 0)
                m->pps = nal;
        } else if (annexb_is_vcl(&nal)) {
            a->has_vcl = true;
            a->idr = a->idr || nal.type == ANNEXB_NAL_IDR;
        }
        if (a->n < sizeof(a->nal) / sizeof(a->nal[0]))
            a->nal[a->n++] = nal;
        else
            a->overflow = true;
    }
    if (r < 0) {
        rd_errbuf_set(err, "not an H.264 Annex B stream (bad start code or NAL header at byte %zu)",
                      pos);
        rc = RD_EPROTO;
        goto fail;
    }
    if ((rc = flush_au(m, a, err)) != RD_OK)
        goto fail;
    if (m->n_aus == 0) {
        rd_errbuf_set(err, "no IDR picture after an SPS and a PPS in the media");
        rc = RD_EPROTO;
        goto fail;
    }
    if ((rc = make_sdp_values(m, err)) != RD_OK)
        goto fail;
    free(a);
    return RD_OK;
fail:
    free(a);
    free(m->nals);
    free(m->aus);
    memset(m, 0, sizeof(*m));
    return rc;
}

int
media_load(struct media *m, const char *path, unsigned fps, size_t mtu, struct rd_errbuf *err)
{
    memset(m, 0, sizeof(*m));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rd_errbuf_set(err, "cannot open media %s", path);
        return RD_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        rd_errbuf_set(err, "media %s is empty or unreadable", path);
        close(fd);
        return RD_EIO;
    }
    if (st.st_size > RD_CAMSIM_MEDIA_MAX_BYTES) {
        rd_errbuf_set(err, "media %s is larger than %d bytes", path, RD_CAMSIM_MEDIA_MAX_BYTES);
        close(fd);
        return RD_ELIMIT;
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        rd_errbuf_set(err, "cannot map media %s", path);
        return RD_EIO;
    }
    int rc = media_index(m, map, len, fps, mtu, err);
    if (rc != RD_OK) {
        munmap(map, len);
        return rc;
    }
    m->mapped = true;
    return RD_OK;
}

void
media_free(struct media *m)
{
    free(m->nals);
    free(m->aus);
    if (m->mapped)
        munmap((void *)(uintptr_t)m->data, m->data_len);
    memset(m, 0, sizeof(*m));
}

uint32_t
media_frame_ts(const struct media *m, uint64_t frame_no)
{
    return (uint32_t)(frame_no * MEDIA_CLOCK_HZ / m->fps);
}

unsigned
media_kbps(const struct media *m)
{
    if (m->n_aus == 0)
        return 0;
    return (unsigned)(m->total_bytes * 8 * m->fps / m->n_aus / 1000);
}

int
media_packet(const struct media *m, const struct media_cursor *cur, uint8_t pt, uint16_t seq,
             uint32_t ssrc, uint32_t ts_base, struct h264pack_pkt *pk, struct media_cursor *after)
{
    if (cur->au >= m->n_aus)
        return RD_EPROTO;
    const struct media_au *au = &m->aus[cur->au];
    if (cur->nal >= au->n_nals || cur->pkt >= au->n_pkts)
        return RD_EPROTO;
    const struct media_nal *nal = &m->nals[au->first + cur->nal];
    struct h264pack_rtp rtp = {
        .pt = pt, .seq = seq, .ts = ts_base + media_frame_ts(m, cur->frame), .ssrc = ssrc};
    *after = *cur;
    int rc =
        h264pack_next(&rtp, cur->nal + 1 == au->n_nals, nal->p, nal->len, &after->off, m->mtu, pk);
    if (rc != RD_OK)
        return rc;
    after->pkt++;
    if (pk->nal_done) {
        after->off = 0;
        after->nal++;
    }
    return RD_OK;
}

void
media_cursor_next_au(const struct media *m, struct media_cursor *cur)
{
    cur->au = cur->au + 1 >= m->n_aus ? 0 : cur->au + 1;
    cur->nal = 0;
    cur->off = 0;
    cur->pkt = 0;
    cur->frame++;
}
