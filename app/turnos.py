"""The shift end (SPEC §13): at each ``ZEUES_SHIFT_ENDS`` time, the system releases every spool the
shift left held, so the next shift finds them free and nobody's hours run on overnight."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta, tzinfo

from .domain.errors import SourceUnavailable
from .service import CommandService

log = logging.getLogger(__name__)

# A process that starts (or whose source of truth comes back) within this long after a shift end still
# releases what that shift left; after that, a supervisor has seen to it.
GRACIA = timedelta(hours=1)
# Longest sleep between looks at the clock: a wall clock set by hand, a failed release retried.
REVISION_S = 60.0


class FinDeTurno:
    """Runs ``CommandService.cerrar_turno`` at every shift end, in every worker process; the service
    makes sure each spool is released once (see there), so the processes need not agree on who runs it."""

    def __init__(
        self,
        service: CommandService,
        horas: Iterable[time],
        zona: tzinfo,
        reloj: Callable[[], datetime] = lambda: datetime.now(UTC),
        gracia: timedelta = GRACIA,
    ) -> None:
        self.service, self.horas, self.zona, self.reloj, self.gracia = service, tuple(horas), zona, reloj, gracia
        self._hecho: datetime | None = None  # the last shift end this process has seen through
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _fines(self, ahora: datetime) -> list[datetime]:
        """The shift ends of yesterday, today and tomorrow (plant days), in order."""
        hoy = ahora.astimezone(self.zona).date()
        dias = (hoy - timedelta(days=1), hoy, hoy + timedelta(days=1))
        return sorted(datetime.combine(d, h, tzinfo=self.zona) for d in dias for h in self.horas)

    def ultimo(self, ahora: datetime) -> datetime | None:
        """The latest shift end at or before ``ahora``."""
        return max((f for f in self._fines(ahora) if f <= ahora), default=None)

    def proximo(self, ahora: datetime) -> datetime | None:
        """The first shift end after ``ahora``."""
        return min((f for f in self._fines(ahora) if f > ahora), default=None)

    def revisar(self) -> int:
        """Release what the last shift end left, if it is due here: passed, less than ``gracia`` ago, and
        not yet seen through by this process (a release the source refused is tried again next time);
        return how many spools this process released for it."""
        ahora = self.reloj()
        fin = self.ultimo(ahora)
        if fin is None or fin == self._hecho or ahora - fin > self.gracia:
            return 0
        liberados, ajenos, pendientes = self.service.cerrar_turno(fin)
        # One line per process and shift end: every process runs it, each spool is released once.
        log.warning(
            "shift end %s: %d spools released here, %d by another process, %d left to retry",
            fin.isoformat(),
            liberados,
            ajenos,
            pendientes,
        )
        if not pendientes:
            self._hecho = fin
        return liberados

    def start(self) -> None:
        """Watch the clock in a thread (a greenlet under gevent); once per worker process."""
        if self._thread is None and self.horas:
            self._thread = threading.Thread(target=self._run, name="zeues-fin-de-turno", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.revisar()
            except SourceUnavailable as exc:  # the store is down: its own line, no traceback
                log.warning("shift end: the source of truth is unreachable (%s); trying again within a minute", exc)
            except Exception:
                log.exception("shift end release failed; trying again within a minute")
            proximo = self.proximo(self.reloj())
            espera = REVISION_S if proximo is None else (proximo - self.reloj()).total_seconds()
            self._stop.wait(min(REVISION_S, max(0.0, espera)))
