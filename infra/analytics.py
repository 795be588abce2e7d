"""The analytics rollups table: each fleet's daily counters and what each session added to them
(key design in `shared.adapters.analytics_table`)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.sessions import _table
from shared.topology import Names


class AnalyticsStore(Construct):
    def __init__(self, scope: Construct, id_: str, names: Names) -> None:
        super().__init__(scope, id_)
        # One partition per fleet, sorted by dimension and local day: a report is one Query.
        self.rollups: dynamodb.Table = _table(self, "rollups", names.analytics_table, "pk", "sk")
