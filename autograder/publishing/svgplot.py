"""Line plots as inline SVG: fast, dependency-free figures for feedback pages.

matplotlib costs about half a second to import and more per figure; a feedback page needs
only a few polylines, so they are drawn here directly. Whatever it is given, a figure is cut
to the result model's caps before it is drawn (grading.result.bounded_plot: at most
MAX_CURVES curves a side, MAX_POINTS points a curve), so its size is bounded.
"""

from __future__ import annotations

import html
import math

import numpy as np

from autograder.grading.result import bounded_plot

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * step:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def line_plot(
    title: str,
    series: dict[str, np.ndarray],
    reference: dict[str, np.ndarray] | None = None,
    log_y: bool = False,
    width: int = 460,
    height: int = 260,
    x_label: str = "step",
    x_step: int = 1,
) -> str:
    """An SVG of the student's curves (solid) over the reference curves (dashed, grey-ish).

    Each value is a 1-D array of y values at x = 0, k, 2k, ... (k = `x_step`; `x_label` names
    x); with log_y the plot shows log10(max(y, 1e-300)). Non-finite values break the line.
    """
    plot = bounded_plot("", title, series, reference or {}, log_y, x_label, x_step)
    title, series, reference = plot["title"], plot["series"], plot["reference"]
    x_step = plot["x_step"]
    left, right, top, bottom = 56, 130, 28, 34
    curves = []
    for label, ys in list(series.items()) + [(k + " (ref)", v) for k, v in reference.items()]:
        y = np.asarray(ys, dtype=np.float64).reshape(-1)
        if log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log10(np.maximum(np.abs(y), 1e-300))
        curves.append((label, y))
    # Values a page can draw: finite, and small enough that hi - lo cannot overflow.
    curves = [(label, np.where(np.abs(y) <= 1e300, y, np.nan)) for label, y in curves]
    finite = np.concatenate([c[1][np.isfinite(c[1])] for c in curves] or [np.zeros(1)])
    if finite.size == 0:
        finite = np.zeros(1)
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    n = max(((c[1].size - 1) * x_step + 1 for c in curves), default=1)
    pw, ph = width - left - right, height - top - bottom

    def sx(i: float) -> float:
        return left + pw * i / max(1, n - 1)

    def sy(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="16" font-size="13" font-family="sans-serif">'
        f"{html.escape(title)}</text>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
    ]
    for t in _ticks(lo, hi):
        label = f"1e{t:g}" if log_y else f"{t:g}"
        parts.append(
            f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" font-size="10" text-anchor="end" '
            f'font-family="sans-serif">{label}</text>'
        )
    for t in _ticks(0, n - 1):
        parts.append(
            f'<text x="{sx(t):.1f}" y="{top + ph + 14}" font-size="10" text-anchor="middle" '
            f'font-family="sans-serif">{t:g}</text>'
        )
    parts.append(
        f'<text x="{left + pw / 2}" y="{height - 4}" font-size="10" text-anchor="middle" '
        f'font-family="sans-serif">{html.escape(x_label)}</text>'
    )
    n_student = len(series)
    for k, (label, y) in enumerate(curves):
        color = (
            COLORS[(k % n_student if k >= n_student else k) % len(COLORS)] if n_student else "#555"
        )
        dash = ' stroke-dasharray="5,4" opacity="0.7"' if k >= n_student else ""
        segments, current = [], []
        for i, v in enumerate(y):
            if math.isfinite(v):
                current.append(f"{sx(i * x_step):.1f},{sy(v):.1f}")
            elif current:
                segments.append(current)
                current = []
        if current:
            segments.append(current)
        for seg in segments:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.6"{dash} '
                f'points="{" ".join(seg)}"/>'
            )
        ly = top + 12 + 14 * k
        parts.append(
            f'<line x1="{left + pw + 8}" y1="{ly - 4}" x2="{left + pw + 26}" y2="{ly - 4}" '
            f'stroke="{color}" stroke-width="2"{dash}/>'
            f'<text x="{left + pw + 30}" y="{ly}" font-size="10" font-family="sans-serif">'
            f"{html.escape(label[:22])}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
