"""Laddvakt's AWS CDK app: one construct per concern; `infra.stack` only composes them."""
