"""PostgreSQL binary COPY of numpy columns: a whole population in or out, no Python object per value.

The wire format under the two bulk repositories (`readmodel.stats_repository` reads the population
through it, `scores.bulk_repository` writes scores through it); it runs the statements they give
and builds none itself.

Every column is fixed width and never NULL (a missing number travels as NaN, a missing label as
code 0), so every row of the binary COPY format has the same layout and numpy reads or writes all
rows in one step. The format: an 11-byte signature, two 32-bit header fields, then per row a
16-bit field count and per field a 32-bit length and the value, big-endian; a 16-bit -1 ends it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

Kind = Literal["uuid", "float8", "int2"]
_WIRE: dict[str, str] = {"uuid": "V16", "float8": ">f8", "int2": ">i2"}
_NATIVE: dict[str, str] = {"uuid": "V16", "float8": "f8", "int2": "i2"}
SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + bytes(8)  # flags 0, no header extension
TRAILER = b"\xff\xff"
COPY_PART = 1 << 20  # bytes per message of a COPY in


class CopyFormatError(RuntimeError):
    """The server sent rows that are not the fixed layout asked for (a NULL, or another type)."""


def _row_type(kinds: Sequence[Kind]) -> np.dtype[Any]:
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, kind in enumerate(kinds):
        fields += [(f"len{i}", ">i4"), (f"v{i}", _WIRE[kind])]
    return np.dtype(fields)


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def render(session: AsyncSession, stmt: Select[Any]) -> str:
    """SQL text with the parameters inlined (COPY takes no parameters); only for server-made values."""
    return str(stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))


async def read(session: AsyncSession, stmt: Select[Any], kinds: Sequence[Kind]) -> list[NDArray[Any]]:
    """Run `stmt` through COPY TO STDOUT and return its columns as native-endian arrays."""
    parts: list[bytes] = []

    async def sink(part: bytes) -> None:  # a coroutine: a file would be written through a thread per part
        parts.append(part)

    await (await driver_connection(session)).copy_from_query(render(session, stmt), output=sink, format="binary")
    data = memoryview(b"".join(parts))
    parts.clear()
    row = _row_type(kinds)
    body = len(data) - len(HEADER) - len(TRAILER)
    if bytes(data[: len(SIGNATURE)]) != SIGNATURE or bytes(data[-2:]) != TRAILER or body % row.itemsize:
        raise CopyFormatError(f"COPY output of {len(data)} bytes does not hold rows of {row.itemsize} bytes")
    rows = np.frombuffer(data, dtype=row, offset=len(HEADER), count=body // row.itemsize)
    if rows.size and not (rows["count"] == len(kinds)).all():
        raise CopyFormatError("COPY rows have another number of columns than asked for")
    columns = []
    for i, kind in enumerate(kinds):
        if rows.size and not (rows[f"len{i}"] == row[f"v{i}"].itemsize).all():
            raise CopyFormatError(f"column {i} has NULLs or is not {kind}")
        columns.append(rows[f"v{i}"].astype(_NATIVE[kind]))
    del rows, data
    return columns


def encode(columns: Sequence[tuple[Kind, NDArray[Any]]]) -> bytes:
    """Binary COPY input for the columns (all of the same length)."""
    n = len(columns[0][1]) if columns else 0
    row = _row_type([kind for kind, _ in columns])
    rows = np.empty(n, dtype=row)
    rows["count"] = len(columns)
    for i, (_kind, values) in enumerate(columns):
        if len(values) != n:
            raise ValueError("columns differ in length")
        rows[f"len{i}"] = row[f"v{i}"].itemsize
        rows[f"v{i}"] = values
    return HEADER + rows.tobytes() + TRAILER


async def write(
    session: AsyncSession, table: str, columns: Mapping[str, tuple[Kind, NDArray[Any]]], *, schema: str | None = None
) -> None:
    """COPY the columns into `table` (in the session's transaction)."""
    payload = memoryview(encode(list(columns.values())))

    async def parts() -> AsyncIterator[memoryview]:  # a file would be read through a thread per part
        for start in range(0, len(payload), COPY_PART):
            yield payload[start : start + COPY_PART]

    await (await driver_connection(session)).copy_to_table(
        table, source=parts(), columns=list(columns), schema_name=schema, format="binary"
    )


def uuid_bytes(ids: Sequence[Any]) -> NDArray[Any]:
    """UUIDs as 16-byte values, the wire form of the uuid type."""
    return np.frombuffer(b"".join(i.bytes for i in ids), dtype="V16") if ids else np.empty(0, dtype="V16")
