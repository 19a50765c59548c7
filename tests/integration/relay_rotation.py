#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A relay key rotation without an outage, against a real deployment (one relay).

1. Before: the broker's Location carries the relay's kid (k1); DESCRIBE there -> 200.
2. `rtsp-broker relay rotate-key relay-a --json` (k2). Once the broker has loaded it, and
   while the relay still holds only k1 (it reports kids ["k1"] in its heartbeats), the
   broker keeps minting with k1: several DESCRIBEs through the broker then at the relay all
   get 200, ffmpeg plays, the relay counts no token rejection and never logs "does not hold".
   Control: a token minted here with k2 gets 403 at the relay (it really lacks k2).
3. Install k2 on the relay (key_id/key_file = k2, prev_key_id/prev_key_file = k1), SIGHUP:
   within a few beats the Location carries k2, DESCRIBE -> 200, ffmpeg plays, and a token
   minted with k1 still verifies (previous key).
4. A second rotation (k3) retires k1: the relay still holds k2 (its heartbeats, signed with
   k2, are accepted), so the broker keeps minting with k2 and viewers keep playing.

    relay_rotation.py --broker build/broker/rtsp-broker --relay build/relay-agent/rtsp-relay
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, check, log, wait_for  # noqa: E402
import deployment as dep  # noqa: E402
from rtspview import Conn  # noqa: E402

NOT_HELD = "broker signs viewer tokens with a key this relay does not hold"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(key, kid, camera, relay_id, exp):
    """A token as url_token_mint() makes it (url_token.h: canonical string)."""
    jti, exp_s = b64url(os.urandom(8)), str(exp)
    canon = b"rdtok1\n"
    for f in ("play", kid, camera, relay_id, exp_s, jti, "0", ""):
        fb = f.encode()
        canon += str(len(fb)).encode() + b":" + fb + b"\n"
    mac = hmac.new(key, canon, hashlib.sha256).digest()[:16]
    return f"{kid}.{exp_s}.{jti}.0.{b64url(mac)}"


def describe(url):
    c = Conn(url)
    try:
        return c.request("DESCRIBE", url, {"Accept": "application/sdp"})
    finally:
        c.close()


def location_kid(d):
    """DESCRIBE lobby at the broker: (Location, kid of its token)."""
    st, loc = d.describe_broker("lobby")
    check(st == 302 and loc, f"broker DESCRIBE: {st} {loc}")
    m = re.match(r"/v1/lobby/([^/]+)/$", urlsplit(loc).path)
    check(m, f"Location {loc} is not /v1/lobby/<token>/")
    return loc, m.group(1).split(".")[0]


def rejections(d):
    return sum(v for k, v in d.relay_metrics(0).items()
               if k.startswith("rd_relay_token_rejections_total"))


def plays(d, h, name, want_kid, n=5):
    """n viewers through the broker: each Location carries want_kid and DESCRIBE at the relay
    answers 200; then ffmpeg plays a second or two (when installed)."""
    for i in range(n):
        loc, kid = location_kid(d)
        check(kid == want_kid, f"{name}: Location kid {kid}, want {want_kid}")
        r = describe(loc)
        check(r.status == 200, f"{name}: viewer {i} got {r.status} {r.reason} at the relay")
    log(f"{name}: {n} viewers: Location kid {want_kid}, DESCRIBE at the relay 200")
    if shutil.which("ffmpeg"):
        dep.play_ffmpeg(h, f"ffmpeg-{name}", d.url("lobby"), "tcp", seconds=2, min_frames=25)


def rotate(d):
    out = d.cli(["relay", "rotate-key", "relay-a", "--json"]).stdout
    obj = json.loads(out)
    check(obj.get("key_format", "hex") == "hex" and len(obj["key"]) == 64,
          f"rotate-key printed an unexpected key: {obj.get('key_format')}")
    return obj


