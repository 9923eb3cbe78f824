"""Client-credentials tokens against a small token server on loopback: renewal ahead of expiry and on 401."""

from __future__ import annotations

import base64
import itertools
from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from osr_pipelines.connectors.base import CredentialsRejected
from osr_pipelines.connectors.http import HttpClient, HttpStatusError
from osr_pipelines.connectors.oauth import ClientCredentials
from osr_sandbox.server import running

CLIENT_ID, SECRET = "app-id", "s3cret-client-key"


class TokenServer:
    """Issues numbered tokens that live 600 s; the API accepts only the newest one unless ``revoked``."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.forms: list[dict[str, str]] = []
        self.revoked = False
        numbers = itertools.count(1)

        async def token(request: Request) -> JSONResponse:
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
            self.forms.append(dict(parse_qsl((await request.body()).decode())))
            if request.headers.get("authorization") != expected:
                return JSONResponse({"error": "invalid_client"}, 400)
            self.issued.append(f"tok-{next(numbers)}")
            return JSONResponse({"access_token": self.issued[-1], "token_type": "Bearer", "expires_in": 600})

        async def data(request: Request) -> JSONResponse:
            if self.revoked or request.headers.get("authorization") != f"Bearer {self.issued[-1]}":
                return JSONResponse({"error": "expired"}, 401)
            return JSONResponse({"token": self.issued[-1]})

        self.app = Starlette(routes=[Route("/oauth/token", token, methods=["POST"]), Route("/data", data)])


def rejected(err: HttpStatusError) -> CredentialsRejected:
    return CredentialsRejected(f"the token endpoint refused the client key (HTTP {err.status})",
                               connection="conn-x", field="client_key")


@pytest.fixture
def server() -> TokenServer:
    return TokenServer()


def test_token_is_fetched_once_and_renewed_ahead_of_expiry(server: TokenServer, clock) -> None:
    with running(server.app) as url:
        http = HttpClient(url, connection="conn-x", sleep=clock.sleep)
        auth = ClientCredentials(http, "/oauth/token", basic=(CLIENT_ID, SECRET), form={"scope": "read"},
                                 rejected=rejected, renew_before=60, clock=clock)
        assert auth.request_json("GET", "/data") == {"token": "tok-1"}
        clock.now = 500
        assert auth.request_json("GET", "/data") == {"token": "tok-1"}
        clock.now = 545  # 55 s before expiry: inside the renewal margin
        assert auth.request_json("GET", "/data") == {"token": "tok-2"}
    assert server.forms[0] == {"grant_type": "client_credentials", "scope": "read"}


def test_a_refused_token_is_renewed_once_then_the_401_is_raised(server: TokenServer, clock) -> None:
    with running(server.app) as url:
        http = HttpClient(url, connection="conn-x", sleep=clock.sleep)
        auth = ClientCredentials(http, "/oauth/token", basic=(CLIENT_ID, SECRET), rejected=rejected, clock=clock)
        auth.token()
        server.issued.append("tok-rotated")  # the server moved on: our token is refused once
        assert auth.request_json("GET", "/data") == {"token": "tok-2"}
        server.revoked = True
        with pytest.raises(HttpStatusError) as info:
            auth.request_json("GET", "/data")
    assert info.value.status == 401 and server.issued[-1] == "tok-3"


def test_a_rejected_client_key_is_the_connectors_error_without_the_secret(server: TokenServer, clock) -> None:
    with running(server.app) as url:
        http = HttpClient(url, connection="conn-x", sleep=clock.sleep)
        auth = ClientCredentials(http, "/oauth/token", basic=(CLIENT_ID, "wrong-key"), rejected=rejected,
                                 clock=clock)
        with pytest.raises(CredentialsRejected) as info:
            auth.token()
    assert "client_key" in str(info.value) and "wrong-key" not in str(info.value)
