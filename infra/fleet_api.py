"""The fleet API: API Gateway (REST) with a Cognito authorizer in front of the fleet-api function."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from shared.topology import Names

# The routes of shared/fleet_api.py; the function's resolver answers any other path with 404.
ROUTES = (("GET", "/fleet/status"), ("GET", "/sessions/{session_id}"), ("GET", "/chargers"))
STAGE = "v1"


class FleetApi(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        names: Names,
        function: lambda_.IFunction,
        user_pool: cognito.IUserPool,
    ) -> None:
        super().__init__(scope, id_)
        access_logs = logs.LogGroup(self, "access-logs", retention=logs.RetentionDays.THREE_MONTHS)
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(self, "authorizer", cognito_user_pools=[user_pool])
        self.api = apigw.RestApi(
            self,
            "api",
            rest_api_name=names.fleet_api,
            description="Laddvakt fleet API (see docs/openapi.json)",
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=100,
                throttling_burst_limit=200,
            ),
            default_method_options=apigw.MethodOptions(
                authorizer=self.authorizer, authorization_type=apigw.AuthorizationType.COGNITO
            ),
        )
        self.validator = self.api.add_request_validator(
            "validate-requests", validate_request_parameters=True, validate_request_body=True
        )
        integration = apigw.LambdaIntegration(function)
        for method, path in ROUTES:
            resource = self.api.root.resource_for_path(path)
            resource.add_method(method, integration, request_validator=self.validator)
        self.api.root.add_proxy(default_integration=integration, any_method=True)
