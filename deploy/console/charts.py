"""Server-side SVG bar charts with Chinese labels: no script, no chart library in the page."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 560, 220, 70, 40, 28


def _number(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def bar_chart(series: list[dict[str, Any]], figure: str, title: str) -> str:
    """One bar per month of `series[i][figure]`, labelled with the month and the value; the
    SVG carries its title and a text description for screen readers."""
    values = [(str(row.get("month", "")), _number(row.get(figure))) for row in series]
    top = max((v for _, v in values), default=Decimal(0)) or Decimal(1)
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(values), 1)
    bar_w = max(step * 0.6, 4)
    desc = "；".join(f"{m}：{v}" for m, v in values) or "无数据"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
             f'<text x="{LEFT}" y="18" class="chart-title">{escape(title)}</text>',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 10}" y2="{TOP + plot_h}" '
             'class="axis"/>',
             f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" class="tick">'
             f"{escape(str(top))}</text>",
             f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" class="tick">0</text>']
    for i, (month, value) in enumerate(values):
        h = float(value / top) * plot_h if top else 0.0
        x = LEFT + i * step + (step - bar_w) / 2
        y = TOP + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                     f'class="bar"><title>{escape(month)}：{escape(str(value))}</title></rect>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                     f'class="value">{escape(str(value))}</text>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle" class="tick">{escape(month)}</text>')
    parts.append("</svg>")
    return "".join(parts)
