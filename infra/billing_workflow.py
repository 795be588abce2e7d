"""The close-and-invoice workflow: a Standard state machine of six Lambda steps, each step's
output the next one's whole input, except that the priced session stays in the state past
WriteInvoice and MarkInvoiced (under `invoice` and `invoiced`), so RecordRollups can add what was
billed to the analytics. RecordVehicleProfile, last, takes the rollups' result (the session id)
and adds the session to its vehicle's profile: a step of its own, not part of RecordRollups,
because it writes another table (the registry) and learns from the session's readings, not
from what was billed; its failure shows as its own state. StopTransaction starts one execution per session, named after it, so a
session is never billed twice.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.functions import FunctionFactory
from infra.workflows import lambda_step, standard_state_machine
from shared.topology import Names

# (state name, function key): the order is the workflow.
STEPS = (
    ("FinalizeSession", "finalize-session"),
    ("PriceSession", "price-session"),
    ("WriteInvoice", "write-invoice"),
    ("MarkInvoiced", "mark-invoiced"),
    ("RecordRollups", "record-rollups"),
    ("RecordVehicleProfile", "record-vehicle-profile"),
)
# Where a step reads and writes the state, when not the whole of it (see the module's docstring).
_PATHS: dict[str, dict[str, str]] = {
    "WriteInvoice": {"result_path": "$.invoice"},
    "MarkInvoiced": {"input_path": "$.invoice", "result_path": "$.invoiced"},
}
FAILED_STATE = "CloseAndInvoiceFailed"
HELD_CHOICE = "EnergyTrusted"


class BillingWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        names: Names,
        functions: FunctionFactory,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, id_)
        self.functions: dict[str, lambda_.Function] = {
            key: functions.make(self, key, environment) for _, key in STEPS
        }
        failed = sfn.Fail(
            self, FAILED_STATE, state_name=FAILED_STATE, cause="A close-and-invoice step failed"
        )
        tasks_by_name = {}
        for state_name, key in STEPS:
            paths = _PATHS.get(state_name, {})
            task = lambda_step(
                self,
                state_name,
                self.functions[key],
                input_path=paths.get("input_path"),
                result_path=paths.get("result_path"),
            )
            task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
            tasks_by_name[state_name] = task
        finalize, price, write, mark, rollups, profile = (tasks_by_name[name] for name, _ in STEPS)
        # A session whose energy cannot be trusted is held for an operator, not priced.
        trusted = (
            sfn.Choice(self, HELD_CHOICE, state_name=HELD_CHOICE)
            .when(sfn.Condition.is_not_null("$.held_reason"), sfn.Succeed(self, "Held", state_name="Held"))
            .otherwise(
                price.next(write)
                .next(mark)
                .next(rollups)
                .next(profile)
                .next(sfn.Succeed(self, "Invoiced", state_name="Invoiced"))
            )
        )
        chain = finalize.next(trusted)

        self.state_machine = standard_state_machine(
            self,
            names.billing_state_machine,
            chain,
            timeout=Duration.minutes(15),
            include_execution_data=True,
        )
