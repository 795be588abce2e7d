"""The MQTT broker of the local stack: mosquitto when it is installed (it speaks MQTT 5 too), else
the embedded amqtt broker (MQTT 3.1.1), both bound to loopback only.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


class MqttBroker:
    def __init__(self, host: str, port: int, prefer_mosquitto: bool = True) -> None:
        self.host, self.port = host, port
        self._mosquitto = shutil.which("mosquitto") if prefer_mosquitto else None
        self._process: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    @property
    def kind(self) -> str:
        return "mosquitto" if self._mosquitto else "amqtt"

    def start(self) -> None:
        if self._mosquitto:
            self._start_mosquitto(self._mosquitto)
            wait_for_port(self.host, self.port)
        else:
            # amqtt's start returns once its listener is bound; probing the port would only make
            # it log a half-open connection as an error.
            self._start_amqtt()

    def _start_mosquitto(self, binary: str) -> None:
        config = Path(tempfile.mkdtemp(prefix="laddvakt-mosquitto-")) / "mosquitto.conf"
        config.write_text(f"listener {self.port} {self.host}\nallow_anonymous true\npersistence false\n")
        self._process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        # amqtt logs every packet at INFO; the local stack's own lines are what people read.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._broker = Broker(config, loop=loop)
                await self._broker.start()

            try:
                loop.run_until_complete(boot())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="mqtt-broker", daemon=True)
        self._thread.start()
        started.wait(15)
        if failure:
            raise RuntimeError(
                f"the embedded MQTT broker did not start on {self.host}:{self.port}"
            ) from failure[0]

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None
        if self._loop is not None and self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(10)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._thread is not None:
                    self._thread.join(10)
                self._loop = None
