#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The relay's token check and SETUP destination rule, against a real deployment.

Tokens are taken from the broker's 302 Location and also minted here with the relay keys
`relay add --json` printed (canonical string of common/proto/url_token.h). Controls first: the
broker's token and a token minted here both get 200 on DESCRIBE, so a 403 below is the check
at work, not a broken URL. Then each of these gets exactly 403 (no 3xx, no 401, no
WWW-Authenticate) on DESCRIBE, and the first few also on OPTIONS and SETUP:
  tampered MAC; malformed token; expired (exp 120 s and 1 h ago: beyond the 30 s skew);
  too far in the future; unknown flag bit; the broker's token for relay A replayed on relay B;
  a token minted with relay B's key for relay B presented to relay A; a token under relay A's
  key but for relay id B; a token for another camera; a token IP-bound to another address.
The relays' rd_relay_token_rejections_total counters must grow by the number of 403s.

Destination: with a valid token, SETUP with `destination=127.0.0.2` (a UDP socket pair is bound
there) -> 403; SETUP with client ports below 1024 -> refused; then a normal UDP SETUP on the
same connection -> 200, PLAY -> 200: packets arrive at the viewer's own 127.0.0.1 ports and
none at 127.0.0.2 during 3 s.

    relay_tokens.py --broker build/broker/rtsp-broker --relay build/relay-agent/rtsp-relay
