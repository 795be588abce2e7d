"""Local fleet API tokens are checked the way the Cognito authorizer checks ID tokens."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from laddvakt.local.auth import InvalidToken, authorizer_claims, issue_token, verify_token

pytestmark = pytest.mark.unit


def test_a_token_carries_the_fleet_and_roles_as_the_authorizer_passes_them(tmp_path: Path):
    token = issue_token("nordvind", ["fleet_manager", "finance"], state_dir=tmp_path)
    claims = authorizer_claims(verify_token(token, state_dir=tmp_path))
    assert claims["custom:fleet_id"] == "nordvind"
    assert claims["cognito:groups"] == "fleet_manager,finance"
    assert claims["token_use"] == "id"


def test_expired_tokens_are_refused(tmp_path: Path):
    token = issue_token("nordvind", state_dir=tmp_path, ttl_seconds=-10)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(token, state_dir=tmp_path)


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path):
    forged = issue_token("nordvind", state_dir=tmp_path / "elsewhere")
    issue_token("nordvind", state_dir=tmp_path)  # the stack's own key
    with pytest.raises(InvalidToken):
        verify_token(forged, state_dir=tmp_path)


def test_an_unsigned_token_is_refused(tmp_path: Path):
    unsigned = jwt.encode({"custom:fleet_id": "kusttaxi", "token_use": "id"}, key=None, algorithm="none")
    with pytest.raises(InvalidToken):
        verify_token(unsigned, state_dir=tmp_path)
