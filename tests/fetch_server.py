#!/usr/bin/env python3
"""A small HTTP/1.1 server for testing taskpool --fetch: serves files from a root directory and
generated content, and injects faults chosen by the request path. Standard library only.

Run it on its own:

    python3 tests/fetch_server.py --root DIR [--port 0] [--host 127.0.0.1]

prints the port it listens on as its first line of standard output, then serves until killed.
Or import it:

    with FetchServer(root) as server:
        url = server.url("/a.txt")
        ...
        server.requests("/a.txt")   # what taskpool asked for: path, Range, User-Agent, status

Paths. A fault prefix applies to the rest of the path, which is served in turn, so prefixes
combine (/fail-then-ok/1/redirect/2/gen/1000/x). Every "once" or "first N" counts the requests
for the whole request path (query included) within this server, so it is deterministic per path.

    /NAME                   the file NAME under the root (percent-decoded; "", "." and ".."
                            segments are dropped, so nothing outside the root is served; a
                            directory serves its index.html); the query string is ignored
    /query?file=NAME        the file NAME under the root
    /gen/SIZE/NAME          SIZE bytes of generated content (see generated_bytes), streamed
    /gens/SEED/SIZE/NAME    SIZE bytes of generated content of its own for each SEED (an
                            integer), so that files of different URLs share no prefix
    /fail-then-ok/N/REST    500 for the first N requests, then REST
    /429/REST               the first request gets 429 with "Retry-After: 1", then REST
    /429-after/S/REST       the first request gets 429 with "Retry-After: S", then REST
    /503-date/REST          the first request gets 503 with Retry-After as an HTTP date 1 to 2 s
                            ahead, then REST
    /status/CODE/REST       always CODE (an empty body)
    /404...                 any path whose first segment starts with 404: 404 (an empty body)
    /redirect/N/REST        N 302 redirects (to /redirect/N-1/REST), then REST
    /redirect-loop...       302 redirects forever
    /delay/MS/REST          waits MS milliseconds, then REST
    /slow/REST              the headers, then the body 1 KiB every 0.5 s
    /slow-once/REST         the first request as /slow/, later ones at full speed
    /reset/REST             the headers with the full Content-Length, half the body, then a TCP
                            reset (SO_LINGER 0)
    /reset-once/REST        the first request as /reset/, later ones complete
    /short/REST             the full Content-Length, half the body, then a normal close
    /short-once/REST        the first request as /short/, later ones complete
    /no-range/REST          the whole body with 200, whatever the Range header says
    /bad-range/REST         a Range request gets 206 with the whole body, labelled
                            "Content-Range: bytes 0-(N-1)/N", whatever range it asked for
    /partial/REST           a request without Range gets 206 with the first half of the body
                            ("bytes 0-(N/2-1)/N")
    /206-whole/REST         a request without Range gets 206 with the whole body
                            ("bytes 0-(N-1)/N")
    /no-if-range/REST       If-Range is ignored: a Range request gets its range, changed or not
    /no-etag/REST           no ETag header (Last-Modified is the only validator)
    /no-validator/REST      neither ETag nor Last-Modified
    /stall/REST             the headers and half the body, then nothing until the server stops
    /stall-once/REST        the first request as /stall/, later ones complete

Range requests ("bytes=A-B", "bytes=A-", "bytes=-N") get 206 with Content-Range, or 416 when
the range starts at or after the end. With If-Range, the range is sent only when the validator
is the current ETag (a strong one) or Last-Modified, else the whole body with 200. Bodies have an
ETag and a Last-Modified: for a file, from its size and modification time; for generated
content, from its size and seed. Error responses have an empty body; redirects have a short one,
which a client must not save.

TLS: FetchServer(root, tls=(CERT_FILE, KEY_FILE)) serves HTTPS. ConnectProxy is an HTTP proxy
that only tunnels (CONNECT), as HTTPS through a proxy goes; it records the targets it was asked
for.
"""

import argparse
import email.utils
import hashlib
import math
import os
import random
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

GEN_BLOCK = 64 * 1024
SLOW_CHUNK = 1024
SLOW_INTERVAL = 0.5
SEND_CHUNK = 64 * 1024
GEN_MODIFIED = 1_000_000_000.0  # Last-Modified of generated content (2001)
REDIRECT_BODY = b"<p>moved</p>\n"
# Fault prefixes that change how the rest of the path is served (see the module's docstring).
MODES = ("slow", "reset", "short", "no-range", "bad-range", "partial", "206-whole", "no-if-range",
         "no-etag", "no-validator", "stall")


# ---------------------------------------------------------------------------------------------
# Generated content: deterministic bytes that depend only on their offset, made in blocks.

