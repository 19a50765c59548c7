#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Peer relays for the relay fan-out benchmark (issue 5, item 3): start, probe, measure, stop.

    from peers import GstRelay, NpmRelay, cpu_seconds, rss_kib
    peer = GstRelay(workdir)                   # or NpmRelay(workdir)
    url = peer.start(camera_url, port=0)       # viewer URL rtsp://127.0.0.1:P/relay
    c0 = cpu_seconds(peer.pids); ...; c1 = cpu_seconds(peer.pids)
    peer.stop()
    peer.versions()                            # dict of the versions in use

(a) GstRelay: scripts/bench/gst_relay.py, GStreamer's RTSP server with one SHARED media
    factory `( rtspsrc location=CAM latency=0 protocols=tcp ! rtph264depay !
    h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 )`;
    UDP and TCP-interleaved viewers. One process: .pids == [.pid].
(b) NpmRelay: rtsp-streaming-server from npm (installed once under build/peers/npm, version
    pinned in NPM_VERSION and recorded in build/peers/npm/installed.json), run by
    scripts/bench/npm_relay.js, fed by `ffmpeg -rtsp_transport tcp -i CAM -c copy -f rtsp
    rtsp://127.0.0.1:PUBLISH/relay` (which publishes over UDP, the only transport the package
    accepts); viewers play rtsp://127.0.0.1:CLIENT/relay, UDP only (SETUP with TCP gets 461).
    .pid is node's, .ffmpeg_pid the publisher's; .pids == [node, ffmpeg], since ffmpeg's CPU
    is part of what this peer costs.

start() returns once a viewer's DESCRIBE gets 200 with an SDP (bounded by start_timeout),
otherwise stops what it started and raises PeerError. Every process runs in its own process
group (a new session), logs into workdir, and is stopped by its PID: SIGTERM, SIGKILL after
stop_timeout.

Self-test (a camera from rtsp-camsim, both peers, ffmpeg and rtsp-bench viewers):
    /usr/bin/python3 scripts/bench/peers.py --selftest --camsim BIN --bench BIN [--workdir D]
