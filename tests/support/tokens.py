"""A stand-in authorization server for service tests: an ES256 key, minted access tokens,
and the matrix of bad tokens every protected route must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from starlette.applications import Starlette

from services.common.auth import JwksCache, TokenVerifier, audience

TEST_ISSUER = "https://auth.test.staysaga"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestIssuer:
    """Mints RFC 9068 access tokens signed with its own key; installs itself in apps."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, issuer: str = TEST_ISSUER, kid: str | None = None) -> None:
        self.issuer = issuer
        self.kid = kid or uuid.uuid4().hex[:8]
        self.key = ECKey.generate_key("P-256", parameters={"kid": self.kid, "alg": "ES256"})

    def jwks(self) -> dict[str, Any]:
        """The public key set, as /.well-known/jwks.json would serve it."""
        return KeySet([self.key]).as_dict(private=False)

    def install(self, app: Starlette) -> None:
        """Make an app trust this issuer (instead of fetching keys from the auth service)."""
        document = self.jwks()

        async def fetch() -> dict[str, Any]:
            return document

        app.state.token_verifier = TokenVerifier(
            self.issuer, audience(app.state.component), JwksCache(fetch)
        )

    def claims(
        self, subject: str, scopes: str, component: str, client_id: str = "web", ttl: int = 300
    ) -> dict[str, Any]:
        """The claims of a good token."""
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": audience(component),
            "sub": subject,
            "client_id": client_id,
            "scope": scopes,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        """Sign claims with this issuer's key."""
        head = {"alg": "ES256", "typ": "at+jwt", "kid": self.kid, **(header or {})}
        return jwt.encode(head, claims, self.key, algorithms=["ES256"])

    def user_token(self, user_id: str, scopes: str, component: str) -> str:
        """A traveller's token (as the website would hold)."""
        return self.sign(self.claims(user_id, scopes, component))

    def service_token(self, client_id: str, scopes: str, component: str) -> str:
        """A client-credentials token: subject and client are the same."""
        return self.sign(self.claims(client_id, scopes, component, client_id=client_id))

    def bad_tokens(self, scopes: str, component: str, subject: str = "user-1") -> dict[str, str]:
        """Tokens a route must refuse with 401, by the way each is wrong."""
        good = self.claims(subject, scopes, component)
        expired = {**good, "iat": good["iat"] - 3600, "exp": good["iat"] - 600}
        none_token = (
            _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": self.kid}).encode())
            + "."
            + _b64(json.dumps(good).encode())
            + "."
        )
        public_pem = self.key.as_pem(private=False)
        hs_head = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": self.kid}).encode())
        hs_body = _b64(json.dumps(good).encode())
        hs_sig = hmac.new(public_pem, f"{hs_head}.{hs_body}".encode(), hashlib.sha256).digest()
        return {
            "expired": self.sign(expired),
            "wrong audience": self.sign({**good, "aud": audience("elsewhere")}),
            "wrong issuer": self.sign({**good, "iss": "https://evil.example"}),
            "alg none": none_token,
            "HS256 with the public key": f"{hs_head}.{hs_body}.{_b64(hs_sig)}",
            "unknown kid": TestIssuer(self.issuer).sign(good),
            "not an access token": self.sign(good, {"typ": "JWT"}),
            "garbage": "not.a.token",
        }


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


async def assert_refuses_bad_tokens(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    method: str,
    path: str,
    scope: str,
    component: str,
    **request: Any,
) -> None:
    """The matrix: no token, each bad token -> 401; a good token without the scope -> 403."""
    response = await client.request(method, path, **request)
    assert response.status_code == 401, (path, "no token", response.text)
    assert response.headers["www-authenticate"].startswith("Bearer")
    for why, token in issuer.bad_tokens(scope, component).items():
        response = await client.request(method, path, headers=bearer(token), **request)
        assert response.status_code == 401, (path, why, response.text)
        assert "invalid_token" in response.headers["www-authenticate"], why
    unscoped = issuer.user_token("user-1", "some:other", component)
    response = await client.request(method, path, headers=bearer(unscoped), **request)
    assert response.status_code == 403, (path, "missing scope", response.text)
    assert "insufficient_scope" in response.headers["www-authenticate"]


def token_source(issuer: TestIssuer, client_id: str = "test-service"):
    """A ServiceConnection token source that mints tokens directly (no auth service needed)."""

    async def mint(aud: str, scopes: str) -> tuple[str, float]:
        component = aud.removeprefix("urn:staysaga:")
        return issuer.service_token(client_id, scopes, component), 300.0

    return mint
