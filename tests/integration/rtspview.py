# SPDX-License-Identifier: MIT
"""A small measuring RTSP viewer for the integration tests (Python 3 stdlib only).

It starts where a player starts, at the broker URL: DESCRIBE there, follow the 302 to the
relay (a new connection, as FFmpeg and GStreamer do), DESCRIBE, SETUP the video track over
TCP interleaved or UDP, PLAY; then a thread reads media and measures it:

  - RTP packets, bytes, SSRCs, sequence gaps (packets missing), duplicates/reordering;
  - the time from the PLAY response to the first SPS, PPS, IDR start and the end of the
    first IDR access unit (H.264, RFC 6184: single NAL units, STAP-A, FU-A);
  - the RTP-Info of the PLAY response against the first packet received;
  - when the server closed the connection.

    v = Viewer(broker_url, transport="tcp").start()
    ... v.stats() ... v.close()
"""
import re
import select
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

NAL_IDR, NAL_SPS, NAL_PPS, NAL_STAP_A, NAL_FU_A = 5, 7, 8, 24, 28


class RtspError(Exception):
    def __init__(self, msg, status=None, response=None):
        super().__init__(msg)
        self.status, self.response = status, response


class Resp:
    def __init__(self, status, reason, headers, body, at):
        self.status, self.reason, self.headers, self.body, self.at = status, reason, headers, body, at

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<RTSP {self.status} {self.reason} {self.headers}>"


def hostport(url):
    u = urlsplit(url)
    return u.hostname, u.port or 554


