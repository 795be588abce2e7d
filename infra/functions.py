"""The one factory for Laddvakt's Lambda functions: architecture, runtime, memory, timeout, log
retention and tracing are decided here once, from the specs in `shared.topology.FUNCTIONS`.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from shared.topology import FUNCTIONS, Names

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


class FunctionFactory:
    """Built once per stack with the shared code asset and dependency layer."""

    def __init__(self, names: Names, code: lambda_.Code, layer: lambda_.ILayerVersion) -> None:
        self._names = names
        self._code = code
        self._layer = layer

    def make(self, scope: Construct, key: str, environment: dict[str, str]) -> lambda_.Function:
        spec = FUNCTIONS[key]
        name = self._names.function(key)
        log_group = logs.LogGroup(
            scope,
            f"{spec.key}-logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Its own role, writing only to its own log group (no AWS-managed policy with logs:* on *).
        role = iam.Role(
            scope,
            f"{spec.key}-role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: runs {spec.handler}",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            scope,
            f"{spec.key}-function",
            function_name=name,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            layers=[self._layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "Laddvakt",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
