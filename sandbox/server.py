"""Serving a fake: a WSGI app on 127.0.0.1 in a background thread, stoppable, on a fixed or ephemeral port."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class ServerHandle:
    name: str
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(name: str, app: object, port: int = 0) -> ServerHandle:
    """Start ``app`` on 127.0.0.1:``port`` (0 = any free port) in a daemon thread and return its handle."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{name}", daemon=True)
    thread.start()
    return ServerHandle(name=name, server=server, thread=thread)
