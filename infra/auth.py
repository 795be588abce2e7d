"""Who may call the fleet API: a Cognito user pool whose users carry their fleet in `custom:fleet_id`
and their roles as groups (`fleet_manager`, `finance`, `admin`).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from shared.topology import Names

ROLES = ("fleet_manager", "finance", "admin")


class FleetAuth(Construct):
    def __init__(self, scope: Construct, id_: str, names: Names) -> None:
        super().__init__(scope, id_)
        self.user_pool = cognito.UserPool(
            self,
            "users",
            user_pool_name=names.user_pool,
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            custom_attributes={"fleet_id": cognito.StringAttribute(min_len=1, max_len=64, mutable=False)},
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.client = self.user_pool.add_client(
            "fleet-apps",
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            generate_secret=False,
            id_token_validity=Duration.hours(1),
            prevent_user_existence_errors=True,
        )
        for role in ROLES:
            cognito.CfnUserPoolGroup(
                self, f"group-{role}", user_pool_id=self.user_pool.user_pool_id, group_name=role
            )
