"""One adapter per table, bucket, queue or topic: the only place boto3 appears.

Each turns AWS errors into the domain errors of `shared.domain.errors`.
"""
