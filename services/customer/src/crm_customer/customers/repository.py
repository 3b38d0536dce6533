"""Every query on the customer table, its audit history and its owner changes."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from crm_chassis.db import insert_rows
from crm_chassis.identity import Principal, visible_owners
from crm_chassis.pagination import Page, paginate, paginate_rows
from crm_customer.contacts import repository as contact_repo
from crm_customer.contacts.models import Contact
from crm_customer.customers import search
from crm_customer.customers.models import Customer, CustomerChange, OwnerChange
from crm_customer.customers.schemas import CustomerFilters, CustomerSort
from crm_customer.db import customer_records_page, one_of

_SORTS: dict[str, list[tuple[Any, bool]]] = {
    CustomerSort.created_at: [(Customer.created_at, False), (Customer.id, False)],
    CustomerSort.created_at_desc: [(Customer.created_at, True), (Customer.id, True)],
    CustomerSort.updated_at: [(Customer.updated_at, False), (Customer.id, False)],
    CustomerSort.updated_at_desc: [(Customer.updated_at, True), (Customer.id, True)],
    CustomerSort.name: [(Customer.name, False), (Customer.id, False)],
    CustomerSort.name_desc: [(Customer.name, True), (Customer.id, True)],
}


def live(customer: type[Customer] = Customer) -> ColumnElement[bool]:
    """Customers not deleted (a merged duplicate is deleted too); `customer` may be an alias."""
    return customer.deleted_at.is_(None)


def visible(principal: Principal, customer: type[Customer] = Customer) -> ColumnElement[bool]:
    """The customers the caller may see (`access.can_see` as a clause)."""
    owners = visible_owners(principal)
    return true() if owners is None else customer.owner_id.in_(owners)


def of_visible(principal: Principal, customer_id: InstrumentedAttribute[uuid.UUID]) -> ColumnElement[bool]:
    """Records of another table (orders, the contact log) whose customer the caller may see."""
    owners = visible_owners(principal)
    return true() if owners is None else customer_id.in_(select(Customer.id).where(Customer.owner_id.in_(owners)))


async def get(session: AsyncSession, customer_id: uuid.UUID, *, include_deleted: bool = False) -> Customer | None:
    stmt = select(Customer).where(Customer.id == customer_id)
    if not include_deleted:
        stmt = stmt.where(live())
    return (await session.scalars(stmt)).one_or_none()


async def get_many(session: AsyncSession, customer_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Customer]:
    """The live customers among these ids, by id (`get` of many with one query)."""
    stmt = select(Customer).where(one_of(Customer.id, customer_ids), live())
    return {customer.id: customer for customer in (await session.scalars(stmt)).all()}


async def owner_of(session: AsyncSession, customer_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Customer.owner_id).where(Customer.id == customer_id))


async def merged_into(session: AsyncSession, customer_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Customer.merged_into).where(Customer.id == customer_id))


async def exists_active(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(literal(True)).where(Customer.id == customer_id, live())))


async def id_by_external_ref(session: AsyncSession, external_ref: str) -> uuid.UUID | None:
    return await session.scalar(select(Customer.id).where(Customer.external_ref == external_ref))


async def lock(session: AsyncSession, customer_ids: Iterable[uuid.UUID]) -> None:
    """Lock the customers' rows until the transaction ends, always in id order so that two callers
    locking the same customers cannot deadlock."""
    ids = sorted(customer_ids)
    await session.execute(select(Customer.id).where(Customer.id.in_(ids)).order_by(Customer.id).with_for_update())


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Customer.tags, JSONB).contains([tag])
    each = func.json_each(Customer.tags).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(column("value") == tag))


def _contains(haystack: ColumnElement[str] | InstrumentedAttribute[str], needle: str) -> ColumnElement[bool]:
    """`haystack LIKE '%needle%'`, the pattern written into the statement: as a bind parameter,
    PostgreSQL soon plans the prepared statement once for any pattern, and a plan that does not
    know the pattern cannot use the trigram index (measured: seconds instead of milliseconds)."""
    pattern = bindparam("pattern", f"%{_escape_like(needle)}%", type_=Text(), literal_execute=True, unique=True)
    return haystack.like(pattern, escape="\\")


def _name_part(dialect: str) -> ColumnElement[str]:
    """The name: `search_text`'s first part, up to the first separator."""
    if dialect == "postgresql":
        return func.split_part(Customer.search_text, search.SEPARATOR, 1)
    end = func.instr(Customer.search_text + search.SEPARATOR, search.SEPARATOR)
    return func.substr(Customer.search_text, 1, end - 1)


