"""The central system for OCPP 2.0.1 chargers, on the same topics and records as 1.6.

A 2.0.1 station chooses its own transaction ids and reports a transaction as TransactionEvent
Started / Updated / Ended. Energy comes from absolute register readings (never summed deltas), so
a repeated or reordered event cannot change a session's energy. The connector a fleet sees is
the EVSE (`evseId`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.domain import invoicing, rating
from shared.domain.central import CentralSystemBase, Handler, Outcome, iso, joined
from shared.domain.errors import LateSamples, LateStop, NotPriceable, SessionNotFound, SessionStateConflict
from shared.domain.meter import parse_iso, read_meter_values
from shared.domain.ports import ConnectorStatusReport, EventFacts, StopFacts
from shared.domain.tariff_choice import tariff_of
from shared.models.ocpi import OcpiInputError
from shared.models.registry import ChargerPlacement, TokenGrant
from shared.models.sessions import MeterSample, Session, session_id_for

# 2.0.1 says "Unknown" where 1.6 says "Invalid" for an identifier nobody issued.
_STATUS_201 = {"Invalid": "Unknown"}


def _token_status(grant: TokenGrant) -> str:
    return _STATUS_201.get(grant.status, grant.status)


class CentralSystem201(CentralSystemBase):
    VERSION = "2.0.1"
    ACKNOWLEDGED = frozenset(
        {
            "FirmwareStatusNotification",
            "LogStatusNotification",
            "SecurityEventNotification",
            "NotifyEvent",
            "NotifyReport",
        }
    )

    def handlers(self) -> dict[str, Handler]:
        return {
            "Heartbeat": self._heartbeat,
            "StatusNotification": self._status_notification,
            "Authorize": self._authorize,
            "TransactionEvent": self._transaction_event,
            "MeterValues": self._meter_values,
            "NotifyEVChargingNeeds": self._notify_ev_charging_needs,
        }

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
        station = payload["chargingStation"]
        previous = self._registry.record_boot(
            charge_point_id,
            placement.site.fleet_id,
            {
                "chargePointVendor": station.get("vendorName"),
                "chargePointModel": station.get("model"),
                "firmwareVersion": station.get("firmwareVersion"),
            },
            now,
        )
        self.seen(charge_point_id, previous, now)
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
        status = payload["connectorStatus"]
        now = self._clock()
        charge_point_id, fleet_id = placement.charger.id, placement.site.fleet_id
        self.seen(charge_point_id, self._registry.record_seen(charge_point_id, fleet_id, now), now)
        # `Faulted` and `Unavailable` EVSEs count as down for uptime (see charger_health).
        self._registry.record_connector_status(
            ConnectorStatusReport(
                charge_point_id=placement.charger.id,
                connector_id=payload["evseId"],
                status=status,
                # 2.0.1 reports faults through NotifyEvent; the status itself says Faulted.
                error_code="Faulted" if status == "Faulted" else "NoError",
                at=parse_iso(payload["timestamp"]),
            ),
            placement.site.fleet_id,
        )
        return self.result("StatusNotification", message_id, {})

    def _authorize(self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]) -> Outcome:
        grant = self._registry.token(payload["idToken"]["idToken"])
        return self.result("Authorize", message_id, {"idTokenInfo": {"status": _token_status(grant)}})

    def _meter_values(self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]) -> Outcome:
        # MeterValues outside a transaction (2.0.1 sends transaction values in TransactionEvent).
        readings = read_meter_values(payload["meterValue"], self.VERSION)
        return self.result("MeterValues", message_id, {}, joined(readings.problems))

    def _notify_ev_charging_needs(
        self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]
    ) -> Outcome:
        self._registry.record_charging_needs(
            placement.charger.id, payload["evseId"], payload["chargingNeeds"], self._clock()
        )
        return self.result("NotifyEVChargingNeeds", message_id, {"status": "Accepted"})

    # --- transactions ------------------------------------------------------------------------

    def _transaction_event(
        self, message_id: str, placement: ChargerPlacement, payload: dict[str, Any]
    ) -> Outcome:
        session_id = session_id_for(placement.charger.id, payload["transactionInfo"]["transactionId"])
        grant = self._registry.token(payload["idToken"]["idToken"]) if "idToken" in payload else None
        reply: dict[str, Any] = {}
        if grant is not None:
            reply["idTokenInfo"] = {"status": _token_status(grant)}
        problems: list[str] = []
        try:
            cost = self._apply_event(session_id, placement, payload, grant, problems)
            if cost is not None:
                reply["totalCost"] = cost
        except SessionNotFound:
            # Delivery is at least once and in no promised order: an event can overtake its
            # Started. It is kept, answered as usual, and applied when the Started arrives.
            self._sessions.park(session_id, placement.charger.id, payload["seqNo"], payload)
            self._apply_parked(session_id, placement)
        except LateSamples:
            correction = self.reconcile_late_samples(session_id, placement)
            if correction is not None:
                problems.append(correction)
        except SessionStateConflict as exc:
            problems.append(str(exc))
        return self.result("TransactionEvent", message_id, reply, joined(problems))

    def _apply_event(
        self,
        session_id: str,
        placement: ChargerPlacement,
        payload: dict[str, Any],
        grant: TokenGrant | None,
        problems: list[str],
    ) -> Decimal | None:
        """One event's facts into the session; each merges the same in any order and any number
        of times. Returns the session's total cost when the event ends it."""
        info = payload["transactionInfo"]
        readings = read_meter_values(payload.get("meterValue", []), self.VERSION)
        problems.extend(readings.problems)
        samples = list(readings.samples)
        if "chargingState" in info or "timeSpentCharging" in info:
            # The state holds from the event's moment on: charging time and parking time are
            # told apart by it when the session is priced.
            samples.append(
                MeterSample(
                    timestamp=parse_iso(payload["timestamp"]),
                    charging_state=info.get("chargingState"),
                    time_spent_charging_s=info.get("timeSpentCharging"),
                )
            )
        facts = EventFacts(seq_no=payload["seqNo"], offline=bool(payload.get("offline", False)))
        event = payload["eventType"]
        if event == "Started":
            if self._start(session_id, placement, payload, samples, grant, facts, problems):
                self._apply_parked(session_id, placement)
            return None
        if grant is not None and grant.status == "Accepted":
            # Authorized after plug-in: the session learns whose it is.
            self._sessions.identify(session_id, placement.charger.id, grant)
        if event == "Ended":
            return self._end(session_id, placement, payload, samples, facts)
        self._sessions.add_samples(session_id, placement.charger.id, samples, facts)
        return None

    def _apply_parked(self, session_id: str, placement: ChargerPlacement) -> None:
        """Events that overtook their Started, applied in seqNo order once the session exists.

        Both sides look after writing (Started after creating the session, a parked event after
        parking itself), so whichever is second applies them: none is left behind by a race."""
        for payload in self._sessions.parked(session_id):
            grant = self._registry.token(payload["idToken"]["idToken"]) if "idToken" in payload else None
            try:
                self._apply_event(session_id, placement, payload, grant, [])
            except SessionNotFound:
                return  # not started yet: they wait
            except (SessionStateConflict, LateSamples):
                pass  # already told when the event first arrived
            self._sessions.unpark(session_id, payload["seqNo"])

    def _start(
        self,
        session_id: str,
        placement: ChargerPlacement,
        payload: dict[str, Any],
        samples: list[MeterSample],
        grant: TokenGrant | None,
        facts: EventFacts,
        problems: list[str],
    ) -> bool:
        if grant is not None and grant.status != "Accepted":
            problems.append(f"idToken {grant.id_tag!r} is {grant.status}: no session")
            return False
        started_at = parse_iso(payload["timestamp"])
        registers = sorted((s for s in samples if s.energy_wh is not None), key=lambda s: s.timestamp)
        evse = payload.get("evse", {})
        session = Session(
            session_id=session_id,
            transaction_id=payload["transactionInfo"]["transactionId"],
            charge_point_id=placement.charger.id,
            connector_id=evse.get("id", 1),
            id_tag=grant.id_tag if grant else "",
            # Until someone authorizes, the session belongs to the site's fleet.
            fleet_id=grant.fleet_id if grant and grant.fleet_id else placement.site.fleet_id,
            site_id=placement.site.id,
            driver_id=grant.driver_id if grant else None,
            vehicle_id=grant.vehicle_id if grant else None,
            ocpp_version=self.VERSION,
            started_at=started_at,
            meter_start_wh=registers[0].energy_wh if registers else None,
            latest_register_wh=registers[-1].energy_wh if registers else None,
            latest_register_at=registers[-1].timestamp if registers else None,
            latest_sample_at=started_at,
            seq_nos={facts.seq_no},
            offline_events=facts.offline,
        )
        # The transaction id is the station's own: a repeated Started is the same start.
        self._sessions.start(session, session_id)
        if samples:
            self._sessions.add_samples(session_id, placement.charger.id, samples, facts)
        return True

    def _end(
        self,
        session_id: str,
        placement: ChargerPlacement,
        payload: dict[str, Any],
        samples: list[MeterSample],
        facts: EventFacts,
    ) -> Decimal | None:
        registers = sorted((s for s in samples if s.energy_wh is not None), key=lambda s: s.timestamp)
        stop = StopFacts(
            ended_at=parse_iso(payload["timestamp"]),
            # Without a reading in the event, billing takes the last register from the samples.
            meter_stop_wh=registers[-1].energy_wh if registers else None,
            reason=payload["transactionInfo"].get("stoppedReason"),
            id_tag=payload.get("idToken", {}).get("idToken"),
            samples=samples,
        )
        try:
            self._sessions.stop(session_id, placement.charger.id, stop, facts)
        except LateStop:
            # Billing corrects it (credit and reissue); the real stop must not be lost meanwhile.
            self._sessions.record_late_stop(session_id, stop)
            raise
        self._workflow.close_and_invoice(session_id)
        return self._total_cost(self._sessions.get(session_id), placement)

    def _total_cost(self, session: Session, placement: ChargerPlacement) -> Decimal | None:
        """Priced like the invoice will be, by the same function, so the station shows what
        finance will bill. None when it cannot be priced yet (billing will hold it and say why)."""
        try:
            tariff = tariff_of(self._registry, session)
            rated = rating.so_far(
                session,
                tariff,
                placement.site,
                self._registry.operator(),
                placement.charger.max_power_kw,
                session.ended_at or self._clock(),
            )
        except (NotPriceable, OcpiInputError):
            return None
        return invoicing.gross_of(rated.totals.lines)