Stdlib only, plus python3-gi for version reporting (Debian's /usr/bin/python3).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DIR = os.path.join(ROOT, "scripts", "bench")
NPM_PACKAGE = "rtsp-streaming-server"
NPM_VERSION = "2.1.0"  # pinned: the benchmark's figures belong to this version
NPM_CACHE = os.path.join(ROOT, "build", "peers", "npm")
SYS_PYTHON = "/usr/bin/python3"  # has python3-gi (GstRtspServer)
RELAY_PATH = "/relay"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class PeerError(RuntimeError):
    """A peer could not be installed, started or reached."""


# ---------------------------------------------------------------------------------------------
# Processes


def spawn(cmd, log_path, cwd=None, env=None):
    """Starts cmd in its own session (process group), stdout+stderr appended to log_path."""
    log = open(log_path, "ab")
    try:
        log.write(("\n$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, env=env, start_new_session=True)
    finally:
        log.close()


def stop_process(proc, timeout=5.0):
    """SIGTERM to proc's PID, SIGKILL after timeout seconds; reaps it. Returns its exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    return proc.returncode


def wait_file(path, proc, timeout, what):
    """Waits until path exists and is non-empty; raises PeerError if proc exits or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                return f.read().strip()
        if proc.poll() is not None:
            raise PeerError(f"{what} exited with {proc.returncode} before it was ready")
        time.sleep(0.05)
    raise PeerError(f"{what} not ready after {timeout:.0f} s")


def _proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # comm (field 2) may hold spaces and parentheses: fields after the LAST ')' are fixed.
    return s[s.rindex(")") + 2:].split()


def cpu_seconds(pids):
    """utime + stime of the given processes in seconds (their own threads, children excluded:
    fields 14 and 15 of /proc/PID/stat). Raises ProcessLookupError if one has gone."""
    total = 0
    for pid in pids:
        try:
            f = _proc_stat(pid)
        except FileNotFoundError:
            raise ProcessLookupError(f"process {pid} has gone") from None
        total += int(f[11]) + int(f[12])  # fields 14, 15 counted from 1; f[0] is field 3
    return total / CLK_TCK


def rss_kib(pids):
    """Resident set size (VmRSS) of the given processes, summed, in KiB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except FileNotFoundError:
            raise ProcessLookupError(f"process {pid} has gone") from None
    return total


# ---------------------------------------------------------------------------------------------
# RTSP probe


def rtsp_describe(url, timeout=2.0):
    """One DESCRIBE on a new connection. Returns (status code, body); raises OSError/PeerError."""
    m = re.match(r"^rtsp://([^/:]+):(\d+)(/.*)?$", url)
    if not m:
        raise PeerError(f"not an rtsp://host:port/path URL: {url}")
    host, port = m.group(1), int(m.group(2))
    req = (f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n"
           f"User-Agent: peers.py\r\n\r\n").encode()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                raise PeerError("connection closed before a response")
            buf += chunk
            if len(buf) > 65536:
                raise PeerError("response head over 64 KiB")
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("RTSP/") or not parts[1].isdigit():
            raise PeerError(f"bad status line {lines[0]!r}")
        clen = 0
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            if k.strip().lower() == "content-length":
                clen = int(v.strip())
        if clen > 65536:
            raise PeerError("SDP over 64 KiB")
        while len(body) < clen:
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
        return int(parts[1]), body[:clen].decode("latin-1")


def wait_describe(url, procs, timeout):
    """Repeats DESCRIBE until 200 with an SDP naming H264; PeerError on timeout or a dead proc."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        for name, p in procs:
            if p.poll() is not None:
                raise PeerError(f"{name} exited with {p.returncode} while waiting for DESCRIBE")
        try:
            status, sdp = rtsp_describe(url, timeout=min(5.0, max(0.5, deadline - time.monotonic())))
            if status == 200 and "H264" in sdp:
                return sdp
            last = f"status {status}"
        except (OSError, PeerError) as e:
            last = str(e)
        time.sleep(0.2)
    raise PeerError(f"DESCRIBE {url} did not succeed within {timeout:.0f} s (last: {last})")


# ---------------------------------------------------------------------------------------------
# Peers


class _Peer:
    name = "peer"

    def __init__(self, workdir, start_timeout=20.0, stop_timeout=5.0):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.procs = []  # (name, Popen), in start order
        self.url = None

    @property
    def pids(self):
        """PIDs whose CPU and RSS are this peer's cost."""
        return [p.pid for _n, p in self.procs]

    @property
    def pid(self):
        return self.procs[0][1].pid if self.procs else None

    def log(self, what):
        return os.path.join(self.workdir, f"{self.name}-{what}.log")

    def stop(self):
        """Stops every process of the peer, last started first (SIGTERM, then SIGKILL)."""
        for _n, p in reversed(self.procs):
            stop_process(p, self.stop_timeout)
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.stop()


class GstRelay(_Peer):
    """GStreamer RTSP server relaying one camera through a shared media factory."""

    name = "gst"

    def start(self, camera_url, port=0):
        ready = os.path.join(self.workdir, "gst.port")
        if os.path.exists(ready):
            os.unlink(ready)
        cmd = [SYS_PYTHON, os.path.join(BENCH_DIR, "gst_relay.py"), "--camera", camera_url,
               "--port", str(port), "--path", RELAY_PATH, "--ready-file", ready]
        p = spawn(cmd, self.log("relay"))
        self.procs.append(("gst_relay.py", p))
        try:
            bound = int(wait_file(ready, p, self.start_timeout, "gst_relay.py"))
            url = f"rtsp://127.0.0.1:{bound}{RELAY_PATH}"
            wait_describe(url, self.procs, self.start_timeout)
        except BaseException:
            self.stop()
            raise
        self.url = url
        return url

    def versions(self):
        """Versions of GStreamer and gst-rtsp-server in use."""
        out = subprocess.run([SYS_PYTHON, "-c",
                              "import gi; gi.require_version('Gst','1.0'); "
                              "gi.require_version('GstRtspServer','1.0'); "
                              "from gi.repository import Gst; Gst.init(None); "
                              "print(Gst.version_string())"],
                             capture_output=True, text=True, check=False)
        pkg = _dpkg_version("gir1.2-gst-rtsp-server-1.0") or _dpkg_version("libgstrtspserver-1.0-0")
        return {"gstreamer": out.stdout.strip() or "unknown", "gst-rtsp-server (Debian)": pkg}


def _dpkg_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                       text=True, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def _tool_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return (r.stdout or r.stderr).strip().splitlines()[0] if r.returncode == 0 else None


def npm_install(cache=NPM_CACHE, log_path=None):
    """Installs NPM_PACKAGE@NPM_VERSION under cache (nodejs and npm from Debian first if
    missing) unless that exact version is there already. Returns the recorded versions."""
    record = os.path.join(cache, "installed.json")
    pkg_json = os.path.join(cache, "node_modules", NPM_PACKAGE, "package.json")
    if os.path.exists(record) and os.path.exists(pkg_json):
        with open(pkg_json) as f:
            if json.load(f).get("version") == NPM_VERSION:
                with open(record) as r:
                    return json.load(r)
    os.makedirs(cache, exist_ok=True)
    log = open(log_path or os.path.join(cache, "install.log"), "ab")
    try:
        if not shutil.which("node") or not shutil.which("npm"):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "nodejs", "npm"]):
                if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode:
                    raise PeerError(f"{' '.join(cmd)} failed (see {log.name})")
        if not os.path.exists(os.path.join(cache, "package.json")):
            with open(os.path.join(cache, "package.json"), "w") as f:
                json.dump({"name": "rtsp-director-bench-peers", "private": True}, f)
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--save-exact",
               f"{NPM_PACKAGE}@{NPM_VERSION}"]
        if subprocess.run(cmd, cwd=cache, stdout=log, stderr=subprocess.STDOUT).returncode:
            raise PeerError(f"npm install {NPM_PACKAGE}@{NPM_VERSION} failed (see {log.name})")
    finally:
        log.close()
    with open(pkg_json) as f:
        got = json.load(f)["version"]
    if got != NPM_VERSION:
        raise PeerError(f"npm installed {NPM_PACKAGE} {got}, wanted {NPM_VERSION}")
    dep = os.path.join(cache, "node_modules", "rtsp-server", "package.json")
    versions = {
        NPM_PACKAGE: got,
        "rtsp-server (its RTSP parser)": json.load(open(dep))["version"] if os.path.exists(dep) else None,
        "node": _tool_version(["node", "--version"]),
        "npm": _tool_version(["npm", "--version"]),
    }
    tmp = record + ".tmp"
    with open(tmp, "w") as f:
        json.dump(versions, f, indent=1)
    os.rename(tmp, record)
    return versions


