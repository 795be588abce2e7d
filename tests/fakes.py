"""In-memory stand-ins for the ports in `shared.domain.ports`, for unit tests with no AWS at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain.charger_health import Outage
from shared.domain.errors import SessionNotFound, SessionStateConflict, SiteNotFound
from shared.domain.ports import ConnectorStatusReport, EventFacts, StopFacts
from shared.models.ocpi import Tariff
from shared.models.registry import (
    ChargerPlacement,
    Fleet,
    Operator,
    RegistryDocument,
    Site,
    TokenGrant,
)
from shared.models.sessions import MeterSample, Session, SessionStatus


@dataclass
class FakeRegistry:
    document: RegistryDocument
    counter: int = 0
    tariffs: list[Tariff] = field(default_factory=list)
    boots: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    heartbeats: list[tuple[str, datetime]] = field(default_factory=list)
    statuses: list[ConnectorStatusReport] = field(default_factory=list)
    needs: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    last_seen: dict[str, datetime] = field(default_factory=dict)
    seen_writes: list[tuple[str, datetime]] = field(default_factory=list)
    outages: list[tuple[str, Outage]] = field(default_factory=list)

    def placement(self, charge_point_id: str) -> ChargerPlacement | None:
        for charger in self.document.chargers:
            if charger.id == charge_point_id:
                return ChargerPlacement(charger=charger, site=self.site(charger.site_id))
        return None

    def token(self, id_tag: str) -> TokenGrant:
        for token in self.document.tokens:
            if token.id_tag == id_tag:
                return TokenGrant(**token.model_dump())
        return TokenGrant(id_tag=id_tag, status="Invalid")

    def tariff_versions(self, tariff_id: str) -> list[Tariff]:
        return [t for t in self.tariffs if t.id == tariff_id]

    def site(self, site_id: str) -> Site:
        for site in self.document.sites:
            if site.id == site_id:
                return site
        raise SiteNotFound(site_id)

    def operator(self) -> Operator:
        return self.document.operator

    def fleet(self, fleet_id: str) -> Fleet:
        return next(f for f in self.document.fleets if f.id == fleet_id)

    def next_transaction_id(self) -> int:
        self.counter += 1
        return self.counter

    def _seen(self, charge_point_id: str, at: datetime) -> datetime | None:
        previous = self.last_seen.get(charge_point_id)
        if previous is None or previous <= at:
            self.last_seen[charge_point_id] = at
            return previous
        return None

    def record_boot(
        self, charge_point_id: str, fleet_id: str, details: dict[str, Any], at: datetime
    ) -> datetime | None:
        self.boots.append((charge_point_id, details))
        return self._seen(charge_point_id, at)

    def record_heartbeat(self, charge_point_id: str, fleet_id: str, at: datetime) -> datetime | None:
        self.heartbeats.append((charge_point_id, at))
        return self._seen(charge_point_id, at)

    def record_seen(self, charge_point_id: str, fleet_id: str, at: datetime) -> datetime | None:
        self.seen_writes.append((charge_point_id, at))
        return self._seen(charge_point_id, at)

    def record_outage(self, charge_point_id: str, outage: Outage) -> None:
        self.outages.append((charge_point_id, outage))

    def record_connector_status(self, report: ConnectorStatusReport, fleet_id: str) -> None:
        self.statuses.append(report)

    def record_charging_needs(
        self, charge_point_id: str, evse_id: int, needs: dict[str, Any], at: datetime
    ) -> None:
        self.needs.append((charge_point_id, evse_id, needs))


@dataclass
class FakeSessions:
    items: dict[str, Session] = field(default_factory=dict)
    starts: dict[str, str] = field(default_factory=dict)

    def start(self, session: Session, start_key: str) -> Session:
        if start_key in self.starts:
            return self.items[self.starts[start_key]]
        self.starts[start_key] = session.session_id
        self.items[session.session_id] = session
        return session

    def _owned(self, session_id: str, charge_point_id: str) -> Session:
        session = self.items.get(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        if session.charge_point_id != charge_point_id:
            raise SessionStateConflict(f"session {session_id} belongs to another charger")
        return session

    parked_events: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)

    @staticmethod
    def _merged(session: Session, event: EventFacts | None) -> dict[str, Any]:
        if event is None:
            return {}
        return {
            "seq_nos": session.seq_nos | {event.seq_no},
            "offline_events": session.offline_events or event.offline,
        }

    def add_samples(
        self,
        session_id: str,
        charge_point_id: str,
        samples: list[MeterSample],
        event: EventFacts | None = None,
    ) -> None:
        session = self._owned(session_id, charge_point_id)
        update = self._merged(session, event)
        if samples:
            last = samples[-1]
            update |= {
                "samples": [*session.samples, *samples],
                "latest_register_wh": last.energy_wh or session.latest_register_wh,
                "latest_power_w": last.power_w,
                "latest_soc_percent": last.soc_percent or session.latest_soc_percent,
                "first_register_wh": session.first_register_wh
                if session.first_register_wh is not None
                else next((s.energy_wh for s in samples if s.energy_wh is not None), None),
            }
        self.items[session_id] = session.model_copy(update=update)

    def stop(
        self, session_id: str, charge_point_id: str, stop: StopFacts, event: EventFacts | None = None
    ) -> None:
        session = self._owned(session_id, charge_point_id)
        self.items[session_id] = session.model_copy(
            update={
                "ended_at": stop.ended_at,
                "meter_stop_wh": stop.meter_stop_wh,
                "stop_reason": stop.reason,
                "status": SessionStatus.ACTIVE,
                "samples": [*session.samples, *stop.samples],
            }
            | self._merged(session, event)
        )

    def record_correction(self, session_id: str, reason: str) -> None:
        self.items[session_id] = self.items[session_id].model_copy(
            update={"correction_needed": True, "correction_reason": reason}
        )

    def park(self, session_id: str, charge_point_id: str, seq_no: int, payload: dict[str, Any]) -> None:
        self.parked_events.setdefault(session_id, {})[seq_no] = payload

    def parked(self, session_id: str) -> list[dict[str, Any]]:
        events = self.parked_events.get(session_id, {})
        return [events[n] for n in sorted(events)]

    def unpark(self, session_id: str, seq_no: int) -> None:
        self.parked_events.get(session_id, {}).pop(seq_no, None)

    def get(self, session_id: str, *, with_samples: bool = True) -> Session:
        if session_id not in self.items:
            raise SessionNotFound(session_id)
        return self.items[session_id]

    def record_late_stop(self, session_id: str, stop: StopFacts) -> None:
        self.items[session_id] = self.items[session_id].model_copy(
            update={
                "correction_needed": True,
                "late_stop_at": stop.ended_at,
                "late_meter_stop_wh": stop.meter_stop_wh,
            }
        )

    def identify(self, session_id: str, charge_point_id: str, grant: TokenGrant) -> None:
        session = self._owned(session_id, charge_point_id)
        self.items[session_id] = session.model_copy(
            update={
                "id_tag": grant.id_tag,
                "fleet_id": grant.fleet_id,
                "driver_id": grant.driver_id,
                "vehicle_id": grant.vehicle_id,
            }
        )


@dataclass
class FakeWorkflow:
    closed: list[str] = field(default_factory=list)

    def close_and_invoice(self, session_id: str) -> None:
        self.closed.append(session_id)


@dataclass
class FakeLink:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, charge_point_id: str, frame: str) -> None:
        self.sent.append((charge_point_id, frame))
