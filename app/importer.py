"""The CSV import (``flask import``): read the office's files, check every value, and merge them into
a store in one write, or write nothing and say what to fix.

Workers are office data: they are added or updated. Spools that already exist keep the tracking the
service owns (progress made on the floor) unless the caller asks to overwrite it; the report says
where the file and the store disagree.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import tzinfo
from pathlib import Path

from .domain.model import (
    MOTIVOS_POR_DEFECTO,
    TRABAJADOR_FIELDS,
    TRACKING_FIELDS,
    WORKER_ID_FIELDS,
    Spool,
    Worker,
    sin_acentos,
    tag_key,
)
from .stores.base import Snapshot, StaleWrite, Store
from .stores.rows import (
    TAG_HEADER,
    CellError,
    HeaderProblem,
    activo_cell,
    ciclo_cell,
    date_cell,
    fold,
    locate,
    motivo_cell,
    note_cell,
    resultado_cell,
    roles_cell,
    tag_cell,
    timestamp_cell,
    whole_cell,
)

# What spreadsheet programs put between columns: commas, or semicolons where the comma is the decimal
# mark (Spanish locales), or tabs ("Unicode text").
SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs"}
# Spools listed one per line in the report before the rest are only counted.
SHOWN = 20
# The file's version column is never imported: a row written by the import gets a new token, so
# every client holding the old one sees that it changed.
_COMPARED = tuple(name for name in TRACKING_FIELDS if name != "version")


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """A CSV file as read: how it was decoded, where its columns are and its non-blank rows."""

    path: str
    encoding: str
    separator: str
    headers: dict[str, str]  # field name -> the header as the file writes it
    rows: list[tuple[int, dict[str, str]]]  # (row number as a spreadsheet shows it, cells by field name)

    def describe(self) -> str:
        """One line: how the file was read."""
        separated_by = SEPARATORS[self.separator]
        return f"{self.path}: read as {self.encoding}, columns separated by {separated_by}, {len(self.rows)} rows."

    def problem(self, row: int, field: str, value: str, message: str) -> str:
        """A report line naming the file, the row, the column and the value."""
        return f"{self.path} row {row}, column {self.headers.get(field, field)!r}: {value.strip()!r} {message}"


@dataclasses.dataclass(frozen=True, slots=True)
class FileSpool:
    """A spool as a row of the file gives it: only the tracking columns the file has count."""

    row: int
    spool: Spool
    fields: tuple[str, ...]  # the tracking fields the file has (never version)


@dataclasses.dataclass
class Report:
    """What the import printed: how the files were read, then either the problems or the changes."""

    lines: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)


def import_files(
    store: Store,
    *,
    spools_path: str | None,
    workers_path: str | None,
    zona: tzinfo,
    overwrite_tracking: bool = False,
    dry_run: bool = False,
) -> Report:
    """Check both files against each other and the store, then write everything in one ``load()``, or
    nothing when any value is reported (or when ``dry_run``)."""
    report = Report()
    snapshot = store.snapshot()
    workers: list[tuple[int, Worker]] | None = None  # None: no such file given
    spools: list[FileSpool] | None = None
    # A spool may name a worker the workers file adds or renames: the file counts over the store.
    names = {w.id: w.nombre_completo for w in snapshot.workers}
    if workers_path:
        table = _read(workers_path, TRABAJADOR_FIELDS, (), report)
        if table:
            workers, file_names = _workers(table, report.problems)
            names |= file_names
    if spools_path:
        table = _read(spools_path, (TAG_HEADER,), TRACKING_FIELDS, report)
        if table:
            # The import adds the default reasons, so a file may name them on a shop that lacks them.
            codigos = list(dict.fromkeys(m.codigo for m in (*store.motivos(), *MOTIVOS_POR_DEFECTO)))
            spools = _spools(table, names, codigos, zona, report.problems)
    if report.problems:
        report.lines += report.problems
        report.lines.append(f"Nothing was imported: {_count(len(report.problems), 'problem')} to fix (above).")
        return report

    plan = _plan(snapshot, workers, spools, overwrite_tracking)
    report.lines += plan.lines
    if dry_run:
        report.lines.append("Dry run: nothing was written (run again without --dry-run to import).")
        return report
    if not plan.spools and not plan.workers:
        report.lines.append("Nothing to write.")
        return report
    try:
        store.load(plan.spools, plan.workers, plan.versions, MOTIVOS_POR_DEFECTO)
    except StaleWrite as exc:
        report.problems.append(
            f"Nothing was imported: spool {exc} changed while importing (a command on the floor or another "
            "import); run the import again."
        )
    except NotImplementedError as exc:
        report.problems.append(f"Nothing was imported: {exc}.")
    else:
        report.lines.append("Imported.")
    report.lines += report.problems
    return report


# --- reading ---------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    """The file's text and the name of its encoding: UTF-8 (with or without a BOM) or UTF-16 when
    marked, else Windows-1252 as spreadsheet programs on Windows save "CSV" (latin-1 as a last resort)."""
    for bom, codec, name in (
        (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with BOM"),
        (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec), name
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252 (not UTF-8)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "ISO-8859-1 (latin-1, not UTF-8)"


def _records(text: str, separator: str) -> Iterable[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=separator)


def _separator(text: str, wanted: Sequence[str]) -> str:
    """The separator under which the first line names the most ``wanted`` headers (then the most
    columns): a header row tells more than counting characters that may sit inside quoted cells."""

    def score(separator: str) -> tuple[int, int]:
        header = next(iter(_records(text, separator)), [])
        present = {fold(h) for h in header}
        return sum(fold(w) in present for w in wanted), len(header)

    return max(SEPARATORS, key=score)


def _read(path: str, required: Sequence[str], optional: Sequence[str], report: Report) -> Table | None:
    """The file as a Table, its description added to ``report``; None (and a problem) when it cannot be read."""
    try:
        text, encoding = _decode(Path(path).read_bytes())
    except UnicodeDecodeError as exc:
        report.problems.append(
            f"{path}: starts with a byte-order mark ({exc.encoding}) but byte {exc.start} does not follow it: "
            "save it again as CSV UTF-8."
        )
        return None
    if not text.strip():
        columns = ", ".join(required)
        report.problems.append(f"{path}: the file is empty; its first line must name the columns ({columns}).")
        return None
    try:
        separator = _separator(text, [*required, *optional])
        records = list(_records(text, separator))
    except csv.Error as exc:
        report.problems.append(f"{path}: not a CSV text file ({exc}); save it as CSV UTF-8.")
        return None
    header = records[0]
    present = {fold(h) for h in header}
    wanted = [*required, *(o for o in optional if fold(o) in present)]
    try:
        positions = locate(header, wanted)
    except HeaderProblem as exc:
        report.problems.append(_header_problem(path, exc, header, separator))
        return None
    table = Table(
        path=path,
        encoding=encoding,
        separator=separator,
        headers={field.lower(): header[i].strip() for field, i in positions.items()},
        rows=[
            (number, {field.lower(): (record[i] if i < len(record) else "") for field, i in positions.items()})
            for number, record in enumerate(records[1:], start=2)
            if any(cell.strip() for cell in record)
        ],
    )
    report.lines.append(table.describe())
    return table


def _header_problem(path: str, exc: HeaderProblem, header: Sequence[str], separator: str) -> str:
    read_as = ", ".join(repr(h) for h in header[:12]) + (", ..." if len(header) > 12 else "")
    advice = []
    if exc.missing:
        advice.append(
            "name every column in the first line (case, accents and spaces vs underscores do not matter), "
            "with commas, semicolons or tabs between them"
        )
    if exc.duplicated:
        advice.append("keep only one column of each name")
    return f"{path}: {exc} in the first line, read as {read_as} (separated by {SEPARATORS[separator]}): " + (
        "; ".join(advice) + "."
    )


# --- checking --------------------------------------------------------------------------------------


def _name_key(text: str) -> str:
    """How a person's name is compared: no accents, any case, single spaces."""
    return " ".join(sin_acentos(text).casefold().split())


