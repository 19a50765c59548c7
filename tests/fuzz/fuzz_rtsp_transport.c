/* SPDX-License-Identifier: MIT */
/* Fuzz target for rtsp_transport.c: parse, check structural invariants, run the policy
 * checks, and format every accepted alternative back and parse it again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rd_err.h"
#include "rd_limits.h"
#include "rtsp_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #x);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void
check_view(struct rd_str v, const char *in, size_t size)
{
    if (v.len == 0)
        return;
    CHECK(v.p >= in && v.len <= size && v.p + v.len <= in + size);
}

static void
check_range(const struct rtsp_transport_range *r, unsigned max)
{
    if (!r->present) {
        CHECK(!r->has_hi && r->lo == 0 && r->hi == 0);
        return;
    }
    CHECK(r->lo <= r->hi && r->hi <= max);
    if (!r->has_hi)
        CHECK(r->hi == r->lo);
}

/* Formats a choice, checks it never truncates, and that it parses back to the same thing. */
static void
format_round_trip(const struct rtsp_transport_choice *c)
{
    char out[RD_TRANSPORT_MAX_LEN];
    int n = rtsp_transport_format(c, out, sizeof(out));
    CHECK(n > 0 && (size_t)n < sizeof(out) && out[n] == '\0');
    CHECK(rtsp_transport_format(c, out, (size_t)n) == RD_ELIMIT && out[0] == '\0');
    n = rtsp_transport_format(c, out, (size_t)n + 1);
    CHECK(n > 0);

    struct rtsp_transport t;
    CHECK(rtsp_transport_parse(out, (size_t)n, &t) == RD_OK);
    CHECK(t.n_specs == 1);
    const struct rtsp_transport_spec *s = &t.specs[0];
    CHECK(s->supported && s->unicast && !s->multicast && s->lower == c->lower);
    CHECK(s->n_unknown == 0 && !s->has_destination && s->mode == 0);
    if (c->lower == RTSP_TRANSPORT_UDP) {
        CHECK(s->client_port.lo == c->client_rtp && s->client_port.hi == c->client_rtcp);
        CHECK(s->server_port.present == c->has_server_port);
        if (c->has_server_port)
            CHECK(s->server_port.lo == c->server_rtp && s->server_port.hi == c->server_rtcp);
    } else {
        CHECK(s->interleaved.lo == c->channel_rtp && s->interleaved.hi == c->channel_rtcp);
    }
    CHECK(s->has_ssrc == c->has_ssrc);
    if (c->has_ssrc)
        CHECK(s->ssrc == c->ssrc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct rtsp_transport t;
    int rc = rtsp_transport_parse(in, size, &t);

    if (size > RD_TRANSPORT_MAX_LEN)
        CHECK(rc == RD_ELIMIT);
    if (rc != RD_OK) {
        CHECK(rc == RD_EPROTO || rc == RD_ELIMIT);
        return 0;
    }
    CHECK(t.n_specs >= 1 && t.n_specs <= RD_TRANSPORT_MAX_SPECS);
    for (unsigned k = 0; k < t.n_specs; k++) {
        const struct rtsp_transport_spec *s = &t.specs[k];
        check_view(s->raw, in, size);
        check_view(s->protocol, in, size);
        check_view(s->destination, in, size);
        check_view(s->source, in, size);
        CHECK(s->raw.len > 0 && s->protocol.len > 0 && s->protocol.p == s->raw.p);
        CHECK(s->n_params <= RD_TRANSPORT_MAX_PARAMS && s->n_unknown <= s->n_params);
        CHECK(!(s->unicast && s->multicast));
        CHECK(!s->has_source || s->source.len > 0);
        CHECK(s->has_destination || s->destination.len == 0);
        check_range(&s->client_port, 65535);
        check_range(&s->server_port, 65535);
        check_range(&s->port, 65535);
        check_range(&s->interleaved, 255);
        if (!s->has_destination)
            CHECK(rtsp_transport_destination_is_peer(s, RD_STR_LIT("192.0.2.1")));
        /* A destination equal to the peer is accepted, whatever it is ("[]" names nothing). */
        if (s->has_destination && s->destination.len > 0 && !rd_str_eq_cstr(s->destination, "[]"))
            CHECK(rtsp_transport_destination_is_peer(s, s->destination));

        struct rtsp_transport_choice c;
        if (rtsp_transport_check_viewer(s, &c) != RD_OK)
            continue;
        CHECK(s->supported && !s->multicast);
        CHECK(s->mode == 0 || s->mode == RTSP_TRANSPORT_MODE_PLAY);
        if (c.lower == RTSP_TRANSPORT_UDP) {
            CHECK(c.client_rtp >= RD_TRANSPORT_MIN_CLIENT_PORT && c.client_rtp % 2 == 0);
            CHECK(c.client_rtcp == c.client_rtp + 1);
        } else if (c.has_channels) {
            CHECK(c.channel_rtp <= RD_TRANSPORT_MAX_CHANNEL && c.channel_rtp % 2 == 0);
            CHECK(c.channel_rtcp == c.channel_rtp + 1);
        } else {
            c.has_channels = true; /* the server's pick */
            c.channel_rtp = 0;
            c.channel_rtcp = 1;
        }
        /* Echo what the peer sent as our reply: server ports and SSRC when usable. */
        if (s->server_port.present) {
            c.has_server_port = true;
            c.server_rtp = s->server_port.lo;
            c.server_rtcp = s->server_port.hi;
        }
        c.has_ssrc = s->has_ssrc;
        c.ssrc = s->ssrc;
        format_round_trip(&c);
    }
    return 0;
}
