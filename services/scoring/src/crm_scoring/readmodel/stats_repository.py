"""The population's bulk read: per-customer sufficient statistics, aggregated in SQL, so the cost
grows with customers, not orders. `load` returns them as numpy columns (`Population`).

The purchase statistics are also kept per customer (`CustomerStats`): `refresh` computes and
stores them (the re-scoring of a customer does, as their orders change), `stale` finds the ones
time or settings made out of date, and a live run reads the kept ones (`load(stored=True)`) after
`refresh_stale`, one row per customer instead of every order.

Purchases are counted per day: same-day orders make one purchase (the models' unit), their amounts
summed. Refunds are netted into the order they refund (`net_amount`); fully refunded orders are no
purchase at all, while a zero-value purchase is one (`counted_purchase`).
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    String,
    Table,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.dates import business_date, business_timezone
from crm_chassis.db import UTCDateTime, upsert
from crm_scoring import pgcopy
from crm_scoring.models.fitting import FloatArray
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel.models import (
    CampaignResponseFact,
    ComplaintFact,
    ConcessionFact,
    CustomerRef,
    CustomerStats,
    InteractionFact,
    OrderFact,
    RescoreRequest,
    ServiceRecordFact,
    SurveyResponseFact,
)
from crm_scoring.readmodel.repository import counted_purchase
from crm_scoring.settings.schemas import ScoringSettings

CLOSED_COMPLAINT = ("resolved", "closed")
INFLUENCE_RANKS = {"low": 1, "medium": 2, "high": 3}
# a delivery is no engagement, and an unsubscribe is the opposite of one
ENGAGING_RESPONSES = ("opened", "clicked", "replied", "visited", "purchased")
ORDER_COLUMNS = (
    "days",
    "first_day",
    "last_day",
    "total",
    "first_amount",
    "profit",
    "window_orders",
    "window_spend",
    "annual_profit",
    "prior_days",
)


@dataclass
class Population:
    """Customers in id order: `keys` holds their ids as 16-byte values, `columns` one array each."""

    as_of: datetime
    keys: NDArray[np.void]
    columns: dict[str, FloatArray] = field(default_factory=dict)
    last_contact_at: list[datetime | None] = field(default_factory=list)
    # the latest engaging campaign response up to as_of, and its type
    last_campaign_response_at: list[datetime | None] = field(default_factory=list)
    last_campaign_response_type: list[str | None] = field(default_factory=list)

    @cached_property
    def ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(bytes=key.tobytes()) for key in self.keys]

    def __len__(self) -> int:
        return len(self.keys)


def _day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The business day of an instant: a purchase at 07:00 in Shanghai is on that day, not the UTC one."""
    if _is_postgres(session):
        # a literal, not a parameter: the same expression is grouped by, and two parameters differ
        zone = business_timezone().key.replace("'", "''")
        return cast(column.op("AT TIME ZONE")(literal_column(f"'{zone}'")), Date)
    return func.business_date(column)


def _day_number(session: AsyncSession, day: Any) -> ColumnElement[Any]:
    """A date as its proleptic Gregorian ordinal (`date.toordinal()`), computed by the database."""
    if _is_postgres(session):
        return type_coerce(day - literal_column("DATE '0001-01-01'") + 1, Integer)
    return cast(func.julianday(day) - 1721424.5, Integer)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _ordinal(value: Any) -> float:
    if value is None:
        return np.nan
    return float(value.toordinal() if isinstance(value, date) else date.fromisoformat(str(value)).toordinal())


def _only(column: Any, ids: Sequence[uuid.UUID] | None, *, one_array: bool = False) -> list[ColumnElement[bool]]:
    """`column IN ids` (no condition without ids); with `one_array` (PostgreSQL) as `= ANY` of one
    array parameter, for lists longer than a statement's parameters may be."""
    if ids is None:
        return []
    if one_array:
        return [column == any_(bindparam(None, list(ids), type_=ARRAY(Uuid)))]
    return [column.in_(ids)]