def _required(parse: Callable[[str], object], what: str) -> Callable[[str], object]:
    def parse_required(text: str) -> object:
        value = parse(text)
        if value is None or value == "":
            raise CellError(f"is empty: every worker needs {what}")
        return value

    return parse_required


_WORKER_CELLS: dict[str, Callable[[str], object]] = {
    "id": _required(whole_cell, "a number"),
    "nombre": _required(str.strip, "a name"),
    "apellido": str.strip,
    "roles": roles_cell,
    "activo": activo_cell,
}


def _cells(
    table: Table,
    number: int,
    cells: Mapping[str, str],
    parsers: Mapping[str, Callable[[str], object]],
    problems: list[str],
) -> dict[str, object]:
    """The row's values that parse; each cell that does not is a problem naming it."""
    values = {}
    for field, parse in parsers.items():
        try:
            values[field] = parse(cells[field])
        except CellError as exc:
            problems.append(table.problem(number, field, cells[field], str(exc)))
    return values


def _workers(table: Table, problems: list[str]) -> tuple[list[tuple[int, Worker]], dict[int, str]]:
    """The file's workers with their row numbers, and the full name of every id it gives (also on rows
    with a problem, so that spools naming them are not reported again); every cell that does not parse
    is a problem."""
    workers, ids, names = [], [], {}
    for number, cells in table.rows:
        values = _cells(table, number, cells, _WORKER_CELLS, problems)
        if "id" in values:
            ids.append((number, cells["id"].strip(), values["id"]))
            names[values["id"]] = f"{values.get('nombre', '')} {values.get('apellido', '')}"
        if len(values) == len(_WORKER_CELLS):
            workers.append((number, Worker(**values)))
    _repeated(table, "id", ids, "each worker needs an id of its own", problems)
    return workers, names


