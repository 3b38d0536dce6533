"""Points, concessions, membership tiers and care budgets: rewards that are audited, never a reward
for threatening to leave, and care money spent on the class of customer it was meant for."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_chassis.dates import business_date
from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, Forbidden, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_customer import events
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.db import IntegrityError, Session
from crm_customer.loyalty import repository as loyalty_repo
from crm_customer.loyalty.models import CareBudget, Concession, ManualTier, PointsEntry, Tier
from crm_customer.loyalty.schemas import (
    CareBudgetLine,
    CareBudgetReport,
    CareBudgetSet,
    CareClass,
    ConcessionCreate,
    ConcessionReason,
    ManualTierSet,
    PointsCreate,
    TierCreate,
    TierUpdate,
)
from crm_customer.users import service as user_service

CENT = Decimal("0.01")


async def balance(session: Session, customer_id: uuid.UUID) -> int:
    return await loyalty_repo.balance(session, customer_id)


async def post_points(session: Session, *, customer: Customer, data: PointsCreate, principal: Principal) -> PointsEntry:
    """Add a ledger entry; 409 and nothing written if it would take the balance below zero."""
    # Lock the customer row: concurrent redeems queue here, so two cannot both spend the same points.
    await customer_repo.lock(session, [customer.id])
    current = await balance(session, customer.id)
    tiers = await loyalty_repo.tiers(session)
    after = current + data.delta
    if after < 0:
        raise Conflict(
            f"the balance is {current} points; this {data.kind} needs {-data.delta}",
            code="insufficient_points",
            balance=current,
        )
    entry = PointsEntry(
        id=uuid.uuid4(),
        customer_id=customer.id,
        kind=data.kind,
        points=data.delta,
        balance_after=after,
        reason=data.reason,
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    payload = {"id": str(entry.id), "customer_id": str(customer.id), "kind": entry.kind, "points": entry.points}
    await events.publish(session, events.POINTS_CHANGED, customer.id, {**payload, "balance": after}, 1)
    manual = await loyalty_repo.manual_tier(session, customer.id)
    if manual is None:  # a tier set by hand holds whatever the points do
        await _announce_tier(session, customer.id, points_tier(tiers, current), points_tier(tiers, after), after)
    return entry


async def ledger_page(session: Session, *, customer_id: uuid.UUID, limit: int, cursor: str | None) -> Page[PointsEntry]:
    return await loyalty_repo.ledger_page(session, customer_id, limit, cursor)


async def grant_concession(
    session: Session, *, customer: Customer, data: ConcessionCreate, principal: Principal
) -> Concession:
    if data.reason == ConcessionReason.threatened_to_leave and data.reciprocal is None:
        # Never reward disloyalty: a concession to a customer who threatens to leave must buy something back.
        raise Unprocessable.field(
            "reciprocal",
            "reciprocal_required",
            "a concession to a customer who threatened to leave must record what the customer gives in return",
        )
    await user_service.check_approver(session, principal, data.approver_id)
    granted_at = data.granted_at or utcnow()
    concession = Concession(
        id=uuid.uuid4(),
        customer_id=customer.id,
        granted_by=principal.subject,
        **{**data.model_dump(mode="python"), "granted_at": granted_at},
    )
    if data.value is not None and data.currency is not None:
        await _charge(session, concession, customer, data.value, data.currency, principal)
    session.add(concession)
    await session.flush()
    payload = {
        "id": str(concession.id),
        "customer_id": str(customer.id),
        "kind": concession.kind,
        "reason": concession.reason,
        "value": None if concession.value is None else str(concession.value),
        "currency": concession.currency,
        "care_class": concession.care_class,
        "care_period": concession.care_period,
        "overspend": None if concession.overspend is None else str(concession.overspend),
    }
    await events.publish(session, events.CONCESSION_GRANTED, concession.id, payload, 1)
    return concession


async def concessions_page(
    session: Session, *, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[Concession]:
    return await loyalty_repo.concessions_page(session, customer_id, limit, cursor)


# Care budgets: 维护不同等级客户的费用专款专用 - the care money of a class is spent on that class only.


def period_of(instant: datetime) -> str:
    """The budget period an instant falls in: its calendar month in the business time zone."""
    return business_date(instant).strftime("%Y-%m")


def care_class_of(customer: Customer) -> CareClass:
    """The budget line a customer's care is charged to: scoring's ABC class, or `unclassified`."""
    try:
        return CareClass(customer.suggested_abc_class) if customer.suggested_abc_class else CareClass.unclassified
    except ValueError:
        return CareClass.unclassified


async def _charge(
    session: Session, concession: Concession, customer: Customer, value: Decimal, currency: str, principal: Principal
) -> None:
    """Charge a grant to its budget line; 409 `care_budget_exceeded` if it would overspend, unless an
    admin grants it (then the overspend and who approved it are kept). No budget: not limited."""
    care_class, period = care_class_of(customer), period_of(concession.granted_at)
    concession.care_class, concession.care_period = care_class, period
    budget = await loyalty_repo.budget(session, care_class, period, for_update=True)
    if budget is None:
        return
    if budget.currency != currency:
        raise Unprocessable.field(
            "currency",
            "care_budget_currency",
            f"the {period} care budget of class {care_class} is in {budget.currency}; grant in that currency",
        )
    spent = await loyalty_repo.spent(session, care_class, period, currency)
    remaining = max(budget.amount - spent, Decimal(0))
    if value <= remaining:
        return
    if principal.role != "admin":
        raise Conflict(
            f"the {period} care budget of class {care_class} has {remaining} {currency} left of {budget.amount}; "
            f"this grant of {value} needs an admin",
            code="care_budget_exceeded",
            budget={"id": str(budget.id), "care_class": care_class, "period": period, "currency": currency},
            amount=str(budget.amount),
            spent=str(spent),
            remaining=str(remaining),
            requested=str(value),
        )
    concession.overspend = (value - remaining).quantize(CENT)
    concession.overspend_approved_by = principal.subject


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may change membership tiers and care budgets", code="admin_required")


async def budgets_page(
    session: Session, *, period: str | None, care_class: str | None, limit: int, cursor: str | None
) -> Page[CareBudget]:
    return await loyalty_repo.budgets_page(session, period, care_class, limit, cursor)


async def get_budget(session: Session, care_class: CareClass, period: str) -> CareBudget:
    budget = await loyalty_repo.budget(session, care_class, period)
    if budget is None:
        raise NotFound(f"no care budget for class {care_class} in {period}")
    return budget


async def set_budget(
    session: Session,
    *,
    care_class: CareClass,
    period: str,
    data: CareBudgetSet,
    principal: Principal,
    if_match: Callable[[int], None],
) -> tuple[CareBudget, bool]:
    """Create or replace a budget line; `if_match(version)` guards a replacement. (budget, created)."""
    _require_admin(principal)
    budget = await loyalty_repo.budget(session, care_class, period, for_update=True)
    now = utcnow()
    if budget is None:
        budget = CareBudget(
            id=uuid.uuid4(),
            care_class=care_class,
            period=period,
            amount=data.amount,
            currency=data.currency,
            set_by=principal.subject,
            set_at=now,
        )
        session.add(budget)
        try:
            await session.flush()
        except IntegrityError as exc:  # set at the same moment by another admin
            raise Conflict("the budget was set at the same time; read it and retry", code="care_budget_taken") from exc
        return budget, True
    if_match(budget.version)
    budget.amount, budget.currency = data.amount, data.currency
    budget.set_by, budget.set_at = principal.subject, now
    await session.flush()
    return budget, False


async def delete_budget(session: Session, *, budget: CareBudget, principal: Principal) -> None:
    """Remove a budget line: its grants stay, shown as unbudgeted spending."""
    _require_admin(principal)
    await session.delete(budget)
    await session.flush()


async def care_budget_report(session: Session, period: str) -> CareBudgetReport:
    budgets = {b.care_class: b for b in await loyalty_repo.budgets_of(session, period)}
    lines: list[CareBudgetLine] = []
    rows = await loyalty_repo.spending(session, period)
    for care_class in CareClass:
        budget = budgets.get(care_class)
        spent_rows = {r.currency: r for r in rows if r.care_class == care_class}
        currencies = sorted({*spent_rows} | ({budget.currency} if budget else set()))
        if not currencies:
            lines.append(_line(care_class, None, budget, None))
        for currency in currencies:
            lines.append(_line(care_class, currency, budget, spent_rows.get(currency)))
    return CareBudgetReport(period=period, lines=lines)


def _line(care_class: CareClass, currency: str | None, budget: CareBudget | None, row: Any) -> CareBudgetLine:
    spent = Decimal(row.spent if row is not None else 0).quantize(CENT)
    grants = int(row.grants) if row is not None else 0
    over_grants = int(row.overspend_grants) if row is not None else 0
    if budget is None or budget.currency != currency:
        return CareBudgetLine(
            care_class=care_class,
            currency=currency,
            budgeted=False,
            budget=None,
            spent=spent,
            remaining=None,
            overspend=Decimal("0.00"),
            grants=grants,
            overspend_grants=over_grants,
        )
    amount = Decimal(budget.amount).quantize(CENT)
    return CareBudgetLine(
        care_class=care_class,
        currency=currency,
        budgeted=True,
        budget=amount,
        spent=spent,
        remaining=max(amount - spent, Decimal(0)).quantize(CENT),
        overspend=max(spent - amount, Decimal(0)).quantize(CENT),
        grants=grants,
        overspend_grants=over_grants,
    )


# Membership tiers: a customer holds the highest tier whose threshold the points balance reaches,
# unless a tier was set by hand.


def points_tier(tiers: list[Tier], points: int) -> Tier | None:
    """The highest tier whose threshold is at most `points` (`tiers` lowest first)."""
    reached = [t for t in tiers if t.threshold <= points]
    return reached[-1] if reached else None


def _tier_above(tiers: list[Tier], held: Tier | None) -> Tier | None:
    """The tier above the one held (the lowest one when none is held); None at the top."""
    return next((t for t in tiers if held is None or t.threshold > held.threshold), None)


@dataclass
class CustomerTier:
    customer_id: uuid.UUID
    balance: int
    tier: Tier | None
    source: str | None
    points_tier: Tier | None
    next_tier: Tier | None
    manual: ManualTier | None


async def customer_tier(session: Session, customer_id: uuid.UUID) -> CustomerTier:
    tiers = await loyalty_repo.tiers(session)
    points = await balance(session, customer_id)
    manual = await loyalty_repo.manual_tier(session, customer_id)
    by_points = points_tier(tiers, points)
    held = by_points if manual is None else next((t for t in tiers if t.id == manual.tier_id), None)
    source = None if held is None else ("manual" if manual is not None else "points")
    return CustomerTier(customer_id, points, held, source, by_points, _tier_above(tiers, held), manual)


async def _announce_tier(
    session: Session, customer_id: uuid.UUID, before: Tier | None, after: Tier | None, points: int
) -> None:
    if (before.id if before else None) == (after.id if after else None):
        return
    payload = {
        "customer_id": str(customer_id),
        "tier_id": str(after.id) if after else None,
        "tier": after.name if after else None,
        "previous_tier_id": str(before.id) if before else None,
        "previous_tier": before.name if before else None,
        "balance": points,
    }
    await events.publish(session, events.CUSTOMER_TIER_CHANGED, customer_id, payload, 1)


def require_lead(principal: Principal) -> None:
    if not principal.is_admin and principal.role != "manager":
        raise Forbidden("only a manager or an admin may set a customer's tier by hand", code="lead_required")


async def set_manual_tier(
    session: Session, *, customer: Customer, data: ManualTierSet, principal: Principal
) -> CustomerTier:
    require_lead(principal)
    await customer_repo.lock(session, [customer.id])
    tier = await loyalty_repo.get_tier(session, data.tier_id)
    if tier is None:
        raise Unprocessable.field("tier_id", "unknown_tier", "no such tier")
    before = await customer_tier(session, customer.id)
    manual = before.manual or ManualTier(customer_id=customer.id)
    manual.tier_id, manual.reason = tier.id, data.reason
    manual.set_by, manual.set_at = principal.subject, utcnow()
    session.add(manual)
    await session.flush()
    await _announce_tier(session, customer.id, before.tier, tier, before.balance)
    return await customer_tier(session, customer.id)


async def clear_manual_tier(session: Session, *, customer: Customer, principal: Principal) -> CustomerTier:
    """Back to the points rule. Idempotent: with no tier set by hand nothing changes (a 404 would
    read as "no such customer")."""
    require_lead(principal)
    await customer_repo.lock(session, [customer.id])
    before = await customer_tier(session, customer.id)
    if before.manual is None:
        return before
    await session.delete(before.manual)
    await session.flush()
    await _announce_tier(session, customer.id, before.tier, before.points_tier, before.balance)
    return await customer_tier(session, customer.id)


async def tiers_page(session: Session, *, limit: int, cursor: str | None) -> Page[Tier]:
    return await loyalty_repo.tiers_page(session, limit, cursor)


async def get_tier(session: Session, tier_id: uuid.UUID) -> Tier:
    tier = await loyalty_repo.get_tier(session, tier_id)
    if tier is None:
        raise NotFound("no such tier")
    return tier


async def _check_unique(session: Session, name: str | None, threshold: int | None, other: uuid.UUID | None) -> None:
    if name is not None and await loyalty_repo.tier_named(session, name, other) is not None:
        raise Conflict(f"a tier is already named {name!r}", code="tier_name_taken")
    if threshold is not None and (taken := await loyalty_repo.tier_at(session, threshold, other)) is not None:
        raise Conflict(f"tier {taken.name!r} already starts at {threshold} points", code="tier_threshold_taken")


async def _flush_tier(session: Session) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # the same name or threshold taken at the same moment
        raise Conflict("a tier with this name or threshold was saved at the same time", code="tier_taken") from exc


async def create_tier(session: Session, *, data: TierCreate, principal: Principal) -> Tier:
    _require_admin(principal)
    await _check_unique(session, data.name, data.threshold, None)
    now = utcnow()
    tier = Tier(
        id=uuid.uuid4(),
        name=data.name,
        threshold=data.threshold,
        benefits=[b.model_dump(mode="json") for b in data.benefits],
        created_by=principal.subject,
        created_at=now,
        updated_by=principal.subject,
        updated_at=now,
    )
    session.add(tier)
    await _flush_tier(session)
    return tier


async def update_tier(session: Session, *, tier: Tier, data: TierUpdate, principal: Principal) -> Tier:
    _require_admin(principal)
    await _check_unique(session, data.name, data.threshold, tier.id)
    if data.name is not None:
        tier.name = data.name
    if data.threshold is not None:
        tier.threshold = data.threshold
    if data.benefits is not None:
        tier.benefits = [b.model_dump(mode="json") for b in data.benefits]
    tier.updated_by, tier.updated_at = principal.subject, utcnow()
    await _flush_tier(session)
    return tier


async def delete_tier(session: Session, *, tier: Tier, principal: Principal) -> None:
    """Remove a tier; 409 while customers hold it by hand (clear or move them first)."""
    _require_admin(principal)
    held = await loyalty_repo.manual_holders(session, tier.id)
    if held:
        raise Conflict(f"{held} customers hold this tier by hand", code="tier_in_use", customers=held)
    await session.delete(tier)
    await session.flush()