async def _plan_for_whole_population(session: AsyncSession) -> None:
    """Tune PostgreSQL for one aggregation over every order, for this transaction only.

    Hash aggregation by (customer, day) builds a table as large as the order history (24 s for
    10M orders here); sorting in memory and aggregating the sorted stream in parallel takes 13 s.
    JIT compilation costs more than it saves on this plan.
    """
    if _is_postgres(session):
        for setting in ("work_mem = '512MB'", "enable_hashagg = off", "jit = off"):
            await session.execute(text(f"SET LOCAL {setting}"))


def _float(expression: Any) -> ColumnElement[Any]:
    return cast(expression, Float)


EDGES = ("window_edge", "year_edge", "prior_edge", "future_edge")
IN_CHUNK = 1_000  # ids per `IN (...)`: well under SQLite's bound-parameter limit
ARRAY_CHUNK = 50_000  # ids per statement on PostgreSQL, in one array parameter
# a live run that finds more than this share of the statistics out of date rebuilds them all at once
REBUILD_SHARE = 0.25


def _window_starts(as_of: datetime, settings: ScoringSettings) -> tuple[datetime, datetime, datetime]:
    """Where the RFM window, the last year and the prior year's two-year span begin."""
    return (
        as_of - timedelta(days=settings.rfm_window_days),
        as_of - timedelta(days=365),
        as_of - timedelta(days=730),
    )


def basis(settings: ScoringSettings) -> str:
    """The settings the statistics depend on: stored ones computed with others are out of date."""
    return f"window={settings.rfm_window_days};margin={settings.default_margin};zone={business_timezone().key}"


def _aggregates(
    session: AsyncSession,
    *,
    as_of: datetime,
    settings: ScoringSettings,
    ids: Sequence[uuid.UUID] | None,
    edges: bool = False,
) -> Any:
    """Per customer with purchases up to `as_of`: the `ORDER_COLUMNS`, aggregated from per-day
    aggregates of the purchases; with `edges`, also the first three `EDGES` (see `CustomerStats`)."""
    window_start, year_start, prior_start = _window_starts(as_of, settings)
    net = _float(OrderFact.net_amount)
    profit = net * func.coalesce(_float(OrderFact.margin), settings.default_margin)
    day = _day(session, OrderFact.occurred_at)
    starts = {"window_edge": window_start, "year_edge": year_start, "prior_edge": prior_start}
    edge_columns = [
        func.min(case((OrderFact.occurred_at > start, OrderFact.occurred_at))).label(name)
        for name, start in (starts.items() if edges else ())
    ]
    per_day = (
        select(
            OrderFact.customer_id.label("cid"),
            day.label("day"),
            func.sum(net).label("amount"),
            func.sum(profit).label("profit"),
            func.sum(case((OrderFact.occurred_at > window_start, 1), else_=0)).label("w_orders"),
            func.sum(case((OrderFact.occurred_at > window_start, net), else_=0.0)).label("w_spend"),
            func.sum(case((OrderFact.occurred_at > year_start, profit), else_=0.0)).label("y_profit"),
            func.max(
                case((and_(OrderFact.occurred_at > prior_start, OrderFact.occurred_at <= year_start), 1), else_=0)
            ).label("prior"),
            *edge_columns,
        )
        .where(
            counted_purchase(),
            OrderFact.occurred_at <= as_of,
            *_only(OrderFact.customer_id, ids, one_array=_is_postgres(session)),
        )
        .group_by(OrderFact.customer_id, day)
        .subquery()
    )
    if _is_postgres(session):
        # the amount of the earliest day: the least [day, amount] pair, no window over the days
        source: Any = per_day
        first_amount: Any = func.min(array((_day_number(session, per_day.c.day), per_day.c.amount)))[2]
    else:
        source = select(per_day, func.min(per_day.c.day).over(partition_by=per_day.c.cid).label("first")).subquery()
        first_amount = func.sum(case((source.c.day == source.c.first, source.c.amount), else_=0.0))
    return (
        select(
            source.c.cid,
            func.count().label("days"),
            _day_number(session, func.min(source.c.day)).label("first_day"),
            _day_number(session, func.max(source.c.day)).label("last_day"),
            func.sum(source.c.amount).label("total"),
            first_amount.label("first_amount"),
            func.sum(source.c.profit).label("profit"),
            func.sum(source.c.w_orders).label("window_orders"),
            func.sum(source.c.w_spend).label("window_spend"),
            func.sum(source.c.y_profit).label("annual_profit"),
            func.sum(source.c.prior).label("prior_days"),
            *(func.min(source.c[name]).label(name) for name in (starts if edges else ())),
        )
        .group_by(source.c.cid)
        .subquery()
    )