def _repeated(
    table: Table, field: str, keyed: Iterable[tuple[int, str, object]], why: str, problems: list[str]
) -> None:
    """A problem for each key found on several rows, naming all of them."""
    rows: dict[object, list[tuple[int, str]]] = {}
    for number, text, key in keyed:
        rows.setdefault(key, []).append((number, text))
    for found in rows.values():
        if len(found) > 1:
            numbers = [str(n) for n, _ in found]
            listed = ", ".join(numbers[:-1]) + " and " + numbers[-1]
            problems.append(
                f"{table.path} rows {listed}, column {table.headers[field]!r}: {found[0][1]!r} is repeated: {why}."
            )


class _WorkerRefs:
    """Reads a worker cell: the id of a known worker, or the full name of exactly one."""

    def __init__(self, names: Mapping[int, str]) -> None:
        self.ids = set(names)
        self.by_name: dict[str, list[int]] = {}
        for worker_id, name in names.items():
            self.by_name.setdefault(_name_key(name), []).append(worker_id)

    def __call__(self, text: str) -> int | None:
        try:
            worker_id = whole_cell(text)
        except CellError:
            ids = sorted(self.by_name.get(_name_key(text), []))
            if len(ids) == 1:
                return ids[0]
            if ids:
                listed = ", ".join(map(str, ids))
                raise CellError(f"is the name of several workers (ids {listed}): write the id") from None
            raise CellError("is neither a worker id nor the full name of a known worker") from None
        if worker_id is not None and worker_id not in self.ids:
            raise CellError("is the id of no worker (neither in the workers file nor already in the store)")
        return worker_id


def _spools(
    table: Table, names: Mapping[int, str], codigos: Sequence[str], zona: tzinfo, problems: list[str]
) -> list[FileSpool]:
    """The file's spools with their row numbers (``names``: the known workers' full names by id;
    ``codigos``: the reasons a hold may give); every cell that does not parse is a problem."""
    refs = _WorkerRefs(names)
    parsers: dict[str, Callable[[str], object]] = {
        **{name: refs for name in WORKER_ID_FIELDS},
        "timestamp_ocupacion": lambda text: timestamp_cell(text, zona),
        "fecha_armado": date_cell,
        "fecha_soldadura": date_cell,
        "fecha_metrologia": date_cell,
        "resultado_metrologia": resultado_cell,
        "reparacion_ciclo": ciclo_cell,
        "bloqueo_motivo": lambda text: motivo_cell(text, codigos),
        "bloqueo_desde": lambda text: timestamp_cell(text, zona),
        "bloqueo_nota": note_cell,
    }
    fields = tuple(name for name in _COMPARED if name in table.headers)
    row_parsers = {TAG_HEADER.lower(): tag_cell, **{name: parsers[name] for name in fields}}
    spools, tags = [], []
    for number, cells in table.rows:
        values = _cells(table, number, cells, row_parsers, problems)
        if "tag_spool" in values:
            tags.append((number, values["tag_spool"], tag_key(values["tag_spool"])))
        consistent = _occupation_agrees(table, number, cells, values, problems)
        consistent = _hold_agrees(table, number, cells, values, problems) and consistent
        if consistent and len(values) == len(row_parsers):
            spools.append(FileSpool(number, Spool(**values), fields))
    _repeated(table, TAG_HEADER.lower(), tags, "each spool has one row (tags match ignoring case)", problems)
    return spools


def _occupation_agrees(
    table: Table, number: int, cells: Mapping[str, str], values: Mapping[str, object], problems: list[str]
) -> bool:
    """False (and a problem) when the row names a holder without the time of the TOMAR, or the other way
    round; a cell that did not parse is already reported."""
    pair = ("ocupado_por", "timestamp_ocupacion")
    if any(name in table.headers and name not in values for name in pair):
        return True
    holder, since = (values.get(name) for name in pair)
    if (holder is None) == (since is None):
        return True
    if holder is not None:
        given, other, what = "ocupado_por", "timestamp_ocupacion", "names a holder"
    else:
        given, other, what = "timestamp_ocupacion", "ocupado_por", "is the time of a TOMAR"
    missing = f"{table.headers[other]!r} is empty" if other in table.headers else f"the file has no {other} column"
    problems.append(
        table.problem(number, given, cells[given], f"{what} but {missing}: a held spool needs both, a free one neither")
    )
    return False


