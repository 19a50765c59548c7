# SPDX-License-Identifier: MIT
"""Integration test harness (Python 3 stdlib only; run with /usr/bin/python3).

Processes are started in their own process group and stopped by PID with a bounded wait;
ports are free loopback ports; every wait has a deadline. Tests use it as:

    with Harness() as h:
        port = h.free_port()
        p = h.spawn("broker", [BROKER, "-c", conf])
        h.wait_port(port)
        r = rtsp_request(port, "OPTIONS", "rtsp://127.0.0.1:%d/x" % port)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77  # ctest SKIP_RETURN_CODE


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def skip(why):
    log("SKIP: " + why)
    sys.exit(SKIP)


class Proc:
    def __init__(self, name, popen, logpath):
        self.name, self.popen, self.logpath = name, popen, logpath

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log_text(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig to the PID, waits up to timeout, then SIGKILLs the process group.
        Returns the exit code."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: pid {self.pid} ignored signal {sig}; killing")
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=5)
        return self.popen.returncode


class Harness:
    def __init__(self, keep=False):
        self.dir = tempfile.mkdtemp(prefix="rd-it-")
        self.procs = []
        self.keep = keep or os.environ.get("RD_KEEP_TMP") == "1"
        self.failed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.failed = self.failed or exc_type is not None
        for p in reversed(self.procs):
            p.stop(timeout=5)
        if self.failed:
            for p in self.procs:
                log(f"---- log of {p.name} (pid {p.pid}) ----\n{p.log_text()[-4000:]}")
        if not self.keep and not self.failed:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log(f"kept {self.dir}")
        return False

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, mode=0o600):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    @staticmethod
    def free_port(kind=socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def spawn(self, name, argv, env=None, stdin=None):
        logpath = self.path(f"{name}.log")
        out = open(logpath, "wb")
        e = dict(os.environ)
        if env:
            e.update(env)
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=stdin or subprocess.DEVNULL,
                                 env=e, start_new_session=True)
        out.close()
        p = Proc(name, popen, logpath)
        self.procs.append(p)
        return p

    def run(self, argv, input=None, timeout=30, check=True):
        r = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{argv} exited {r.returncode}: {r.stdout}\n{r.stderr}")
        return r

    def testcam(self, paths, user=None, password=None, relay_paths=False, gop=25):
        """Starts tests/tools/testcam.py; returns (proc, port)."""
        ready = self.path(f"cam{len(self.procs)}.port")
        argv = ["/usr/bin/python3", os.path.join(ROOT, "tests", "tools", "testcam.py"), "--port", "0",
                "--ready-file", ready, "--gop", str(gop)]
        for p in paths:
            argv += ["--path", p]
        if user:
            argv += ["--user", user, "--password", password or ""]
        if relay_paths:
            argv.append("--relay-paths")
        proc = self.spawn(f"testcam{len(self.procs)}", argv)
        wait_for(lambda: os.path.exists(ready) or not proc.alive(), 15, "testcam ready")
        if not proc.alive():
            raise AssertionError("testcam exited:\n" + proc.log_text())
        with open(ready) as f:
            return proc, int(f.read().strip())


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    def ok():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False
    wait_for(ok, timeout, f"port {port}")


class Response:
    def __init__(self, status, reason, headers, body, raw):
        self.status, self.reason, self.headers, self.body, self.raw = status, reason, headers, body, raw

    def header(self, name):
        """The value of the single header name (case-insensitive), or None."""
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return vals[0] if vals else None

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.headers}>"


def read_response(sock, timeout=5.0):
    """Reads one RTSP response from sock; returns Response, or None if the peer closed first."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None if not data else _parse(data, b"")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    resp = _parse(head, b"")
    n = int(resp.header("Content-Length") or 0)
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    resp.body = rest[:n]
    try:
        sock._rd_leftover = rest[n:]
    except AttributeError:
        pass  # socket.socket has __slots__: bytes past this response are not kept
    return resp


def _parse(head, body):
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"RTSP/1\.0 (\d{3}) ?(.*)", lines[0])
    if not m:
        raise AssertionError(f"bad status line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
    return Response(int(m.group(1)), m.group(2), headers, body, head)


def rtsp_request(port, method, url, headers=None, cseq=1, host="127.0.0.1", body=b"", timeout=5.0):
    """Opens a connection, sends one request, returns (Response or None, socket)."""
    s = socket.create_connection((host, port), timeout=timeout)
    req = f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n"
    for k, v in (headers or {}).items():
        req += f"{k}: {v}\r\n"
    if body:
        req += f"Content-Length: {len(body)}\r\n"
    s.sendall(req.encode("latin-1") + b"\r\n" + body)
    return read_response(s, timeout), s


def closed_by_peer(sock, timeout=3.0):
    """True if the peer closes the connection within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