LIVE = (CustomerRef.deleted.is_(False), CustomerRef.erased.is_(False), CustomerRef.merged_into.is_(None))


async def refresh(
    session: AsyncSession,
    *,
    as_of: datetime,
    settings: ScoringSettings,
    read_at: datetime,
    ids: Sequence[uuid.UUID] | None = None,
) -> None:
    """Compute the statistics of `ids` (without, of every live customer) from their orders as of
    `as_of`, and store them. Statistics stored from facts read later than `read_at` are kept."""
    if ids is None:
        await _plan_for_whole_population(session)
        await _refresh(session, as_of=as_of, settings=settings, read_at=read_at, ids=None)
        return
    ordered = sorted(set(ids))  # rows are locked in id order, as by every other writer of them
    chunk = IN_CHUNK
    if _is_postgres(session) and len(ordered) > IN_CHUNK:
        chunk = ARRAY_CHUNK
        # Tens of thousands of customers' orders are read through the (customer, time) index: the
        # planner prices those reads as cold and scans all the orders instead (4.3 s for 10M rows
        # against 2.7 s for 25,000 customers'). Compiling costs more than these statements take.
        for setting in ("enable_seqscan = off", "work_mem = '64MB'", "jit = off"):
            await session.execute(text(f"SET LOCAL {setting}"))
    for first in range(0, len(ordered), chunk):
        await _refresh(session, as_of=as_of, settings=settings, read_at=read_at, ids=ordered[first : first + chunk])


async def _refresh(
    session: AsyncSession,
    *,
    as_of: datetime,
    settings: ScoringSettings,
    read_at: datetime,
    ids: Sequence[uuid.UUID] | None,
) -> None:
    postgres = _is_postgres(session)
    agg = _aggregates(session, as_of=as_of, settings=settings, ids=ids, edges=True)
    future = (
        select(OrderFact.customer_id.label("cid"), func.min(OrderFact.occurred_at).label("at"))
        .where(
            counted_purchase(),
            OrderFact.occurred_at > as_of,
            *_only(OrderFact.customer_id, ids, one_array=postgres),
        )
        .group_by(OrderFact.customer_id)
        .subquery()
    )
    # named customers are kept whatever their state (a deleted one may come back), never an erased one
    which = LIVE if ids is None else (CustomerRef.erased.is_(False), *_only(CustomerRef.id, ids, one_array=postgres))
    numbers = [
        agg.c[name] if name in ("first_day", "last_day") else func.coalesce(_float(agg.c[name]), 0.0)
        for name in ORDER_COLUMNS
    ]
    source = (
        select(
            CustomerRef.id,
            literal(basis(settings), String),
            literal(as_of, UTCDateTime),
            literal(read_at, UTCDateTime),
            *numbers,
            *(agg.c[name] for name in EDGES[:3]),
            future.c.at,
        )
        .outerjoin(agg, agg.c.cid == CustomerRef.id)
        .outerjoin(future, future.c.cid == CustomerRef.id)
        .where(*which)
        .order_by(CustomerRef.id)
    )
    table = typing.cast(Table, CustomerStats.__table__)
    names = ["customer_id", "basis", "as_of", "read_at", *ORDER_COLUMNS, *EDGES]
    stmt = upsert(session, table).from_select(names, source)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={name: stmt.excluded[name] for name in names[1:]},
            where=table.c.read_at <= stmt.excluded.read_at,
        )
    )


