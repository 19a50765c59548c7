/* SPDX-License-Identifier: MIT */
/* The simulator's media: one H.264 Annex B file mmap'd once and indexed into access units,
 * each with the list of NAL units to send (SPS/PPS inserted before IDR pictures that lack
 * them), shared read-only by every camera. Also the SDP values derived from it. */
#ifndef RD_CAMSIM_MEDIA_H
#define RD_CAMSIM_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "annexb.h"
#include "errbuf.h"
#include "h264pack.h"

#define MEDIA_CLOCK_HZ 90000 /* RFC 6184 §8.2.1: H.264 RTP clock */
/* sprop-parameter-sets: base64 of one SPS and one PPS, a comma and the NUL. */
#define MEDIA_SPROP_MAX 1024

/* One NAL unit to send: a view into the file. */
struct media_nal {
    const uint8_t *p;
    uint32_t len;
};

/* One access unit (a frame): send list nals[first .. first + n_nals). */
struct media_au {
    uint32_t first;
    uint32_t n_nals;
    uint32_t n_pkts; /* RTP packets at the media's mtu (h264pack_count summed) */
    uint32_t bytes;  /* NAL bytes in the send list */
    bool idr;        /* holds an IDR picture (its send list starts with SPS and PPS) */
};

struct media {
    const uint8_t *data; /* the stream; mmap'd (owned) or borrowed (media_index) */
    size_t data_len;
    bool mapped;
    struct media_nal *nals; /* owned */
    size_t n_nals, cap_nals;
    struct media_au *aus; /* owned; aus[0] is the first IDR access unit of the file */
    size_t n_aus, cap_aus;
    struct annexb_nal sps, pps;  /* the first SPS and PPS of the file (views) */
    unsigned fps;                /* frames per second (from the command line) */
    size_t mtu;                  /* RTP packet size the packet counts are for */
    uint64_t total_bytes;        /* NAL bytes of one loop (send lists) */
    uint64_t total_pkts;         /* RTP packets of one loop */
    size_t skipped_aus;          /* access units before the first IDR, or without a slice */
    char profile_level_id[7];    /* RFC 6184 §8.1: SPS bytes 1..3 in hex */
    char sprop[MEDIA_SPROP_MAX]; /* RFC 6184 §8.1 sprop-parameter-sets: base64(SPS),base64(PPS) */
};

/* Indexes the Annex B stream buf[0..len) (borrowed: it must outlive m) for fps frames per
 * second and RTP packets of at most mtu bytes. Access units follow H.264 §7.4.1.2.3 (a
 * picture split into several slices is one access unit); those before the first IDR picture
 * and those without a slice are skipped; end-of-sequence/stream and filler NAL units (10-12)
 * are left out so the file can loop. Needs an SPS and a PPS before the first IDR picture.
 * Returns RD_OK; RD_EPROTO (not Annex B, no IDR picture, no SPS/PPS, a parameter set too large
 * for the SDP), RD_ELIMIT (more than RD_CAMSIM_MEDIA_MAX_AUS access units) or RD_ENOMEM, with
 * err filled. On error m holds nothing to free. */
int media_index(struct media *m, const uint8_t *buf, size_t len, unsigned fps, size_t mtu,
                struct rd_errbuf *err);

/* media_index over the file at path, mmap'd read-only (owned by m). Returns as media_index,
 * or RD_EIO when the file cannot be opened or mapped, RD_ELIMIT when it is larger than
 * RD_CAMSIM_MEDIA_MAX_BYTES. */
int media_load(struct media *m, const char *path, unsigned fps, size_t mtu, struct rd_errbuf *err);

/* Frees what m owns (arrays, the mapping). m may be zeroed or already freed. */
void media_free(struct media *m);

/* RTP timestamp offset of frame number frame_no (counted from 0 over every loop) in the
 * 90 kHz clock: frame_no * 90000 / fps, modulo 2^32. */
uint32_t media_frame_ts(const struct media *m, uint64_t frame_no);

/* A sender's position in the media: the packet it sends next. Plain data. */
struct media_cursor {
    size_t au;      /* access unit (index into aus) */
    uint32_t nal;   /* NAL unit of that access unit's send list */
    size_t off;     /* progress through that NAL unit (h264pack_next) */
    uint32_t pkt;   /* packets of that access unit already built */
    uint64_t frame; /* frames sent or skipped since the start, over every loop */
};

/* Builds the packet at *cur (which is not changed) for an RTP stream with the given payload
 * type, sequence number, SSRC and timestamp base: timestamp ts_base + media_frame_ts(frame)
 * (the same for every packet of an access unit), marker on the access unit's last packet
 * (RFC 6184 §5.1). Sets *after to the cursor past this packet; after->pkt == the access
 * unit's n_pkts means the access unit is complete (then call media_cursor_next_au).
 * Returns RD_OK or RD_EPROTO for a cursor outside the media. The payload is a view into the
 * media's data. */
int media_packet(const struct media *m, const struct media_cursor *cur, uint8_t pt, uint16_t seq,
                 uint32_t ssrc, uint32_t ts_base, struct h264pack_pkt *pk,
                 struct media_cursor *after);

/* Moves *cur to the start of the next access unit, looping to aus[0] (an IDR picture) after
 * the last; frame counts on so timestamps stay continuous. */
void media_cursor_next_au(const struct media *m, struct media_cursor *cur);

/* Average bit rate of the file in kbit/s at its frame rate (for b=AS and stats). */
unsigned media_kbps(const struct media *m);

#endif
