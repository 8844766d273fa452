"""The Google Sheets store (SPEC §7), one job per module: ``client`` (HTTP, quota pacing, bounded retries),
``layout`` (tabs and headers), ``reads`` (shared row reads), ``writes`` (group commit), ``store`` (parsing,
caching, the port, rows checked against the log) and ``admin`` (``sheets-check`` / ``sheets-init``)."""

from .client import SheetsLayoutError, SheetsSettings
from .store import SheetsStore

__all__ = ["SheetsLayoutError", "SheetsSettings", "SheetsStore"]
