"""A small threaded TCP proxy on 127.0.0.1 that makes an HTTP upstream slow or failing.

    with FaultyProxy(upstream_port, connect_delay=0.3, fail_first=6) as proxy:
        ...  # point a kubeconfig at proxy.url

- `connect_delay`: every new client connection waits this long before it is forwarded
  (a congested network or an API server's slow TLS accept).
- `hold_watches`: a request for a watch (`watch=true` in its URL) waits this long before it
  is forwarded, so watch threads are still inside an API call when the command ends.
- `fail_first`: the first N HTTP requests, over all connections, are answered by the proxy
  itself with `500 Internal Server Error` and a Kubernetes-shaped Status body, and the
  connection is closed; later requests pass through untouched.

Bytes are forwarded as they come (watch streams stay streams). Only for tests: one thread
per direction per connection, stopped and joined by `close()`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from types import TracebackType

STATUS_500 = json.dumps(
    {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "injected by FaultyProxy",
        "reason": "InternalError",
        "code": 500,
    }
).encode()


class FaultyProxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:<upstream>, with delays and 500 answers."""

    def __init__(
        self,
        upstream: int,
        *,
        connect_delay: float = 0.0,
        fail_first: int = 0,
        hold_watches: float = 0.0,
    ) -> None:
        self.upstream = upstream
        self.connect_delay = connect_delay
        self.hold_watches = hold_watches
        self.fail_first = fail_first
        self.connections = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultyProxy:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            _shutdown(sock)
        for thread in threads:
            thread.join(timeout=5)

    # -- connections --------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, client)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._sockets.append(client)
        if self._closing.wait(self.connect_delay):
            _shutdown(client)
            return
        first = _read_request_head(client)
        if first is None:
            _shutdown(client)
            return
        watch = b"watch=true" in first.split(b"\r\n", 1)[0]
        if watch and self.hold_watches and self._closing.wait(self.hold_watches):
            _shutdown(client)
            return
        if self._take_failure():
            _drain_body(client, first)
            _answer_500(client)
            _shutdown(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        except OSError:
            _shutdown(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        upstream.sendall(first)
        self._spawn(_pump, upstream, client)
        _pump(client, upstream)

    def _take_failure(self) -> bool:
        with self._lock:
            if self.failed < self.fail_first:
                self.failed += 1
                return True
            return False


def _read_request_head(sock: socket.socket) -> bytes | None:
    """The bytes up to the end of the first request's headers (None when none came)."""
    data = b""
    sock.settimeout(10)
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
    except OSError:
        return None
    sock.settimeout(None)
    return data


def _drain_body(sock: socket.socket, head: bytes) -> None:
    headers, _, body = head.partition(b"\r\n\r\n")
    length = 0
    for line in headers.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    remaining = length - len(body)
    sock.settimeout(5)
    try:
        while remaining > 0:
            chunk = sock.recv(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)
    except OSError:
        return


def _answer_500(sock: socket.socket) -> None:
    head = (
        "HTTP/1.1 500 Internal Server Error\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(STATUS_500)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    try:
        sock.sendall(head + STATUS_500)
    except OSError:
        return


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        _shutdown(target)
        _shutdown(source)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
