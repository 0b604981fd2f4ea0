"""A tiny web server the kubelet tests run as the image `example.test/web` (a real process).

python web.py PORT [DIR]: serves GET /healthz (200), /metrics (Prometheus text),
/files/<name> (the file from DIR or 404), /exit/<code> (exits with that code after
answering) and /env/<NAME>; prints a line per request, so pod logs have real output.
"""

import http.server
import os
import sys
import threading
from pathlib import Path

PORT = int(sys.argv[1])
COUNT = [0]
ROOT = Path(sys.argv[2]) if len(sys.argv) > 2 else Path.cwd()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path
        body, code = b"", 404
        if path == "/healthz":
            body, code = b"ok", 200
        elif path == "/metrics":
            COUNT[0] += 1
            body, code = f"web_scrapes_total {COUNT[0]}\n".encode(), 200
        elif path.startswith("/files/"):
            target = ROOT / path.removeprefix("/files/")
            if target.is_file():
                body, code = target.read_bytes(), 200
        elif path.startswith("/env/"):
            body, code = os.environ.get(path.removeprefix("/env/"), "").encode(), 200
        elif path.startswith("/exit/"):
            body, code = b"bye", 200
            exit_code = int(path.removeprefix("/exit/"))
            threading.Timer(0.1, lambda: os._exit(exit_code)).start()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"web: {format % args}", flush=True)


print(f"web: listening on 127.0.0.1:{PORT}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