async def stale(session: AsyncSession, *, as_of: datetime, settings: ScoringSettings) -> list[uuid.UUID]:
    """Live customers whose stored statistics are not those of `as_of`, in id order: none stored,
    other settings, stored as of later, a purchase crossed a window's edge since, or facts changed
    since (a re-scoring is queued). Two plain queries: OR-ing the queue into the first makes
    PostgreSQL probe it once per customer, which is slow once the queue is long."""
    window_start, year_start, prior_start = _window_starts(as_of, settings)
    s = CustomerStats
    outdated = (
        select(CustomerRef.id)
        .outerjoin(s, s.customer_id == CustomerRef.id)
        .where(
            *LIVE,
            or_(
                s.customer_id.is_(None),
                s.basis != basis(settings),
                s.as_of > as_of,
                s.window_edge <= window_start,
                s.year_edge <= year_start,
                s.prior_edge <= prior_start,
                s.future_edge <= as_of,
            ),
        )
    )
    queued = select(CustomerRef.id).join(RescoreRequest, RescoreRequest.customer_id == CustomerRef.id).where(*LIVE)
    found = set((await session.scalars(outdated)).all())
    found.update((await session.scalars(queued)).all())
    return sorted(found)


async def refresh_stale(
    session: AsyncSession, *, as_of: datetime, settings: ScoringSettings, read_at: datetime, rebuild: bool = False
) -> int:
    """Bring every live customer's statistics to `as_of` before a live run reads them: only the out
    of date ones, or all of them (from every order) with `rebuild` or when most are. Returns how
    many customers were computed again."""
    found = [] if rebuild else await stale(session, as_of=as_of, settings=settings)
    population = await session.scalar(select(func.count()).select_from(CustomerRef).where(*LIVE)) or 0
    if rebuild or len(found) > REBUILD_SHARE * population:
        await refresh(session, as_of=as_of, settings=settings, read_at=read_at)
        return int(population)
    await refresh(session, as_of=as_of, settings=settings, read_at=read_at, ids=found)
    return len(found)


async def forget(session: AsyncSession, customer_id: uuid.UUID) -> None:
    await session.execute(delete(CustomerStats).where(CustomerStats.customer_id == customer_id))


async def load(
    session: AsyncSession,
    *,
    as_of: datetime,
    settings: ScoringSettings,
    ids: Sequence[uuid.UUID] | None = None,
    stored: bool = False,
) -> Population:
    """Every live customer (or those in `ids`) with their statistics, in customer id order.

    The purchase statistics come from the stored ones with `stored` (brought to `as_of` by
    `refresh` or `refresh_stale` first), else they are aggregated from the orders in the same
    query. Rows arrive aligned with the population, so each column becomes an array at once.
    """
    if stored:
        per_customer: Any = select(
            CustomerStats.customer_id.label("cid"), *(CustomerStats.__table__.c[n] for n in ORDER_COLUMNS)
        ).subquery()  # the join to the customers below narrows it to `ids`
    else:
        if ids is None:
            await _plan_for_whole_population(session)
        per_customer = _aggregates(session, as_of=as_of, settings=settings, ids=ids)
    bulk = ids is None and _is_postgres(session)
    values: list[ColumnElement[Any]] = [per_customer.c[name] for name in ORDER_COLUMNS]
    if bulk:  # fixed-width columns for binary COPY: NaN stands for "no purchase"
        values = [func.coalesce(cast(v, Float), literal_column("'NaN'::float8")) for v in values]
    stmt = (
        select(CustomerRef.id, *values)
        .outerjoin(per_customer, per_customer.c.cid == CustomerRef.id)
        .where(*LIVE, *_only(CustomerRef.id, ids))
        .order_by(CustomerRef.id)
    )
    if bulk:
        float8: pgcopy.Kind = "float8"
        kinds: list[pgcopy.Kind] = ["uuid", *[float8] * len(ORDER_COLUMNS)]
        keys, *arrays = await pgcopy.read(session, stmt, kinds)
    else:
        rows = (await session.execute(stmt)).all()
        keys = pgcopy.uuid_bytes([row[0] for row in rows])
        # None (no purchase) becomes NaN
        arrays = [
            np.array([row[k] for row in rows], dtype=np.float64).reshape(len(rows))
            for k in range(1, len(ORDER_COLUMNS) + 1)
        ]
    population = Population(as_of=as_of, keys=keys)
    cols, n = population.columns, len(keys)
    for name, values_of in zip(ORDER_COLUMNS, arrays, strict=True):
        # counts and sums over no purchase are zero; first and last day stay NaN
        cols[name] = values_of if name in ("first_day", "last_day") else np.nan_to_num(values_of, nan=0.0)
    names = ("referrals", "open_complaints", "sla_breaches", "year_cost", "total_cost", "key_organizations")
    for name in (*names, "recent_contacts", "influence_rank"):
        cols[name] = np.zeros(n)
    for name in ("satisfaction", "nps", "csat", "contact_day", "follow_up", "campaign_response_day"):
        cols[name] = np.full(n, np.nan)
    population.last_contact_at = [None] * n
    population.last_campaign_response_at = [None] * n
    population.last_campaign_response_type = [None] * n
    if n:
        await _load_relations(session, population, _Index(keys), settings, ids)
    return population


