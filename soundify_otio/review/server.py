"""The local review server: 127.0.0.1 only, a random port, a secret token as the first path segment.

It answers only the page, its API (pick, search, write, close) and the sound and media files of the
session, by number (no path is ever read from a URL). A wrong host, a wrong token, another origin or
a cross-site fetch is refused with 403 before anything else is looked at.

The browser is not started on the URL (a command line every local user can list would show the
token) but on a launcher page only this user can read (`write_launcher`), which moves on to the URL
and is removed as soon as the page has loaded.
"""

from __future__ import annotations

import contextlib
import html
import json
import mimetypes
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from soundify_otio.errors import SoundifyError
from soundify_otio.pipeline.choices import DUCK_DEPTHS
from soundify_otio.review.session import PickError, ReviewSession

CLOSE_GRACE_SECONDS = 3.0
"""After the page closes, the server waits this long for it to come back (a reload) before ending."""
CLOSE_JOIN_SECONDS = 5.0
"""How long closing the server waits for its request threads once their connections are ended."""
CHUNK = 1 << 16
MAX_BODY = 1 << 16
PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_RANGE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")
"""A byte range a browser asks for; numbers longer than 18 digits are no file's offsets (and refused)."""
_NUMBER = re.compile(r"^[0-9]{1,9}$")
"""A served file's number in a URL."""
MAX_JSON_DEPTH = 32
"""Deepest nesting a request body may have (the page sends two levels)."""


def _nesting(body: bytes) -> int:
    """How deep the arrays and objects of a JSON body nest (brackets inside strings count too: an
    over-estimate, which only refuses a body no page sends)."""
    depth = deepest = 0
    for byte in body:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


