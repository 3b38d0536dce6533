"""The survey report as one self-contained HTML page: inline CSS and SVG charts, no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from crm_feedback.common.i18n import Language

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}"
    "figure{margin:1em 0}figcaption{font-size:.9em;color:#555}"
)


LABELS: dict[Language, dict[str, str]] = {
    Language.en: {
        "report": "analysis report",
        "background": "1. Background and purpose",
        "kind": "Survey kind: {kind}, questionnaire version {version}.",
        "method": "2. Method",
        "sample": "Sample: {invited} invited; {responses} responses; response rate {rate}.",
        "channel": "channel",
        "invited": "invited",
        "responded": "responded",
        "rate": "rate",
        "by_channel": "Response rate by channel",
        "results": "3. Analysis and results",
        "overall": "NPS {nps} · CSAT {csat}% · satisfaction index {index}",
        "index_chart": "Satisfaction index per question (dashed line: 1.0, below it customers are dissatisfied)",
        "by_score": "Answers by score",
        "mean": "Mean {mean}; CSAT {csat}%",
        "by_rating": "Answers by rating",
        "pair": "Expectation {expectation}, perception {perception}, satisfaction index {index}",
        "by_option": "Answers by option",
        "conclusions": "4. Conclusions and countermeasures",
        "weakest": "Weakest questions",
        "complaints": "Complaints of the respondents",
        "by_category": "Complaints by category",
        "countermeasures": "Countermeasures",
    },
    Language.zh_CN: {
        "report": "分析报告",
        "background": "一、调查背景与目的",
        "kind": "调查类型：{kind}，问卷版本 {version}。",
        "method": "二、调查方法",
        "sample": "样本：邀请 {invited} 人；回收 {responses} 份；回复率 {rate}。",
        "channel": "渠道",
        "invited": "邀请数",
        "responded": "回复数",
        "rate": "回复率",
        "by_channel": "各渠道回复率",
        "results": "三、分析与结果",
        "overall": "净推荐值 {nps} · CSAT {csat}% · 满意度指数 {index}",
        "index_chart": "各题满意度指数（虚线为 1.0，低于此线表示客户不满意）",
        "by_score": "各分值的回答数",
        "mean": "平均分 {mean}；CSAT {csat}%",
        "by_rating": "各评分的回答数",
        "pair": "期望 {expectation}，实际感受 {perception}，满意度指数 {index}",
        "by_option": "各选项的回答数",
        "conclusions": "四、结论与改进措施",
        "weakest": "得分最低的题目",
        "complaints": "受访者的投诉",
        "by_category": "各类别投诉数",
        "countermeasures": "改进措施",
    },
}
KINDS = {
    Language.en: {},
    Language.zh_CN: {
        "satisfaction": "满意度调查",
        "nps": "净推荐值（NPS）",
        "csat": "客户满意度（CSAT）",
        "mystery_shopping": "神秘顾客暗访",
        "exit": "流失客户调查",
    },
}


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


def _question_section(q: dict[str, Any], t: dict[str, str]) -> str:
    head = f"<h3>{escape(q['text'])} <small>({escape(q['key'])}, {escape(str(q['type']))}, n={q['n']})</small></h3>"
    if q["type"] == "nps":
        return head + f"<p>NPS {_fmt(q['nps']['score'])}</p>" + nps_chart(q["distribution"], t["by_score"])
    if q["type"] == "rating":
        body = f"<p>{t['mean'].format(mean=_fmt(q['mean']), csat=_fmt(q['csat']['score']))}</p>"
        return head + body + bar_chart([str(i) for i in range(1, 6)], q["distribution"], caption=t["by_rating"])
    if q["type"] == "expectation_perception":
        index = q["satisfaction_index"]["index"]
        pair = t["pair"].format(
            expectation=_fmt(q["expectation_mean"]), perception=_fmt(q["perception_mean"]), index=_fmt(index)
        )
        return head + f"<p>{pair}</p>"
    if "counts" in q:
        return head + bar_chart(list(q["counts"]), list(q["counts"].values()), caption=t["by_option"])
    return head + "<ul>" + "".join(f"<li>{escape(t)}</li>" for t in q["latest"]) + "</ul>"


def render(report: dict[str, Any], language: Language = Language.en) -> str:
    """The page, its own texts in `language` (the survey's title and questions stay as written)."""
    t = LABELS[language]
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
    kind = KINDS[language].get(str(survey["kind"]), str(survey["kind"]))
    sample = t["sample"].format(
        invited=method["sample_size"], responses=method["responses"], rate=_fmt(method["response_rate"])
    )
    overall = t["overall"].format(
        nps=_fmt(results["nps"]["score"]),
        csat=_fmt(results["csat"]["score"]),
        index=_fmt(results["satisfaction_index"]["index"]),
    )
    html = [
        f'<!DOCTYPE html><html lang="{language.value}"><head><meta charset="utf-8">',
        f"<title>{escape(survey['title'])}</title>",
        f"<style>{STYLE}</style></head><body><h1>{escape(survey['title'])} — {t['report']}</h1>",
        f"<h2>{t['background']}</h2>",
        f"<p>{escape(report['background']['purpose'])}</p>",
        f"<p>{escape(t['kind'].format(kind=kind, version=survey['version']))}</p>",
        f"<h2>{t['method']}</h2>",
        f"<p>{escape(sample)}</p><p>{escape(method['analysis'])}</p>",
        f"<table><tr><th>{t['channel']}</th><th>{t['invited']}</th><th>{t['responded']}</th>"
        f"<th>{t['rate']}</th></tr>{rows}</table>",
        bar_chart([c["channel"] for c in channels], [c["rate"] or 0 for c in channels], caption=t["by_channel"]),
        f"<h2>{t['results']}</h2>",
        f"<p>{escape(overall)}</p>",
        bar_chart(
            [q["key"] for q in pairs],
            [q["satisfaction_index"]["index"] or 0 for q in pairs],
            reference=1.0,
            caption=t["index_chart"],
        ),
        *[_question_section(q, t) for q in results["questions"]],
        f"<h2>{t['conclusions']}</h2>",
        f"<h3>{t['weakest']}</h3><ul>",
        *[f"<li>{escape(w['text'])}: {_fmt(w['score'])}</li>" for w in conclusions["weakest_questions"]],
        f"</ul><h3>{t['complaints']}</h3>",
        bar_chart(
            [c["category"] for c in conclusions["complaint_categories"]],
            [c["complaints"] for c in conclusions["complaint_categories"]],
            caption=t["by_category"],
        ),
        f"<h3>{t['countermeasures']}</h3><ol>",
        *[f"<li>{escape(m)}</li>" for m in conclusions["countermeasures"]],
        "</ol></body></html>",
    ]
    return "".join(html)
