"""A charger's MQTT connection for the `ocpp` package's own `ChargePoint` classes.

`ocpp.v16.ChargePoint` and `ocpp.v201.ChargePoint` speak OCPP-J over anything with
`async send(str)` and `async recv() -> str`, normally a websocket. `ChargePointLink` is that
connection over Laddvakt's topics: frames go out on `{chargePointId}/in` and come in on
`{chargePointId}/out` (MQTT 3.1.1, QoS 1). It only carries frames; the ChargePoint does the
rest (message ids, waiting for replies, validating both directions against the OCPP schemas,
and routing Calls the central system sends to its `@on` handlers).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from shared.topology import OUTBOUND_QOS, inbound_topic, outbound_topic

DEFAULT_TIMEOUT_SECONDS = 10.0
# At least once, like Laddvakt's replies on `/out`: a frame lost on the way in is a lost reading.
INBOUND_QOS = 1


class ChargePointLinkError(ConnectionError):
    """The link could not carry a frame: the broker refused it or the link is closed."""


class ChargePointLinkTimeout(ChargePointLinkError, TimeoutError):
    """The broker did not confirm a connection, subscription or publish in time."""


class _RoutesFrames(Protocol):
    async def start(self) -> None: ...


class ChargePointLink:
    """One charger's MQTT connection, shaped like the websocket an `ocpp` ChargePoint expects.

    Use it as an async context manager; `send` returns once the broker acknowledged the frame
    (PUBACK), and `recv` waits for the next frame on `{chargePointId}/out`, however long that is,
    as a websocket's `recv` does: a Call from the central system may come at any time.
    `timeout` bounds connecting, subscribing and each PUBACK (`ChargePointLinkTimeout`); how
    long a Call waits for its reply is the ChargePoint's own `response_timeout`.
    """

    def __init__(
        self,
        charge_point_id: str,
        host: str,
        port: int,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        client_id: str | None = None,
    ) -> None:
        self.charge_point_id = charge_point_id
        self.host, self.port = host, port
        self.timeout = timeout
        # A unique client id by default: a second link for the same charger (a test's
        # reconnect) must not make the broker drop the first one.
        self._client_id = client_id or f"{charge_point_id}-{uuid.uuid4().hex[:8]}"
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._subscribed: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def _where(self) -> str:
        return f"{self.charge_point_id} via {self.host}:{self.port}"

    async def __aenter__(self) -> ChargePointLink:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and subscribe to `{chargePointId}/out`; only then can no reply be missed."""
        self._loop = asyncio.get_running_loop()
        self._subscribed = self._loop.create_future()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self._client_id, protocol=mqtt.MQTTv311
        )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        client.connect_async(self.host, self.port, keepalive=60)
        client.loop_start()
        try:
            await asyncio.wait_for(self._subscribed, self.timeout)
        except TimeoutError:
            await self.close()
            raise ChargePointLinkTimeout(
                f"{self._where}: not connected and subscribed to {outbound_topic(self.charge_point_id)} "
                f"within {self.timeout} s"
            ) from None
        except BaseException:
            await self.close()
            raise

    async def send(self, message: str) -> None:
        """Publish one OCPP-J frame on `{chargePointId}/in` and wait for the broker's PUBACK."""
        if self._client is None or self._closed:
            raise ChargePointLinkError(f"{self._where}: the link is not open")
        info = self._client.publish(inbound_topic(self.charge_point_id), message.encode(), qos=INBOUND_QOS)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ChargePointLinkError(f"{self._where}: publish failed: {mqtt.error_string(info.rc)}")
        # paho signals the PUBACK on its own thread; wait for it there, not on the event loop.
        await asyncio.to_thread(info.wait_for_publish, self.timeout)
        if not info.is_published():
            raise ChargePointLinkTimeout(
                f"{self._where}: the broker did not acknowledge a frame on "
                f"{inbound_topic(self.charge_point_id)} within {self.timeout} s"
            )

    async def recv(self) -> str:
        """The next frame from `{chargePointId}/out`: a reply to our Call, or a Call to us."""
        if self._closed and self._inbox.empty():
            raise ChargePointLinkError(f"{self._where}: the link is closed")
        frame = await self._inbox.get()
        if frame is None:
            raise ChargePointLinkError(f"{self._where}: the link is closed")
        return frame

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Wakes a pending `recv` (the ChargePoint's `start` loop) instead of leaving it hanging.
        self._inbox.put_nowait(None)
        if self._client is not None:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)

    # --- paho's callbacks: they run on paho's network thread, never on the event loop ---------

    def _to_loop(self, callback: Any, *args: Any) -> None:
        if self._loop is None or self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the event loop has already shut down
            self._loop.call_soon_threadsafe(callback, *args)

    def _settle_subscription(self, error: Exception | None) -> None:
        # Runs on the event loop. A reconnect subscribes again; the first outcome is the one awaited.
        if self._subscribed is None or self._subscribed.done():
            return
        if error is None:
            self._subscribed.set_result(None)
        else:
            self._subscribed.set_exception(error)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode, properties: Any
    ) -> None:
        if reason_code.is_failure:
            refused = ChargePointLinkError(f"{self._where}: the broker refused the connection: {reason_code}")
            self._to_loop(self._settle_subscription, refused)
            return
        # Subscribing on every (re)connect keeps `/out` delivered after the broker drops us.
        client.subscribe(outbound_topic(self.charge_point_id), qos=OUTBOUND_QOS)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[ReasonCode], properties: Any
    ) -> None:
        refused = next((code for code in reason_codes if code.is_failure), None)
        error = (
            None
            if refused is None
            else ChargePointLinkError(
                f"{self._where}: the broker refused {outbound_topic(self.charge_point_id)}: {refused}"
            )
        )
        self._to_loop(self._settle_subscription, error)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Bytes that are not UTF-8 still reach the ChargePoint, which logs them as not OCPP.
        self._to_loop(self._inbox.put_nowait, message.payload.decode("utf-8", errors="replace"))


@contextlib.asynccontextmanager
async def listening(charge_point: _RoutesFrames) -> AsyncIterator[None]:
    """Run a ChargePoint's `start()` loop meanwhile: it routes replies to `call()` and
    answers the central system's Calls. An error that ended the loop is raised on exit."""
    routing = asyncio.create_task(charge_point.start())
    try:
        yield
    finally:
        if routing.done():
            # The loop only ends on an error (a closed link, say); without this, the test or
            # charger would see nothing but the timeouts of the calls it left unanswered.
            routing.result()
        routing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await routing
