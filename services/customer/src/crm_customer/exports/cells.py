"""CSV cells safe to open in a spreadsheet (OWASP "CSV injection").

A text cell starting with `=`, `+`, `-`, `@`, tab or carriage return is written with a leading `'`
so that a spreadsheet shows it as text instead of running it as a formula. A plain number in a
numeric column (`-40.00` as a refund's amount) is left alone: it must stay a number, and a number
cannot be a formula. Imports remove that one quote again, so an exported file imports unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from typing import Any

from crm_customer.imports.columns import FORMULA_STARTS

BOM = "\ufeff"  # Excel reads a CSV as UTF-8 (Chinese names intact) only when the file starts with it
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def guard(value: str, *, numeric: bool = False) -> str:
    if value[:1] in FORMULA_STARTS and value and not (numeric and _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def cell(value: Any, *, numeric: bool = False) -> str:
    """One JSON value as a cell: lists of words joined by `|`, objects as JSON, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "|".join(value)
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return guard(text, numeric=numeric)


def lines(rows: Iterable[Iterable[str]]) -> str:
    """Rows as CSV text (already guarded cells)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