def _hold_agrees(
    table: Table, number: int, cells: Mapping[str, str], values: Mapping[str, object], problems: list[str]
) -> bool:
    """False (and a problem) when the row gives a hold's reason without its time or the other way round,
    or holds a spool someone has in hand (a hold releases it); a cell that did not parse is already reported."""
    pair = ("bloqueo_motivo", "bloqueo_desde")
    if any(name in table.headers and name not in values for name in pair):
        return True
    motivo, desde = (values.get(name) for name in pair)
    if (motivo is None) != (desde is None):
        given, other = pair if motivo is not None else pair[::-1]
        missing = f"{table.headers[other]!r} is empty" if other in table.headers else f"the file has no {other} column"
        problems.append(
            table.problem(number, given, cells[given], f"is part of a hold but {missing}: a hold needs both")
        )
        return False
    if motivo is not None and values.get("ocupado_por") is not None:
        problems.append(
            table.problem(
                number, "bloqueo_motivo", cells["bloqueo_motivo"], "puts on hold a spool a worker holds: empty one"
            )
        )
        return False
    return True


# --- merging ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Plan:
    spools: list[Spool]  # rows to write: new ones, and replaced ones (keyed in versions)
    versions: dict[str, str | None]  # replaced rows: tag -> the version they must still hold
    workers: list[Worker]  # added or updated
    lines: list[str]


def _plan(
    snapshot: Snapshot,
    workers: Sequence[tuple[int, Worker]] | None,
    spools: Sequence[FileSpool] | None,
    overwrite_tracking: bool,
) -> _Plan:
    """What to write, and the report of it: new spools and every worker change, and on spools that
    exist only the tracking the file changes, replaced when asked and otherwise kept and listed."""
    plan = _Plan(spools=[], versions={}, workers=[], lines=[])
    if workers is not None:
        stored_workers = {w.id: w for w in snapshot.workers}
        added = [w for _, w in workers if w.id not in stored_workers]
        updated = [w for _, w in workers if w.id in stored_workers and stored_workers[w.id] != w]
        plan.workers = added + updated
        plan.lines.append(
            f"Workers: {len(added)} added, {len(updated)} updated, {len(workers) - len(plan.workers)} unchanged."
        )
    if spools is None:
        return plan

    stored: dict[str, Spool] = {}
    for spool in snapshot.spools:
        stored.setdefault(tag_key(spool.tag_spool), spool)
    new, unchanged = 0, 0
    replaced: list[str] = []
    kept: list[str] = []
    for item in spools:
        antes = stored.pop(tag_key(item.spool.tag_spool), None)
        if antes is None:
            plan.spools.append(item.spool.con(version=str(uuid.uuid4())))
            new += 1
            continue
        despues = antes.con(**{name: getattr(item.spool, name) for name in item.fields})
        if despues == antes:
            unchanged += 1
            continue
        cambios = ", ".join(name for name in item.fields if getattr(antes, name) != getattr(despues, name))
        if overwrite_tracking:
            plan.spools.append(despues.con(version=str(uuid.uuid4())))
            plan.versions[antes.tag_spool] = antes.version
            replaced.append(f"  row {item.row}, {antes.tag_spool}: {antes.estado} -> {despues.estado} ({cambios})")
        else:
            kept.append(
                f"  row {item.row}, {antes.tag_spool}: kept {antes.estado}; the file says {despues.estado} ({cambios})"
            )
    plan.lines.append(f"Spools: {new} new, {unchanged} unchanged, {len(replaced)} updated, {len(kept)} kept.")
    if kept:
        plan.lines.append(
            f"Kept as the floor recorded them although the file differs ({_count(len(kept), 'spool')}; "
            "--overwrite-tracking takes the file's instead):"
        )
        plan.lines += _first(kept)
    if replaced:
        plan.lines.append(f"Tracking replaced by the file's (--overwrite-tracking, {_count(len(replaced), 'spool')}):")
        plan.lines += _first(replaced)
    if stored:
        plan.lines.append(f"Left as they are: {_count(len(stored), 'spool')} in the store but not in the file.")
    return plan


def _first(lines: Sequence[str]) -> list[str]:
    return [*lines[:SHOWN], *([f"  ... and {len(lines) - SHOWN} more."] if len(lines) > SHOWN else [])]


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")
