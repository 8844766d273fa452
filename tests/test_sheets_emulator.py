"""The Sheets API stand-in behaves like Google where the store relies on it, driven by real gspread."""

from __future__ import annotations

import gspread
import pytest
import requests

from app.stores.sheets.client import open_client
from tests.sheets_emulator import SheetsEmulator


@pytest.fixture
def emulator():
    emulator = SheetsEmulator()
    emulator.create(
        "libro",
        {"Hoja A": [["TAG", "x", "", ""], ["T1", "", "", ""], ["", ""], ["T3", "", "c"]], "B": [["id"]]},
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def libro(emulator):
    """The spreadsheet through gspread's own objects, over SHEETS_EMULATOR_HOST's path."""
    client = open_client(emulator_host=emulator.host, credentials_file=None, timeout=(2, 5))
    return client.open_by_key("libro")


def cell(value: str) -> dict:
    return {"userEnteredValue": {"stringValue": value}}


def test_values_come_back_trimmed_like_google(libro):
    answer = libro.values_batch_get(["'Hoja A'", "'Hoja A'!A2:D3", "B!A5:B9"])
    a, filas, vacio = answer["valueRanges"]
    assert a["values"] == [["TAG", "x"], ["T1"], [], ["T3", "", "c"]]
    assert filas["values"] == [["T1"]]
    assert "values" not in vacio  # Google omits the key for an empty range
    assert [w.title for w in libro.worksheets()] == ["Hoja A", "B"]


def test_batch_update_is_all_or_nothing(libro, emulator):
    hoja = libro.worksheet("Hoja A").id
    bueno = {
        "updateCells": {
            "start": {"sheetId": hoja, "rowIndex": 1, "columnIndex": 1},
            "rows": [{"values": [cell("!")]}],
            "fields": "userEnteredValue",
        }
    }
    fuera = {
        "updateCells": {
            "start": {"sheetId": hoja, "rowIndex": 5000, "columnIndex": 0},
            "rows": [{"values": [cell("?")]}],
            "fields": "userEnteredValue",
        }
    }
    with pytest.raises(gspread.exceptions.APIError) as caught:
        libro.batch_update({"requests": [bueno, fuera]})
    assert caught.value.code == 400 and "exceeds grid limits" in str(caught.value)
    assert emulator.rows("libro", "Hoja A")[1] == ["T1"]
    libro.batch_update({"requests": [bueno]})
    assert emulator.rows("libro", "Hoja A")[1] == ["T1", "!"]


def test_append_cells_goes_after_the_last_row_with_data_and_keeps_text_literal(libro, emulator):
    hoja = libro.worksheet("B").id
    fila = {"values": [cell('=IMPORTXML("http://x")'), {}, cell("z")]}
    libro.batch_update({"requests": [{"appendCells": {"sheetId": hoja, "rows": [fila], "fields": "userEnteredValue"}}]})
    assert emulator.rows("libro", "B") == [["id"], ['=IMPORTXML("http://x")', "", "z"]]
    assert emulator.formulas("libro") == []
    formula = {"values": [{"userEnteredValue": {"formulaValue": "=1+1"}}]}
    libro.batch_update(
        {"requests": [{"appendCells": {"sheetId": hoja, "rows": [formula], "fields": "userEnteredValue"}}]}
    )
    assert emulator.formulas("libro") == ["=1+1"]  # the stand-in does tell formulas from text


def test_faults_counts_and_unknown_spreadsheets(libro, emulator):
    emulator.reset_counts()
    emulator.fail(503, times=1, retry_after=2)
    with pytest.raises(gspread.exceptions.APIError) as caught:
        libro.values_batch_get(["B"])
    assert caught.value.code == 503
    assert caught.value.response.headers["Retry-After"] == "2"
    libro.values_batch_get(["B"])
    assert emulator.counts["read"] == 2 and emulator.counts["faulted"] == 1
    client = open_client(emulator_host=emulator.host, credentials_file=None, timeout=(2, 5))
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        client.open_by_key("no-existe")


def test_nothing_leaves_for_google_while_emulating(emulator):
    client = open_client(emulator_host=emulator.host, credentials_file=None, timeout=(2, 5))
    with pytest.raises(requests.ConnectionError, match="SHEETS_EMULATOR_HOST is set"):
        client.list_spreadsheet_files()


@pytest.mark.parametrize(
    ("reset", "heard"), [(False, "Remote end closed connection"), (True, "Connection reset by peer")]
)
def test_a_hang_up_applies_the_write_and_loses_its_answer(libro, emulator, reset, heard):
    emulator.hang_up_after_write(reset=reset)
    update = {"updateCells": {"start": {"sheetId": libro.sheet1.id}, "rows": [{"values": [cell("X")]}], "fields": "*"}}
    with pytest.raises(requests.ConnectionError, match=heard):
        libro.batch_update({"requests": [update]})
    assert emulator.rows("libro", "Hoja A")[0][0] == "X"
    assert libro.values_batch_get(["B"])["valueRanges"][0]["values"] == [["id"]]  # the next call is answered