def _gen_block(index: int, seed: int = 0) -> bytes:
    return random.Random(index if seed == 0 else (seed << 32) + index).randbytes(GEN_BLOCK)


def generated_chunks(start: int, end: int, seed: int = 0) -> Iterator[bytes]:
    """The generated content's bytes [start, end), in chunks of at most GEN_BLOCK bytes (seed 0
    is /gen/'s content, another seed /gens/SEED/'s)."""
    pos = start
    while pos < end:
        index = pos // GEN_BLOCK
        block = _gen_block(index, seed)
        lo = pos - index * GEN_BLOCK
        hi = min(GEN_BLOCK, end - index * GEN_BLOCK)
        yield block[lo:hi]
        pos += hi - lo


def generated_bytes(size: int, start: int = 0, seed: int = 0) -> bytes:
    """The bytes a /gen/SIZE/NAME (or /gens/SEED/SIZE/NAME) file holds from `start` on (for
    small sizes)."""
    return b"".join(generated_chunks(start, size, seed))


_sha_cache: Dict[Tuple[int, int], str] = {}
_sha_lock = threading.Lock()


def generated_sha256(size: int, seed: int = 0) -> str:
    """The sha256 (hex) of a /gen/SIZE/NAME (or /gens/SEED/SIZE/NAME) file, computed by
    streaming it."""
    with _sha_lock:
        if (size, seed) not in _sha_cache:
            h = hashlib.sha256()
            for chunk in generated_chunks(0, size, seed):
                h.update(chunk)
            _sha_cache[(size, seed)] = h.hexdigest()
        return _sha_cache[(size, seed)]


# ---------------------------------------------------------------------------------------------
# What the server saw.

@dataclass
class RequestRecord:
    method: str
    path: str                 # as in the request line, query included
    range: Optional[str]      # the Range header, if any
    user_agent: Optional[str]
    client: Tuple[str, int]   # the client's address: one per connection
    time: float               # time.monotonic() when the request arrived
    status: int = 0           # the status sent (0 until sent)
    body_bytes: int = 0       # body bytes written to the socket
    if_range: Optional[str] = None  # the If-Range header, if any


class _Body:
    """Content to serve: its size, a reader of a byte range, and its validators."""

    def __init__(self, size: int, read: Callable[[int, int], Iterator[bytes]], etag: str,
                 modified: float):
        self.size = size
        self.read = read
        self.etag = etag
        self.last_modified = email.utils.formatdate(modified, usegmt=True)


