"""How gspread reaches the Sheets API (Google with a service account, or a local stand-in), paced to its quota."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
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


class QuotaExhausted(Exception):
    """No quota slot frees up within the caller's budget."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"next quota slot in {wait:.1f} s")
        self.wait = wait


class QuotaWindow:
    """Google's per-user quota (N requests of a kind per minute) kept on our side, so requests wait for
    a slot instead of drawing 429s. A waiting poll is guaranteed a fifth of it (one poll every 5 s, the
    feed's default cadence); polls may use up to three quarters; commands get everything else."""

    # A slot is reused a little after 60 s: Google counts from when the request arrived, not when we sent it.
    WINDOW_S = 61.0

    def __init__(self, per_minute: int, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.sleep, self.clock = per_minute, sleep, clock
        self.poll_share = per_minute // 5
        self.poll_cap = per_minute - per_minute // 4
        self._sent: collections.deque[tuple[float, bool]] = collections.deque()  # (when, by a poll)
        self._polls_waiting = 0
        self._lock = threading.Lock()

    def _free(self, poll: bool) -> bool:
        polls = sum(1 for _, by_poll in self._sent if by_poll)
        if poll:
            return len(self._sent) < self.per_minute and (polls < self.poll_share or len(self._sent) < self.poll_cap)
        # Slots are held back for polls only while one waits: under load polls mostly ride on commands' reads.
        owed = max(0, self.poll_share - polls) if self._polls_waiting else 0
        return len(self._sent) < self.per_minute - owed

    def wait_s(self, poll: bool = False) -> float:
        """Seconds until a slot may be free (0 when one is free now)."""
        with self._lock:
            now = self.clock()
            while self._sent and self._sent[0][0] <= now - self.WINDOW_S:
                self._sent.popleft()
            return 0.0 if self._free(poll) else self._sent[0][0] + self.WINDOW_S - now

    def take(self, max_wait: float, poll: bool = False) -> None:
        """Wait for a slot (at most ``max_wait`` s) and use it."""
        deadline = self.clock() + max_wait
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and self._sent[0][0] <= now - self.WINDOW_S:
                    self._sent.popleft()
                if self._free(poll):
                    self._sent.append((now, poll))
                    return
                # The oldest slot frees first; whether it is enough for us is checked again then.
                wait = self._sent[0][0] + self.WINDOW_S - now
            if now + wait > deadline:
                raise QuotaExhausted(wait)
            with self._lock:
                self._polls_waiting += poll
            try:
                self.sleep(wait)  # pacing to the quota; other greenlets run meanwhile
            finally:
                with self._lock:
                    self._polls_waiting -= poll
