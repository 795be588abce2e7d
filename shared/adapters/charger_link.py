"""The way back to chargers: publishes OCPP-J frames on `{chargePointId}/out` through IoT Core."""

from __future__ import annotations

from typing import Any

from shared.adapters.aws import aws_errors, client
from shared.topology import OUTBOUND_QOS, outbound_topic


class ChargerLink:
    def __init__(self, endpoint_url: str = "", *, iot_data: Any = None) -> None:
        self._iot = iot_data if iot_data is not None else client("iot-data", endpoint_url or None)

    def send(self, charge_point_id: str, frame: str) -> None:
        with aws_errors(f"publish to {charge_point_id}"):
            self._iot.publish(topic=outbound_topic(charge_point_id), qos=OUTBOUND_QOS, payload=frame.encode())