def _file_body(path: Path) -> _Body:
    st = path.stat()
    size = st.st_size

    def read(start: int, end: int) -> Iterator[bytes]:
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                chunk = f.read(min(SEND_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    return _Body(size, read, f'"{size:x}-{st.st_mtime_ns:x}"', st.st_mtime)


def _parse_range(header: str, size: int) -> Optional[Tuple[int, int]]:
    """(start, end) with end exclusive for a single "bytes=" range; None when the header is not
    one we handle (the whole body is sent); (size, size) when unsatisfiable."""
    header = header.strip()
    if not header.startswith("bytes=") or "," in header:
        return None
    spec = header[len("bytes="):].strip()
    first, dash, last = spec.partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return (size, size)
            return (max(0, size - n), size)
        start = int(first)
        end = int(last) + 1 if last != "" else size
    except ValueError:
        return None
    if start >= size or end <= start:
        return (size, size)
    return (start, min(end, size))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # quiet: tests read server.requests() instead
        pass

    def do_GET(self):
        self._serve(head=False)

    def do_HEAD(self):
        self._serve(head=True)

    # -- responses ------------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        owner = self.server.owner
        record = RequestRecord(self.command, self.path, self.headers.get("Range"),
                               self.headers.get("User-Agent"), self.client_address,
                               time.monotonic(), if_range=self.headers.get("If-Range"))
        self._record = record
        self._head = head
        owner._begin(record)
        self._in_flight = True
        try:
            split = urllib.parse.urlsplit(self.path)
            self._query = urllib.parse.parse_qs(split.query)
            self._dispatch(split.path, modes=())
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        finally:
            self._land()

    def _land(self) -> None:
        """The request is no longer in flight (once: see _send_body)."""
        if self._in_flight:
            self._in_flight = False
            self.server.owner._end(self._record)

    def _count(self, kind: str) -> int:
        """How many requests for this path reached `kind`, this one included."""
        return self.server.owner._bump((kind, self.path))

    def _send_empty(self, status: int, headers: Dict[str, str] = {}, body: bytes = b"") -> None:
        self._record.status = status
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not self._head:
            self._write(body)

    def _dispatch(self, path: str, modes: tuple) -> None:
        segs = path.lstrip("/").split("/")
        head, rest = segs[0], segs[1:]

        def rest_path(skip: int = 0) -> str:
            return "/" + "/".join(rest[skip:])

        if head.startswith("404"):
            return self._send_empty(404)
        if head == "status" and rest:
            return self._send_empty(int(rest[0]))
        if head == "fail-then-ok" and rest:
            if self._count("fail-then-ok") <= int(rest[0]):
                return self._send_empty(500)
            return self._dispatch(rest_path(1), modes)
        if head == "429":
            if self._count("429") == 1:
                return self._send_empty(429, {"Retry-After": "1"})
            return self._dispatch(rest_path(), modes)
        if head == "429-after" and rest:
            if self._count("429-after") == 1:
                return self._send_empty(429, {"Retry-After": rest[0]})
            return self._dispatch(rest_path(1), modes)
        if head == "503-date":
            if self._count("503-date") == 1:
                when = email.utils.formatdate(math.floor(time.time()) + 2, usegmt=True)
                return self._send_empty(503, {"Retry-After": when})
            return self._dispatch(rest_path(), modes)
        if head == "redirect" and rest:
            n = int(rest[0])
            if n > 0:
                target = f"/redirect/{n - 1}/" + "/".join(rest[1:])
                query = urllib.parse.urlsplit(self.path).query
                if query:
                    target += "?" + query
                return self._send_empty(302, {"Location": target}, REDIRECT_BODY)
            return self._dispatch(rest_path(1), modes)
        if head == "redirect-loop":
            hop = int(self._query.get("hop", ["0"])[0])
            return self._send_empty(302, {"Location": f"{path}?hop={hop + 1}"}, REDIRECT_BODY)
        if head == "delay" and rest:
            time.sleep(int(rest[0]) / 1000)
            return self._dispatch(rest_path(1), modes)
        if head in MODES:
            return self._dispatch(rest_path(), modes + (head,))
        if head in ("slow-once", "reset-once", "short-once", "stall-once"):
            if self._count(head) == 1:
                modes = modes + (head[:-len("-once")],)
            return self._dispatch(rest_path(), modes)

        body = self._content(head, rest)
        if body is None:
            return self._send_empty(404)
        self._send_body(body, modes)

    def _content(self, head: str, rest: List[str]) -> Optional[_Body]:
        if head in ("gen", "gens") and rest:
            try:
                seed = int(rest.pop(0)) if head == "gens" else 0
                size = int(rest[0])
            except (ValueError, IndexError):
                return None

            def read(start: int, end: int) -> Iterator[bytes]:
                return generated_chunks(start, end, seed)

            return _Body(size, read, f'"gen-{seed:x}-{size:x}"', GEN_MODIFIED)
        if head == "query":
            names = self._query.get("file")
            return self._file(names[0]) if names else None
        return self._file("/".join([head] + rest))

    def _file(self, raw: str) -> Optional[_Body]:
        decoded = os.fsdecode(urllib.parse.unquote_to_bytes(raw))
        parts = [p for p in decoded.split("/") if p not in ("", ".", "..")]
        path = self.server.owner.root.joinpath(*parts)
        try:
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                return None
        except (OSError, ValueError):  # a name too long, or with a NUL byte
            return None
        return _file_body(path)

    def _range_wanted(self, body: _Body, modes: tuple) -> bool:
        """Whether the Range header is to be honoured: If-Range names the current content."""
        if "no-range" in modes:
            return False
        if_range = self.headers.get("If-Range")
        if if_range is None or "no-if-range" in modes:
            return True
        if if_range.startswith("W/"):  # a weak tag never matches (RFC 9110, 13.1.5)
            return False
        return if_range in (body.etag, body.last_modified)

    def _send_body(self, body: _Body, modes: tuple) -> None:
        start, end, status = 0, body.size, 200
        range_header = self.headers.get("Range")
        if range_header and self._range_wanted(body, modes):
            parsed = _parse_range(range_header, body.size)
            if parsed is not None:
                start, end = parsed
                if start >= body.size:
                    return self._send_empty(416, {"Content-Range": f"bytes */{body.size}"})
                status = 206
                if "bad-range" in modes:  # the whole body, whatever was asked for
                    start, end = 0, body.size
        elif not range_header and "partial" in modes:
            start, end, status = 0, body.size // 2, 206
        elif not range_header and "206-whole" in modes:
            status = 206
        length = end - start
        self._record.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "none" if "no-range" in modes else "bytes")
        if "no-etag" not in modes and "no-validator" not in modes:
            self.send_header("ETag", body.etag)
        if "no-validator" not in modes:
            self.send_header("Last-Modified", body.last_modified)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{body.size}")
        self.end_headers()
        if self._head:
            return

        if any(m in modes for m in ("reset", "short", "stall")):
            end = start + length // 2
        stop = self.server.owner._stopping
        # A whole response is out of flight just before its last bytes go: the client may have
        # them all, and make its next request, before this thread runs again.
        whole = not any(m in modes for m in ("reset", "short", "stall", "slow"))
        chunks = body.read(start, end)
        chunk = next(chunks, None)
        while chunk is not None:
            following = next(chunks, None)
            if whole and following is None:
                self._land()
            if "slow" in modes:
                for i in range(0, len(chunk), SLOW_CHUNK):
                    if stop.is_set():
                        self.close_connection = True
                        return
                    self._write(chunk[i:i + SLOW_CHUNK])
                    time.sleep(SLOW_INTERVAL)
            else:
                self._write(chunk)
            chunk = following
        if "reset" in modes:
            self._reset()
        elif "short" in modes:
            self.close_connection = True
        elif "stall" in modes:
            self.wfile.flush()
            stop.wait()
            self.close_connection = True

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self._record.body_bytes += len(data)

    def _reset(self) -> None:
        """Ends the connection with a TCP reset once the client had time to read what was sent."""
        self.close_connection = True
        time.sleep(0.2)
        conn = self.connection
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket closes for real only once the reader made from it is closed too.
        self.rfile.close()
        conn.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # listen()'s backlog: socketserver's 5 drops the connections of a client that opens 64 at
    # once (-j 64), which then wait for the kernel's retransmissions, for seconds.
    request_queue_size = 128
    owner: "FetchServer"
    tls: Optional[ssl.SSLContext] = None

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread, not in the loop that
        # accepts connections.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        # A client that went away (killed, or done with a kept-alive connection) is no error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FetchServer:
    """The test server, serving in a thread of its own (start/stop, or use it with `with`)."""

    def __init__(self, root, host: str = "127.0.0.1", port: int = 0,
                 tls: Optional[Tuple[str, str]] = None):
        """`tls`: (certificate file, key file) to serve HTTPS."""
        self.root = Path(root)
        self._lock = threading.Lock()
        self._requests: List[RequestRecord] = []
        self._counters: Dict[Tuple[str, str], int] = {}
        self._in_flight = 0
        self.max_in_flight = 0
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.tls = context
        self.scheme = "https" if tls is not None else "http"
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread: Optional[threading.Thread] = None

    # -- life --------------------------------------------------------------------------------

    def start(self) -> "FetchServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "FetchServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The URL for `path` (which starts with '/'; passed on as it is, not quoted)."""
        return self.base_url + path

    # -- what was seen -----------------------------------------------------------------------

    def requests(self, path: Optional[str] = None) -> List[RequestRecord]:
        """Copies of the requests seen so far, in arrival order; only those for `path` (the
        request line's path, query included) when given."""
        with self._lock:
            return [replace(r) for r in self._requests if path is None or r.path == path]

    def requests_under(self, prefix: str) -> List[RequestRecord]:
        with self._lock:
            return [replace(r) for r in self._requests if r.path.startswith(prefix)]

    def reset(self) -> None:
        """Forgets the requests, the counters of the faults, and the maximum in flight."""
        with self._lock:
            self._requests.clear()
            self._counters.clear()
            self.max_in_flight = self._in_flight

    def _begin(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _end(self, record: RequestRecord) -> None:
        with self._lock:
            self._in_flight -= 1

    def _bump(self, key: Tuple[str, str]) -> int:
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + 1
            return self._counters[key]


class ConnectProxy:
    """An HTTP proxy on 127.0.0.1 that only tunnels: "CONNECT host:port" gets "HTTP/1.1 200
    Connection established", then bytes go both ways until either side closes. Anything else
    gets 405. `targets` lists the CONNECT targets in arrival order."""

    def __init__(self, host: str = "127.0.0.1"):
        self.targets: List[str] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._stopping = threading.Event()
        self._threads: List[threading.Thread] = []

    def __enter__(self) -> "ConnectProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "ConnectProxy":
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            self._spawn(self._tunnel, client)

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            request = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(request) < 2 or request[0] != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            with self._lock:
                self.targets.append(request[1])
            host, _, port = request[1].rpartition(":")
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
            except (OSError, ValueError):
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                client.sendall(head.split(b"\r\n\r\n", 1)[1])
                self._relay(client, upstream)

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self._stopping.is_set():
            ready, _, _ = select.select(list(peers), [], [], 0.05)
            for sock in ready:
                try:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
                except OSError:
                    return


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the directory whose files are served")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = FetchServer(args.root, args.host, args.port)
    print(server.port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