def search_clause(q: str, *, names_only: bool = False, dialect: str = "sqlite") -> ColumnElement[bool]:
    """Customers whose name, email, phone or other contacts hold `q` (customers/search.py), on
    PostgreSQL through the trigram indexes of the search columns; with `names_only` (a caller who
    may not see personal fields) the name alone, so that no one finds a customer by them."""
    found = search.needles(q, phone=not names_only)
    if names_only:  # the name is within search_text: that comparison is there for the index
        text = and_(_contains(Customer.search_text, found.text), _contains(_name_part(dialect), found.text))
        has_run = [_contains(_name_part(dialect), run) for run in found.han]
    else:
        text = _contains(Customer.search_text, found.text)
        has_run = [_contains(Customer.search_text, run) for run in found.han]
    clause = text
    if found.pinyin:
        by_sound = and_(or_(*(_contains(Customer.search_pinyin, p) for p in found.pinyin)), *has_run)
        clause = by_sound if found.sound_only else or_(text, by_sound)
    # Implied by either branch; there for the index, which cannot use one or two characters.
    return and_(clause, *(_contains(Customer.search_han, code) for code in found.codes))


def _filtered(
    session: AsyncSession, filters: CustomerFilters, principal: Principal, names_only: bool = False
) -> Select[Customer]:
    stmt = select(Customer).where(live(), visible(principal))
    if filters.q:
        stmt = stmt.where(search_clause(filters.q, names_only=names_only, dialect=session.get_bind().dialect.name))
    for name in ("kind", "owner_id", "lifecycle_stage", "acquisition_channel", "external_ref", "referred_by"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Customer, name) == value)
    if filters.tag:
        stmt = stmt.where(_has_tag(session, filters.tag))
    if filters.key is not None:
        stmt = stmt.where(key_clause() if filters.key else ~key_clause())
    if filters.created_after:
        stmt = stmt.where(Customer.created_at >= filters.created_after)
    if filters.created_before:
        stmt = stmt.where(Customer.created_at < filters.created_before)
    if filters.updated_after:
        stmt = stmt.where(Customer.updated_at >= filters.updated_after)
    return stmt


def matching(session: AsyncSession, filters: CustomerFilters, principal: Principal) -> Select[Customer]:
    """The query of `GET /customers` with these filters (live, visible to the caller), to narrow further."""
    return _filtered(session, filters, principal)


async def list_page(
    session: AsyncSession,
    filters: CustomerFilters,
    sort: CustomerSort,
    limit: int,
    cursor: str | None,
    principal: Principal,
    names_only: bool = False,
) -> Page[Customer]:
    stmt = _filtered(session, filters, principal, names_only)
    if filters.q and session.get_bind().dialect.name == "postgresql":
        # A page of 50 is found in milliseconds by one process; starting parallel workers to walk
        # the listing's index costs more than that, and far more on a busy server.
        await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    return await paginate(session, stmt, _SORTS[sort], sort, limit, cursor)


async def count_matching(session: AsyncSession, filters: CustomerFilters, principal: Principal) -> int:
    """How many live customers the caller may see match the list filters."""
    stmt = _filtered(session, filters, principal).with_only_columns(func.count()).order_by(None)
    return int(await session.scalar(stmt) or 0)


