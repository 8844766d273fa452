"""How the Sheets store reaches the Sheets API: gspread's HTTP client (Google with a service account, or a
local stand-in), paced to Google's per-minute quota, every call bounded in time and retried with jittered
exponential backoff — and a write whose answer is lost is looked for before it is sent again."""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

import google.auth.exceptions
import gspread
import requests
import tenacity
import urllib3.exceptions
from gspread.exceptions import APIError
from requests.adapters import HTTPAdapter

from ...domain.errors import SourceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

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
    feed's default cadence); polls may use up to three quarters; commands get everything else.

    Requests are also spaced: a few may go at once, the rest follow one every ``interval`` seconds. A
    busy minute would otherwise spend its whole quota in its first seconds and then stall until the
    oldest request leaves the window; spaced, the requests that wait gather in the shared reads and
    writes (``reads``, ``writes``) and go out together. The spacing leaves room for the burst, so the
    window itself never has to stop anyone under a steady load."""

    # A slot is reused a little after 60 s: Google counts from when the request arrived, not when we sent it.
    WINDOW_S = 61.0

    def __init__(self, per_minute: int, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.sleep, self.clock = per_minute, sleep, clock
        self.poll_share = per_minute // 5
        self.poll_cap = per_minute - per_minute // 4
        self.burst = max(1, per_minute // 15)
        self.interval = self.WINDOW_S / max(1, per_minute - self.burst)
        self._credit = float(self.burst)  # requests that may go now without waiting for the spacing
        self._credit_at = clock()
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

    def _credit_now(self, now: float) -> float:
        return min(float(self.burst), self._credit + (now - self._credit_at) / self.interval)

    def _wait(self, now: float, poll: bool) -> float:
        """Seconds until both the window and the spacing let one more request go (0: now)."""
        while self._sent and self._sent[0][0] <= now - self.WINDOW_S:
            self._sent.popleft()
        # The oldest slot frees first; whether it is enough for us is checked again then.
        window = 0.0 if self._free(poll) else self._sent[0][0] + self.WINDOW_S - now
        credit = self._credit_now(now)
        spacing = 0.0 if credit >= 1 - 1e-9 else (1 - credit) * self.interval
        return max(window, spacing)

    def wait_s(self, poll: bool = False) -> float:
        """Seconds until a slot may be free (0 when one is free now)."""
        with self._lock:
            return self._wait(self.clock(), poll)

    def take(self, max_wait: float, poll: bool = False) -> tuple[float, bool]:
        """Wait for a slot (at most ``max_wait`` s) and use it; the slot, to give back if unused."""
        deadline = self.clock() + max_wait
        while True:
            with self._lock:
                now = self.clock()
                wait = self._wait(now, poll)
                if wait <= 0:
                    self._credit, self._credit_at = max(0.0, self._credit_now(now) - 1), now
                    slot = (now, poll)
                    self._sent.append(slot)
                    return slot
            if now + wait > deadline:
                raise QuotaExhausted(wait)
            with self._lock:
                self._polls_waiting += poll
            try:
                self.sleep(wait)  # pacing to the quota; other greenlets run meanwhile
            finally:
                with self._lock:
                    self._polls_waiting -= poll

    def give_back(self, slot: tuple[float, bool]) -> None:
        """Return a slot whose request never reached Google (no connection, no token): it counted nothing."""
        with self._lock:
            try:
                self._sent.remove(slot)
            except ValueError:
                return  # it has left the window already
            self._credit = min(float(self.burst), self._credit + 1)


class SheetsLayoutError(SourceUnavailable):
    """The spreadsheet cannot serve: it cannot be opened, or lacks a tab or header the service needs."""


class RequestRefused(SheetsLayoutError):
    """Google refused a request as malformed (400): it names a tab or range that is not there (any more)."""


class UnknownOutcome(Exception):
    """A write left this process and its answer was lost: it may or may not have been applied."""


UNCONFIRMED = "Google Sheets no confirmó si el cambio se guardó; revise el spool antes de repetirlo."


class SheetsUnreachable(SourceUnavailable):
    """Google did not answer (no route, refused, timed out, 5xx) within the bounded retries: the
    spreadsheet is out of reach, not misconfigured. ``str()`` is one line for the operator saying why;
    ``detail`` is what the tablet shows."""

    def __init__(self, reason: str, retry_after: int, detail: str | None = None) -> None:
        super().__init__(
            detail or "Google Sheets no responde; no se escribió nada. Reintente en unos segundos.",
            retry_after=retry_after,
        )
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@dataclasses.dataclass(frozen=True)
class SheetsSettings:
    """Which spreadsheet, how to reach it, and how patiently (the ``SHEETS_*`` settings of ``config``)."""

    spreadsheet_id: str
    emulator_host: str | None
    credentials_file: str | None
    timeout: float  # seconds one call may take
    attempts: int  # tries per call on 429/5xx/timeouts
    backoff: float  # first wait between tries, doubled each time (jittered)
    max_backoff: float
    reads_per_minute: int
    writes_per_minute: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SheetsSettings:
        """The settings ``ZEUES_SPREADSHEET_ID`` and the ``ZEUES_SHEETS_*`` variables describe."""
        return cls(
            spreadsheet_id=config["SPREADSHEET_ID"],
            emulator_host=config.get("SHEETS_EMULATOR_HOST") or None,
            credentials_file=config.get("GOOGLE_APPLICATION_CREDENTIALS") or None,
            timeout=float(config["SHEETS_TIMEOUT"]),
            attempts=int(config["SHEETS_ATTEMPTS"]),
            backoff=float(config["SHEETS_BACKOFF"]),
            max_backoff=float(config["SHEETS_MAX_BACKOFF"]),
            reads_per_minute=int(config["SHEETS_READS_PER_MINUTE"]),
            writes_per_minute=int(config["SHEETS_WRITES_PER_MINUTE"]),
        )


def never_sent(exc: BaseException) -> bool:
    """Whether a failed request provably never reached Google (no connection, no name, no token), so
    sending it again cannot apply it twice. Anything else that fails after the request may have left —
    a read timeout, a reset or closed connection, a 5xx — has an unknown outcome."""
    # google-auth's errors come from getting a token, before the request itself is sent (or after Google
    # refused it with 401, which applies nothing).
    if isinstance(exc, requests.ConnectTimeout | google.auth.exceptions.GoogleAuthError):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        return isinstance(reason, urllib3.exceptions.NewConnectionError)  # refused, or no such host
    return False


def transient(exc: BaseException) -> bool:
    """Worth trying again: quota (429), Google's 5xx, timeouts, dropped connections, lost answers, and a
    token endpoint that failed the way a server fails (google-auth calls that retryable)."""
    if isinstance(exc, APIError):
        return exc.code in (408, 429) or exc.code >= 500
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return bool(getattr(exc, "retryable", False))
    return isinstance(
        exc, requests.Timeout | requests.ConnectionError | google.auth.exceptions.TransportError | UnknownOutcome
    )


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def describe(exc: BaseException) -> str:
    """Why a call failed, in one short line for the operator (the socket's own words, no nested reprs)."""
    if isinstance(exc, APIError):
        return f"Google Sheets answered {exc.code}"
    if isinstance(exc, requests.Timeout):
        return "no answer within ZEUES_SHEETS_TIMEOUT"
    errno = _ERRNO.search(str(exc))
    first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    why = errno.group(1).strip() if errno else (first[:120] or type(exc).__name__)
    if isinstance(exc, google.auth.exceptions.GoogleAuthError):
        return f"cannot get an access token from the key's token_uri: {why}"
    return f"cannot reach Google Sheets: {why}"


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class SheetsClient:
    """The calls the store makes on one spreadsheet, each paced to the quota, bounded and retried;
    503 SOURCE_UNAVAILABLE once it gives up."""

    def __init__(
        self,
        settings: SheetsSettings,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.spreadsheet_id = settings.spreadsheet_id
        self.attempts = settings.attempts
        self._timeout = (min(3.05, settings.timeout), settings.timeout)  # (connect, read)
        self._sleep = sleep or tenacity.nap.sleep
        self._quota = {
            "read": QuotaWindow(settings.reads_per_minute, self._sleep, clock),
            "write": QuotaWindow(settings.writes_per_minute, self._sleep, clock),
        }
        # A command waits for a slot at most this long before answering 503 (polls wait longer).
        self.quota_wait_s = max(2.0, settings.timeout)
        self._http: Any = None
        self._pid: int | None = None

    def http(self) -> Any:
        """gspread's HTTP client, created lazily in this process (never in gunicorn's master)."""
        if self._http is None or self._pid != os.getpid():
            self._http = open_client(
                emulator_host=self.settings.emulator_host,
                credentials_file=self.settings.credentials_file,
                timeout=self._timeout,
            ).http_client
            self._pid = os.getpid()
        return self._http

    # -- the calls ----------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The spreadsheet's tabs and their properties."""
        return self._call("metadata", lambda: self.http().fetch_sheet_metadata(self.spreadsheet_id))

    def batch_get(self, ranges: Callable[[], list[str]], poll: bool = False) -> list[list[list[str]]]:
        """One values:batchGet of ``ranges()``, worked out once a quota slot is ours (what waits for the
        slot can still join the request); each range's rows as Google returns them (trailing empties
        trimmed). A range naming a tab that is gone answers 400 (an APIError the caller handles)."""
        params = {"valueRenderOption": "FORMATTED_VALUE"}
        answer = self._call(
            "read", lambda: self.http().values_batch_get(self.spreadsheet_id, ranges(), params), poll
        )
        return [vr.get("values", []) for vr in answer.get("valueRanges", [])]

    def batch_update(self, body: Callable[[], dict[str, Any]], applied: Callable[[], bool] | None = None) -> None:
        """One spreadsheets:batchUpdate of ``body()`` (asked once a quota slot is ours, and again on each
        retry), which Google applies whole or not at all.

        When an attempt's answer is lost, ``applied()`` is asked before sending it again: a lost answer
        must not become a second write. Without it, only failures that never reached Google are retried.
        """
        lost = False  # an earlier attempt left this process and its answer was lost

        def attempt() -> None:
            nonlocal lost
            if lost and applied is not None and applied():
                return
            try:
                self.http().batch_update(self.spreadsheet_id, body())
            except Exception as exc:
                if never_sent(exc) or (isinstance(exc, APIError) and exc.code == 429):
                    raise  # Google never took it in: safe to send again as is
                if not transient(exc):
                    raise
                if applied is None:
                    raise SourceUnavailable(
                        "Google Sheets did not answer a change; check the sheet before running it again."
                    ) from exc
                lost = True
                raise UnknownOutcome(f"the write was sent but its answer was lost: {exc}") from exc

        try:
            self._call("write", attempt, kind="write")
        except SourceUnavailable as exc:
            if not lost:
                raise
            # Sent once and never confirmed: it may have been applied, so do not say nothing was written.
            raise SheetsUnreachable(str(exc), exc.retry_after, detail=UNCONFIRMED) from exc

    def looked_up(self, ranges: list[str]) -> list[list[list[str]]]:
        """A batchGet made inside another call's retry (looking for a lost write): paced, not retried
        on its own — a failure here fails that attempt, and the outer retry bounds it."""
        self._take("read")
        params = {"valueRenderOption": "FORMATTED_VALUE"}
        answer = self.http().values_batch_get(self.spreadsheet_id, ranges, params)
        return [vr.get("values", []) for vr in answer.get("valueRanges", [])]

    # -- pacing and retries -------------------------------------------------------------------
    def _take(self, kind: str, poll: bool = False) -> tuple[float, bool]:
        """A quota slot for one request; a poll may wait a whole window, a command only its budget."""
        window = self._quota[kind]
        return window.take(max_wait=window.WINDOW_S + 5 if poll else self.quota_wait_s, poll=poll)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        hint = _retry_after(state.outcome.exception() if state.outcome else None)
        if hint is not None:
            return hint  # Google says when; sooner only burns quota
        wait = tenacity.wait_random_exponential(multiplier=self.settings.backoff, max=self.settings.max_backoff)
        return wait(state)

    def _call(self, what: str, fn: Callable[[], T], poll: bool = False, kind: str = "read") -> T:
        """Run ``fn`` with a quota slot per attempt and jittered exponential backoff between attempts."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._paced, kind, poll, fn)
        except QuotaExhausted as exc:
            # A command needs a read and a write: come back when both quotas have room, or the retry
            # would spend its read and meet a full write minute (and sleep a minute more).
            espera = max(exc.wait, *(window.wait_s() for window in self._quota.values()))
            raise SourceUnavailable(
                "Se alcanzó la cuota de Google Sheets; no se escribió nada. Reintente en unos segundos.",
                retry_after=max(1, math.ceil(espera)),
            ) from exc
        except google.auth.exceptions.RefreshError as exc:
            if transient(exc):
                self._give_up(what, exc)
            raise SheetsLayoutError(f"Google refused the service account's credentials: {exc}") from exc
        except APIError as exc:
            if exc.code in (403, 404):
                raise SheetsLayoutError(
                    f"Cannot open spreadsheet {self.spreadsheet_id} ({exc.code}): check ZEUES_SPREADSHEET_ID "
                    "and that the service account has access to it."
                ) from exc
            if not transient(exc):
                raise RequestRefused(f"Google refused the {what} ({exc.code}): {exc}") from exc
            self._give_up(what, exc)
        except Exception as exc:
            if not transient(exc):
                raise
            self._give_up(what, exc)

    def _paced(self, kind: str, poll: bool, fn: Callable[[], T]) -> T:
        slot = self._take(kind, poll)
        try:
            return fn()
        except Exception as exc:
            if never_sent(exc):
                # Google never saw it: an unreachable Google must not also use up the minute's quota.
                self._quota[kind].give_back(slot)
            raise

    def _give_up(self, what: str, exc: BaseException) -> NoReturn:
        # No log line here: whoever called says it once (the poller when the feed goes stale and when it
        # is back, the start in one warning), instead of one line per failed call.
        log.debug("Google Sheets %s failed after %d attempts: %r", what, self.attempts, exc)
        hint = _retry_after(exc)
        raise SheetsUnreachable(
            f"Google Sheets unreachable ({what}, {self.attempts} attempts): {describe(exc)}",
            retry_after=max(1, math.ceil(hint if hint is not None else self.settings.max_backoff)),
        ) from exc
