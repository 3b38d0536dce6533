"""The survey report as one self-contained HTML page: inline CSS and SVG charts, no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}"
    "figure{margin:1em 0}figcaption{font-size:.9em;color:#555}"
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return escape(str(value))


def bar_chart(labels: Sequence[str], values: Sequence[float], *, reference: float | None = None, caption: str) -> str:
    """Horizontal bars, one per label; `reference` draws a dashed line (e.g. index 1.0)."""
    if not labels:
        return ""
    width, label_w, row_h = 640, 220, 26
    top = max([*values, reference or 0, 1e-9])
    scale = (width - label_w - 60) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * len(labels) + 10}" role="img">']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * row_h
        parts.append(f'<text x="0" y="{y + 16}" font-size="12">{escape(label[:34])}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{max(value, 0) * scale:.1f}" height="{row_h - 8}" fill="#4a7bd0"/>'
        )
        parts.append(
            f'<text x="{label_w + max(value, 0) * scale + 4:.1f}" y="{y + 16}" font-size="12">{_fmt(value)}</text>'
        )
    if reference is not None:
        x = label_w + reference * scale
        y2 = row_h * len(labels) + 10
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{y2}" stroke="#c33" stroke-dasharray="4"/>')
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{escape(caption)}</figcaption></figure>"


def nps_chart(distribution: Sequence[int], caption: str) -> str:
    """Columns for scores 0–10 coloured detractor / passive / promoter."""
    width, height, col = 440, 160, 36
    top = max([*distribution, 1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" role="img">']
    for score, count in enumerate(distribution):
        colour = "#c33" if score <= 6 else "#d9a400" if score <= 8 else "#2a9d4b"
        h = count / top * (height - 20)
        x = 10 + score * (col + 3)
        parts.append(f'<rect x="{x}" y="{height - h:.1f}" width="{col}" height="{h:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + 12}" y="{height + 14}" font-size="11">{score}</text>')
        parts.append(f'<text x="{x + 12}" y="{height - h - 3:.1f}" font-size="11">{count}</text>')
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{escape(caption)}</figcaption></figure>"


def _question_section(q: dict[str, Any]) -> str:
    head = f"<h3>{escape(q['text'])} <small>({escape(q['key'])}, {escape(str(q['type']))}, n={q['n']})</small></h3>"
    if q["type"] == "nps":
        return head + f"<p>NPS {_fmt(q['nps']['score'])}</p>" + nps_chart(q["distribution"], "Answers by score")
    if q["type"] == "rating":
        body = f"<p>Mean {_fmt(q['mean'])}; CSAT {_fmt(q['csat']['score'])}%</p>"
        return head + body + bar_chart([str(i) for i in range(1, 6)], q["distribution"], caption="Answers by rating")
    if q["type"] == "expectation_perception":
        index = q["satisfaction_index"]["index"]
        return head + (
            f"<p>Expectation {_fmt(q['expectation_mean'])}, perception {_fmt(q['perception_mean'])}, "
            f"satisfaction index {_fmt(index)}</p>"
        )
    if "counts" in q:
        return head + bar_chart(list(q["counts"]), list(q["counts"].values()), caption="Answers by option")
    return head + "<ul>" + "".join(f"<li>{escape(t)}</li>" for t in q["latest"]) + "</ul>"


def render(report: dict[str, Any]) -> str:
    survey, method, results, conclusions = (
        report["survey"],
        report["method"],
        report["results"],
        report["conclusions"],
    )
    channels = method["channels"]
    pairs = [q for q in results["questions"] if q["type"] == "expectation_perception"]
    rows = "".join(
        f"<tr><td>{escape(c['channel'])}</td><td>{c['invited']}</td><td>{c['responded']}</td><td>{_fmt(c['rate'])}</td></tr>"
        for c in channels
    )
    html = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(survey["title"])}</title>',
        f"<style>{STYLE}</style></head><body><h1>{escape(survey['title'])} — analysis report</h1>",
        "<h2>1. Background and purpose</h2>",
        f"<p>{escape(report['background']['purpose'])}</p><p>Survey kind: {escape(str(survey['kind']))}, "
        f"questionnaire version {survey['version']}.</p>",
        "<h2>2. Method</h2>",
        f"<p>Sample: {method['sample_size']} invited; {method['responses']} responses; "
        f"response rate {_fmt(method['response_rate'])}.</p><p>{escape(method['analysis'])}</p>",
        f"<table><tr><th>channel</th><th>invited</th><th>responded</th><th>rate</th></tr>{rows}</table>",
        bar_chart(
            [c["channel"] for c in channels], [c["rate"] or 0 for c in channels], caption="Response rate by channel"
        ),
        "<h2>3. Analysis and results</h2>",
        f"<p>NPS {_fmt(results['nps']['score'])} · CSAT {_fmt(results['csat']['score'])}% · "
        f"satisfaction index {_fmt(results['satisfaction_index']['index'])}</p>",
        bar_chart(
            [q["key"] for q in pairs],
            [q["satisfaction_index"]["index"] or 0 for q in pairs],
            reference=1.0,
            caption="Satisfaction index per question (dashed line: 1.0, below it customers are dissatisfied)",
        ),
        *[_question_section(q) for q in results["questions"]],
        "<h2>4. Conclusions and countermeasures</h2>",
        "<h3>Weakest questions</h3><ul>",
        *[f"<li>{escape(w['text'])}: {_fmt(w['score'])}</li>" for w in conclusions["weakest_questions"]],
        "</ul><h3>Complaints of the respondents</h3>",
        bar_chart(
            [c["category"] for c in conclusions["complaint_categories"]],
            [c["complaints"] for c in conclusions["complaint_categories"]],
            caption="Complaints by category",
        ),
        "<h3>Countermeasures</h3><ol>",
        *[f"<li>{escape(m)}</li>" for m in conclusions["countermeasures"]],
        "</ol></body></html>",
    ]
    return "".join(html)
