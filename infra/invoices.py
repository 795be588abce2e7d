"""Where billing keeps what finance books: the invoice bucket (versioned, write-once under S3 Object
Lock in compliance mode, private, encrypted, TLS only), its access-log bucket, and the billing
table (invoice number series, sealed CDRs)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.sessions import _table
from shared.topology import INVOICE_RETENTION_DAYS, Names


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
            # An invoice, once written, can be neither changed nor deleted until the bookkeeping
            # retention ends, not even by the account's root user (compliance mode). A correction
            # is a new document, a credit note, never an edit.
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                Duration.days(INVOICE_RETENTION_DAYS)
            ),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="invoices/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Invoice number series per seller and sealed CDRs (key design in shared/adapters).
        self.billing_table = _table(self, "billing", names.billing_table, "pk", "sk")
