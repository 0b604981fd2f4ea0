"""The emulated tensorflow_model_server process: flags, first load, REST port, polling.

Start-up follows model_servers/server.cc and main.cc: check the options, wait for the
latest version under the base path (logging TF Serving's warnings while there is none),
load it with retries (core/loader_harness.cc, util/retrier.cc), then export the REST API.
A load that still fails after the retries ends the process with TF Serving's
`Failed to start server. Error: UNKNOWN: 1 model(s) did not become available: ...` and
exit status 255 (main returns -1). While serving, a newer version that appears is loaded
and replaces the old one, whose state becomes END.
"""

from __future__ import annotations

import datetime
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from . import flags
from .metrics import Metrics
from .monitoring import read_monitoring_config
from .rest import RestApi, RestServer
from .servable import Loaded, Servable, configure_threads, list_versions
from .status import ServingError

EXIT_FAILED = 255
VERSION = "2.19.0-ci-plugins-emulator"


def log(level: str, source: str, message: str) -> None:
    """A log line shaped like TensorFlow's (`<time>: I <source file>] <message>`) on stderr."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    sys.stderr.write(f"{stamp}: {level} {source}] {message}\n")
    sys.stderr.flush()


def fail_start(error: ServingError) -> int:
    sys.stdout.write(f"Failed to start server. Error: {error.status_string()}\n")
    sys.stdout.flush()
    return EXIT_FAILED


class ModelServer:
    """One model, served until the process is signalled (or stop() is called)."""

    def __init__(self, options: flags.Options) -> None:
        self.options = options
        self.metrics = Metrics()
        tags = [tag for tag in (options.saved_model_tags or "serve").split(",") if tag]
        self.servable = Servable(
            name=options.model_name,
            base_path=options.model_base_path,
            tags=tags,
            metrics=self.metrics,
        )
        self.stopping = threading.Event()
        self.rest: RestServer | None = None

    def stop(self) -> None:
        self.stopping.set()

    def first_load(self) -> Loaded | None:
        """Wait for a version and load it; None when stopped first; raises if it fails."""
        while not self.stopping.is_set():
            version = self._latest_version()
            if version is not None:
                loaded = self._load_with_retries(version, first=True)
                self.servable.make_available(loaded)
                return loaded
            if self.options.file_system_poll_wait_seconds <= 0:
                self.stopping.wait()  # polled once (0) or never (<0): wait for a signal
            self.stopping.wait(self.options.file_system_poll_wait_seconds)
        return None

    def _latest_version(self) -> int | None:
        name, base = self.servable.name, self.servable.base_path
        try:
            versions = list_versions(base, name=name)
        except ServingError as error:
            log(
                "E",
                "file_system_storage_path_source.cc",
                "FileSystemStoragePathSource encountered a filesystem access error: "
                + error.message,
            )
            return None
        if not versions:
            log(
                "W",
                "file_system_storage_path_source.cc",
                f"No versions of servable {name} found under base path {base}. Did you "
                "forget to name your leaf directory as a number (eg. '/1/')?",
            )
            return None
        return versions[-1]

    def _load_with_retries(self, version: int, *, first: bool = False) -> Loaded:
        servable_id = f"{{name: {self.servable.name} version: {version}}}"
        log("I", "loader_harness.cc", f"Loading servable version {servable_id}")
        if first:  # TensorFlow's thread pools are fixed once it starts
            configure_threads(
                intra_op=self.options.tensorflow_intra_op_parallelism,
                inter_op=self.options.tensorflow_inter_op_parallelism,
            )
        attempts = 1 + max(0, self.options.max_num_load_retries)
        interval = max(0.0, self.options.load_retry_interval_micros / 1e6)
        for attempt in range(attempts):
            if attempt:
                log(
                    "I",
                    "retrier.cc",
                    f"Retrying of Loading servable: {servable_id} retry: {attempt}",
                )
            try:
                loaded = self.servable.load(version)
            except ServingError as error:
                last = error
                log(
                    "E",
                    "retrier.cc",
                    f"Loading servable: {servable_id} failed: {error.status_string()}",
                )
                if self.stopping.wait(interval if attempt + 1 < attempts else 0):
                    break
                continue
            log(
                "I",
                "loader_harness.cc",
                f"Successfully loaded servable version {servable_id}",
            )
            return loaded
        self.servable.fail(version, last)
        log(
            "I",
            "loader_harness.cc",
            f"Encountered an error for servable version {servable_id}: {last.status_string()}",
        )
        raise ServingError(
            "UNKNOWN",
            f"1 model(s) did not become available: {{{servable_id} due to error: "
            f"{last.status_string()}}}, }}",
        )

    def start_rest(self) -> None:
        """Export the REST API (and metrics); a port that cannot be bound is logged, as TF does."""
        port = self.options.rest_api_port
        if port == 0:
            return
        if port == self.options.port:
            log(
                "E",
                "server.cc",
                "server_options.http_port cannot be same as grpc_port. Please use a different "
                "port for HTTP/REST API. Skipped exporting HTTP/REST API.",
            )
            return
        monitoring = read_monitoring_config(self.options.monitoring_config_file)
        api = RestApi(self.servable, self.metrics)
        try:
            self.rest = RestServer(
                port,
                api=api,
                metrics=self.metrics,
                metrics_path=monitoring.prometheus_path,
                cors=self.options.rest_api_enable_cors_support,
            )
        except OSError as exc:
            log(
                "E",
                "server.cc",
                f"Failed to start HTTP Server at localhost:{port} ({exc.strerror})",
            )
            return
        threading.Thread(target=self.rest.serve_forever, name="rest", daemon=True).start()
        log(
            "I",
            "server.cc",
            f"Exporting HTTP/REST API at:localhost:{port} ...",
        )

    def poll_versions(self) -> None:
        """Follow the base path until stopped: load a newer version, unload when none is left."""
        wait = self.options.file_system_poll_wait_seconds
        tried: set[int] = set()
        while wait > 0 and not self.stopping.wait(wait):
            latest = self._latest_version()  # logs a missing base path or an empty one
            current = self.servable.current_version()
            if latest is None:
                if current is not None and Path(self.servable.base_path).is_dir():
                    self._unload()  # the latest policy aspires no version any more
                continue
            if (current is not None and latest <= current) or latest in tried:
                continue
            tried.add(latest)
            try:
                self.servable.make_available(self._load_with_retries(latest))
            except ServingError:
                continue  # the new version is END with its error; the old one keeps serving
        self.stopping.wait()

    def _unload(self) -> None:
        version = self.servable.unload()
        servable_id = f"{{name: {self.servable.name} version: {version}}}"
        log("I", "loader_harness.cc", f"Done unloading servable version {servable_id}")

    def shutdown(self) -> None:
        if self.rest is not None:
            self.rest.shutdown()
            self.rest.server_close()


def run(argv: Sequence[str]) -> int:
    """Run the server; the exit status of tensorflow_model_server (signals end it, as there)."""
    try:
        options = flags.parse(argv)
    except flags.UsageError as exc:
        if str(exc) != "--help":
            log("E", "command_line_flags.cc", str(exc))
        sys.stdout.write(flags.usage())
        return EXIT_FAILED
    if options.version:
        sys.stdout.write(f"TensorFlow ModelServer: {VERSION}\nTensorFlow Library: (emulated)\n")
        return 0
    flags.warn_unknown(options)
    problem = _check(options)
    if problem is not None:
        return fail_start(problem)
    # tensorflow_model_server installs no signal handlers: SIGTERM and SIGINT end it at
    # once, and a container reports 128 + the signal (143 after a kubelet's SIGTERM).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    server = ModelServer(options)
    log(
        "I",
        "server.cc",
        f"Building single TensorFlow model file config:  model_name: {options.model_name} "
        f"model_base_path: {options.model_base_path}",
    )
    try:
        if server.first_load() is None:
            return 0
        log(
            "I",
            "server.cc",
            f"Running gRPC ModelServer at 0.0.0.0:{options.port} ... (not emulated: REST only)",
        )
        server.start_rest()
    except ServingError as error:
        return fail_start(error)
    try:
        server.poll_versions()
    finally:
        server.shutdown()
    return 0


def _check(options: flags.Options) -> ServingError | None:
    if options.port == 0:
        return ServingError(
            "INVALID_ARGUMENT",
            "At least one of server_options.grpc_port or server_options.grpc_socket_path "
            "must be set.",
        )
    if options.model_config_file:
        return ServingError(
            "UNIMPLEMENTED",
            "the emulated model server serves --model_name/--model_base_path only, "
            "not --model_config_file",
        )
    if not options.model_base_path:
        return ServingError(
            "INVALID_ARGUMENT",
            "Both server_options.model_base_path and server_options.model_config_file are empty!",
        )
    return None
