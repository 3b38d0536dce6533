"""Reading an uploaded CSV file from disk: checked whole before a job is accepted, then read in chunks.

Nothing holds the file in memory: the upload is copied to a file in blocks, the check streams
through it once (decoding every byte and parsing every record), and the job reads it chunk by chunk.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from crm_chassis.controls import CODE as CONTROL_CODE
from crm_chassis.controls import MESSAGE as CONTROL_MESSAGE
from crm_chassis.controls import find_control
from crm_chassis.errors import Unprocessable
from crm_customer.imports.columns import KindSpec, check_header
from crm_customer.imports.outcome import Row
from crm_customer.imports.schemas import Delimiter, Encoding

# utf-8-sig reads UTF-8 with or without the byte order mark that Excel writes.
CODECS = {Encoding.utf_8: "utf-8-sig", Encoding.gb18030: "gb18030"}
_DELIMITERS = {Delimiter.comma: ",", Delimiter.semicolon: ";"}
# A cell longer than this is not a CRM field; the csv module's own default is 128 KiB.
csv.field_size_limit(1024 * 1024)


@dataclass(frozen=True)
class Layout:
    codec: str
    delimiter: str
    columns: list[str]
    total: int  # data records, blank lines not counted


def copy_upload(source: BinaryIO, target: Path) -> str:
    """Copy the upload to `target` block by block; the SHA-256 of its bytes, in hex."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source.seek(0)
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while block := source.read(1024 * 1024):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _refuse(code: str, message: str) -> Unprocessable:
    return Unprocessable.field("file", code, message)


def _refuse_controls(record: list[str], line: int, header: list[str]) -> None:
    """422 for a cell holding NUL or another control character (tab and line breaks are text)."""
    for index, cell in enumerate(record):
        if find_control(cell) is not None:
            column = header[index] if index < len(header) and find_control(header[index]) is None else index + 1
            raise _refuse(CONTROL_CODE, f"line {line}, column {column}: {CONTROL_MESSAGE}")


def _sniff(header_line: str) -> str:
    """Comma unless the header holds more semicolons (Excel in many European locales writes those)."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def inspect(path: Path, spec: KindSpec, encoding: Encoding, delimiter: Delimiter) -> Layout:
    """The file's layout; 422 for a file that is empty, binary, not in `encoding`, malformed or misnamed."""
    with path.open("rb") as raw:
        head = raw.read(64 * 1024)
    if not head.strip():
        raise _refuse("empty_file", "the file is empty")
    if b"\x00" in head:
        raise _refuse("not_csv", "this is not a CSV file: it holds binary data (save the sheet as CSV UTF-8)")
    codec = CODECS[encoding]
    try:
        with path.open(encoding=codec, newline="") as text:
            header_line = text.readline()
            sep = _DELIMITERS.get(delimiter) or _sniff(header_line)
            text.seek(0)
            reader = csv.reader(text, delimiter=sep, strict=True)
            header = next(reader, [])
            _refuse_controls(header, reader.line_num, header)
            columns = check_header(spec, header)
            total = 0
            for record in reader:
                _refuse_controls(record, reader.line_num, header)
                total += any(cell.strip() for cell in record)
    except UnicodeDecodeError as exc:
        hint = " (a file saved by Excel on Chinese Windows is GB18030: send encoding=gb18030)"
        raise _refuse(
            "bad_encoding", f"the file is not valid {encoding.value} text: {exc.reason}" + hint * (codec != "gb18030")
        ) from exc
    except csv.Error as exc:
        raise _refuse("malformed_csv", f"this is not a well-formed CSV file: line {reader.line_num}: {exc}") from exc
    return Layout(codec=codec, delimiter=sep, columns=columns, total=total)


def read_chunks(path: Path, layout: Layout, size: int) -> Generator[list[Row], None, None]:
    """The data records in chunks of `size`, each with its row number (the header is row 1)."""
    with path.open(encoding=layout.codec, newline="") as text:
        reader = csv.reader(text, delimiter=layout.delimiter, strict=True)
        next(reader, None)
        chunk: list[Row] = []
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            chunk.append((number, record))
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
