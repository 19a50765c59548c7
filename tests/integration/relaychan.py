# SPDX-License-Identifier: MIT
"""Relay side of the relay channel (docs/relay-channel.md), for tests and the heartbeat
simulator: request signing, heartbeat bodies, and reading the key that
`rtsp-broker relay add` prints. Python 3 stdlib only.

    r = Relay("relay-a", kid, key_bytes)
    status, resp = r.beat(conn)            # conn: http.client.HTTPConnection to admin_listen
    r.get_camera_source(conn, "lobby")

Signing: X-RD-Signature = base64url(HMAC-SHA-256(key, canonical)) without padding, where
canonical = "rdhb1\\n<METHOD>\\n<path>\\n<relay id>\\n<kid>\\n<timestamp>\\n" + body.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import time

HEARTBEAT_PATH = "/api/v1/heartbeat"
CAMERA_PATH = "/api/v1/relay/cameras/"
KEY_BYTES = 32


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_key(text):
    """A 256-bit key written as 64 hex digits or 43 base64url characters (the key file format
    of url_token_key_parse); surrounding whitespace is ignored. Returns bytes or raises
    ValueError."""
    t = text.strip()
    if re.fullmatch(r"[0-9A-Fa-f]{64}", t):
        return bytes.fromhex(t)
    if re.fullmatch(r"[A-Za-z0-9_-]{43}=?", t):
        raw = base64.urlsafe_b64decode(t.rstrip("=") + "=")
        if len(raw) == KEY_BYTES:
            return raw
    raise ValueError("not a 256-bit key (64 hex digits or 43 base64url characters)")


def canonical(method, path, relay_id, kid, timestamp, body):
    head = "rdhb1\n%s\n%s\n%s\n%s\n%d\n" % (method, path, relay_id, kid, int(timestamp))
    return head.encode("ascii") + body


def sign(key, method, path, relay_id, kid, timestamp, body):
    """base64url (no padding) of HMAC-SHA-256(key, canonical)."""
    mac = hmac.new(key, canonical(method, path, relay_id, kid, timestamp, body), hashlib.sha256)
    return b64url(mac.digest())


def signed_headers(relay_id, kid, key, method, path, body, timestamp=None):
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "X-RD-Relay": relay_id,
        "X-RD-Kid": kid,
        "X-RD-Timestamp": str(ts),
        "X-RD-Signature": sign(key, method, path, relay_id, kid, ts, body),
    }


def _find_key_fields(obj):
    """Depth-first search of parsed JSON for an object carrying a key (and its kid)."""
    if isinstance(obj, dict):
        key = obj.get("key") or obj.get("relay_key") or obj.get("secret")
        kid = obj.get("kid") or obj.get("key_id")
        if isinstance(key, str):
            return {"key": key, "kid": kid, "id": obj.get("id") or obj.get("relay_id")}
        for v in obj.values():
            r = _find_key_fields(v)
            if r:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = _find_key_fields(v)
            if r:
                return r
    return None


def parse_relay_add_output(text):
    """Reads the kid and key from what `rtsp-broker relay add ... [--json]` printed.
    Accepts a JSON object anywhere in the output with "key" (and "kid"), or text lines such
    as "kid: k1" / "key: <64 hex>" (also "kid=..." or a table row "kid ... key ...").
    Returns {"kid": str, "key": bytes}. Raises ValueError when no key is found."""
    for start in [m.start() for m in re.finditer(r"[{\[]", text)]:
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            continue
        f = _find_key_fields(obj)
        if f and f.get("kid"):
            return {"kid": str(f["kid"]), "key": parse_key(f["key"])}
    kid = re.search(r"\bkid\b\)?\s*[:=]?\s*([A-Za-z0-9_-]{1,16})\b", text, re.I)
    key = re.search(r"\bkey\b[^:=\n]*[:=]?\s*([0-9A-Fa-f]{64}|[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])",
                    text, re.I)
    if not key:
        # A bare key on a line of its own.
        key = re.search(r"^\s*([0-9A-Fa-f]{64}|[A-Za-z0-9_-]{43})\s*$", text, re.M)
    if kid and key:
        return {"kid": kid.group(1), "key": parse_key(key.group(1))}
    raise ValueError("no kid/key found in relay add output:\n" + text)


class Relay:
    """One simulated relay: its identity, key, boot id and heartbeat sequence."""

    def __init__(self, relay_id, kid, key, capacity_viewers=1000, capacity_egress_kbps=1000000):
        self.id, self.kid, self.key = relay_id, kid, key
        self.boot_id = os.urandom(8).hex()
        self.seq = 0
        self.state = "active"
        self.capacity = {"viewers": capacity_viewers, "egress_kbps": capacity_egress_kbps}
        self.viewers = 0
        self.egress_kbps = 0
        self.cpu_pct = 1.0
        self.cameras = []  # dicts: id, state, viewers, ingress_kbps, drops
        self._cams_json = None
        self.last_response = None

    def set_cameras(self, cams):
        """cams: list of camera ids (reported as playing) or of full camera dicts."""
        self.cameras = [c if isinstance(c, dict) else
                        {"id": c, "state": "playing", "viewers": 0, "ingress_kbps": 2000, "drops": 0}
                        for c in cams]
        self._cams_json = None

    def body(self):
        """The next heartbeat body (bytes); increments seq."""
        self.seq += 1
        if self._cams_json is None:
            # Pre-serialised: the simulator sends many beats and only seq changes.
            self._cams_json = json.dumps(self.cameras, separators=(",", ":"))
        head = {
            "relay_id": self.id, "boot_id": self.boot_id, "seq": self.seq, "state": self.state,
            "capacity": self.capacity, "viewers": self.viewers, "egress_kbps": self.egress_kbps,
            "cpu_pct": self.cpu_pct,
        }
        h = json.dumps(head, separators=(",", ":"))
        return (h[:-1] + ',"cameras":' + self._cams_json + "}").encode("ascii")

    def beat_request(self, timestamp=None):
        """(path, headers, body) of the next heartbeat."""
        body = self.body()
        hdrs = signed_headers(self.id, self.kid, self.key, "POST", HEARTBEAT_PATH, body, timestamp)
        hdrs["Content-Type"] = "application/json"
        return HEARTBEAT_PATH, hdrs, body

    def beat(self, conn, timestamp=None):
        """Posts one heartbeat on conn. Returns (status, parsed JSON or raw bytes)."""
        path, hdrs, body = self.beat_request(timestamp)
        conn.request("POST", path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        self.last_response = parsed
        return r.status, parsed

    def get_camera_source(self, conn, camera_id, timestamp=None):
        path = CAMERA_PATH + camera_id
        hdrs = signed_headers(self.id, self.kid, self.key, "GET", path, b"", timestamp)
        conn.request("GET", path, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data


def load_relays(path):
    """Relays from a JSON file: [{"id", "kid", "key"}...] or {"relays": [...]}; key as hex
    or base64url. Returns a list of Relay."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = data.get("relays", [])
    return [Relay(r["id"], r["kid"], parse_key(r["key"])) for r in data]