"""
import base64
import hashlib
import hmac
import os
import re
import select
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log  # noqa: E402
import deployment as dep  # noqa: E402
from rtspview import Conn, bind_udp_pair, sdp_video_control  # noqa: E402


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(key, kid, camera, relay_id, exp, jti=None, flags=0, ip=""):
    """A token as url_token_mint() makes it (url_token.h: canonical string)."""
    jti = jti or b64url(os.urandom(8))
    exp_s, flags_s = str(exp), str(flags)
    canon = b"rdtok1\n"
    for f in ("play", kid, camera, relay_id, exp_s, jti, flags_s, ip):
        fb = f.encode()
        canon += str(len(fb)).encode() + b":" + fb + b"\n"
    mac = hmac.new(key, canon, hashlib.sha256).digest()[:16]
    return f"{kid}.{exp_s}.{jti}.{flags_s}.{b64url(mac)}"


def token_url(relay, camera, token):
    return f"{relay.rtsp_base}/v1/{camera}/{token}/"


def one(url, method, extra=None):
    """One request on a new connection: the response."""
    c = Conn(url)
    try:
        hdrs = {"Accept": "application/sdp"} if method == "DESCRIBE" else {}
        hdrs.update(extra or {})
        return c.request(method, url, hdrs)
    finally:
        c.close()


def rejections(d, i):
    m = d.relay_metrics(i)
    return sum(v for k, v in m.items() if k.startswith("rd_relay_token_rejections_total"))


def main():
    args = dep.test_args()
    dep.require(args.broker, args.relay)
    with Harness() as h:
        d = dep.Deployment(h, args.broker, args.relay,
                           [dep.CameraSpec("lobby", gop=25), dep.CameraSpec("yard", gop=25)])
        d.start()
        st, loc = d.describe_broker("lobby")
        check(st == 302 and loc, f"broker DESCRIBE: {st} {loc}")
        u = urlsplit(loc)
        a = d.relay_by_port(u.port)
        check(a is not None, f"Location {loc} names no relay of the deployment")
        b = [r for r in d.relays if r is not a][0]
        m = re.match(r"/v1/lobby/([^/]+)/$", u.path)
        check(m, f"Location path {u.path!r} is not /v1/lobby/<token>/")
        broker_token = m.group(1)
        log(f"broker sent the viewer to {a.id}: {loc.split('/v1/')[0]}/v1/lobby/<token>/")

        # Controls: both must play.
        r = one(loc, "DESCRIBE")
        check(r.status == 200, f"the broker's own token was refused: {r}")
        now = int(time.time())
        good = mint(a.key, a.kid, "lobby", a.id, now + 60)
        r = one(token_url(a, "lobby", good), "DESCRIBE")
        check(r.status == 200, f"a token minted here with {a.id}'s key was refused ({r}): the "
                               f"test's canonical string does not match url_token.c")
        log("controls: broker token 200, locally minted token 200")

        kid, exp, jti, flags, mac = broker_token.split(".")
        bad_mac = "A" if mac[0] != "A" else "B"  # the first character carries 6 whole MAC bits
        cases = [
            ("tampered MAC", a, "lobby", f"{kid}.{exp}.{jti}.{flags}.{bad_mac}{mac[1:]}"),
            ("malformed", a, "lobby", "not-a-token"),
            ("expired 120 s ago", a, "lobby", mint(a.key, a.kid, "lobby", a.id, now - 120)),
            ("expired 1 h ago", a, "lobby", mint(a.key, a.kid, "lobby", a.id, now - 3600)),
            ("exp 1 h ahead", a, "lobby", mint(a.key, a.kid, "lobby", a.id, now + 3600)),
            ("unknown flag bit", a, "lobby", mint(a.key, a.kid, "lobby", a.id, now + 60, flags=2)),
            ("broker token replayed on the other relay", b, "lobby", broker_token),
            ("other relay's key and id", a, "lobby", mint(b.key, b.kid, "lobby", b.id, now + 60)),
            ("own key, other relay id", a, "lobby", mint(a.key, a.kid, "lobby", b.id, now + 60)),
            ("own kid, other relay's key", a, "lobby", mint(b.key, a.kid, "lobby", a.id, now + 60)),
            ("token for another camera", a, "yard", broker_token),
            ("bound to another IP", a, "lobby",
             mint(a.key, a.kid, "lobby", a.id, now + 60, flags=1, ip="192.0.2.1")),
        ]
        before = [rejections(d, i) for i in range(len(d.relays))]
        n403 = 0
        for i, (what, relay, cam, tok) in enumerate(cases):
            url = token_url(relay, cam, tok)
            methods = ["DESCRIBE"] + (["OPTIONS", "SETUP"] if i < 4 else [])
            for method in methods:
                extra = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"} \
                    if method == "SETUP" else None
                target = url + "trackID=0" if method == "SETUP" else url
                r = one(target, method, extra)
                log(f"{what}: {method} at {relay.id} -> {r.status} {r.reason}")
                check(r.status == 403, f"{what}: {method} answered {r.status}, want 403: {r}")
                check(r.header("Location") is None and r.header("WWW-Authenticate") is None,
                      f"{what}: 403 carries Location/WWW-Authenticate: {r}")
                n403 += 1
        after = [rejections(d, i) for i in range(len(d.relays))]
        log(f"token rejections counted by the relays: {before} -> {after} ({n403} 403s sent)")
        check(sum(after) - sum(before) == n403,
              f"rd_relay_token_rejections_total grew by {sum(after) - sum(before)}, want {n403}")

        # Destination rule.
        url = token_url(a, "lobby", mint(a.key, a.kid, "lobby", a.id, int(time.time()) + 60))
        c = Conn(url)
        third = bind_udp_pair("127.0.0.2")
        own = bind_udp_pair("127.0.0.1")
        try:
            r = c.request("DESCRIBE", url, {"Accept": "application/sdp"})
            check(r.status == 200, f"DESCRIBE: {r}")
            control = sdp_video_control(r.body.decode("latin-1"), r.header("Content-Base") or url)
            tp = third[0].getsockname()[1]
            r = c.request("SETUP", control, {"Transport": f"RTP/AVP;unicast;destination=127.0.0.2;"
                                                          f"client_port={tp}-{tp + 1}"})
            log(f"SETUP destination=127.0.0.2 client_port={tp}-{tp + 1} -> {r.status} {r.reason}")
            check(r.status == 403, f"third-party destination: {r.status}, want 403: {r}")
            check(r.header("Session") is None, f"403 SETUP created a session: {r}")
            r = c.request("SETUP", control, {"Transport": "RTP/AVP;unicast;client_port=80-81"})
            log(f"SETUP client_port=80-81 -> {r.status} {r.reason}")
            check(r.status >= 400 and r.header("Session") is None,
                  f"client ports below 1024 accepted: {r}")
            op = own[0].getsockname()[1]
            r = c.request("SETUP", control, {"Transport": f"RTP/AVP;unicast;client_port={op}-{op + 1}"})
            check(r.status == 200, f"normal UDP SETUP after the refusals: {r}")
            session = r.header("Session").split(";")[0]
            check("destination" not in (r.header("Transport") or "") or
                  "127.0.0.2" not in r.header("Transport"), f"Transport echoes 127.0.0.2: {r}")
            r = c.request("PLAY", r.header("Content-Base") or url, {"Session": session})
            check(r.status == 200, f"PLAY: {r}")
            counts = {"own": 0, "third": 0}
            deadline = time.monotonic() + 3
            socks = {s: "own" for s in own} | {s: "third" for s in third}
            while time.monotonic() < deadline:
                rd, _, _ = select.select(list(socks), [], [], 0.2)
                for s in rd:
                    while True:
                        try:
                            s.recv(65536)
                        except BlockingIOError:
                            break
                        counts[socks[s]] += 1
            log(f"3 s after PLAY: {counts['own']} datagrams at the viewer's ports, "
                f"{counts['third']} at 127.0.0.2")
            check(counts["own"] >= 50, f"the normal UDP session got {counts['own']} datagrams")
            check(counts["third"] == 0, f"{counts['third']} datagrams reached 127.0.0.2")
            dest = d.relay_metrics(d.relays.index(a)).get("rd_relay_destination_refused_total")
            log(f"{a.id} rd_relay_destination_refused_total {dest}")
            check(dest is not None and dest >= 1, "destination refusal not counted")
            # Clean exits; token MACs are never logged (ARCHITECTURE.md §4.1: log jti only).
            d.finish(secrets=[mac, good.rsplit(".", 1)[1]])
        finally:
            c.close()
            for s in third + own:
                s.close()
    log("relay_tokens: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
