"""How prospects are ranked: points for need, purchasing power, decision authority and how
recently they were contacted, out of 100. The weights are the formula docs/customer-archive.md
states; each points table is used both in SQL (the ranking) and in the reasons read back."""

from __future__ import annotations

NEED_POINTS = {"urgent": 40, "high": 30, "medium": 20, "low": 10, "none": 0}
POWER_POINTS = {"very_high": 30, "high": 22, "medium": 15, "low": 5}
AUTHORITY_POINTS = 20
# (contacted within this many days, points), first match; older or never: 0
RECENCY_POINTS = ((7, 10), (30, 7), (90, 4))


def recency_points(days: float | None) -> int:
    if days is None:
        return 0
    return next((points for within, points in RECENCY_POINTS if days <= within), 0)


def reasons(
    *, need_level: str | None, purchasing_power: str | None, authority: bool | None, days_since_contact: float | None
) -> list[str]:
    """Each part of the score, in words, with its points."""
    said = [
        f"need level {need_level}: +{NEED_POINTS[need_level]}"
        if need_level in NEED_POINTS
        else "need level not recorded: +0",
        f"purchasing power {purchasing_power}: +{POWER_POINTS[purchasing_power]}"
        if purchasing_power in POWER_POINTS
        else "purchasing power not recorded: +0",
        f"holds purchase decision authority: +{AUTHORITY_POINTS}"
        if authority
        else ("no purchase decision authority: +0" if authority is False else "decision authority not recorded: +0"),
    ]
    if days_since_contact is None:
        said.append("never contacted: +0")
    else:
        said.append(f"last contact {days_since_contact:.0f} days ago: +{recency_points(days_since_contact)}")
    return said
