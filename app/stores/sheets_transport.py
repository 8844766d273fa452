"""How gspread reaches the Sheets API: Google with a service account, or a local stand-in."""

from __future__ import annotations

from typing import Any

import gspread
import requests
from requests.adapters import HTTPAdapter

SHEETS_ORIGIN = "https://sheets.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)


class EmulatorAdapter(HTTPAdapter):
    """Sends what gspread addresses to sheets.googleapis.com to ``host:port`` over plain HTTP."""

    def __init__(self, host: str) -> None:
        super().__init__()
        self.base = f"http://{host}"

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Rewrite the origin, then send as usual (same gspread code path, same timeouts)."""
        request.url = self.base + request.url[len(SHEETS_ORIGIN) :]
        return super().send(request, *args, **kwargs)


class RefuseAdapter(HTTPAdapter):
    """Refuses every request: while emulating, nothing may leave for Google (Drive, OAuth)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Fail at once instead of reaching the network."""
        raise requests.ConnectionError(f"SHEETS_EMULATOR_HOST is set: refusing {request.url}")


def emulator_session(host: str) -> requests.Session:
    """An anonymous session that routes the Sheets API to ``host`` (Google's emulator convention)."""
    session = requests.Session()
    session.mount("https://", RefuseAdapter())
    session.mount("http://", RefuseAdapter())
    session.mount(SHEETS_ORIGIN + "/", EmulatorAdapter(host))
    return session


def google_session(credentials_file: str, timeout: float) -> requests.Session:
    """A session signed with the service account's key; token refreshes are bounded too."""
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2.service_account import Credentials

    credentials = Credentials.from_service_account_file(credentials_file, scopes=list(SCOPES))
    return AuthorizedSession(credentials, refresh_timeout=timeout)


def open_client(
    *, emulator_host: str | None, credentials_file: str | None, timeout: tuple[float, float]
) -> gspread.Client:
    """A gspread client with explicit (connect, read) timeouts on every call.

    The plain ``HTTPClient`` is used on purpose: gspread's BackOffHTTPClient retries without
    bound and re-sends appends; retries are ours (bounded, and idempotent for writes).
    """
    if emulator_host:
        session = emulator_session(emulator_host)
    else:
        if not credentials_file:
            raise ValueError("GOOGLE_APPLICATION_CREDENTIALS is not set")
        session = google_session(credentials_file, timeout[1])
    client = gspread.Client(auth=None, session=session, http_client=gspread.HTTPClient)
    client.set_timeout(timeout)
    return client
