"""An embedded MQTT broker for the demo (amqtt, in a thread of its own, bound to 127.0.0.1).

amqtt speaks MQTT 3.1.1 only, and keeps a persistent session only for a client with a user
name: the demo's hub connects with protocol 3.1.1 and user `hub`. Production uses Mosquitto
(deploy/mosquitto.conf).
"""

from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger("pingan.broker")


class EmbeddedBroker:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise RuntimeError(f"embedded broker did not start on {self.host}:{self.port}: {self._error}")
        log.info("embedded broker listening url=%s", self.url)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        # amqtt 0.11's plugin form: anonymous clients, no $SYS topics, and none of the default
        # event/packet logger plugins whose chatter would bury the demo's alerts and SMS
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        broker = Broker(config)
        await broker.start()
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()
        await broker.shutdown()
