"""The fleet API, one router per concern; `shared.fleet_api` composes them into the resolver.

Every router takes the caller from `shared.api.common.caller` (the verified token's claims: the
fleet and the roles) and nowhere else.
"""
