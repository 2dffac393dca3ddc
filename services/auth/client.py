"""The authorization server's one client: every caller of its OAuth 2 endpoints goes
through `AuthClient`.

OAuth endpoints take forms and answer RFC 6749 JSON, and the caller authenticates as an
OAuth client (HTTP Basic with its id and secret), not with a service token: like the bank's,
this client holds its credential itself, given when it is made. A refusal is raised as
`ServiceError` carrying the OAuth error document (`oauth_error` reads it); no answer at all
as `TransportError`. (A process's own service tokens come from
`services.common.http.client_credentials`, which common code cannot reach this client for.)
"""

from __future__ import annotations

from urllib.parse import urlencode

from services.auth import api
from services.common.http import ServiceError, Transport, problem_of
from services.common.oauth import basic_auth, form_body


def oauth_error(error: ServiceError) -> api.OAuthError | None:
    """The OAuth error a refusal carried (`invalid_grant`...), or None if it carried none."""
    if not isinstance(error.problem.get("error"), str):
        return None
    return api.OAuthError.model_validate(error.problem)


class AuthClient:
    """The authorize, token and revoke endpoints, one typed method each, as one OAuth client.

    `token_url` is where the process reaches the token endpoint when that is not at
    `base_url` (inside a cluster, say, while browsers use the public address).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        transport: Transport,
        *,
        token_url: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.token_url = token_url or self.base_url + api.TOKEN_PATH
        self._headers = basic_auth(client_id, client_secret)
        self.transport = transport

    async def aclose(self) -> None:
        """Close the connections."""
        await self.transport.aclose()

    async def _post(self, url: str, form: api.TokenForm | api.TokenReference) -> bytes:
        body, headers = form_body(form.model_dump(mode="json", exclude_none=True))
        headers.update(self._headers)
        reply = await self.transport.send("POST", url, headers=headers, body=body)
        if reply.status_code != 200:
            raise ServiceError(reply.status_code, problem_of(reply), "POST", url)
        return reply.content

    def authorize_url(self, request: api.AuthorizationRequest) -> str:
        """Where to send a browser to sign in and come back with a code (RFC 6749 4.1.1)."""
        query = request.model_dump(mode="json", exclude_none=True)
        return f"{self.base_url}{api.AUTHORIZE_PATH}?{urlencode(query)}"

    async def token(self, form: api.TokenForm) -> api.TokenResponse:
        """Tokens for any grant the form names."""
        return api.TokenResponse.model_validate_json(await self._post(self.token_url, form))

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str
    ) -> api.TokenResponse:
        """Trade an authorization code, and the PKCE verifier it was asked with, for tokens."""
        return await self.token(
            api.TokenForm(
                grant_type=api.AUTHORIZATION_CODE,
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
            )
        )

    async def refresh(self, refresh_token: str) -> api.TokenResponse:
        """New tokens from a refresh token (which the answer may replace)."""
        form = api.TokenForm(grant_type=api.REFRESH_TOKEN, refresh_token=refresh_token)
        return await self.token(form)

    async def client_credentials(self, scope: str, resource: str) -> api.TokenResponse:
        """A token of the client's own, for some of its scopes at one service (`resource`)."""
        form = api.TokenForm(grant_type=api.CLIENT_CREDENTIALS, scope=scope, resource=resource)
        return await self.token(form)

    async def revoke(self, reference: api.TokenReference) -> None:
        """Revoke an access or refresh token (RFC 7009)."""
        await self._post(self.base_url + api.REVOKE_PATH, reference)
