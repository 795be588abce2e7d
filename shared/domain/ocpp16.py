"""The central system for OCPP 1.6J chargers: one inbound Call in, one reply (and maybe a problem) out.

It answers every Call it can with a CallResult valid against the official schema, or a CallError
with the code OCPP 1.6 defines. Anything worth an operator's look (a malformed frame, an unknown
charger, a meter value for a session that does not exist) comes back as `Outcome.problem`, and
the caller keeps the frame with that reason.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.domain import ocpp_framing as framing
from shared.domain.central import CentralSystemBase, Handler, Outcome, iso, joined
from shared.domain.errors import LateSamples, LateStop, SessionNotFound, SessionStateConflict
from shared.domain.meter import parse_iso, read_meter_values
from shared.domain.ports import ConnectorStatusReport, StopFacts
from shared.models.registry import ChargerPlacement
from shared.models.sessions import Session, session_id_for


class CentralSystem16(CentralSystemBase):
    VERSION = "1.6"
    ACKNOWLEDGED = frozenset({"DiagnosticsStatusNotification", "FirmwareStatusNotification"})

    def handlers(self) -> dict[str, Handler]:
        return {
            "Heartbeat": self._heartbeat,
            "StatusNotification": self._status_notification,
            "Authorize": self._authorize,
            "StartTransaction": self._start_transaction,
            "MeterValues": self._meter_values,
            "StopTransaction": self._stop_transaction,
            "DataTransfer": self._data_transfer,
        }

    # --- actions -----------------------------------------------------------------------------

    def boot_notification(
        self,
        message_id: str,
        charge_point_id: str,
        placement: ChargerPlacement | None,
        payload: dict[str, Any],
    ) -> Outcome:
        now = self._clock()
        if placement is None:
            return self.result(
                "BootNotification",
                message_id,
                {"status": "Rejected", "currentTime": iso(now), "interval": self._heartbeat_interval},
                problem=f"BootNotification from unregistered charger {charge_point_id!r}",
            )
        self.seen(
            charge_point_id,
            self._registry.record_boot(charge_point_id, placement.site.fleet_id, payload, now),
            now,
        )
        return self.result(
            "BootNotification",
            message_id,
            {"status": "Accepted", "currentTime": iso(now), "interval": self._heartbeat_interval},
        )

    def _heartbeat(self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]) -> Outcome:
        now = self._clock()
        charge_point_id, fleet_id = placement.charger.id, placement.site.fleet_id
        self.seen(charge_point_id, self._registry.record_heartbeat(charge_point_id, fleet_id, now), now)
        return self.result("Heartbeat", message_id, {"currentTime": iso(now)})

    def _status_notification(
        self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]
    ) -> Outcome:
        at = parse_iso(payload["timestamp"]) if "timestamp" in payload else self._clock()
        report = ConnectorStatusReport(
            charge_point_id=placement.charger.id,
            connector_id=payload["connectorId"],
            status=payload["status"],
            error_code=payload["errorCode"],
            at=at,
            info=payload.get("info"),
            vendor_error_code=payload.get("vendorErrorCode"),
        )
        now = self._clock()
        self.seen(
            report.charge_point_id,
            self._registry.record_seen(report.charge_point_id, placement.site.fleet_id, now),
            now,
        )
        self._registry.record_connector_status(report, placement.site.fleet_id)
        return self.result("StatusNotification", message_id, {})

    def _authorize(self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]) -> Outcome:
        grant = self._registry.token(payload["idTag"])
        return self.result("Authorize", message_id, {"idTagInfo": {"status": grant.status}})

    def _start_transaction(
        self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]
    ) -> Outcome:
        grant = self._registry.token(payload["idTag"])
        # OCPP 1.6 requires a transactionId even when the idTag is refused; the charger then
        # stops. Such a transaction never becomes a session, so it is never billed.
        transaction_id = self._registry.next_transaction_id()
        reply = {"transactionId": transaction_id, "idTagInfo": {"status": grant.status}}
        if grant.status != "Accepted" or grant.fleet_id is None:
            return self.result(
                "StartTransaction", message_id, reply, problem=f"idTag {payload['idTag']!r} is {grant.status}"
            )
        charger = placement.charger
        connector_id = payload["connectorId"]
        if not 1 <= connector_id <= charger.connectors:
            return self.reject(
                framing.FrameProblem(
                    f"connector {connector_id} does not exist on {charger.id} ({charger.connectors} connectors)",
                    "PropertyConstraintViolation",
                    message_id,
                ),
                "StartTransaction",
            )
        started_at = parse_iso(payload["timestamp"])
        meter_start = Decimal(payload["meterStart"])
        # What makes a start this start: a retry after a lost reply repeats all of it.
        start_key = f"{charger.id}|{connector_id}|{payload['idTag']}|{started_at.isoformat()}|{meter_start}"
        recorded = self._sessions.start(
            Session(
                session_id=session_id_for(charger.id, transaction_id),
                transaction_id=str(transaction_id),
                charge_point_id=charger.id,
                connector_id=connector_id,
                id_tag=payload["idTag"],
                fleet_id=grant.fleet_id,
                site_id=placement.site.id,
                driver_id=grant.driver_id,
                vehicle_id=grant.vehicle_id,
                started_at=started_at,
                meter_start_wh=meter_start,
                latest_register_wh=meter_start,
                latest_register_at=started_at,
                latest_sample_at=started_at,
            ),
            start_key,
        )
        reply["transactionId"] = int(recorded.transaction_id)
        return self.result("StartTransaction", message_id, reply)

    def _meter_values(self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]) -> Outcome:
        readings = read_meter_values(payload["meterValue"])
        problems = list(readings.problems)
        transaction_id = payload.get("transactionId")
        if transaction_id is None:
            # Clock-aligned values outside a transaction say nothing about a session.
            return self.result("MeterValues", message_id, {}, joined(problems))
        session_id = session_id_for(placement.charger.id, transaction_id)
        if readings.samples:
            try:
                self._sessions.add_samples(session_id, placement.charger.id, readings.samples)
            except LateSamples:
                correction = self.reconcile_late_samples(session_id, placement)
                if correction is not None:
                    problems.append(correction)
            except (SessionNotFound, SessionStateConflict) as exc:
                problems.append(str(exc))
        return self.result("MeterValues", message_id, {}, joined(problems))

    def _stop_transaction(
        self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]
    ) -> Outcome:
        readings = read_meter_values(payload.get("transactionData", []))
        problems = list(readings.problems)
        session_id = session_id_for(placement.charger.id, payload["transactionId"])
        reply: dict[str, Any] = {}
        if "idTag" in payload:
            reply["idTagInfo"] = {"status": self._registry.token(payload["idTag"]).status}
        stop = StopFacts(
            ended_at=parse_iso(payload["timestamp"]),
            meter_stop_wh=Decimal(payload["meterStop"]),
            reason=payload.get("reason"),
            id_tag=payload.get("idTag"),
            samples=readings.samples,
        )
        try:
            self._sessions.stop(session_id, placement.charger.id, stop)
        except LateStop as exc:
            # Billing corrects it (credit and reissue); the real stop must not be lost meanwhile.
            self._sessions.record_late_stop(session_id, stop)
            problems.append(f"{exc}: correction recorded")
            return self.result("StopTransaction", message_id, reply, joined(problems))
        except (SessionNotFound, SessionStateConflict) as exc:
            problems.append(str(exc))
            return self.result("StopTransaction", message_id, reply, joined(problems))
        # Named after the session, so a repeated stop never starts a second billing run.
        self._workflow.close_and_invoice(session_id)
        return self.result("StopTransaction", message_id, reply, joined(problems))

    def _data_transfer(
        self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]
    ) -> Outcome:
        return self.result(
            "DataTransfer",
            message_id,
            {"status": "UnknownVendorId"},
            problem=f"DataTransfer from vendor {payload['vendorId']!r} is not understood",
        )
