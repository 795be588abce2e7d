"""What every OCPP version's central system shares: one inbound frame in, one reply (and maybe a
problem worth keeping) out. Each version adds its actions; `CentralSystem` picks the version per
charger, from the registry, or from the frame when the charger is not registered.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from shared.domain import charger_health, energy
from shared.domain import ocpp_framing as framing
from shared.domain.ports import BillingWorkflowPort, CommandsPort, RegistryPort, SessionsPort
from shared.models.registry import ChargerPlacement

Handler = Callable[[str, ChargerPlacement, dict[str, Any]], "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """What to send back (if anything) and why the frame deserves a second look (if it does)."""

    reply: str | None
    problem: str | None = None
    action: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def joined(problems: Iterable[str]) -> str | None:
    text = "; ".join(problems)
    return text or None


class CentralSystemBase(ABC):
    VERSION: ClassVar[framing.OcppVersion]
    # Actions that only need an acknowledgement; they are still schema-checked.
    ACKNOWLEDGED: ClassVar[frozenset[str]] = frozenset()
    # Actions whose handler writes the charger's state, and its last-seen time with it, anyway.
    SEEN_BY_HANDLER: ClassVar[frozenset[str]] = frozenset(
        {"BootNotification", "Heartbeat", "StatusNotification"}
    )

    def __init__(
        self,
        registry: RegistryPort,
        sessions: SessionsPort,
        workflow: BillingWorkflowPort,
        *,
        heartbeat_interval_seconds: int = 300,
        clock: Callable[[], datetime] = utc_now,
        commands: CommandsPort | None = None,
    ) -> None:
        self._registry = registry
        self._commands = commands
        self._sessions = sessions
        self._workflow = workflow
        self._heartbeat_interval = heartbeat_interval_seconds
        self._clock = clock
        self._handlers: dict[str, Handler] = self.handlers()
        # When this container last wrote each charger's last-seen time.
        self._seen_written: dict[str, datetime] = {}

    @abstractmethod
    def handlers(self) -> dict[str, Handler]:
        """The version's actions and who handles each."""

    @abstractmethod
    def boot_notification(
        self,
        message_id: str,
        charge_point_id: str,
        placement: ChargerPlacement | None,
        payload: dict[str, Any],
    ) -> Outcome:
        """Each version answers boots in its own shape, registered or not."""

    @property
    def supported_actions(self) -> list[str]:
        return sorted({"BootNotification", *self._handlers, *self.ACKNOWLEDGED})

    def handle(self, charge_point_id: str, raw: bytes) -> Outcome:
        frame = framing.parse_frame(raw, self.VERSION)
        if isinstance(frame, framing.FrameProblem):
            return self.reject(frame)
        if isinstance(frame, framing.Response):
            return self.settle(charge_point_id, frame)
        if not framing.has_schema(frame.action, self.VERSION):
            return self.reject(
                framing.FrameProblem(
                    f"unknown OCPP {self.VERSION} action {frame.action!r}", "NotImplemented", frame.message_id
                ),
                frame.action,
            )
        problem = framing.schema_problem(
            framing.CALL, frame.action, frame.payload, self.VERSION, frame.message_id
        )
        if problem is not None:
            return self.reject(problem, frame.action)

        placement = self._registry.placement(charge_point_id)
        if frame.action == "BootNotification":
            return self.boot_notification(frame.message_id, charge_point_id, placement, frame.payload)
        if placement is None:
            return self.reject(
                framing.FrameProblem(
                    f"charger {charge_point_id!r} is not registered", "SecurityError", frame.message_id
                ),
                frame.action,
            )
        if frame.action not in self.SEEN_BY_HANDLER:
            self._seen_in_passing(placement)
        if frame.action in self.ACKNOWLEDGED:
            return self.result(frame.action, frame.message_id, {})
        handler = self._handlers.get(frame.action)
        if handler is None:
            return self.reject(
                framing.FrameProblem(
                    f"{frame.action} is recognised but not supported", "NotSupported", frame.message_id
                ),
                frame.action,
            )
        return handler(frame.message_id, placement, frame.payload)

    def settle(self, charge_point_id: str, response: framing.Response) -> Outcome:
        """A charger's answer to a command Laddvakt sent (SetChargingProfile): recorded on the
        pending command, which the scheduler reads from the table's stream. An answer to nothing
        pending (not ours, expired, answered twice) is kept for an operator."""
        status, reason = answer_of(response)
        settled = (
            self._commands.answer(charge_point_id, response.message_id, status, reason, self._clock())
            if self._commands is not None
            else None
        )
        if settled is None:
            return Outcome(None, f"unsolicited response to message {response.message_id!r}")
        return Outcome(None, None, getattr(settled, "action", None))

    def seen(self, charge_point_id: str, previous: datetime | None, now: datetime) -> None:
        """A frame arriving `now` replaced the charger's last-seen time `previous`: if the charger
        was silent too long in between, that gap is an outage."""
        self._seen_written[charge_point_id] = now
        outage = charger_health.outage_between(previous, now, self._heartbeat_interval)
        if outage is not None:
            self._registry.record_outage(charge_point_id, outage)

    def _seen_in_passing(self, placement: ChargerPlacement) -> None:
        """Any other frame proves the charger is there too (OCPP's heartbeat interval is one of
        *inactivity*: a busy charger may send no heartbeats). Writing that on every meter frame
        would double their writes, so each container writes it at most once a heartbeat
        interval per charger: the stored time is then never more than one interval behind, well
        inside the 2 intervals + grace after which a charger counts as offline."""
        now = self._clock()
        charge_point_id = placement.charger.id
        written = self._seen_written.get(charge_point_id)
        if written is not None and timedelta(0) <= now - written < timedelta(
            seconds=self._heartbeat_interval
        ):
            return
        previous = self._registry.record_seen(charge_point_id, placement.site.fleet_id, now)
        self.seen(charge_point_id, previous, now)

    def result(
        self, action: str, message_id: str, payload: dict[str, Any], problem: str | None = None
    ) -> Outcome:
        # Every reply is checked against the official schema before it leaves: a bug here must
        # surface as an error in our logs, not as a charger that silently rejects our answer.
        invalid = framing.schema_problem(framing.CALL_RESULT, action, payload, self.VERSION, message_id)
        if invalid is not None:
            raise ValueError(f"Laddvakt built an invalid {action} reply: {invalid.reason}")
        return Outcome(framing.call_result(message_id, payload), problem, action)

    def reconcile_late_samples(self, session_id: str, placement: ChargerPlacement) -> str | None:
        """Readings that arrived after the session was billed: a correction is recorded when they
        change the energy (a reset nobody had seen), and the reason is returned."""
        session = self._sessions.get(session_id)
        billed = session.energy_wh
        if billed is None or session.energy_override_wh is not None:
            return None  # not billed yet (finalize reads every sample), or an operator fixed it
        readings = energy.readings_of(
            session.started_at,
            session.meter_start_wh,
            session.samples,
            session.ended_at,
            session.meter_stop_wh,
        )
        measured = energy.session_energy(readings, placement.charger.max_power_kw, session.samples).energy_wh
        if measured == billed:
            return None
        reason = (
            f"meter values that arrived after billing measure {measured.normalize():f} Wh, "
            f"not the billed {billed.normalize():f} Wh"
        )
        self._sessions.record_correction(session_id, reason)
        return reason

    @staticmethod
    def reject(problem: framing.FrameProblem, action: str | None = None) -> Outcome:
        reply = (
            framing.call_error(problem.message_id, problem.error_code, problem.reason, problem.details)
            if problem.message_id is not None
            else None
        )
        return Outcome(reply, f"{problem.error_code}: {problem.reason}", action)


