"""The close-and-invoice workflow: a Standard state machine of four Lambda steps, each step's
output the next one's whole input. StopTransaction starts one execution per session, named after
it, so a session is never billed twice.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.functions import FunctionFactory
from shared.topology import Names

# (state name, function key): the order is the workflow.
STEPS = (
    ("FinalizeSession", "finalize-session"),
    ("PriceSession", "price-session"),
    ("WriteInvoice", "write-invoice"),
    ("MarkInvoiced", "mark-invoiced"),
)
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
            task = tasks.LambdaInvoke(
                self,
                state_name,
                state_name=state_name,
                lambda_function=self.functions[key],
                payload_response_only=True,
                retry_on_service_exceptions=False,
            )
            task.add_retry(
                errors=["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                        "Lambda.TooManyRequestsException", "StorageUnavailable"],
                interval=Duration.seconds(2),
                backoff_rate=2,
                max_attempts=4,
            )  # fmt: skip
            task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
            tasks_by_name[state_name] = task
        finalize, price, write, mark = (tasks_by_name[name] for name, _ in STEPS)
        # A session whose energy cannot be trusted is held for an operator, not priced.
        trusted = (
            sfn.Choice(self, HELD_CHOICE, state_name=HELD_CHOICE)
            .when(sfn.Condition.is_not_null("$.held_reason"), sfn.Succeed(self, "Held", state_name="Held"))
            .otherwise(
                price.next(write).next(mark).next(sfn.Succeed(self, "Invoiced", state_name="Invoiced"))
            )
        )
        chain = finalize.next(trusted)

        log_group = logs.LogGroup(
            self,
            "logs",
            log_group_name=f"/aws/vendedlogs/states/{names.billing_state_machine}",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "state-machine",
            state_machine_name=names.billing_state_machine,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=Duration.minutes(15),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
