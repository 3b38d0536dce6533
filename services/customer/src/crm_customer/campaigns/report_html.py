"""`?format=html` of a campaign report: one self-contained page, charts as inline SVG (no scripts)."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from crm_customer.campaigns.schemas import CampaignReport, CampaignStatus

BAR_WIDTH = 320
# The English labels of the gateway's `campaign_status` (meta labels), as a person reads them.
STATUS_LABELS: dict[CampaignStatus, str] = {
    CampaignStatus.draft: "Draft",
    CampaignStatus.running: "Running",
    CampaignStatus.finished: "Finished",
    CampaignStatus.cancelled: "Cancelled",
}


def _bars(title: str, rows: list[tuple[str, float, str]]) -> str:
    """A horizontal bar chart: (label, share of the longest bar 0..1, value shown)."""
    height = 24 * len(rows) + 8
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{BAR_WIDTH + 260}" height="{height}">']
    for i, (label, share, shown) in enumerate(rows):
        y = 4 + 24 * i
        width = max(0.0, min(share, 1.0)) * BAR_WIDTH
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="120" y="{y}" width="{width:.1f}" height="18" fill="#3b6ea8"/>')
        parts.append(f'<text x="{126 + width:.1f}" y="{y + 15}" font-size="12">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(report: CampaignReport) -> str:
    total = report.total

    def money(amount: Decimal) -> str:
        return f"{amount} {report.currency}"

    rates = [(r.type.value, r.rate, f"{r.rate:.1%} ({r.members})") for r in report.responses]
    top = max((s.revenue for s in report.segments), default=0) or 1
    revenue = [(s.value_segment or "not scored", float(s.revenue / top), money(s.revenue)) for s in report.segments]
    roi = "—" if report.roi is None else f"{report.roi:.1%}"
    margin_roi = "—" if report.margin_roi is None else f"{report.margin_roi:.1%}"
    rows = "".join(
        f"<tr><td>{escape(s.value_segment or 'not scored')}</td><td>{s.members}</td><td>{s.response_rate:.1%}</td>"
        f"<td>{s.conversion_rate:.1%}</td><td>{escape(money(s.revenue))}</td><td>{escape(money(s.margin))}</td></tr>"
        for s in report.segments
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report.name)}: campaign report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>"
        f"<h1>{escape(report.name)}</h1>"
        f"<p>Status: {escape(STATUS_LABELS[report.status])}; {total.members} members, "
        f"{report.excluded_without_consent} left out without marketing consent; purchases within "
        f"{report.attribution_window_days} days after a response are attributed.</p>"
        f"<table><tr><th>revenue</th><td>{escape(money(total.revenue))}</td></tr>"
        f"<tr><th>margin</th><td>{escape(money(total.margin))}</td></tr>"
        f"<tr><th>cost</th><td>{escape(money(report.cost))}</td></tr>"
        f"<tr><th>ROI (revenue)</th><td>{roi}</td></tr><tr><th>ROI (margin)</th><td>{margin_roi}</td></tr>"
        f"<tr><th>conversion</th><td>{total.conversion_rate:.1%} ({total.converted})</td></tr></table>"
        f"<h2>Responses</h2>{_bars('response rate by type', rates)}"
        f"<h2>By value segment</h2>{_bars('attributed revenue by value segment', revenue)}"
        "<table><tr><th>segment</th><th>members</th><th>response</th><th>conversion</th>"
        f"<th>revenue</th><th>margin</th></tr>{rows}</table></body></html>"
    )