class ReviewServer(ThreadingHTTPServer):
    """One session behind a token, on 127.0.0.1 and a port the system picks.

    Each request runs in a thread of its own; closing the server ends their connections and joins them,
    so none is left holding the session (its model, its tensors) while the interpreter shuts down: a
    daemon thread freeing torch tensors then aborts the process ("terminate called without an active
    exception").
    """

    daemon_threads = True

    def __init__(self, session: ReviewSession, token: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self.port = self.server_address[1]
        self.origins = {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self._closing: threading.Timer | None = None
        self._last_page = 0.0
        self._requests: dict[threading.Thread, socket.socket] = {}
        self._requests_lock = threading.Lock()
        self.launcher: Path | None = None
        """The launcher page the browser was started on (write_launcher), removed once the page loads."""

    def write_launcher(self) -> Path:
        """A page that sends the browser on to this server's URL, in a new folder only this user can
        enter, readable only by this user: the browser is started on its path, never on the URL."""
        folder = Path(tempfile.mkdtemp(prefix="soundify-review-"))  # mode 0700
        path = folder / "open-review.html"
        target = html.escape(self.url, quote=True)
        page = (
            '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
            f'<meta http-equiv="refresh" content="0;url={target}"><title>soundify-otio review</title>'
            f'<a href="{target}">Open the review page</a>'
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        self.launcher = path
        return path

    def _remove_launcher(self) -> None:
        launcher, self.launcher = self.launcher, None
        if launcher is not None:
            shutil.rmtree(launcher.parent, ignore_errors=True)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """Serve the request in a thread of its own, kept so that closing the server can join it."""
        thread = threading.Thread(target=self._serve_request, args=(request, client_address), daemon=True)
        with self._requests_lock:
            self._requests[thread] = request
        thread.start()

    def _serve_request(self, request: socket.socket, client_address: object) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._requests_lock:
                self._requests.pop(threading.current_thread(), None)

    def server_close(self) -> None:
        """Stop listening, end every open connection and wait (bounded) for the threads serving them."""
        super().server_close()
        self._remove_launcher()
        closing, self._closing = self._closing, None
        if closing is not None:
            closing.cancel()
        with self._requests_lock:
            requests = dict(self._requests)
        for request in requests.values():
            with contextlib.suppress(OSError):  # OSError: its own thread has closed it already
                request.shutdown(socket.SHUT_RDWR)  # a keep-alive wait or a stream ends at once
        deadline = time.monotonic() + CLOSE_JOIN_SECONDS
        for thread in [*requests, *([closing] if closing is not None else [])]:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser dropping a connection (a seek, a closed tab) is normal: no traceback for it."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def page_loaded(self) -> None:
        self._last_page = time.monotonic()
        self._remove_launcher()
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None

    def page_closed(self) -> None:
        """End the server unless the page loads again within the grace period."""
        closed_at = time.monotonic()

        def end() -> None:
            if self._last_page < closed_at:
                self.shutdown()

        if self._closing is not None:
            self._closing.cancel()
        self._closing = threading.Timer(CLOSE_GRACE_SECONDS, end)
        self._closing.daemon = True
        self._closing.start()


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "soundify-otio-review"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # quiet: the terminal shows one URL line
        return

    # ---- the checks every request passes ----

    def _route(self) -> list[str] | None:
        """The path after the token, split; None (and 403 sent) when the request is not ours."""
        server = self.server
        if self.headers.get("Host") not in server.hosts:
            self._refuse("wrong host")
            return None
        origin = self.headers.get("Origin")
        if origin is not None and origin not in server.origins:
            self._refuse("cross-origin request")
            return None
        parts = urlsplit(self.path).path.split("/")
        site = self.headers.get("Sec-Fetch-Site", "same-origin")
        if site not in ("same-origin", "none") and not (self.command == "GET" and parts[2:] == [""] and self._opened()):
            self._refuse("cross-site request")
            return None
        if len(parts) < 3 or parts[0] != "" or not secrets.compare_digest(parts[1].encode(), server.token.encode()):
            self._refuse("missing or wrong token")
            return None
        return parts[2:]

    def _opened(self) -> bool:
        """A top-level navigation to the page itself (from the launcher page, a file: the browser calls
        that cross-site): it reads nothing and changes nothing, and still needs the token."""
        headers = self.headers
        return headers.get("Sec-Fetch-Mode") == "navigate" and headers.get("Sec-Fetch-Dest") == "document"

    def _refuse(self, reason: str) -> None:
        self._json(HTTPStatus.FORBIDDEN, {"error": f"refused: {reason}"})

    # ---- methods ----

    def do_GET(self) -> None:
        route = self._route()
        if route is None:
            return
        session = self.server.session
        if route == [""]:
            self.server.page_loaded()
            self._send(HTTPStatus.OK, session.page_html().encode("utf-8"), "text/html; charset=utf-8", page=True)
        elif route == ["api", "search"]:
            text = parse_qs(urlsplit(self.path).query).get("q", [""])[0].strip()
            hits = session.search(text) if text else []
            self._json(
                HTTPStatus.OK,
                {
                    "results": [
                        {
                            "label": e.label,
                            "kind": e.kind,
                            "score": round(score, 4),
                            "file": e.path.name,
                            "src": f"sound/{session.sounds.number(e.path)}",
                        }
                        for e, score in hits
                    ]
                },
            )
        elif len(route) == 2 and route[0] in ("sound", "media") and _NUMBER.match(route[1]):
            files = session.sounds if route[0] == "sound" else session.media
            path = files.path(int(route[1]))
            if path is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": "no such file"})
            else:
                self._file(path)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        route = self._route()
        if route is None:
            return
        if self.headers.get("Origin") is None:
            self._refuse("no Origin header")
            return
        if self.headers.get_content_type() != "application/json":
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send application/json"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if not 0 <= length <= MAX_BODY:
                raise ValueError("body too large")
            body = self.rfile.read(length) or b"{}"
            if _nesting(body) > MAX_JSON_DEPTH:
                raise ValueError(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
        except (ValueError, RecursionError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        session = self.server.session
        try:
            if route == ["api", "pick"]:
                effects, ambient = payload.get("effects", []), payload.get("ambient") or None
                if not isinstance(effects, list) or not all(isinstance(e, str) for e in effects):
                    raise PickError("effects must be a list of labels")
                if ambient is not None and not isinstance(ambient, str):
                    raise PickError("ambient must be a label")
                duck = payload.get("duck")
                if duck is not None and not isinstance(duck, bool):
                    raise PickError("duck must be true or false")
                loops = payload.get("loop", [])
                if not isinstance(loops, list) or not all(isinstance(e, str) for e in loops):
                    raise PickError("loop must be a list of labels")
                scene_id = payload.get("scene")
                if not isinstance(scene_id, str):
                    raise PickError("scene must be a scene id (text)")
                depths = {name: payload[name] for name in DUCK_DEPTHS if payload.get(name) is not None}
                started = time.perf_counter()
                session.pick(scene_id, effects, ambient, duck, loops, depths)
                html = session.scene_html(scene_id)
                self._json(HTTPStatus.OK, {"html": html, "seconds": time.perf_counter() - started})
            elif route == ["api", "write"]:
                out, choices = session.write()
                self._json(HTTPStatus.OK, {"out": str(out), "choices": str(choices)})
            elif route == ["api", "close"]:
                self._json(HTTPStatus.OK, {"closing": True})
                self.server.page_closed()
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
        except PickError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except SoundifyError as exc:
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})

    # ---- responses ----

    def _send(self, status: int, body: bytes, content_type: str, page: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers(page)
        self.end_headers()
        self.wfile.write(body)

    def _common_headers(self, page: bool = False) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        if page:
            self.send_header("Content-Security-Policy", PAGE_POLICY)

    def _json(self, status: int, value: dict) -> None:
        self._send(status, json.dumps(value).encode("utf-8"), "application/json")

    def _file(self, path: Path) -> None:
        """A sound or media file, whole or one byte range (browsers seek media with Range)."""
        try:
            size = path.stat().st_size
            handle = path.open("rb")
        except OSError:
            self._json(HTTPStatus.NOT_FOUND, {"error": "file not readable"})
            return
        with handle:
            start, end, status = 0, size - 1, HTTPStatus.OK
            wanted = self.headers.get("Range")
            if wanted:
                match = _RANGE.match(wanted.strip())
                if match and match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                elif match and match.group(2):
                    start = max(0, size - int(match.group(2)))
                if not match or start > end or start >= size:
                    self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self._common_headers()
                    self.end_headers()
                    return
                status = HTTPStatus.PARTIAL_CONTENT
            self.send_response(status)
            self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Accept-Ranges", "bytes")
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self._common_headers()
            self.end_headers()
            handle.seek(start)
            left = end - start + 1
            try:
                while left > 0:
                    chunk = handle.read(min(CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):  # the browser stopped reading (a seek)
                self.close_connection = True