def answer_of(response: framing.Response) -> tuple[str, str | None]:
    """accepted, or rejected with the charger's reason (a status other than Accepted, or a CallError)."""
    if response.message_type == framing.CALL_ERROR:
        code, description = [*response.payload, "", ""][:2]
        return "rejected", f"CallError {code}: {description}".strip().rstrip(":")
    payload = response.payload[0] if response.payload and isinstance(response.payload[0], dict) else {}
    status = str(payload.get("status", "(no status)"))
    if status == "Accepted":
        return "accepted", None
    info = payload.get("statusInfo") or {}
    detail = (
        f" ({info.get('reasonCode')}: {info.get('additionalInfo', '')})".replace(": )", ")") if info else ""
    )
    return "rejected", f"charger answered {status}{detail}"


_ONLY_201 = {
    "TransactionEvent",
    "NotifyEVChargingNeeds",
    "NotifyEvent",
    "NotifyReport",
    "ReportChargingProfiles",
}


def sniff_version(raw: bytes) -> framing.OcppVersion:
    """An unregistered charger's version, from what its frame looks like (1.6 unless it is 2.0.1)."""
    try:
        message = json.loads(raw)
        action, payload = message[2], message[3]
    except (ValueError, IndexError, KeyError, TypeError):
        return "1.6"
    if action in _ONLY_201 or (
        action == "BootNotification" and isinstance(payload, dict) and "chargingStation" in payload
    ):
        return "2.0.1"
    return "1.6"


class CentralSystem:
    """Routes each frame to the central system of the charger's OCPP version."""

    def __init__(self, registry: RegistryPort, versions: dict[str, CentralSystemBase]) -> None:
        self._registry = registry
        self._versions = versions

    def version_of(self, charge_point_id: str, raw: bytes) -> str:
        placement = self._registry.placement(charge_point_id)
        return placement.charger.ocpp_version if placement is not None else sniff_version(raw)

    def handle(self, charge_point_id: str, raw: bytes) -> Outcome:
        return self._versions[self.version_of(charge_point_id, raw)].handle(charge_point_id, raw)
