"""Rows that name a customer the way a partner does: by its `external_ref`, not by our id.

A contacts row may name its organisation by `organization_external_ref` and the person by
`customer_external_ref`; a contact-log row its customer by `customer_external_ref`, as order rows
already do. The references of a chunk are looked up in one query, among the live customers the
importer may see; one that names none is the row's `unknown_customer` error.
"""

from __future__ import annotations

from crm_chassis.identity import Principal
from crm_customer.customers import repository as customer_repo
from crm_customer.db import Session
from crm_customer.imports.columns import KindSpec
from crm_customer.imports.outcome import Problem

Values = dict[str, object]


async def resolve(
    session: Session, spec: KindSpec, rows: list[tuple[int, Values]], principal: Principal
) -> tuple[list[tuple[int, Values]], list[tuple[int, list[Problem]]]]:
    """The rows with each reference replaced by the customer's id, and the rows that cannot be."""
    wanted = {str(values[ref]) for _, values in rows for ref in spec.references if ref in values}
    found = await customer_repo.visible_live_ids_by_external_ref(session, wanted, principal) if wanted else {}
    resolved: list[tuple[int, Values]] = []
    failed: list[tuple[int, list[Problem]]] = []
    for number, values in rows:
        problems = []
        values = dict(values)
        for ref, id_column in spec.references.items():
            if ref not in values:
                continue
            reference = str(values.pop(ref))
            if id_column in values:
                problems.append(Problem(ref, "one_of", f"name the customer by {id_column} or {ref}, not both"))
            elif reference in found:
                values[id_column] = str(found[reference])
            else:
                problems.append(Problem(ref, "unknown_customer", f"no customer with external_ref {reference!r}"))
        if problems:
            failed.append((number, problems))
        else:
            resolved.append((number, values))
    return resolved, failed
