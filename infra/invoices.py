"""The invoice bucket (versioned, private, encrypted, TLS only) and its access-log bucket."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shared.topology import Names


class InvoiceStore(Construct):
    def __init__(self, scope: Construct, id_: str, names: Names) -> None:
        super().__init__(scope, id_)
        self.access_logs = s3.Bucket(
            self,
            "access-logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(400))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "invoices",
            bucket_name=names.invoice_bucket(Aws.ACCOUNT_ID, Aws.REGION),
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="invoices/",
            removal_policy=RemovalPolicy.RETAIN,
        )
