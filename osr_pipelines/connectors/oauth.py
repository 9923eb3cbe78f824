"""OAuth 2 client-credentials tokens, shared by the ERPs that use them (PowerOffice Go, Visma.net).

A token is fetched on first use, renewed ``renew_before`` seconds ahead of the
expiry the server announces (so a long import never sends a token that expires
in flight), and renewed once more if the API still answers 401. One instance is
shared by the threads of a connector, so concurrent pages do not each fetch
their own token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from osr_pipelines.connectors.base import ConnectorError, MalformedResponse
from osr_pipelines.connectors.http import HttpClient, HttpStatusError

#: Turns the token endpoint's refusal into the connector's own error (naming the credential's env var).
Rejection = Callable[[HttpStatusError], ConnectorError]


class ClientCredentials:
    """A bearer token from ``token_url``, sent as ``Authorization`` by :meth:`request_json`.

    ``basic`` is the (id, secret) pair the endpoint takes as HTTP Basic auth;
    ``form`` the rest of the form body (``grant_type`` is added). ``rejected``
    maps a 4xx from the token endpoint to a clear error; secrets never enter
    an error text because only the caller's message is used.
    """

    def __init__(self, http: HttpClient, token_url: str, *, rejected: Rejection,
                 basic: tuple[str, str] | None = None, form: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, renew_before: float = 120.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._url = token_url
        self._rejected = rejected
        self._basic = basic
        self._form = {"grant_type": "client_credentials", **(form or {})}
        self._headers = dict(headers or {})
        self._renew_before = renew_before
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def token(self, stale: str | None = None) -> str:
        """The current token; a new one if it is about to expire or ``stale`` was refused."""
        with self._lock:
            if self._token is None or self._token == stale or self._clock() >= self._expires - self._renew_before:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        try:
            body = self._http.request_json("POST", self._url, auth=self._basic, form=self._form,
                                           headers=self._headers)
        except HttpStatusError as err:
            raise self._rejected(err) from None
        try:
            token, lifetime = body["access_token"], float(body.get("expires_in", 3600))
        except (TypeError, KeyError, ValueError):
            raise MalformedResponse("the token endpoint answered without access_token/expires_in",
                                    connection=self._http.connection, field="access_token") from None
        self._token, self._expires = str(token), self._clock() + lifetime

    def request_json(self, method: str, path: str, *, company: str | None = None,
                     headers: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        """``HttpClient.request_json`` with the bearer token; a 401 renews the token once.

        A second 401 is raised as :class:`HttpStatusError` for the connector to explain.
        """
        token = self.token()
        for attempt in (1, 2):
            sent = {**self._headers, **(headers or {}), "Authorization": f"Bearer {token}"}
            try:
                return self._http.request_json(method, path, company=company, headers=sent, **kwargs)
            except HttpStatusError as err:
                if err.status != 401 or attempt == 2:
                    raise
                token = self.token(stale=token)
        raise AssertionError("unreachable")