def connect(host, port, timeout=5.0):
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _self_test():
    # Vector computed independently with:
    #   printf 'rdhb1\nPOST\n/api/v1/heartbeat\nrelay-a\nk1\n1700000000\n{"a":1}' |
    #   openssl dgst -sha256 -mac HMAC -macopt hexkey:<00 01 .. 1f> -binary | basenc --base64url
    key = bytes(range(32))
    got = sign(key, "POST", HEARTBEAT_PATH, "relay-a", "k1", 1700000000, b'{"a":1}')
    assert got == SELF_TEST_SIG, got
    assert parse_key(key.hex()) == key
    assert parse_key(b64url(key)) == key
    assert parse_key("  " + key.hex().upper() + "\n") == key
    for bad in ["", "00" * 31, "zz" * 32, b64url(key)[:-1]]:
        try:
            parse_key(bad)
            raise AssertionError("accepted " + bad)
        except ValueError:
            pass
    out = parse_relay_add_output('{"id": "r1", "kid": "Ab3_", "key": "%s"}\n' % key.hex())
    assert out == {"kid": "Ab3_", "key": key}, out
    out = parse_relay_add_output("relay r1 added\nkid: k9\nkey: %s\n(shown once)\n" % b64url(key))
    assert out == {"kid": "k9", "key": key}, out
    # rtsp-broker relay add without --json (broker/cli.c print_key).
    text = ("relay 'r1' added: site default, rtsp://127.0.0.1:8554, capacity 1000 viewers\n\n"
            "key id (kid): Zq3_x-1   (generation 1)\n"
            "key (shown only now; it is not printed again):\n%s\n\n"
            "Install it on the relay host:\n  relay_id = r1\n  key_id   = Zq3_x-1\n" % key.hex())
    out = parse_relay_add_output(text)
    assert out == {"kid": "Zq3_x-1", "key": key}, out
    out = parse_relay_add_output('{"relay": "r1", "kid": "k2", "gen": 1, "previous_kid": null, '
                                 '"key": "%s", "key_format": "hex"}' % key.hex())
    assert out == {"kid": "k2", "key": key}, out
    r = Relay("relay-a", "k1", key)
    r.set_cameras(["lobby", "dock"])
    b1 = json.loads(r.body())
    b2 = json.loads(r.body())
    assert b1["seq"] == 1 and b2["seq"] == 2 and b2["cameras"][1]["id"] == "dock", b2
    assert b1["boot_id"] == b2["boot_id"] and len(b1["boot_id"]) == 16
    print("relaychan self-test ok")


SELF_TEST_SIG = "WMBDmKcJnD7tLpFhA-PNs9Z-MsIj2UZbJsYnKp3e3OE"  # openssl, see _self_test

if __name__ == "__main__":
    _self_test()
