#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The admin HTTP server of a real rtsp-broker process: bearer authentication, the JSON API
(create, read, update, delete), /healthz and /metrics counters that move with RTSP traffic.

    broker_admin.py --broker PATH --seed PATH
"""
import argparse
import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from broker_wire import Relay, ask, start_broker  # noqa: E402
from harness import Harness, check, log  # noqa: E402

TOKEN = "it-" + os.urandom(16).hex()


def api(port, method, path, body=None, token=TOKEN):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def metric(text, name, labels):
    """The value of one sample of the Prometheus text, 0 when absent."""
    m = re.search(r"^" + re.escape(name + labels) + r" (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--seed", required=True)
    args = ap.parse_args()
    with Harness() as h:
        token_file = h.write("admin.token", TOKEN + "\n")
        proc, port, admin, keys, _ = start_broker(h, args, f"admin_token_file = {token_file}\n")

        # Authentication: everything but /, /healthz and the relay channel needs the token.
        st, _ = api(admin, "GET", "/api/v1/cameras", token=None)
        check(st == 401, f"no token: {st}")
        st, _ = api(admin, "GET", "/api/v1/cameras", token="wrong-" + TOKEN)
        check(st == 401, f"wrong token: {st}")
        st, _ = api(admin, "GET", "/metrics", token=None)
        check(st == 401, f"/metrics without token: {st}")
        st, body = api(admin, "GET", "/healthz", token=None)
        check(st == 200 and body.strip() == b"ok", f"/healthz: {st} {body!r}")
        st, body = api(admin, "GET", "/", token=None)
        check(st == 200 and b"<html" in body.lower(), f"page: {st}")

        # CRUD on a camera; credentials go in but never come back.
        cam = {"id": "it-cam", "name": "Integration", "site": "hq", "url": "rtsp://10.1.2.3/s",
               "user": "viewer", "password": "cam-secret-xyz", "max_relays": 1}
        st, body = api(admin, "POST", "/api/v1/cameras", cam)
        check(st == 201, f"create: {st} {body!r}")
        st, _ = api(admin, "POST", "/api/v1/cameras", cam)
        check(st == 409, f"create twice: {st}")
        st, body = api(admin, "POST", "/api/v1/cameras", dict(cam, id="x2", colour="red"))
        check(st == 400, f"unknown field: {st}")
        st, body = api(admin, "GET", "/api/v1/cameras/it-cam")
        got = json.loads(body)
        check(st == 200 and got["id"] == "it-cam" and got.get("has_credentials") is True,
              f"read: {st} {got}")
        check(b"cam-secret-xyz" not in body and b"10.1.2.3" not in body, "source leaked")
        st, body = api(admin, "PUT", "/api/v1/cameras/it-cam", {"enabled": False})
        check(st == 200 and json.loads(body)["enabled"] is False, f"update: {st} {body!r}")
        # The change applies at once: a disabled camera is 404 on the RTSP side.
        r = ask(port, "DESCRIBE", f"rtsp://127.0.0.1:{port}/it-cam")
        check(r.status == 404, f"disabled camera over RTSP: {r}")
        st, _ = api(admin, "DELETE", "/api/v1/cameras/it-cam")
        check(st == 200, f"delete: {st}")
        st, _ = api(admin, "GET", "/api/v1/cameras/it-cam")
        check(st == 404, f"read after delete: {st}")
        st, _ = api(admin, "PATCH", "/api/v1/cameras/lobby")
        check(st == 405, f"PATCH: {st}")

        # Users and grants.
        st, _ = api(admin, "POST", "/api/v1/users", {"name": "carol", "password": "pw-1"})
        check(st == 201, f"user create: {st}")
        st, _ = api(admin, "POST", "/api/v1/users/carol/cameras/lobby")
        check(st == 200, f"grant: {st}")
        st, body = api(admin, "GET", "/api/v1/users/carol")
        check(st == 200 and b"lobby" in body and b"pw-1" not in body, f"user read: {body!r}")
        st, _ = api(admin, "DELETE", "/api/v1/users/carol")
        check(st == 200, f"user delete: {st}")

        # Relays: drain through the API, and its heartbeat answer carries the new state.
        relay = Relay("relay-a", keys["relay-a"]["kid"], keys["relay-a"]["key"])
        st, body = relay.post(admin)
        check(st == 200 and json.loads(body)["state"] == "active", f"heartbeat: {st} {body!r}")
        st, _ = api(admin, "PUT", "/api/v1/relays/relay-a", {"state": "draining"})
        check(st == 200, f"drain: {st}")
        st, body = relay.post(admin)
        check(st == 200 and json.loads(body)["state"] == "draining", f"drained: {body!r}")

        # /metrics counters move with RTSP traffic.
        st, before = api(admin, "GET", "/metrics")
        check(st == 200, f"/metrics: {st}")
        before = before.decode()
        for _ in range(3):
            check(ask(port, "OPTIONS", f"rtsp://127.0.0.1:{port}/lobby").status == 200, "OPTIONS")
        check(ask(port, "DESCRIBE", f"rtsp://127.0.0.1:{port}/nope").status == 404, "404")
        time.sleep(0.2)
        _, after = api(admin, "GET", "/metrics")
        after = after.decode()
        for name, labels, delta in (("rd_broker_responses_total", '{status="200"}', 3),
                                    ("rd_broker_responses_total", '{status="404"}', 1),
                                    ("rd_broker_requests_total", '{method="OPTIONS"}', 3),
                                    ("rd_broker_heartbeats_total", '{result="accepted"}', 0)):
            b, a = metric(before, name, labels), metric(after, name, labels)
            check(a - b >= delta, f"{name}{labels}: {b} -> {a}, expected +{delta}")
        check(metric(after, "rd_broker_heartbeats_total", '{result="accepted"}') >= 2,
              "accepted heartbeats counted")
        check(proc.stop() == 0, "SIGTERM exit code")
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
