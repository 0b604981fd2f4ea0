"""TF Serving's HTTP/REST API on a threaded standard-library server.

Routing, dispatch and status codes follow model_servers/http_server.cc and
http_rest_api_handler.cc: paths under /v1/ go to the API (the regexes of
http_rest_api_util.cc), the Prometheus page answers on its configured path only, every
error is `{"error": "<message>"}` with the HTTP status of its error code, request_count
counts every API request by status and request_latency only the successful ones.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import json_response, json_tensor
from .metrics import Metrics
from .servable import Servable, signature_inputs
from .status import HTTP_STATUS, ServingError, invalid_argument

_API = re.compile(r"/v1/.*", re.IGNORECASE)
_PREDICTION = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
_STATUS = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:\/(metadata))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Route:
    """What ParseModelInfo reads from a request path."""

    matched: bool
    model_name: str = ""
    version: int | None = None
    label: str | None = None
    method: str = ""
    subresource: str = ""


def parse_route(http_method: str, path: str) -> Route:
    pattern = _PREDICTION if http_method == "POST" else _STATUS if http_method == "GET" else None
    match = pattern.fullmatch(path) if pattern else None
    if match is None:
        return Route(matched=False)
    name, version, label, last = match.groups()
    return Route(
        matched=True,
        model_name=urllib.parse.unquote(name or ""),
        version=int(version) if version else None,
        label=urllib.parse.unquote(label) if label else None,
        method=(last or "") if http_method == "POST" else "",
        subresource=(last or "") if http_method == "GET" else "",
    )


class RestApi:
    """Answers one REST API request: (HTTP status, JSON body), and records its metrics."""

    def __init__(self, servable: Servable, metrics: Metrics) -> None:
        self.servable = servable
        self.metrics = metrics

    def handle(self, http_method: str, path: str, body: bytes) -> tuple[int, bytes]:
        start = time.monotonic()
        route = parse_route(http_method, path)
        try:
            output = self._dispatch(http_method, path, route, body)
            code = "OK"
        except ServingError as error:
            output, code = json_response.error_body(error), error.code
        if code == "OK":
            micros = (time.monotonic() - start) * 1e6
            self.metrics.observe_latency(
                model_name=route.model_name, api=route.method, entrypoint="REST", micros=micros
            )
        self.metrics.count_request(model_name=route.model_name, status=code)
        return HTTP_STATUS[code], output

    def _dispatch(self, http_method: str, path: str, route: Route, body: bytes) -> bytes:
        if route.version is not None and route.label is not None:
            raise invalid_argument(
                f"Both model version ({route.version}) and model version label "
                f"({route.label}) cannot be supplied."
            )
        if route.matched and http_method == "POST":
            if route.method.lower() == "predict":
                return self._predict(route, body)
            raise ServingError("UNIMPLEMENTED", f"{route.method} is not emulated")
        if route.matched and http_method == "GET":
            if not route.model_name:
                raise invalid_argument("Missing model name in request.")
            self._check_label(route)
            if route.subresource.lower() == "metadata":
                return self._metadata(route)
            return self._status(route)
        raise invalid_argument(f"Malformed request: {http_method} {path}")

    def _check_label(self, route: Route) -> None:
        # No --model_config_file, so no version labels are ever assigned.
        if route.label is not None:
            raise invalid_argument(f"Unrecognized servable version label: {route.label}")

    def _status(self, route: Route) -> bytes:
        if route.model_name != self.servable.name:
            if route.version is None:
                message = f"Could not find any versions of model {route.model_name}"
            else:
                message = f"Could not find version {route.version} of model {route.model_name}"
            raise ServingError("NOT_FOUND", message)
        if route.version is not None:
            state = self.servable.state_of(route.version)
            if state is None:
                raise ServingError(
                    "NOT_FOUND",
                    f"Could not find version {route.version} of model {route.model_name}",
                )
            states = [state]
        else:
            states = self.servable.states()
            if not states:
                raise ServingError(
                    "NOT_FOUND", f"Could not find any versions of model {route.model_name}"
                )
        return _pretty({"model_version_status": [state.as_json() for state in states]})

    def _metadata(self, route: Route) -> bytes:
        loaded = self.servable.serving(route.model_name, route.version)
        return _pretty(
            {
                "model_spec": {
                    "name": self.servable.name,
                    "signature_name": "",
                    "version": str(loaded.version),
                },
                "metadata": {"signature_def": {"signature_def": loaded.signature_defs}},
            }
        )

    def _predict(self, route: Route, body: bytes) -> bytes:
        doc = json_tensor.parse_body(body)
        signature_name = json_tensor.signature_name_of(doc)
        self._check_label(route)
        loaded = self.servable.serving(route.model_name, route.version)
        inputs = signature_inputs(loaded, signature_name)
        request = json_tensor.read_predict_request(doc, inputs)
        outputs = self.servable.predict(loaded, request.signature_name, request.inputs)
        return json_response.write_predict_response(outputs, request.format)


def _pretty(body: Any) -> bytes:
    return json.dumps(body, indent=1).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RestServer

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def do_OPTIONS(self) -> None:
        self._answer("OPTIONS")

    def _answer(self, http_method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path = urllib.parse.urlsplit(self.path).path
        server = self.server
        if server.metrics_path is not None and path == server.metrics_path:
            self._send(200, server.metrics.page().encode(), "text/plain")
        elif not _API.fullmatch(path):
            self._send(404, b"", "text/plain")
        elif http_method == "OPTIONS":
            origin = self.headers.get("Origin") or ""
            if re.search(r"https?://", origin):
                self._send(200, b"", "application/json")
            else:
                error = ServingError(
                    "FAILED_PRECONDITION", "Origin header is missing in CORS preflight"
                )
                self._send(error.http_status, json_response.error_body(error), "application/json")
        else:
            status, output = server.api.handle(http_method, path, body)
            self._send(status, output, "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.server.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "POST, GET")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # TF Serving logs requests only at VLOG(1): nothing by default.
        return


class RestServer(ThreadingHTTPServer):
    """The REST port: the API, and the Prometheus page when monitoring enables it."""

    daemon_threads = True

    def __init__(
        self,
        port: int,
        *,
        api: RestApi,
        metrics: Metrics,
        metrics_path: str | None,
        cors: bool = False,
    ) -> None:
        self.api = api
        self.metrics = metrics
        self.metrics_path = metrics_path
        self.cors = cors
        super().__init__(("127.0.0.1", port), _Handler)
