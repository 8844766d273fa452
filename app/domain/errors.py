"""Domain errors, each carrying the SPEC §5 code and HTTP status it answers with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Spool, Worker


class ZeuesError(Exception):
    """Base of every error the API turns into problem+json."""

    code = "INTERNAL"
    status = 500
    title = "Error interno"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        # Extra members of the problem body.
        self.extra: dict[str, Any] = extra
        # The spool as it is now (and the workers naming its holder), sent with a conflict so the
        # client can refresh without another request.
        self.spool: tuple[Spool, Mapping[int, Worker]] | None = None


class NotFound(ZeuesError):
    """The spool, worker or path does not exist."""

    code = "NOT_FOUND"
    status = 404
    title = "No encontrado"


class WorkerInactive(ZeuesError):
    """The worker exists but is not active."""

    code = "WORKER_INACTIVE"
    status = 403
    title = "Trabajador inactivo"


class RoleNotAuthorized(ZeuesError):
    """The worker lacks the role the operation needs."""

    code = "ROLE_NOT_AUTHORIZED"
    status = 403
    title = "Rol no autorizado"


class NotHolder(ZeuesError):
    """PAUSAR/COMPLETAR by someone who neither holds the spool nor supervises."""

    code = "NOT_HOLDER"
    status = 403
    title = "No es quien tiene el spool"


class SpoolOccupied(ZeuesError):
    """TOMAR of a spool another worker holds."""

    code = "SPOOL_OCCUPIED"
    status = 409
    title = "Spool ocupado"


class SpoolBlocked(ZeuesError):
    """A command on a spool on hold, other than lifting the hold; the problem names the reason (``motivo``)."""

    code = "SPOOL_BLOCKED"
    status = 409
    title = "Spool bloqueado"


class InvalidReason(ZeuesError):
    """A hold whose motivo is not an active reason, OTRO without a nota, or a supervisor releasing
    someone else's spool without saying why: the body is incomplete (422)."""

    code = "VALIDATION_ERROR"
    status = 422
    title = "Solicitud no válida"

    def __init__(self, detail: str, field: str, **extra: Any) -> None:
        # The same ``errors`` member a schema's 422 carries, so a client finds the field to fix.
        super().__init__(detail, errors={"json": {field: [detail]}}, **extra)


class InvalidTransition(ZeuesError):
    """The action/operation is not allowed from the spool's current state."""

    code = "INVALID_TRANSITION"
    status = 409
    title = "Transición no permitida"


class VersionConflict(ZeuesError):
    """The client's version token is stale: 409 from the body, 412 from If-Match."""

    code = "VERSION_CONFLICT"
    status = 409
    title = "Versión desactualizada"

    def __init__(self, detail: str, status: int = 409, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status = status


class IdempotencyKeyReused(ZeuesError):
    """An Idempotency-Key replayed with another endpoint or body."""

    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422
    title = "Idempotency-Key reutilizada"


class SourceUnavailable(ZeuesError):
    """The source of truth cannot be reached after bounded retries; nothing was written."""

    code = "SOURCE_UNAVAILABLE"
    status = 503
    title = "Fuente de datos no disponible"

    def __init__(self, detail: str, retry_after: int = 5, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


# --- identity and access (SPEC §11) -------------------------------------------------------------


class Unauthenticated(ZeuesError):
    """No credentials, or a token that is unknown, expired, revoked or signed out."""

    code = "UNAUTHENTICATED"
    status = 401
    title = "Sin credenciales válidas"


class InvalidCredentials(ZeuesError):
    """A sign-in with a wrong PIN or an unknown worker: the same answer for both."""

    code = "INVALID_CREDENTIALS"
    status = 401
    title = "Credenciales incorrectas"


class Forbidden(ZeuesError):
    """The credentials are valid but do not allow this: another worker, a missing scope."""

    code = "FORBIDDEN"
    status = 403
    title = "No permitido"


class PinNotSet(ZeuesError):
    """The worker has no PIN yet, so cannot sign in."""

    code = "PIN_NOT_SET"
    status = 403
    title = "PIN no asignado"


class TooManyAttempts(ZeuesError):
    """Too many failed sign-ins for one worker: locked out until the window passes."""

    code = "TOO_MANY_ATTEMPTS"
    status = 429
    title = "Demasiados intentos"

    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after