class _Index:
    """Row of a customer id in the population, built on first use (most relations are empty)."""

    def __init__(self, keys: NDArray[np.void]) -> None:
        self._keys = keys
        self._rows: dict[bytes, int] | None = None

    def get(self, cid: uuid.UUID | None) -> int | None:
        if cid is None:
            return None
        if self._rows is None:
            self._rows = {key.tobytes(): i for i, key in enumerate(self._keys)}
        return self._rows.get(cid.bytes)


async def _load_relations(
    session: AsyncSession,
    population: Population,
    index: _Index,
    settings: ScoringSettings,
    ids: Sequence[uuid.UUID] | None,
) -> None:
    cols, as_of = population.columns, population.as_of
    lookback = as_of - timedelta(days=settings.feedback_lookback_days)
    year_start = as_of - timedelta(days=365)
    recent_start = as_of - timedelta(days=settings.care_too_frequent_days)
    referrals = (
        select(CustomerRef.referred_by, func.count())
        .where(CustomerRef.referred_by.is_not(None), CustomerRef.deleted.is_(False))
        .where(*_only(CustomerRef.referred_by, ids))
        .group_by(CustomerRef.referred_by)
    )
    for cid, count in await session.execute(referrals):
        if (i := index.get(cid)) is not None:
            cols["referrals"][i] = count
    complaints = (
        select(
            ComplaintFact.customer_id,
            func.sum(case((ComplaintFact.status.not_in(CLOSED_COMPLAINT), 1), else_=0)),
            func.sum(
                case((and_(ComplaintFact.sla_breached.is_(True), ComplaintFact.opened_at > lookback), 1), else_=0)
            ),
            func.count(),
            func.sum(case((ComplaintFact.opened_at > year_start, 1), else_=0)),
        )
        .where(or_(ComplaintFact.opened_at.is_(None), ComplaintFact.opened_at <= as_of))
        .where(*_only(ComplaintFact.customer_id, ids))
        .group_by(ComplaintFact.customer_id)
    )
    per_complaint = settings.cost_per_complaint
    for cid, open_count, breaches, opened, opened_in_year in await session.execute(complaints):
        if (i := index.get(cid)) is not None:
            cols["open_complaints"][i] = open_count or 0
            cols["sla_breaches"][i] = breaches or 0
            cols["total_cost"][i] += per_complaint * (opened or 0)
            cols["year_cost"][i] += per_complaint * (opened_in_year or 0)
    responses = (
        select(
            SurveyResponseFact.customer_id,
            SurveyResponseFact.nps,
            SurveyResponseFact.satisfaction_index,
            SurveyResponseFact.csat,
        )
        .where(SurveyResponseFact.responded_at > lookback, SurveyResponseFact.responded_at <= as_of)
        .where(*_only(SurveyResponseFact.customer_id, ids))
        .order_by(SurveyResponseFact.responded_at)
    )
    for cid, nps, satisfaction, csat in await session.execute(responses):
        if (i := index.get(cid)) is not None:  # later answers overwrite earlier ones: the latest counts
            if nps is not None:
                cols["nps"][i] = nps
            if satisfaction is not None:
                cols["satisfaction"][i] = satisfaction
            if csat is not None:
                cols["csat"][i] = csat
    contacts = (
        select(
            InteractionFact.customer_id,
            func.max(InteractionFact.occurred_at),
            # a follow-up that was done sets no due date any more
            func.max(case((InteractionFact.follow_up_done.is_(False), InteractionFact.next_follow_up_date))),
            func.count(),
            func.sum(case((InteractionFact.occurred_at > year_start, 1), else_=0)),
            func.sum(case((InteractionFact.occurred_at > recent_start, 1), else_=0)),
        )
        .where(
            InteractionFact.occurred_at <= as_of,
            InteractionFact.deleted.is_(False),
            *_only(InteractionFact.customer_id, ids),
        )
        .group_by(InteractionFact.customer_id)
    )
    today = business_date(as_of).toordinal()
    per_contact = settings.cost_per_contact
    for cid, last_at, follow_up, contacted, contacted_in_year, recent in await session.execute(contacts):
        if (i := index.get(cid)) is not None:
            cols["recent_contacts"][i] = recent or 0
            cols["total_cost"][i] += per_contact * (contacted or 0)
            cols["year_cost"][i] += per_contact * (contacted_in_year or 0)
            last = last_at if isinstance(last_at, datetime) else datetime.fromisoformat(str(last_at))
            population.last_contact_at[i] = last
            cols["contact_day"][i] = float(business_date(last).toordinal())
            if follow_up is not None and _ordinal(follow_up) >= cols["contact_day"][i]:
                cols["follow_up"][i] = _ordinal(follow_up) - today

    await _load_campaign_responses(session, population, index, ids)

    # influence as the account manager judges it: low 1, medium 2, high 3 (none: 0)
    levels = select(CustomerRef.id, CustomerRef.influence_level).where(
        CustomerRef.influence_level.in_(INFLUENCE_RANKS), *_only(CustomerRef.id, ids)
    )
    for cid, level in await session.execute(levels):
        if (i := index.get(cid)) is not None:
            cols["influence_rank"][i] = INFLUENCE_RANKS.get(level or "", 0)

    # senior leaders of organisations whose own (live) card makes them key customers
    for person, organizations in (await fact_repo.key_organizations(session, ids)).items():
        if (i := index.get(person)) is not None:
            cols["key_organizations"][i] = len(organizations)

    # the rest of the cost to serve: concessions' value, and each service record
    concessions = (
        select(
            ConcessionFact.customer_id,
            func.sum(func.coalesce(_float(ConcessionFact.value), 0.0)),
            func.sum(
                case(
                    (ConcessionFact.granted_at > year_start, func.coalesce(_float(ConcessionFact.value), 0.0)),
                    else_=0.0,
                )
            ),
        )
        .where(ConcessionFact.granted_at <= as_of, *_only(ConcessionFact.customer_id, ids))
        .group_by(ConcessionFact.customer_id)
    )
    for cid, total, in_year in await session.execute(concessions):
        if (i := index.get(cid)) is not None:
            cols["total_cost"][i] += float(total or 0)
            cols["year_cost"][i] += float(in_year or 0)
    per_record = settings.cost_per_service_record
    records = (
        select(
            ServiceRecordFact.customer_id,
            func.count(),
            func.sum(case((ServiceRecordFact.service_date > business_date(year_start), 1), else_=0)),
        )
        .where(ServiceRecordFact.service_date <= business_date(as_of), *_only(ServiceRecordFact.customer_id, ids))
        .group_by(ServiceRecordFact.customer_id)
    )
    for cid, recorded, in_year in await session.execute(records):
        if (i := index.get(cid)) is not None:
            cols["total_cost"][i] += per_record * (recorded or 0)
            cols["year_cost"][i] += per_record * (in_year or 0)


