/* SPDX-License-Identifier: MIT */
/* rtsp-camsim: one process serving many simulated H.264 cameras over RTSP (TCP interleaved
 * and UDP unicast), replaying one shared media file in real time, with fault switches. */
#ifndef RD_CAMSIM_CAMSIM_H
#define RD_CAMSIM_CAMSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

/* Settings from the command line (main.c); strings are borrowed for the process's life. */
struct camsim_conf {
    const char *listen_ip;    /* numeric address, default 127.0.0.1 */
    uint16_t port;            /* 0: the kernel picks (printed as "PORT n", --port-file) */
    const char *port_file;    /* written once listening; NULL: none */
    const char *media_path;   /* H.264 Annex B file */
    unsigned fps;             /* frames per second of the file */
    size_t mtu;               /* RTP packet size, header included */
    const char *const *paths; /* camera path names, no leading '/' */
    size_t n_paths;
    const char *user, *password; /* Digest (MD5) credentials; NULL user: no auth */
    const char *stats_file;      /* JSON counters; NULL: none */
    double stats_interval_s;     /* how often the stats file is rewritten */
    const char *control_path;    /* FIFO for fault commands; NULL: none */
    unsigned tick_ms;            /* media timer period */
    unsigned pace_pct;           /* a frame's packets spread over this % of a frame interval */
    unsigned session_timeout_s;  /* Session: ...;timeout=N and the keepalive deadline */
    uint16_t udp_port;           /* even RTP port of the shared UDP pair; 0: pick one */
    bool refuse;                 /* start answering 503 to new requests */
    bool media_stopped;          /* start with media stopped */
};

struct camsim;

/* Creates the simulator: loads and indexes the media, binds the RTSP listener and the UDP
 * pair, opens the control FIFO, starts its watchers on the default libev loop. Returns the
 * owned simulator, or NULL with err filled. */
struct camsim *camsim_new(const struct camsim_conf *conf, struct rd_errbuf *err);

/* The RTSP port actually bound. */
uint16_t camsim_port(const struct camsim *s);

/* Runs the loop until SIGTERM/SIGINT, then writes the stats file a last time. */
void camsim_run(struct camsim *s);

/* Closes every connection and socket and frees s (NULL is ignored). */
void camsim_free(struct camsim *s);

/* Runs one control command line ("stop-media [PATH]", "start-media [PATH]", "close-all
 * [PATH]", "restart [PATH]", "refuse on|off", "stats"), as read from the control FIFO.
 * Returns RD_OK, RD_EPROTO (unknown command or argument) or RD_ENOTFOUND (unknown path). */
int camsim_command(struct camsim *s, const char *line, size_t len);

#endif
