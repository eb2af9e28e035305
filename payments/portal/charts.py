"""Geometry for server-rendered SVG bar charts (``portal/_charts.html`` draws them): no script,
no library download, and the page shows the same figures in a table beside each chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Colours that stay apart for the common colour-blindnesses (Okabe-Ito), darkest first.
PALETTE = ("#0b5d3b", "#0072b2", "#e69f00", "#cc79a7", "#56b4e9", "#d55e00")
MAX_BARS = 60  # 44 markets fit; more is a table's job


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    colour: str
    caption: str  # what a screen reader or a hover says


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(frozen=True)
class Rule:
    y: float


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    width: int
    height: int
    boxes: tuple[Box, ...]
    labels: tuple[Label, ...]
    rules: tuple[Rule, ...]
    x_from: int
    x_to: int


def ticks(top: int) -> list[int]:
    """Round steps (1, 2 or 5 × 10^n), at most five above 0, from 0 to at least ``top``."""
    if top <= 0:
        return [0]
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            count = -(-top // step)  # ceiling division
            if count <= 5:
                return [step * k for k in range(count + 1)]
        magnitude *= 10


def short_idr(amount_idr: int) -> str:
    """An axis figure in the words Indonesians use: 1,5 jt, 250 rb, 2 M."""
    for size, unit in ((1_000_000_000, "M"), (1_000_000, "jt"), (1_000, "rb")):
        if abs(amount_idr) >= size:
            text = f"{amount_idr / size:.1f}".rstrip("0").rstrip(".")
            return f"{text.replace('.', ',')} {unit}"
    return str(amount_idr)


def _rupiah(amount_idr: int) -> str:
    return "Rp" + f"{amount_idr:,}".replace(",", ".")


def stacked_columns(
    title: str, categories: Sequence[str], series: Sequence[Series], *, height: int = 220
) -> Chart:
    """One column per category, stacked from ``series`` (rupiah, all >= 0)."""
    if len(categories) > MAX_BARS or any(len(s.values) != len(categories) for s in series):
        raise ValueError("one value per category and series, at most MAX_BARS categories")
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    scale = ticks(max([*totals, 0]))
    top = scale[-1] or 1
    left, bottom, gap, pad = 56, 40, 8, 10
    width = max(320, left + len(categories) * 52)
    plot = height - bottom - pad
    bar = (width - left - pad) / max(len(categories), 1) - gap
    boxes: list[Box] = []
    labels: list[Label] = []
    rules = [Rule(pad + plot - plot * t / top) for t in scale]
    labels += [
        Label(left - 6, r.y + 4, short_idr(t), "end") for t, r in zip(scale, rules, strict=True)
    ]
    for i, category in enumerate(categories):
        x = left + gap / 2 + i * (bar + gap)
        base: float = pad + plot
        for n, s in enumerate(series):
            if s.values[i] <= 0:
                continue
            h = plot * s.values[i] / top
            base -= h
            boxes.append(
                Box(
                    x,
                    base,
                    bar,
                    h,
                    PALETTE[n % len(PALETTE)],
                    f"{category} · {s.label}: {_rupiah(s.values[i])}",
                )
            )
        labels.append(Label(x + bar / 2, pad + plot + 16, category, "middle"))
    legend_y = height + 8
    for n, s in enumerate(series):
        y = legend_y + 24 * n
        boxes.append(Box(left, y - 12, 14, 14, PALETTE[n % len(PALETTE)], s.label))
        labels.append(Label(left + 20, y, s.label))
    description = "; ".join(f"{c}: {_rupiah(t)}" for c, t in zip(categories, totals, strict=True))
    return Chart(
        title,
        description,
        width,
        height + 24 * len(series),
        tuple(boxes),
        tuple(labels),
        tuple(rules),
        left,
        width - 4,
    )


def horizontal_bars(title: str, rows: Sequence[tuple[str, int]]) -> Chart:
    """One bar per (label, rupiah) row, in the order given."""
    if len(rows) > MAX_BARS:
        raise ValueError("at most MAX_BARS rows")
    top = max([v for _, v in rows] + [1])
    row_h, left, width = 24, 120, 360
    boxes, labels = [], []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        w = (width - left - 64) * max(value, 0) / top
        boxes.append(Box(left, y + 4, w, row_h - 8, PALETTE[0], f"{label}: {_rupiah(value)}"))
        labels.append(Label(left - 6, y + 16, label, "end"))
        labels.append(Label(left + w + 4, y + 16, short_idr(value)))
    description = "; ".join(f"{label}: {_rupiah(value)}" for label, value in rows)
    return Chart(
        title, description, width, 8 + row_h * len(rows), tuple(boxes), tuple(labels), (), 0, 0
    )
