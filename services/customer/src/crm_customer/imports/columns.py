"""Which columns a kind of import takes, read off the API's own schemas, and how a cell becomes a value.

Cells are plain text. Lists of words (`tags`, `hobbies`, ...) are separated by `|` or `;` inside the
cell; nested objects and lists of objects (`address`, `custom_fields`, `other_contacts`, `items`) are
JSON. An empty cell is a field not given: on an update it leaves the stored value as it is.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from crm_chassis.errors import Unprocessable
from crm_customer.imports.outcome import Problem

# Spreadsheet formula starters; an export writes such a cell with a leading `'`, an import removes it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LIST_SEPARATORS = re.compile(r"[|;]")


@dataclass(frozen=True)
class KindSpec:
    model: type[BaseModel]
    natural_key: str
    read_model: type[BaseModel] | None = None  # an export's extra columns are accepted and ignored
    one_of: tuple[frozenset[str], ...] = ()  # each group: at least one of these columns must be present
    # Other shapes a row may take (an order row that is a refund): their fields are columns too.
    variants: tuple[type[BaseModel], ...] = ()
    # Columns that name a customer by the partner's external_ref instead of our id (imports/references.py).
    references: Mapping[str, str] = field(default_factory=dict)
    columns: frozenset[str] = field(init=False)
    ignored: frozenset[str] = field(init=False)
    list_columns: frozenset[str] = field(init=False)
    json_columns: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        fields = {name: info for m in (*self.variants, self.model) for name, info in m.model_fields.items()}
        extra = set(self.read_model.model_fields) - set(fields) if self.read_model else set()
        shapes = {name: _shape(info.annotation) for name, info in fields.items()}
        object.__setattr__(self, "columns", frozenset(fields) | frozenset(self.references))
        groups = tuple(frozenset({ref, id_column}) for ref, id_column in self.references.items())
        object.__setattr__(self, "one_of", self.one_of + groups)
        object.__setattr__(self, "ignored", frozenset(extra))
        object.__setattr__(self, "list_columns", frozenset(n for n, s in shapes.items() if s == "list"))
        object.__setattr__(self, "json_columns", frozenset(n for n, s in shapes.items() if s == "json"))

    @property
    def required(self) -> set[str]:
        named_otherwise = set(self.references.values())  # a one_of group asks for the id or the reference
        return {n for n, info in self.model.model_fields.items() if info.is_required() and n not in named_otherwise}


def _shape(annotation: Any) -> str:
    """'list' for a list of words, 'json' for objects and lists of objects, 'scalar' otherwise."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _shape(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        shapes = {_shape(a) for a in get_args(annotation) if a is not type(None)}
        return "json" if "json" in shapes else "list" if "list" in shapes else "scalar"
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return "list" if _shape(item) == "scalar" and not _is_model(item) else "json"
    if origin is dict or _is_model(annotation):
        return "json"
    return "scalar"


def _is_model(annotation: Any) -> bool:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def check_header(spec: KindSpec, header: list[str]) -> list[str]:
    """The header's column names, normalised; 422 naming every unknown, duplicate or missing column."""
    columns = [name.strip().lower() for name in header]
    allowed = spec.columns | spec.ignored
    if not any(name in allowed for name in columns):
        raise Unprocessable.field(
            "file",
            "no_header",
            "the first line must be a header naming the columns (none of its cells is a known column); "
            f"known columns: {', '.join(sorted(allowed))}",
        )
    errors = []
    unknown = [name for name in columns if name not in allowed]
    if unknown:
        errors.append(f"unknown columns: {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        errors.append(f"columns named twice: {', '.join(duplicates)}")
    missing = sorted(spec.required - set(columns))
    missing += [" or ".join(sorted(group)) for group in spec.one_of if not group & set(columns)]
    if missing:
        errors.append(f"missing required columns: {', '.join(missing)}")
    if errors:
        raise Unprocessable(
            "the CSV header does not fit this kind of import: " + "; ".join(errors),
            errors=[{"field": "file", "code": "bad_columns", "message": m} for m in errors],
        )
    return columns


def unescape(cell: str) -> str:
    """Undo the export's formula guard so that an exported file imports back unchanged."""
    if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS and cell[1:2] != "":
        return cell[1:]
    return cell


def row_values(spec: KindSpec, columns: list[str], cells: list[str]) -> tuple[dict[str, Any], list[Problem]]:
    """The row as input for the kind's schema, and the problems of cells that cannot be read."""
    values: dict[str, Any] = {}
    errors: list[Problem] = []
    if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
        message = f"the row has {len(cells)} cells but the header names {len(columns)} columns"
        errors.append(Problem("", "too_many_cells", message))
    ignored, list_columns, json_columns = spec.ignored, spec.list_columns, spec.json_columns
    for name, raw in zip(columns, cells, strict=False):
        if name in ignored:
            continue
        cell = (unescape(raw) if raw[:1] == "'" else raw).strip()  # a row of a large file: every call counts
        if not cell:
            continue
        if name in list_columns:
            values[name] = [part.strip() for part in _LIST_SEPARATORS.split(cell) if part.strip()]
        elif name in json_columns:
            try:
                values[name] = json.loads(cell)
            except ValueError as exc:
                errors.append(Problem(name, "json_invalid", f"not valid JSON: {exc}"))
        else:
            values[name] = cell
    return values, errors