def wait_catalog(d, version):
    """Until the broker has loaded a registry version other than version."""
    return wait_for(lambda: (d.broker_api("/api/v1/relays") or {}).get("registry_version")
                    not in (None, version), 10, "the broker loads the rotated key")


def main():
    args = dep.test_args()
    dep.require(args.broker, args.relay)
    with Harness() as h:
        d = dep.Deployment(h, args.broker, args.relay, [dep.CameraSpec("lobby", gop=25)],
                           n_relays=1, hb_ms=300)
        d.start()
        r = d.relays[0]
        k1, k1_hex = r.kid, r.key_hex
        plays(d, h, "before", k1, n=2)
        rej0 = rejections(d)

        # 2. Rotate on the broker only.
        v0 = d.broker_api("/api/v1/relays")["registry_version"]
        obj = rotate(d)
        k2, k2_hex = obj["kid"], obj["key"]
        check(obj.get("previous_kid") == k1, f"rotate-key: previous_kid {obj.get('previous_kid')}")
        log(f"rotated: new kid {k2}, previous {k1}; the relay still holds {k1} only")
        wait_catalog(d, v0)
        time.sleep(3 * d.hb_ms / 1000)  # a few beats: the answer is what it will stay
        plays(d, h, "rotated-not-installed", k1)
        tok = mint(bytes.fromhex(k2_hex), k2, "lobby", r.id, int(time.time()) + 60)
        ctl = describe(f"{r.rtsp_base}/v1/lobby/{tok}/")
        check(ctl.status == 403, f"control: a {k2} token at the relay got {ctl.status}, want 403 "
                                 f"(the relay should not hold {k2} yet)")
        log(f"control: a token signed with {k2} gets 403 at the relay (not installed yet)")
        rej1 = rejections(d)
        check(rej1 - rej0 == 1, f"token rejections at the relay: {rej0} -> {rej1}, want only "
                                f"the control's")
        check(NOT_HELD not in r.proc.log_text(), f"the relay logged '{NOT_HELD}' before install")

        # 3. Install k2 with k1 as the previous key, SIGHUP.
        prev_file = h.write(f"{r.id}.prev.key", k1_hex + "\n", 0o600)
        r.kid, r.key_hex = k2, k2_hex
        d.relay_options.update({"prev_key_id": k1, "prev_key_file": prev_file})
        d.write_relay_conf(r)
        r.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: f"kid={k2} prev_kid={k1}" in r.proc.log_text(), 10,
                 "the relay reloads its keys")
        wait_for(lambda: location_kid(d)[1] == k2, 10, f"the broker mints with {k2}")
        log(f"installed: the broker mints with {k2} now")
        plays(d, h, "installed", k2)
        old = mint(bytes.fromhex(k1_hex), k1, "lobby", r.id, int(time.time()) + 60)
        res = describe(f"{r.rtsp_base}/v1/lobby/{old}/")
        check(res.status == 200, f"a {k1} token after install got {res.status}, want 200")

        # 4. A second rotation retires k1; the relay holds k2 (and k1): k2 keeps signing.
        v1 = d.broker_api("/api/v1/relays")["registry_version"]
        obj = rotate(d)
        k3 = obj["kid"]
        check(obj.get("previous_kid") == k2, f"rotate-key: previous_kid {obj.get('previous_kid')}")
        wait_catalog(d, v1)
        time.sleep(3 * d.hb_ms / 1000)
        rel = d.broker_relays().get(r.id, {})
        check(rel.get("healthy"), f"{r.id} unhealthy after the second rotation: {rel}")
        plays(d, h, "second-rotation", k2)
        check(rejections(d) == rej1, "token rejections at the relay after install")
        check(NOT_HELD not in r.proc.log_text(), f"the relay logged '{NOT_HELD}'")
        log(f"second rotation: the broker holds {k3},{k2}; the relay {k2},{k1}: {k2} signs")
    log("relay_rotation: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
