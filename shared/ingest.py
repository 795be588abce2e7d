"""Ingest: one inbound frame in, a reply to the charger out, and anything odd kept for an operator."""

from __future__ import annotations

from dataclasses import dataclass

from shared.adapters.billing_workflow import BillingWorkflow
from shared.adapters.charger_link import ChargerLink
from shared.adapters.registry_table import RegistryTable
from shared.adapters.rejected_frames_table import RejectedFramesTable
from shared.adapters.sessions_table import SessionsTable
from shared.adapters.site_schedules import SiteSchedules
from shared.domain.central import CentralSystem
from shared.domain.ocpp16 import CentralSystem16
from shared.domain.ocpp201 import CentralSystem201
from shared.domain.ports import ChargerLinkPort, QuarantinePort, RejectedFrame
from shared.models.events import FrameResult, InboundFrame
from shared.settings import IngestSettings


@dataclass
class IngestService:
    central: CentralSystem
    link: ChargerLinkPort
    quarantine: QuarantinePort

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> IngestService:
        registry = RegistryTable(settings.registry_table)
        ports = (
            registry,
            SessionsTable(settings.sessions_table),
            BillingWorkflow(settings.billing_state_machine_arn),
        )
        interval = settings.heartbeat_interval_seconds
        # Chargers' answers to the profiles the scheduler sent settle its pending commands.
        commands = SiteSchedules(settings.registry_table)
        return cls(
            central=CentralSystem(
                registry,
                {
                    "1.6": CentralSystem16(*ports, heartbeat_interval_seconds=interval, commands=commands),
                    "2.0.1": CentralSystem201(*ports, heartbeat_interval_seconds=interval, commands=commands),
                },
            ),
            link=ChargerLink(settings.iot_data_endpoint),
            quarantine=RejectedFramesTable(settings.rejected_frames_table),
        )

    def process(self, frame: InboundFrame) -> FrameResult:
        outcome = self.central.handle(frame.charge_point_id, frame.raw)
        # Keep the evidence before answering: if publishing fails the record is retried, and a
        # second copy of a rejected frame is better than none.
        if outcome.problem is not None:
            self.quarantine.keep(
                RejectedFrame(
                    charge_point_id=frame.charge_point_id,
                    received_at=frame.received_at,
                    reason=outcome.problem,
                    payload_base64=frame.payload,
                    topic=frame.topic,
                    action=outcome.action,
                )
            )
        if outcome.reply is not None:
            self.link.send(frame.charge_point_id, outcome.reply)
        return FrameResult(
            charge_point_id=frame.charge_point_id,
            action=outcome.action,
            replied=outcome.reply is not None,
            problem=outcome.problem,
        )