async def ids_after(
    session: AsyncSession, filters: CustomerFilters, principal: Principal, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """The next `limit` ids, in id order, of the live customers the caller may see that match."""
    stmt = _filtered(session, filters, principal).with_only_columns(Customer.id).order_by(Customer.id).limit(limit)
    if after is not None:
        stmt = stmt.where(Customer.id > after)
    return list((await session.scalars(stmt)).all())


def key_clause() -> ColumnElement[bool]:
    """Key customers, and the senior leaders of key organisations (so that care misses no one)."""
    org = aliased(Customer)
    senior_of_key_org = (
        select(Contact.person_id)
        .join(org, org.id == Contact.organization_id)
        .where(
            Contact.is_senior_leader.is_(True),
            contact_repo.live(),
            Contact.person_id.is_not(None),
            org.is_key.is_(True),
            live(org),
        )
    )
    return or_(Customer.is_key.is_(True), Customer.id.in_(senior_of_key_org))


async def key_reasons(session: AsyncSession, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Why each customer counts as key: its own flag, or the key organisations it leads."""
    reasons: dict[uuid.UUID, list[str]] = {cid: [] for cid in customer_ids}
    own = await session.execute(
        select(Customer.id, Customer.key_reason).where(Customer.id.in_(customer_ids), Customer.is_key.is_(True))
    )
    for cid, reason in own:
        reasons[cid].append(reason or "flagged as a key customer")
    org = aliased(Customer)
    led = await session.execute(
        select(Contact.person_id, org.name)
        .join(org, org.id == Contact.organization_id)
        .where(
            Contact.person_id.in_(customer_ids),
            Contact.is_senior_leader.is_(True),
            contact_repo.live(),
            org.is_key.is_(True),
            live(org),
        )
    )
    for person_id, org_name in led:
        if person_id is not None:
            reasons[person_id].append(f"senior leader of key organisation {org_name}")
    return reasons


async def organizations_of(
    session: AsyncSession, person_id: uuid.UUID, principal: Principal, limit: int, cursor: str | None
) -> Page[Any]:
    """The live organisations the caller may see that a person is a contact of, by name: rows of
    (contact, name)."""
    stmt = (
        select(Contact, Customer.name)
        .join(Customer, Customer.id == Contact.organization_id)
        .where(Contact.person_id == person_id, contact_repo.live(), live(), visible(principal))
    )
    order = [(Customer.name, False), (Contact.id, False)]
    return await paginate_rows(session, stmt, order, "name", limit, cursor, lambda row: [row[1], row[0].id])


async def history_page(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[CustomerChange]:
    return await customer_records_page(session, CustomerChange, CustomerChange.changed_at, customer_id, limit, cursor)


async def owner_history(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[OwnerChange]:
    changed_at = OwnerChange.changed_at
    return await customer_records_page(session, OwnerChange, changed_at, customer_id, limit, cursor, newest_first=False)


async def referrals(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None, principal: Principal
) -> tuple[int, Page[Customer]]:
    base = select(Customer).where(Customer.referred_by == customer_id, live(), visible(principal))
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    found = await paginate(session, base, _SORTS[CustomerSort.created_at], "created_at", limit, cursor)
    return int(total or 0), found


async def erase_history(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """Blank the old and new values of the customer's audit history (who changed what, when, stays)."""
    await session.execute(
        update(CustomerChange).where(CustomerChange.customer_id == customer_id).values(old=None, new=None)
    )


async def pairs_sharing(session: AsyncSession, field: str, principal: Principal) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Pairs of live customers of one kind, both visible to the caller, with the same `field` value."""
    a, b = aliased(Customer), aliased(Customer)
    stmt = (
        select(a.id, b.id)
        .join(b, getattr(a, field) == getattr(b, field))
        .where(
            a.id < b.id,
            getattr(a, field).is_not(None),
            live(a),
            live(b),
            a.kind == b.kind,
            visible(principal, a),
            visible(principal, b),
        )
    )
    return [(x, y) for x, y in await session.execute(stmt)]


async def names_and_kinds(
    session: AsyncSession, principal: Principal
) -> AsyncIterator[tuple[uuid.UUID, str, str, str]]:
    """Every live customer the caller may see, streamed: (id, name, kind, the name's pinyin forms)."""
    stmt = select(Customer.id, Customer.name, Customer.kind, Customer.search_pinyin).where(live(), visible(principal))
    async for customer_id, name, kind, pinyin in await session.stream(stmt):
        yield customer_id, name, kind, pinyin


async def names(session: AsyncSession, customer_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids)))
    return {customer_id: name for customer_id, name in rows}


async def by_natural_keys(
    session: AsyncSession, *, external_refs: Collection[str], emails: Collection[str], phones: Collection[str]
) -> Sequence[Customer]:
    """The customers an import chunk's keys name, in one query: by external_ref (deleted ones too,
    as the reference stays taken), by email or by phone (live ones)."""
    clauses = [one_of(Customer.external_ref, external_refs)]
    clauses += [
        and_(live(), one_of(col, values))
        for col, values in ((Customer.email, emails), (Customer.phone, phones))
        if values
    ]
    return (await session.scalars(select(Customer).where(or_(*clauses)))).all()


async def visible_live_ids(
    session: AsyncSession, customer_ids: Collection[uuid.UUID], principal: Principal
) -> set[uuid.UUID]:
    """Those of the ids that name live customers the caller may see."""
    stmt = select(Customer.id).where(one_of(Customer.id, customer_ids), live(), visible(principal))
    return set((await session.scalars(stmt)).all())


async def visible_live_ids_by_external_ref(
    session: AsyncSession, external_refs: Collection[str], principal: Principal
) -> dict[str, uuid.UUID]:
    """The live customers the caller may see among those with these external_refs, by reference."""
    stmt = select(Customer.external_ref, Customer.id).where(
        one_of(Customer.external_ref, external_refs), live(), visible(principal)
    )
    return {ref: customer_id for ref, customer_id in (await session.execute(stmt)).all() if ref is not None}


async def taken_external_refs(session: AsyncSession, external_refs: Collection[str]) -> set[str]:
    """Those of the references some customer holds, deleted or merged ones included."""
    if not external_refs:
        return set()
    stmt = select(Customer.external_ref).where(one_of(Customer.external_ref, external_refs))
    return {ref for ref in (await session.scalars(stmt)).all() if ref is not None}


async def insert_many(
    session: AsyncSession, customers: Sequence[Mapping[str, Any]], history: Sequence[Mapping[str, Any]]
) -> None:
    """New customers given as complete rows, and their history rows, each with one bulk insert."""
    await insert_rows(session, cast(Table, Customer.__table__), customers)
    await insert_rows(session, cast(Table, CustomerChange.__table__), history)


def column_defaults() -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
    """Each column's default as the ORM would fill it in, for rows written without the ORM: the
    fixed values, and makers of the values that must be new for each row."""
    fixed: dict[str, Any] = {}
    fresh: dict[str, Callable[[], Any]] = {}
    for col in cast(Table, Customer.__table__).columns:
        default = col.default
        if default is None:
            fixed[col.name] = None
        elif isinstance(default, ScalarElementColumnDefault):
            fixed[col.name] = default.arg
        else:
            assert isinstance(default, CallableColumnDefault), col.name
            make = functools.partial(default.arg, cast(Any, None))  # the context is unused
            sample = make()
            fresh[col.name] = type(sample) if type(sample) in (list, dict) else make
    return fixed, fresh