async def _load_campaign_responses(
    session: AsyncSession, population: Population, index: _Index, ids: Sequence[uuid.UUID] | None
) -> None:
    """Per customer, the latest engaging response up to as_of: when (and on which business day),
    and its type (of responses at the same instant, the first by name)."""
    engaging = (
        CampaignResponseFact.type.in_(ENGAGING_RESPONSES),
        CampaignResponseFact.occurred_at <= population.as_of,
        *_only(CampaignResponseFact.customer_id, ids),
    )
    latest = (
        select(CampaignResponseFact.customer_id.label("cid"), func.max(CampaignResponseFact.occurred_at).label("at"))
        .where(*engaging)
        .group_by(CampaignResponseFact.customer_id)
        .subquery()
    )
    stmt = (
        select(latest.c.cid, latest.c.at, func.min(CampaignResponseFact.type))
        .join(
            CampaignResponseFact,
            and_(CampaignResponseFact.customer_id == latest.c.cid, CampaignResponseFact.occurred_at == latest.c.at),
        )
        .where(*engaging)
        .group_by(latest.c.cid, latest.c.at)
    )
    for cid, at, kind in await session.execute(stmt):
        if (i := index.get(cid)) is not None:
            last = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
            population.last_campaign_response_at[i] = last
            population.last_campaign_response_type[i] = kind
            population.columns["campaign_response_day"][i] = float(business_date(last).toordinal())