class NpmRelay(_Peer):
    """rtsp-streaming-server (npm) fed by ffmpeg copying the camera's stream (UDP viewers only)."""

    name = "npm"

    def __init__(self, workdir, start_timeout=20.0, stop_timeout=5.0, cache=NPM_CACHE,
                 rtp_start=20000, rtp_count=6000):
        super().__init__(workdir, start_timeout, stop_timeout)
        self.cache = cache
        self.rtp_start = rtp_start  # UDP ports the package hands out: 2 per viewer/publisher
        self.rtp_count = rtp_count
        self._versions = None
        self.publish_url = None

    def versions(self):
        """Installed versions (installs the package if it is not there yet)."""
        if self._versions is None:
            self._versions = npm_install(self.cache, os.path.join(self.workdir, "npm-install.log"))
        return self._versions

    @property
    def ffmpeg_pid(self):
        for n, p in self.procs:
            if n == "ffmpeg":
                return p.pid
        return None

    def start(self, camera_url, port=0):
        """port is the client (viewer) port; the publish port is any free one."""
        self.versions()
        ready = os.path.join(self.workdir, "npm.ports")
        if os.path.exists(ready):
            os.unlink(ready)
        module = os.path.join(self.cache, "node_modules", NPM_PACKAGE)
        cmd = ["node", os.path.join(BENCH_DIR, "npm_relay.js"), "--module", module,
               "--publish-port", "0", "--client-port", str(port), "--rtp-start",
               str(self.rtp_start), "--rtp-count", str(self.rtp_count), "--ready-file", ready]
        p = spawn(cmd, self.log("relay"))
        self.procs.append(("node", p))
        try:
            line = wait_file(ready, p, self.start_timeout, "npm_relay.js").split()
            if len(line) != 3 or line[0] != "PORTS":
                raise PeerError(f"npm_relay.js wrote {line!r}")
            pub, cli = int(line[1]), int(line[2])
            self.publish_url = f"rtsp://127.0.0.1:{pub}{RELAY_PATH}"
            ff = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning",
                  "-rtsp_transport", "tcp", "-i", camera_url, "-c", "copy", "-f", "rtsp",
                  self.publish_url]
            self.procs.append(("ffmpeg", spawn(ff, self.log("ffmpeg"))))
            url = f"rtsp://127.0.0.1:{cli}{RELAY_PATH}"
            wait_describe(url, self.procs, self.start_timeout)
        except BaseException:
            self.stop()
            raise
        self.url = url
        return url


