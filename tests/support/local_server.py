"""A local HTTP server on a free port of 127.0.0.1, served by a daemon thread: what the tests'
stand-ins for outside services (Twilio, Aliyun, Tencent, the WeCom and DingTalk robots) share.
A subclass names its request handler class, whose `owner` is the server object."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class LocalServer:
    handler: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str] = "local-test-server"
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        handler: Any = type("Handler", (self.handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name=self.thread_name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
