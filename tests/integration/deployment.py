#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A whole rtsp-director deployment on loopback, for the end-to-end tests and the demo.

Builds on harness.py: test cameras (tests/tools/testcam.py, the GStreamer RTSP server),
a registry made with the broker's CLI (`relay add --json`, `camera add [--user U]` with the
password on stdin), the real rtsp-broker and N real rtsp-relay processes, each on its own free
loopback ports and UDP port range, relay keys written 0600. start() returns once the broker
redirects every camera (the relays sent enough heartbeats to be healthy).

    with Harness() as h:
        d = Deployment(h, broker_bin, relay_bin, cameras=[CameraSpec("lobby")])
        d.start()
        url = d.url("lobby")                  # rtsp://127.0.0.1:<broker port>/lobby
        d.relay_status(0)["cameras"]          # /api/v1/status of relay 0
        d.camera("lobby").stats()["sessions"] # RTSP sessions the camera saw

Demo (scripts/demo.sh runs it): a camera "lobby" (H.264 test pattern), the broker on
127.0.0.1:8554 (admin page http://127.0.0.1:8080/) and two relays; runs until Ctrl-C, then
stops every process by PID:

    /usr/bin/python3 tests/integration/deployment.py --demo --bin-dir build/release
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Harness, log, skip, wait_for, wait_port  # noqa: E402

SITE = "default"  # created by schema/001_init.sql
TESTCAM = os.path.join(ROOT, "tests", "tools", "testcam.py")
PY = "/usr/bin/python3"  # python3-gi is installed for Debian's interpreter only


class CameraSpec:
    """A test camera: id (also its path), Digest user/password (None: open), GOP in frames,
    bitrate kbit/s (reached with pattern "snow"; the default moving ball needs far less), and
    the broker's camera options (max_relays, transport)."""

    def __init__(self, cam_id, user=None, password=None, gop=50, bitrate=1000, fps=25,
                 max_relays=None, transport=None, pattern="ball"):
        self.id, self.user, self.password, self.pattern = cam_id, user, password, pattern
        self.gop, self.bitrate, self.fps = gop, bitrate, fps
        self.max_relays, self.transport = max_relays, transport


class Camera:
    """One testcam process. Its port is fixed after the first start so stop()/start() is a
    camera reboot at the same address."""

    def __init__(self, h, spec, port=0):
        self.h, self.spec, self.port = h, spec, port
        self.proc = None
        self.starts = 0
        self.stats_file = h.path(f"cam-{spec.id}.stats.json")

    @property
    def url(self):
        return f"rtsp://127.0.0.1:{self.port}/{self.spec.id}"

    def start(self, timeout=20):
        self.starts += 1
        ready = self.h.path(f"cam-{self.spec.id}-{self.starts}.port")
        stats = self.h.path(f"cam-{self.spec.id}-{self.starts}.stats.json")
        argv = [PY, TESTCAM, "--port", str(self.port), "--path", f"/{self.spec.id}",
                "--ready-file", ready, "--stats-file", stats, "--gop", str(self.spec.gop),
                "--bitrate", str(self.spec.bitrate), "--fps", str(self.spec.fps),
                "--pattern", self.spec.pattern]
        if self.spec.user:
            argv += ["--user", self.spec.user, "--password", self.spec.password or ""]
        self.proc = self.h.spawn(f"cam-{self.spec.id}-{self.starts}", argv)
        self.stats_file = stats
        deadline = time.monotonic() + timeout
        while True:
            if os.path.exists(ready):
                break
            if not self.proc.alive():
                raise AssertionError(f"testcam {self.spec.id} exited:\n{self.proc.log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"testcam {self.spec.id} not ready in {timeout}s "
                                     f"(port {self.port} in use?)")
            time.sleep(0.05)
        with open(ready) as f:
            self.port = int(f.read().strip())
        return self

    def stop(self):
        """SIGTERM by PID (the GStreamer server closes its clients' connections)."""
        if self.proc:
            self.proc.stop(timeout=10)

    def stats(self):
        """This run's counters (testcam.py --stats-file)."""
        try:
            with open(self.stats_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"connections": 0, "open": 0, "sessions": 0, "plays": 0, "teardowns": 0}


class Relay:
    def __init__(self, index, relay_id, rtsp_port, status_port, udp_lo, udp_hi):
        self.index, self.id = index, relay_id
        self.rtsp_port, self.status_port = rtsp_port, status_port
        self.udp_lo, self.udp_hi = udp_lo, udp_hi
        self.kid = self.key_hex = None
        self.conf = self.key_file = None
        self.proc = None
        self.starts = 0

    @property
    def rtsp_base(self):
        return f"rtsp://127.0.0.1:{self.rtsp_port}"

    @property
    def key(self):
        return bytes.fromhex(self.key_hex)


def port_free(port, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    if kind == socket.SOCK_STREAM:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemons do
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def udp_range_free(lo, hi):
    return all(port_free(p, socket.SOCK_DGRAM) for p in range(lo, hi + 1, 7))


def http_get(url, timeout=3.0):
    """(status, body text); status 0 when the server cannot be reached."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"(\S+)\s+(\S+)$", line)
        if m:
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def vmrss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Deployment:
    """Broker + n_relays relays + cameras on 127.0.0.1. Ports 0 = free ports."""

    def __init__(self, h, broker_bin, relay_bin, cameras, n_relays=2, rtsp_port=0,
                 admin_port=0, relay_ports=None, hb_ms=500, log_level="debug",
                 relay_options=None, broker_options=None):
        self.h, self.broker_bin, self.relay_bin = h, broker_bin, relay_bin
        self.specs = list(cameras)
        self.cameras = {}
        self.hb_ms, self.log_level = hb_ms, log_level
        self.relay_options = dict(relay_options or {})
        self.broker_options = dict(broker_options or {})
        taken = set()

        def pick(p, kind=socket.SOCK_STREAM):
            if p:
                taken.add(p)
                return p
            while True:
                p = h.free_port(kind)
                if p not in taken:
                    taken.add(p)
                    return p

        self.rtsp_port = pick(rtsp_port)
        self.admin_port = pick(admin_port)
        self.relays = []
        used_ranges = []
        for i in range(n_relays):
            rp, sp = (relay_ports[i] if relay_ports else (0, 0))
            # A random 200-port UDP range per relay, apart from the others (tests may run in
            # parallel: a range whose probes are busy is skipped).
            for _ in range(100):
                lo = 20000 + 200 * random.randrange(0, 150)
                if lo not in used_ranges and udp_range_free(lo, lo + 199):
                    break
            used_ranges.append(lo)
            self.relays.append(Relay(i, f"relay-{chr(ord('a') + i)}", pick(rp), pick(sp), lo,
                                     lo + 199))
        self.broker = None
        self.broker_starts = 0
        self.conf = self.h.path("broker.conf")

    # -- setup --
    def cli(self, args, input=None, timeout=30):
        return self.h.run([self.broker_bin, "-c", self.conf] + args, input=input, timeout=timeout)

    def write_broker_conf(self):
        lines = [f"database = {self.h.path('registry.db')}",
                 f"rtsp_listen = 127.0.0.1:{self.rtsp_port}",
                 f"admin_listen = 127.0.0.1:{self.admin_port}",
                 f"heartbeat_interval_ms = {self.hb_ms}",
                 f"log_level = {self.log_level}"]
        lines += [f"{k} = {v}" for k, v in self.broker_options.items()]
        self.h.write("broker.conf", "\n".join(lines) + "\n")

    def write_relay_conf(self, r):
        r.key_file = self.h.write(f"{r.id}.key", r.key_hex + "\n", 0o600)
        opts = {
            "relay_id": r.id, "site": SITE, "key_id": r.kid, "key_file": r.key_file,
            "broker_url": f"http://127.0.0.1:{self.admin_port}",
            "public_url": r.rtsp_base,
            "rtsp_listen": f"127.0.0.1:{r.rtsp_port}",
            "status_listen": f"127.0.0.1:{r.status_port}",
            "udp_ports": f"{r.udp_lo}-{r.udp_hi}",
            "heartbeat_interval_ms": str(self.hb_ms),
            "log_level": self.log_level,
        }
        opts.update(self.relay_options)
        r.conf = self.h.write(f"{r.id}.conf", "".join(f"{k} = {v}\n" for k, v in opts.items()),
                              0o600)

    def start_cameras(self):
        for spec in self.specs:
            self.cameras[spec.id] = Camera(self.h, spec).start()

    def make_registry(self):
        self.write_broker_conf()
        for r in self.relays:
            out = self.cli(["relay", "add", r.id, "--site", SITE, "--rtsp-url", r.rtsp_base,
                            "--json"]).stdout
            obj = json.loads(out)
            r.kid, r.key_hex = obj["kid"], obj["key"]
            if obj.get("key_format", "hex") != "hex" or len(r.key_hex) != 64:
                raise AssertionError(f"relay add printed an unexpected key format: {obj.get('key_format')}")
            self.write_relay_conf(r)
        for spec in self.specs:
            cam = self.cameras[spec.id]
            args = ["camera", "add", spec.id, cam.url, "--site", SITE]
            if spec.max_relays:
                args += ["--max-relays", str(spec.max_relays)]
            if spec.transport:
                args += ["--transport", spec.transport]
            stdin = None
            if spec.user:
                args += ["--user", spec.user]
                stdin = (spec.password or "") + "\n"
            self.cli(args, input=stdin)

    def start_broker(self, timeout=15):
        self.broker_starts += 1
        self.broker = self.h.spawn(f"broker-{self.broker_starts}",
                                   [self.broker_bin, "-c", self.conf])
        self._wait_listening(self.broker, [self.rtsp_port, self.admin_port], timeout)
        return self.broker

    def stop_broker(self):
        return self.broker.stop(timeout=10)

    def start_relay(self, r, timeout=15):
        r.starts += 1
        r.proc = self.h.spawn(f"{r.id}-{r.starts}", [self.relay_bin, "-c", r.conf])
        self._wait_listening(r.proc, [r.rtsp_port, r.status_port], timeout)
        return r.proc

    def _wait_listening(self, proc, ports, timeout):
        deadline = time.monotonic() + timeout
        for p in ports:
            while True:
                if not proc.alive():
                    raise AssertionError(f"{proc.name} exited {proc.popen.returncode}:\n"
                                         f"{proc.log_text()[-3000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", p), timeout=0.5):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{proc.name} not listening on {p} after {timeout}s:\n"
                                         f"{proc.log_text()[-3000:]}")
                time.sleep(0.05)

    def start(self, timeout=30):
        """Cameras, registry, broker, relays; returns when every relay is healthy at the broker
        and every camera is redirected."""
        t0 = time.monotonic()
        self.start_cameras()
        self.make_registry()
        self.start_broker()
        for r in self.relays:
            self.start_relay(r)
        self.wait_healthy(timeout)
        for spec in self.specs:
            self.wait_redirect(spec.id, timeout)
        log(f"deployment up in {time.monotonic() - t0:.1f}s: broker rtsp {self.rtsp_port} admin "
            f"{self.admin_port}; " + ", ".join(f"{r.id} rtsp {r.rtsp_port} status {r.status_port} "
                                               f"udp {r.udp_lo}-{r.udp_hi}" for r in self.relays))
        return self

    # -- state --
    def url(self, cam_id):
        return f"rtsp://127.0.0.1:{self.rtsp_port}/{cam_id}"

    def camera(self, cam_id):
        return self.cameras[cam_id]

    def broker_api(self, path):
        st, body = http_get(f"http://127.0.0.1:{self.admin_port}{path}")
        if st != 200:
            return None
        return json.loads(body)

    def broker_relays(self):
        """{relay id: relay object of GET /api/v1/relays}, {} when the broker is down."""
        j = self.broker_api("/api/v1/relays")
        return {x["id"]: x for x in j["relays"]} if j else {}

    def relay_status(self, i):
        st, body = http_get(f"http://127.0.0.1:{self.relays[i].status_port}/api/v1/status")
        return json.loads(body) if st == 200 else None

    def relay_metrics(self, i):
        st, body = http_get(f"http://127.0.0.1:{self.relays[i].status_port}/metrics")
        return parse_metrics(body) if st == 200 else {}

    def relay_camera(self, i, cam_id):
        s = self.relay_status(i) or {}
        for c in s.get("cameras", []):
            if c.get("id") == cam_id:
                return c
        return None

    def relay_by_port(self, port):
        for r in self.relays:
            if r.rtsp_port == port:
                return r
        return None

    def wait_healthy(self, timeout=30):
        def ok():
            rel = self.broker_relays()
            return all(rel.get(r.id, {}).get("healthy") for r in self.relays)
        wait_for(ok, timeout, "every relay healthy at the broker")

    def describe_broker(self, cam_id):
        """DESCRIBE at the broker; (status, Location or None)."""
        with socket.create_connection(("127.0.0.1", self.rtsp_port), timeout=5) as s:
            s.sendall(f"DESCRIBE {self.url(cam_id)} RTSP/1.0\r\nCSeq: 1\r\n"
                      "Accept: application/sdp\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                c = s.recv(4096)
                if not c:
                    break
                data += c
        head = data.split(b"\r\n\r\n")[0].decode("latin-1")
        m = re.match(r"RTSP/1\.0 (\d{3})", head)
        loc = re.search(r"^Location:\s*(\S+)", head, re.M | re.I)
        return (int(m.group(1)) if m else None), (loc.group(1) if loc else None)

    def wait_redirect(self, cam_id, timeout=30):
        def ok():
            try:
                st, loc = self.describe_broker(cam_id)
            except OSError:
                return None
            return loc if st == 302 else None
        return wait_for(ok, timeout, f"broker redirects {cam_id}")

    def finish(self, secrets=()):
        """End of a test: SIGTERM to the relays, then the broker, by PID; each must exit 0
        (clean shutdown; a sanitizer report or a leak makes it non-zero) and its log must hold
        no sanitizer report and none of the given secrets (passwords, token MACs)."""
        procs = [r.proc for r in self.relays if r.proc] + ([self.broker] if self.broker else [])
        problems = []
        for p in procs:
            was_alive = p.alive()
            rc = p.stop(timeout=15)
            text = p.log_text()
            if was_alive and rc != 0:
                problems.append(f"{p.name} exited {rc} on SIGTERM")
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if marker in text:
                    problems.append(f"{p.name}: '{marker}' in its log")
            for sec in secrets:
                if sec and sec in text:
                    problems.append(f"{p.name}: a secret ({sec[:3]}...) appears in its log")
        log("shutdown: " + ", ".join(f"{p.name} exit {p.popen.returncode}" for p in procs))
        if problems:
            raise AssertionError("; ".join(problems))

    def stop(self):
        """Everything, by PID, relays first (the harness also does this at exit)."""
        for r in self.relays:
            if r.proc:
                r.proc.stop(timeout=10)
        if self.broker:
            self.broker.stop(timeout=10)
        for c in self.cameras.values():
            c.stop()


# ---- prerequisites shared by the relay_*.py tests ------------------------------------------

def gst_has(element):
    return subprocess.run(["gst-inspect-1.0", element], capture_output=True,
                          timeout=30).returncode == 0


def have_testcam():
    if not os.access(PY, os.X_OK):
        return False
    r = subprocess.run([PY, "-c", "import gi; gi.require_version('Gst', '1.0'); "
                        "gi.require_version('GstRtspServer', '1.0'); "
                        "from gi.repository import GstRtspServer"],
                       capture_output=True, timeout=30)
    return r.returncode == 0


def require(broker, relay, tools=(), gst=()):
    """Skips (77) when a binary, a tool or a GStreamer element is missing."""
    for b, what in ((broker, "rtsp-broker"), (relay, "rtsp-relay")):
        if not (b and os.path.isfile(b) and os.access(b, os.X_OK)):
            skip(f"{what} binary {b} not built")
    for t in ("gst-inspect-1.0",) + tuple(tools):
        if not shutil.which(t):
            skip(f"{t} not installed")
    if not have_testcam():
        skip("python3-gi with GstRtspServer not available for /usr/bin/python3")
    for e in ("x264enc", "rtph264pay") + tuple(gst):
        if not gst_has(e):
            skip(f"GStreamer element {e} missing")


def run_client(h, name, argv, timeout=45):
    """Runs a player to its end; output kept in the harness directory."""
    log(f"running {name}: {' '.join(argv)}")
    t = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{name} did not finish within {timeout}s: "
                             f"{(e.stderr or '')[-2000:] if isinstance(e.stderr, str) else ''}")
    r.elapsed = time.monotonic() - t
    with open(h.path(f"{name}.out"), "w") as f:
        f.write(r.stdout + "\n---- stderr ----\n" + r.stderr)
    return r


# The null muxer complains when two frames of the test camera's stream get the same dts (x264
# zerolatency timestamps through rtph264pay); that is not a decoding problem.
FFMPEG_BENIGN = ("non monotonically increasing dts",)


def ffmpeg_argv(url, transport, seconds):
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport",
            transport, "-i", url, "-t", str(seconds), "-f", "null", "-", "-progress", "pipe:1"]


def ffmpeg_result(r):
    """(frames decoded, error lines that are not benign, benign lines) of an ffmpeg run."""
    frames = [int(m) for m in re.findall(r"^frame=(\d+)", r.stdout, re.M)]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errs = [ln for ln in lines if not any(b in ln for b in FFMPEG_BENIGN)]
    return (frames[-1] if frames else 0), errs, len(lines) - len(errs)


def play_ffmpeg(h, name, url, transport, seconds=5, min_frames=100, timeout=45):
    r = run_client(h, name, ffmpeg_argv(url, transport, seconds), timeout)
    frames, errs, benign = ffmpeg_result(r)
    log(f"{name}: exit {r.returncode} in {r.elapsed:.1f}s, {frames} frames decoded, "
        f"{len(errs)} errors, {benign} benign dts notices")
    if r.returncode != 0:
        raise AssertionError(f"{name}: ffmpeg exited {r.returncode}: {r.stderr[-2000:]}")
    if frames < min_frames:
        raise AssertionError(f"{name}: {frames} frames decoded, want >= {min_frames}")
    if errs:
        raise AssertionError(f"{name}: ffmpeg reported errors: {errs[:10]}")
    return frames


def gst_argv(url, proto, buffers):
    dec = ["!", "avdec_h264"] if gst_has("avdec_h264") else []
    return (["gst-launch-1.0", "rtspsrc", f"location={url}", f"protocols={proto}", "latency=200",
             "!", "rtph264depay", "!", "h264parse"] + dec
            + ["!", "fakesink", f"num-buffers={buffers}"])


def play_gst(h, name, url, proto, buffers=100, timeout=45):
    """rtspsrc ! depay ! parse [! avdec_h264] ! fakesink num-buffers: EOS means that many
    access units (decoded frames with avdec_h264) reached the sink."""
    r = run_client(h, name, gst_argv(url, proto, buffers), timeout)
    eos = "Got EOS" in r.stdout
    text = r.stdout + r.stderr
    errs = [ln for ln in text.splitlines() if re.search(r"\bERROR\b|error:", ln)]
    # rtspsrc's own shutdown race (GStreamer 1.22): after EOS it sends TEARDOWN, closes its
    # connection, and its PAUSE from the state change then fails with "Could not send
    # message. (Received end-of-file)" on the socket it closed itself (the relay's log shows
    # the peer closing first). Only that, only after EOS, is not a playback failure.
    shutdown_race = (eos and errs
                     and all("Could not write to resource" in ln for ln in errs)
                     and text.count("Received end-of-file") == len(errs))
    log(f"{name}: exit {r.returncode} in {r.elapsed:.1f}s, EOS after {buffers} buffers: {eos}, "
        f"decoder {'avdec_h264' if gst_has('avdec_h264') else 'none (depay+parse)'}, "
        f"{len(errs)} error lines" + (" (rtspsrc shutdown race after EOS, ignored)"
                                      if shutdown_race else ""))
    if shutdown_race:
        return buffers
    if r.returncode != 0 or not eos or errs:
        raise AssertionError(f"{name}: gst-launch exit {r.returncode}, EOS {eos}, errors "
                             f"{errs[:5]}: {r.stdout[-1500:]} {r.stderr[-1500:]}")
    return buffers


def relays_connections(d):
    """Viewer connections each relay accepted so far (rd_relay_connections_total)."""
    return [d.relay_metrics(i).get("rd_relay_connections_total", 0) for i in range(len(d.relays))]


def test_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--relay", required=True)
    return ap.parse_args()


# ---- demo ----------------------------------------------------------------------------------

def demo(args):
    broker = os.path.join(args.bin_dir, "broker", "rtsp-broker")
    relay = os.path.join(args.bin_dir, "relay-agent", "rtsp-relay")
    require(broker, relay)
    fixed = [args.rtsp_port, args.admin_port] + [p for i in range(2)
                                                  for p in (args.relay_port + i,
                                                            args.status_port + i)]
    busy = [p for p in fixed if not port_free(p)]
    if busy:
        log(f"demo: port(s) {busy} already in use on 127.0.0.1 (another demo running?)")
        return 1
    stop = {"sig": None}

    def on_signal(sig, _frame):
        stop["sig"] = sig
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    # Explicitly, also for SIGINT: a shell starting us in the background leaves it ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Harness(keep=True) as h:
        d = Deployment(h, broker, relay, [CameraSpec("lobby", gop=50)], n_relays=2,
                       rtsp_port=args.rtsp_port, admin_port=args.admin_port,
                       relay_ports=[(args.relay_port + i, args.status_port + i) for i in range(2)],
                       hb_ms=1000, log_level="info")
        try:
            d.start(timeout=40)
            print(f"""
rtsp-director demo is running (logs and registry in {h.dir}):

  camera   lobby: H.264 test pattern, {d.camera('lobby').url}
  broker   rtsp://127.0.0.1:{d.rtsp_port}   admin page http://127.0.0.1:{d.admin_port}/
  relays   {', '.join(f'{r.id} {r.rtsp_base} (status http://127.0.0.1:{r.status_port}/api/v1/status)' for r in d.relays)}

Play it (the broker redirects the player to a relay):

  ffplay rtsp://127.0.0.1:{d.rtsp_port}/lobby

Ctrl-C stops everything.""", flush=True)
            deadline = time.monotonic() + args.exit_after if args.exit_after else None
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1)
                dead = [p for p in h.procs if not p.alive() and p.popen.returncode != 0]
                if dead:
                    p = dead[0]
                    log(f"demo: {p.name} (pid {p.pid}) exited {p.popen.returncode}; its log "
                        f"{p.logpath}:\n{p.log_text()[-2000:]}")
                    return 1
        except KeyboardInterrupt:
            pass
        print("\nstopping: relays, broker, camera", flush=True)
        d.stop()
    print("demo stopped", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description="rtsp-director deployment on loopback")
    ap.add_argument("--demo", action="store_true", help="run the demo deployment until Ctrl-C")
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--rtsp-port", type=int, default=8554)
    ap.add_argument("--admin-port", type=int, default=8080)
    ap.add_argument("--relay-port", type=int, default=8555,
                    help="first relay's RTSP port (the second uses the next one)")
    ap.add_argument("--status-port", type=int, default=9555,
                    help="first relay's status HTTP port (the second uses the next one)")
    ap.add_argument("--exit-after", type=float, default=0, help="stop after this many seconds")
    args = ap.parse_args()
    if not args.demo:
        ap.error("nothing to do: tests import this module; use --demo to run the demo")
    return demo(args)


if __name__ == "__main__":
    sys.exit(main())