async def holdout(session: AsyncSession, population: Population, *, until: datetime) -> tuple[FloatArray, FloatArray]:
    """Per customer of the population: purchase days and net spend in (population.as_of, until]."""
    day = _day(session, OrderFact.occurred_at)
    per_day = (
        select(
            OrderFact.customer_id.label("cid"), day.label("day"), func.sum(_float(OrderFact.net_amount)).label("amount")
        )
        .where(counted_purchase(), OrderFact.occurred_at > population.as_of, OrderFact.occurred_at <= until)
        .group_by(OrderFact.customer_id, day)
        .subquery()
    )
    stmt = select(per_day.c.cid, func.count(), func.sum(per_day.c.amount)).group_by(per_day.c.cid)
    days, spend = np.zeros(len(population)), np.zeros(len(population))
    index = _Index(population.keys)
    for cid, count, amount in await session.execute(stmt):
        if (i := index.get(cid)) is not None:
            days[i], spend[i] = count, float(amount or 0)
    return days, spend


async def repeat_days_by_day(session: AsyncSession, *, cohort_until: datetime, until: datetime) -> dict[int, int]:
    """Repeat purchase days (every purchase day after a customer's first) per day ordinal, up to
    `until`, of the customers whose first purchase is up to `cohort_until` (a calibration cohort)."""
    day = _day_number(session, _day(session, OrderFact.occurred_at))
    per_day = (
        select(OrderFact.customer_id.label("cid"), day.label("day"))
        .where(counted_purchase(), OrderFact.occurred_at <= until)
        .group_by(OrderFact.customer_id, day)
        .subquery()
    )
    firsts = select(per_day.c.cid, func.min(per_day.c.day).label("first")).group_by(per_day.c.cid).subquery()
    cohort_day = business_date(cohort_until).toordinal()
    stmt = (
        select(per_day.c.day, func.count())
        .join(firsts, firsts.c.cid == per_day.c.cid)
        .where(per_day.c.day > firsts.c.first, firsts.c.first <= cohort_day)
        .group_by(per_day.c.day)
    )
    return {int(d): int(n) for d, n in await session.execute(stmt)}