class Conn:
    """One RTSP connection with a byte buffer shared by responses and interleaved frames."""

    def __init__(self, url, timeout=5.0, rcvbuf=None):
        host, port = hostport(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so the advertised window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.cseq = 0
        self.frames = []  # interleaved frames read while waiting for a response
        self.eof = False

    def fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            self.eof = True
            raise RtspError("connection closed by the server")
        self.buf += chunk
        return time.monotonic()

    def send(self, method, url, headers=None):
        self.cseq += 1
        req = f"{method} {url} RTSP/1.0\r\nCSeq: {self.cseq}\r\nUser-Agent: rd-integration\r\n"
        for k, v in (headers or {}).items():
            req += f"{k}: {v}\r\n"
        self.sock.sendall((req + "\r\n").encode("latin-1"))
        return self.cseq

    def take_item(self, at):
        """Removes one complete item from buf: ("frame", ch, payload) or ("resp", Resp);
        None when more bytes are needed."""
        b = self.buf
        if not b:
            return None
        if b[0] == 0x24:
            if len(b) < 4:
                return None
            ch, n = b[1], struct.unpack("!H", b[2:4])[0]
            if len(b) < 4 + n:
                return None
            self.buf = b[4 + n:]
            return ("frame", ch, b[4:4 + n])
        end = b.find(b"\r\n\r\n")
        if end < 0:
            if len(b) > 65536:
                raise RtspError(f"no header end in {b[:200]!r}")
            return None
        head = b[:end].decode("latin-1").split("\r\n")
        m = re.match(r"RTSP/1\.0 (\d{3}) ?(.*)", head[0])
        if not m:
            raise RtspError(f"bad status line {head[0]!r}")
        headers = []
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        r = Resp(int(m.group(1)), m.group(2), headers, b"", at)
        n = int(r.header("Content-Length") or 0)
        if len(b) < end + 4 + n:
            return None
        r.body = b[end + 4:end + 4 + n]
        self.buf = b[end + 4 + n:]
        return ("resp", r)

    def response(self, timeout=5.0):
        """Reads until one response; interleaved frames before it are kept in self.frames."""
        deadline = time.monotonic() + timeout
        at = time.monotonic()
        while True:
            item = self.take_item(at)
            if item is None:
                if time.monotonic() > deadline:
                    raise RtspError("response timeout")
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                at = self.fill()
                continue
            if item[0] == "resp":
                return item[1]
            self.frames.append((at, item[1], item[2]))

    def request(self, method, url, headers=None, timeout=5.0):
        self.send(method, url, headers)
        return self.response(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def describe_follow(url, max_hops=3, timeout=5.0):
    """DESCRIBE url, following 301/302 on new connections (as players do).
    Returns (conn, resp, final_url, hops): conn is open on the server that answered last."""
    hops = []
    for _ in range(max_hops + 1):
        c = Conn(url, timeout)
        r = c.request("DESCRIBE", url, {"Accept": "application/sdp"}, timeout)
        if r.status in (301, 302):
            c.close()
            loc = r.header("Location")
            if not loc:
                raise RtspError("3xx without Location", r.status, r)
            hops.append(loc)
            url = loc
            continue
        return c, r, url, hops
    raise RtspError(f"too many redirects: {hops}")


def sdp_video_control(sdp, base):
    """The absolute control URL of the first video track (RFC 2326 C.1.1)."""
    in_video, control = False, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            if in_video and control:
                break
            in_video = line.startswith("m=video")
        elif in_video and line.startswith("a=control:"):
            control = line[len("a=control:"):].strip()
    if control is None or control == "*":
        return base
    if control.startswith("rtsp://") or control.startswith("rtsps://"):
        return control
    return base + ("" if base.endswith("/") else "/") + control


def sdp_has_sprop(sdp):
    return "sprop-parameter-sets=" in sdp


def nal_types(payload):
    """[(type, starts_unit, ends_unit)] of the NAL units an H.264 RTP payload carries."""
    if not payload:
        return []
    t = payload[0] & 0x1F
    if 1 <= t <= 23:
        return [(t, True, True)]
    if t == NAL_STAP_A:
        out, i = [], 1
        while i + 2 <= len(payload):
            n = struct.unpack("!H", payload[i:i + 2])[0]
            if n and i + 2 < len(payload):
                out.append((payload[i + 2] & 0x1F, True, True))
            i += 2 + n
        return out
    if t == NAL_FU_A and len(payload) >= 2:
        return [(payload[1] & 0x1F, bool(payload[1] & 0x80), bool(payload[1] & 0x40))]
    return []


class RtpStats:
    """Sequence accounting and H.264 key-frame timing of one RTP stream."""

    def __init__(self):
        self.packets = self.bytes = self.gaps = self.dups = 0
        self.ssrcs = []
        self.first_seq = self.first_ts = None
        self.last_seq = None
        self.first_at = self.last_at = None
        self.first_nal = None
        self.t = {}  # "sps", "pps", "idr_start", "idr_end" -> monotonic time
        self.in_idr = False
        self.markers = 0  # access units ended
        self.max_interval = 0.0  # longest wait between two packets, seconds
        self.gap_log = []

    def on_rtp(self, at, pkt):
        if len(pkt) < 12 or (pkt[0] >> 6) != 2:
            return
        cc = pkt[0] & 0x0F
        ext = pkt[0] & 0x10
        marker = bool(pkt[1] & 0x80)
        seq, ts, ssrc = struct.unpack("!HII", pkt[2:12])
        off = 12 + 4 * cc
        if ext and len(pkt) >= off + 4:
            off += 4 + 4 * struct.unpack("!H", pkt[off + 2:off + 4])[0]
        payload = pkt[off:]
        if pkt[0] & 0x20 and payload:  # padding
            payload = payload[:len(payload) - payload[-1]]
        self.packets += 1
        self.bytes += len(pkt)
        if not self.ssrcs or self.ssrcs[-1] != ssrc:
            self.ssrcs.append(ssrc)
        if self.first_seq is None:
            self.first_seq, self.first_ts, self.first_at = seq, ts, at
            nt = nal_types(payload)
            self.first_nal = nt[0][0] if nt else None
        else:
            expected = (self.last_seq + 1) & 0xFFFF
            d = (seq - expected) & 0xFFFF
            if d != 0:
                if d < 0x8000:
                    self.gaps += d
                    if len(self.gap_log) < 20:
                        self.gap_log.append((round(at, 3), expected, seq))
                else:
                    self.dups += 1
                    return
        if self.last_at is not None:
            self.max_interval = max(self.max_interval, at - self.last_at)
        self.last_seq = seq
        self.last_at = at
        for typ, start, end in nal_types(payload):
            if typ == NAL_SPS:
                self.t.setdefault("sps", at)
            elif typ == NAL_PPS:
                self.t.setdefault("pps", at)
            elif typ == NAL_IDR and start:
                self.t.setdefault("idr_start", at)
                self.in_idr = "idr_end" not in self.t
        if marker:
            self.markers += 1
            if self.in_idr:
                self.t.setdefault("idr_end", at)
                self.in_idr = False


class Viewer:
    """One viewer started at url (normally the broker's). transport: "tcp" or "udp".
    rcvbuf: SO_RCVBUF of the TCP connection; read=False never reads after PLAY (a stalled
    viewer). keepalive_s: GET_PARAMETER period (TCP: on the connection; UDP: likewise)."""

    def __init__(self, url, transport="tcp", rcvbuf=None, read=True, keepalive_s=20.0,
                 name="viewer", timeout=8.0):
        self.url, self.transport, self.rcvbuf, self.read = url, transport, rcvbuf, read
        self.keepalive_s, self.name, self.timeout = keepalive_s, name, timeout
        self.rtp = RtpStats()
        self.conn = None
        self.udp = []
        self.session = None
        self.closed_at = None
        self.close_reason = None
        self.error = None
        self.play_sent_at = self.play_resp_at = None
        self.rtp_info = None
        self.relay_url = None
        self.hops = []
        self.sdp = ""
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.thread = None

    # -- setup --
    def start(self):
        c, r, url, hops = describe_follow(self.url, timeout=self.timeout)
        self.hops, self.relay_url = hops, url
        if r.status != 200:
            c.close()
            raise RtspError(f"{self.name}: DESCRIBE {url} -> {r.status}", r.status, r)
        if self.rcvbuf is not None:
            # A stalled viewer needs its small window on the connection that carries media:
            # reconnect to the relay with it (DESCRIBE again, as a player would after a retry).
            c.close()
            c = Conn(url, self.timeout, self.rcvbuf)
            r = c.request("DESCRIBE", url, {"Accept": "application/sdp"}, self.timeout)
            if r.status != 200:
                raise RtspError(f"{self.name}: DESCRIBE {url} -> {r.status}", r.status, r)
        self.conn = c
        self.sdp = r.body.decode("latin-1")
        base = r.header("Content-Base") or url
        self.control = sdp_video_control(self.sdp, base)
        if self.transport == "tcp":
            tr = "RTP/AVP/TCP;unicast;interleaved=0-1"
        else:
            self.udp = bind_udp_pair("127.0.0.1")
            p = self.udp[0].getsockname()[1]
            tr = f"RTP/AVP;unicast;client_port={p}-{p + 1}"
        r = c.request("SETUP", self.control, {"Transport": tr}, self.timeout)
        if r.status != 200:
            raise RtspError(f"{self.name}: SETUP -> {r!r}", r.status, r)
        self.setup_transport = r.header("Transport")
        self.session = (r.header("Session") or "").split(";")[0].strip()
        self.session_header = r.header("Session")
        self.play_sent_at = time.monotonic()
        r = c.request("PLAY", base, {"Session": self.session, "Range": "npt=0.000-"},
                      self.timeout)
        if r.status != 200:
            raise RtspError(f"{self.name}: PLAY -> {r.status}", r.status, r)
        self.play_resp_at = r.at
        self.rtp_info = r.header("RTP-Info")
        self.play_resp = r
        # Frames that came with or before the PLAY response.
        for at, ch, payload in c.frames:
            self._frame(at, ch, payload)
        c.frames = []
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()
        return self

    def rtp_info_seq(self):
        m = re.search(r"seq=(\d+)", self.rtp_info or "")
        return int(m.group(1)) if m else None

    def rtp_info_rtptime(self):
        m = re.search(r"rtptime=(\d+)", self.rtp_info or "")
        return int(m.group(1)) if m else None

    # -- media --
    def _frame(self, at, ch, payload):
        if ch == 0:
            with self.lock:
                self.rtp.on_rtp(at, payload)

    def _closed(self, why):
        if self.closed_at is None:
            self.closed_at = time.monotonic()
            self.close_reason = why

    def _run(self):
        try:
            if not self.read:
                self.stop_ev.wait()
                return
            if self.transport == "tcp":
                self._run_tcp()
            else:
                self._run_udp()
        except Exception as e:  # noqa: BLE001 -- reported through self.error
            if not self.stop_ev.is_set():
                self.error = repr(e)

    def _keepalive(self, last):
        now = time.monotonic()
        if self.keepalive_s and now - last >= self.keepalive_s:
            self.conn.send("GET_PARAMETER", self.relay_url, {"Session": self.session})
            return now
        return last

    def _run_tcp(self):
        c = self.conn
        last_ka = time.monotonic()
        while not self.stop_ev.is_set():
            last_ka = self._keepalive(last_ka)
            c.sock.settimeout(0.5)
            try:
                at = c.fill()
            except socket.timeout:
                continue
            except (RtspError, OSError) as e:
                self._closed(repr(e))
                return
            while True:
                item = c.take_item(at)
                if item is None:
                    break
                if item[0] == "frame":
                    self._frame(at, item[1], item[2])

    def _run_udp(self):
        rtp_sock = self.udp[0]
        self.conn.sock.setblocking(False)
        last_ka = time.monotonic()
        while not self.stop_ev.is_set():
            last_ka = self._keepalive(last_ka)
            rd, _, _ = select.select([rtp_sock, self.conn.sock], [], [], 0.5)
            at = time.monotonic()
            if rtp_sock in rd:
                for _ in range(256):
                    try:
                        pkt = rtp_sock.recv(65536)
                    except BlockingIOError:
                        break
                    with self.lock:
                        self.rtp.on_rtp(at, pkt)
            if self.conn.sock in rd:
                try:
                    chunk = self.conn.sock.recv(65536)
                except BlockingIOError:
                    chunk = b"?"
                except OSError as e:
                    self._closed(repr(e))
                    chunk = None
                if not chunk:
                    self._closed(self.close_reason or "control connection closed")
                    # UDP media may go on for a moment; keep counting until stopped.
                    self.conn.sock = socket.socket()  # placeholder never readable
                    self.conn.sock.setblocking(False)

    # -- results --
    def stats(self):
        with self.lock:
            s = self.rtp
            return {
                "packets": s.packets, "bytes": s.bytes, "gaps": s.gaps, "dups": s.dups,
                "ssrcs": list(s.ssrcs), "first_seq": s.first_seq, "last_seq": s.last_seq,
                "first_nal": s.first_nal, "frames": s.markers, "last_at": s.last_at,
                "times": dict(s.t), "gap_log": list(s.gap_log),
                "max_interval_s": s.max_interval,
            }

    def reset_max_interval(self):
        with self.lock:
            self.rtp.max_interval = 0.0

    def keyframe_ms(self, sprop_ok=True):
        """ms from the PLAY response until SPS, PPS and a whole IDR access unit arrived
        (SPS/PPS from the SDP's sprop-parameter-sets count as present at once when sprop_ok);
        None while they have not."""
        t = self.stats()["times"]
        if "idr_end" not in t:
            return None
        need = [t["idr_end"]]
        for k in ("sps", "pps"):
            if k in t:
                need.append(t[k])
            elif not (sprop_ok and sdp_has_sprop(self.sdp)):
                return None
        return (max(need) - self.play_resp_at) * 1000.0

    def connected(self):
        return self.closed_at is None

    def teardown(self):
        try:
            if self.conn and self.closed_at is None:
                self.conn.sock.setblocking(True)
                self.conn.send("TEARDOWN", self.relay_url, {"Session": self.session})
        except OSError:
            pass

    def close(self):
        self.stop_ev.set()
        if self.thread:
            self.thread.join(timeout=3)
        if self.conn:
            self.conn.close()
        for s in self.udp:
            s.close()


def bind_udp_pair(host):
    """Two UDP sockets on consecutive ports, the first even (RFC 3550 §11)."""
    for _ in range(200):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind((host, 0))
        p = a.getsockname()[1]
        if p % 2 or p >= 65535:
            a.close()
            continue
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            b.bind((host, p + 1))
        except OSError:
            a.close()
            b.close()
            continue
        for s in (a, b):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            s.setblocking(False)
        return [a, b]
    raise RtspError("no free UDP port pair")
