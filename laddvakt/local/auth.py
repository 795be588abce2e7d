"""Locally signed fleet API tokens, checked the way API Gateway's Cognito authorizer checks an ID
token: RS256 signature, expiry, issuer, audience and `token_use: id`. The key pair is made once
and kept in the state directory (`.laddvakt/`, never committed).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.topology import CLAIM_FLEET_ID, CLAIM_GROUPS

ISSUER = "https://laddvakt.local/user-pool"
AUDIENCE = "laddvakt-local-fleet-apps"
KEY_FILE = "local-signing-key.pem"


class InvalidToken(Exception):
    pass


def _private_key(state_dir: Path) -> rsa.RSAPrivateKey:
    path = state_dir / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    state_dir.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    return key


def issue_token(
    fleet_id: str,
    groups: list[str] | None = None,
    *,
    state_dir: Path = Path(".laddvakt"),
    subject: str | None = None,
    ttl_seconds: int = 3600,
) -> str:
    now = int(time.time())
    claims = {
        "sub": subject or str(uuid.uuid4()),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "token_use": "id",
        "iat": now,
        "exp": now + ttl_seconds,
        CLAIM_FLEET_ID: fleet_id,
        CLAIM_GROUPS: groups or ["fleet_manager"],
    }
    return jwt.encode(claims, _private_key(state_dir), algorithm="RS256")


def verify_token(token: str, *, state_dir: Path = Path(".laddvakt")) -> dict[str, Any]:
    public_key = _private_key(state_dir).public_key()
    try:
        claims: dict[str, Any] = jwt.decode(
            token, public_key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )  # fmt: skip
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims.get("token_use") != "id":
        raise InvalidToken("not an ID token")
    return claims


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway's Cognito authorizer passes them: every value a string."""
    rendered = {}
    for key, value in claims.items():
        if isinstance(value, list):
            rendered[key] = ",".join(str(v) for v in value)
        else:
            rendered[key] = str(value)
    return rendered
