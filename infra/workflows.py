"""What every Laddvakt state machine shares: Lambda steps retried the same way, a Standard
machine with X-Ray and its own log group. The workflows (close-and-invoice, monthly statements)
only say their steps and their order."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

# Failures worth another try: Lambda's own, and storage that was busy (shared.domain.errors).
RETRIED = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
           "Lambda.TooManyRequestsException", "StorageUnavailable"]  # fmt: skip


def lambda_step(
    scope: Construct,
    state_name: str,
    function: lambda_.IFunction,
    payload: sfn.TaskInput | None = None,
    *,
    input_path: str | None = None,
    result_path: str | None = None,
) -> tasks.LambdaInvoke:
    """A step whose output is the function's result (or the state with the result at
    `result_path`), retried with backoff on RETRIED."""
    step = tasks.LambdaInvoke(
        scope,
        state_name,
        state_name=state_name,
        lambda_function=function,
        payload=payload,
        input_path=input_path,
        result_path=result_path,
        payload_response_only=True,
        retry_on_service_exceptions=False,
    )
    step.add_retry(errors=RETRIED, interval=Duration.seconds(2), backoff_rate=2, max_attempts=4)
    return step


def standard_state_machine(
    scope: Construct,
    name: str,
    chain: sfn.IChainable,
    *,
    timeout: Duration,
    include_execution_data: bool,
) -> sfn.StateMachine:
    """A Standard state machine logging every event (with or without its data) to its own group."""
    log_group = logs.LogGroup(
        scope,
        "logs",
        log_group_name=f"/aws/vendedlogs/states/{name}",
        retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return sfn.StateMachine(
        scope,
        "state-machine",
        state_machine_name=name,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_chainable(chain),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=include_execution_data
        ),
    )