# ---------------------------------------------------------------------------------------------
# Self-test


def ffmpeg_view(url, transport, workdir, tag, seconds=5):
    """The brief's viewer: decodes `seconds` of url; returns (frames, exit code, last lines)."""
    log = os.path.join(workdir, f"view-{tag}.log")
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-rtsp_transport", transport, "-i", url,
           "-t", str(seconds), "-f", "null", "-"]
    with open(log, "wb") as f:
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                                timeout=seconds + 25, start_new_session=True).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    with open(log, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    frames = [int(x) for x in re.findall(r"frame=\s*(\d+)", text)]
    tail = [ln for ln in re.split(r"[\r\n]+", text) if ln.strip()][-2:]
    return (frames[-1] if frames else 0), rc, tail


def bench_run(bench, url, transport, peer, workdir, tag, n=10, seconds=5):
    """rtsp-bench -n n over transport; returns its JSON aggregate plus the peer's CPU seconds
    and RSS over the run."""
    js = os.path.join(workdir, f"bench-{tag}.json")
    log = os.path.join(workdir, f"bench-{tag}.log")
    c0 = cpu_seconds(peer.pids)
    t0 = time.monotonic()
    with open(log, "wb") as f:
        rc = subprocess.run([bench, "-n", str(n), "-T", transport, "-d", str(seconds), "--json", js,
                             url], stdout=f, stderr=subprocess.STDOUT, timeout=seconds + 60,
                            start_new_session=True).returncode
    wall = time.monotonic() - t0
    cpu = cpu_seconds(peer.pids) - c0
    rss = rss_kib(peer.pids)
    agg = {}
    if os.path.exists(js):
        with open(js) as f:
            agg = json.load(f).get("aggregate", {})
    return {"rc": rc, "established": agg.get("established", 0), "packets": agg.get("packets", 0),
            "loss_pct": agg.get("loss_pct"), "errors": {k: v for k, v in agg.get("errors", {}).items() if v},
            "cpu_s": round(cpu, 3), "wall_s": round(wall, 2), "rss_kib": rss}


def selftest(args):
    workdir = os.path.abspath(args.workdir)
    os.makedirs(workdir, exist_ok=True)
    # A 1 s GOP instead of the benchmark's 2 s: a viewer that joins a relay mid-GOP waits for
    # the next IDR before ffmpeg decodes anything, and 5 s must still hold >= 100 frames.
    media = subprocess.run([os.path.join(BENCH_DIR, "make-media.sh"), "--out",
                            os.path.join(ROOT, "build", "peers", "media", "selftest-gop10.h264"),
                            "--gop", "10", "--seconds", "10"],
                           capture_output=True, text=True, check=True).stdout.strip()
    cam_port_file = os.path.join(workdir, "camsim.port")
    if os.path.exists(cam_port_file):
        os.unlink(cam_port_file)
    cam = spawn([args.camsim, "--media", media, "--path", "cam1", "--port", "0", "--port-file",
                 cam_port_file, "--stats-file", os.path.join(workdir, "camsim.json")],
                os.path.join(workdir, "camsim.log"))
    failures = []
    report = {}
    try:
        cam_url = f"rtsp://127.0.0.1:{int(wait_file(cam_port_file, cam, 10, 'rtsp-camsim'))}/cam1"
        # (peer class, transports it must serve, transports it must refuse)
        plan = [(GstRelay, ("tcp", "udp"), ()), (NpmRelay, ("udp",), ("tcp",))]
        for cls, works, refused in plan:
            peer = cls(os.path.join(workdir, cls.name))
            r = report[cls.name] = {}
            try:
                t0 = time.monotonic()
                url = peer.start(cam_url)
                r["url"] = url
                r["start_s"] = round(time.monotonic() - t0, 2)
                r["pids"] = peer.pids
                for tr in works + refused:
                    frames, rc, tail = ffmpeg_view(url, tr, peer.workdir, f"{tr}")
                    r[f"ffmpeg_{tr}"] = {"frames": frames, "rc": rc}
                    if tr in works and (rc != 0 or frames < 100):
                        failures.append(f"{cls.name}: ffmpeg over {tr}: {frames} frames, rc {rc}: {tail}")
                    if tr in refused and rc == 0:
                        failures.append(f"{cls.name}: ffmpeg over {tr} worked; expected a refusal")
                    if tr in refused:
                        r[f"ffmpeg_{tr}"]["why"] = " ".join(tail)[-160:]
                for tr in works:
                    b = r[f"bench_{tr}"] = bench_run(args.bench, url, tr, peer, peer.workdir, tr)
                    if b["rc"] != 0 or b["established"] != 10 or b["packets"] == 0 or \
                            (b["loss_pct"] or 0) > args.max_loss:
                        failures.append(f"{cls.name}: rtsp-bench -n 10 -T {tr}: {b}")
                r["versions"] = peer.versions()
            except (PeerError, OSError, subprocess.SubprocessError, ProcessLookupError) as e:
                failures.append(f"{cls.name}: {e}")
            finally:
                peer.stop()
    finally:
        stop_process(cam)

    with open(os.path.join(workdir, "selftest.json"), "w") as f:
        json.dump({"report": report, "failures": failures}, f, indent=1)
    print(f"peers self-test (camera {media}, logs in {workdir})")
    for name, r in report.items():
        print(f"{name}: {r.get('url', '-')}  started in {r.get('start_s', '-')} s  pids {r.get('pids')}")
        for k, v in r.items():
            if k.startswith("ffmpeg_"):
                extra = f"  ({v['why']})" if "why" in v else ""
                print(f"  {k[7:]:>3} ffmpeg -t 5: {v['frames']} frames, exit {v['rc']}{extra}")
        for k, v in r.items():
            if k.startswith("bench_"):
                print(f"  {k[6:]:>3} rtsp-bench -n 10 -d 5: {v['established']}/10 played, "
                      f"{v['packets']} packets, loss {v['loss_pct']} %, peer CPU {v['cpu_s']} s "
                      f"over {v['wall_s']} s, RSS {v['rss_kib']} KiB"
                      + (f", errors {v['errors']}" if v["errors"] else ""))
        if r.get("versions"):
            print("  versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()))
    for f_ in failures:
        print("FAIL " + f_)
    print("self-test: " + ("ok" if not failures else f"{len(failures)} failure(s)"))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--camsim", help="rtsp-camsim binary")
    ap.add_argument("--bench", help="rtsp-bench binary")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "peers", "selftest"))
    ap.add_argument("--max-loss", type=float, default=0.5, help="percent allowed in the self-test")
    ap.add_argument("--install-npm", action="store_true", help="only install the npm peer")
    args = ap.parse_args()
    if args.install_npm:
        print(json.dumps(npm_install(), indent=1))
        return 0
    if not args.selftest:
        ap.error("nothing to do: --selftest or --install-npm (or import this module)")
    if not args.camsim or not args.bench:
        ap.error("--selftest needs --camsim BIN and --bench BIN")
    return selftest(args)


if __name__ == "__main__":
    sys.exit(main())
