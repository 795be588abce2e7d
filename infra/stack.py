"""The Laddvakt stack: composes one construct per concern and nothing else."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.analytics import AnalyticsStore
from infra.auth import FleetAuth
from infra.billing_workflow import BillingWorkflow
from infra.fleet_api import FleetApi
from infra.functions import ARCHITECTURE, RUNTIME, FunctionFactory
from infra.ingest import Ingest, ingest_environment
from infra.invoices import InvoiceStore
from infra.ledger import RawLedger
from infra.live_events import LiveEvents
from infra.monitoring import Monitoring
from infra.packaging import code_asset, dependency_layer_code
from infra.reaper import SessionReaper
from infra.scheduling import DepotScheduling
from infra.sessions import SessionStore
from infra.statements import MonthlyStatements
from shared.domain.invoicing import INVOICE_PREFIX
from shared.topology import (
    ENV_ANALYTICS_TABLE,
    ENV_BILLING_STATE_MACHINE_ARN,
    ENV_BILLING_TABLE,
    ENV_INVOICE_BUCKET,
    ENV_REGISTRY_TABLE,
    ENV_SESSIONS_TABLE,
    ENV_SILENCE_TIMEOUT_MINUTES,
    Names,
)


class LaddvaktStack(Stack):
    def __init__(
        self, scope: Construct, id_: str, *, names: Names | None = None, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope, id_, description="Laddvakt: EV charging sessions, billing and fleet status", env=env
        )
        names = names or Names()
        layer = lambda_.LayerVersion(
            self,
            "dependencies",
            code=dependency_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Laddvakt's runtime dependencies (pyproject.toml [project].dependencies), arm64",
        )
        functions = FunctionFactory(names, code_asset(), layer)
        self.store = SessionStore(self, "SessionStore", names)
        self.invoices = InvoiceStore(self, "InvoiceStore", names)
        self.analytics = AnalyticsStore(self, "Analytics", names)

        tables = {
            ENV_REGISTRY_TABLE: self.store.registry.table_name,
            ENV_SESSIONS_TABLE: self.store.sessions.table_name,
        }
        self.billing = BillingWorkflow(
            self,
            "Billing",
            names,
            functions,
            {
                **tables,
                ENV_INVOICE_BUCKET: self.invoices.bucket.bucket_name,
                ENV_BILLING_TABLE: self.invoices.billing_table.table_name,
                ENV_ANALYTICS_TABLE: self.analytics.rollups.table_name,
            },
        )
        steps = self.billing.functions
        self.store.sessions.grant_read_write_data(steps["finalize-session"])
        self.store.registry.grant_read_data(steps["price-session"])
        self.store.sessions.grant_read_data(steps["price-session"])
        self.store.registry.grant_read_data(steps["write-invoice"])
        self.invoices.bucket.grant_put(steps["write-invoice"])
        self.invoices.billing_table.grant_read_write_data(steps["write-invoice"])
        self.store.sessions.grant_read_write_data(steps["mark-invoiced"])
        self.store.sessions.grant_read_data(steps["record-rollups"])
        self.analytics.rollups.grant_read_write_data(steps["record-rollups"])
        self.store.sessions.grant_read_data(steps["record-vehicle-profile"])
        self.store.registry.grant_read_write_data(steps["record-vehicle-profile"])

        self.statements = MonthlyStatements(
            self,
            "Statements",
            names,
            functions,
            {
                **tables,
                ENV_INVOICE_BUCKET: self.invoices.bucket.bucket_name,
                ENV_BILLING_TABLE: self.invoices.billing_table.table_name,
            },
            self.store.registry.table_name,
        )
        for function in (self.statements.day_function, self.statements.write_function):
            self.invoices.billing_table.grant_read_write_data(function)
        self.store.registry.grant_read_data(self.statements.write_function)
        self.store.registry.grant_read_data(self.statements.start_function)
        self.invoices.bucket.grant_put(self.statements.write_function)

        self.ledger = RawLedger(self, "Ledger", names, self.invoices.access_logs)
        self.ingest = Ingest(
            self,
            "Ingest",
            names,
            functions,
            ingest_environment(
                self.store.registry.table_name,
                self.store.sessions.table_name,
                self.store.rejected_frames.table_name,
                self.billing.state_machine.state_machine_arn,
            ),
            self.ledger.firehose_action(),
        )
        self.store.registry.grant_read_write_data(self.ingest.function)
        self.store.sessions.grant_read_write_data(self.ingest.function)
        self.store.rejected_frames.grant_write_data(self.ingest.function)
        self.billing.state_machine.grant_start_execution(self.ingest.function)

        self.reaper = SessionReaper(
            self,
            "Reaper",
            functions,
            {
                **tables,
                ENV_BILLING_STATE_MACHINE_ARN: self.billing.state_machine.state_machine_arn,
                ENV_SILENCE_TIMEOUT_MINUTES: "120",
            },
        )
        self.store.registry.grant_read_data(self.reaper.function)
        self.store.sessions.grant_read_write_data(self.reaper.function)
        self.billing.state_machine.grant_start_execution(self.reaper.function)

        self.auth = FleetAuth(self, "Auth", names)
        self.fleet_function = functions.make(
            self,
            "fleet-api",
            {
                **tables,
                ENV_BILLING_TABLE: self.invoices.billing_table.table_name,
                ENV_INVOICE_BUCKET: self.invoices.bucket.bucket_name,
                ENV_ANALYTICS_TABLE: self.analytics.rollups.table_name,
            },
        )
        # The admin routes manage the fleet's registry records (conditional on its fleet id).
        self.store.registry.grant_read_write_data(self.fleet_function)
        self.analytics.rollups.grant_read_data(self.fleet_function)
        self.store.sessions.grant_read_data(self.fleet_function)
        self.invoices.billing_table.grant_read_data(self.fleet_function)
        # Finance's download links are signed with this function's own credentials: it may read
        # the invoice documents, and nothing else in the bucket.
        self.fleet_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.invoices.bucket.arn_for_objects(f"{INVOICE_PREFIX}/*")],
            )
        )
        self.api = FleetApi(self, "FleetApi", names, self.fleet_function, self.auth.user_pool)

        self.live_events = LiveEvents(
            self,
            "LiveEvents",
            names,
            functions,
            {"sessions": self.store.sessions, "registry": self.store.registry},
        )

        self.scheduling = DepotScheduling(
            self,
            "Scheduling",
            functions,
            tables,
            names,
            {"sessions": self.store.sessions, "registry": self.store.registry},
            self.ingest.iot_data_endpoint,
        )
        # Plans and pending commands live in the registry table; sessions are only read.
        self.store.registry.grant_read_write_data(self.scheduling.function)
        self.store.sessions.grant_read_data(self.scheduling.function)

        self.all_functions = [
            self.ingest.function,
            *steps.values(),
            self.statements.day_function,
            self.statements.write_function,
            self.statements.start_function,
            self.reaper.function,
            self.fleet_function,
            self.live_events.function,
            self.scheduling.function,
        ]
        Monitoring(
            self,
            "Monitoring",
            dead_letter_queue=self.ingest.dead_letter_queue,
            event_dead_letter_queue=self.live_events.dead_letter_queue,
            schedule_dead_letter_queue=self.scheduling.dead_letter_queue,
            state_machine=self.billing.state_machine,
            functions=self.all_functions,
            rule_name=names.ingest_rule,
        )

        for name, value in {
            "ApiUrl": self.api.api.url,
            "UserPoolId": self.auth.user_pool.user_pool_id,
            "UserPoolClientId": self.auth.client.user_pool_client_id,
            "InvoiceBucketName": self.invoices.bucket.bucket_name,
            "RegistryTableName": self.store.registry.table_name,
            "SessionsTableName": self.store.sessions.table_name,
            "BillingTableName": self.invoices.billing_table.table_name,
            "AnalyticsTableName": self.analytics.rollups.table_name,
            "RejectedFramesTableName": self.store.rejected_frames.table_name,
            "IngestQueueUrl": self.ingest.queue.queue_url,
            "BillingStateMachineArn": self.billing.state_machine.state_machine_arn,
            "StatementStateMachineArn": self.statements.state_machine.state_machine_arn,
            "LedgerBucketName": self.ledger.bucket.bucket_name,
            "FleetEventBusName": self.live_events.bus.event_bus_name,
            "FleetEventBusArn": self.live_events.bus.event_bus_arn,
        }.items():
            CfnOutput(self, name, value=value)
