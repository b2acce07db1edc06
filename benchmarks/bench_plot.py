"""Minimal PIL line/bar charts for the benchmark reports (no matplotlib in the test stack)."""

from __future__ import annotations

import math
from typing import Optional, Sequence

from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    out, v = [], start
    while v <= hi + 1e-12:
        out.append(round(v, 10))
        v += step
    return out


def line_chart(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, xlabel: str,
               ylabel: str, path, logx: bool = False, logy: bool = False, size=(720, 440),
               hline: Optional[tuple[float, str]] = None, vline: Optional[tuple[float, str]] = None,
               markers: bool = True, scatter: bool = False) -> None:
    """One chart: name -> (xs, ys); optional horizontal / vertical reference lines."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    ml, mr, mt, mb = 70, 190, 34, 46
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    fy = (lambda v: math.log10(v)) if logy else (lambda v: v)
    xs_all = [fx(x) for xs, _ in series.values() for x in xs if (x > 0 or not logx)]
    ys_all = [fy(y) for _, ys in series.values() for y in ys if (y > 0 or not logy) and math.isfinite(y)]
    if hline:
        ys_all.append(fy(hline[0]))
    if vline:
        xs_all.append(fx(vline[0]))
    x0, x1 = min(xs_all), max(xs_all)
    xpad = (x1 - x0) * 0.03
    x0, x1 = x0 - xpad, x1 + xpad
    y0, y1 = min(ys_all), max(ys_all)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = w - ml - mr, h - mt - mb

    def px(x, y):
        return ml + (fx(x) - x0) / (x1 - x0) * pw, mt + (1 - (fy(y) - y0) / (y1 - y0)) * ph

    d.rectangle([ml, mt, ml + pw, mt + ph], outline=(0, 0, 0))
    for t in _ticks(y0, y1):
        yy = mt + (1 - (t - y0) / (y1 - y0)) * ph
        d.line([(ml, yy), (ml + pw, yy)], fill=(230, 230, 230))
        label = f"{10 ** t:.3g}" if logy else f"{t:.3g}"
        d.text((4, yy - 6), label, fill=(0, 0, 0))
    for t in _ticks(x0, x1):
        xx = ml + (t - x0) / (x1 - x0) * pw
        d.line([(xx, mt), (xx, mt + ph)], fill=(235, 235, 235))
        label = f"{10 ** t:.3g}" if logx else f"{t:.3g}"
        d.text((xx - 10, mt + ph + 4), label, fill=(0, 0, 0))
    if hline:
        _, yy = px(1 if logx else x0, hline[0])
        d.line([(ml, yy), (ml + pw, yy)], fill=(200, 0, 0), width=1)
        d.text((ml + 4, yy - 12), hline[1], fill=(200, 0, 0))
    if vline:
        xx, _ = px(vline[0], 1 if logy else y0)
        d.line([(xx, mt), (xx, mt + ph)], fill=(0, 0, 200), width=1)
        d.text((xx + 3, mt + 2), vline[1], fill=(0, 0, 200))
    for i, (name, (xs, ys)) in enumerate(series.items()):
        col = COLOURS[i % len(COLOURS)]
        pts = [px(x, y) for x, y in zip(xs, ys) if math.isfinite(y) and (y > 0 or not logy) and (x > 0 or not logx)]
        if len(pts) > 1 and not scatter:
            d.line(pts, fill=col, width=2)
        if markers:
            for x, y in pts:
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=col)
        d.line([(w - mr + 10, mt + 14 * i + 6), (w - mr + 28, mt + 14 * i + 6)], fill=col, width=3)
        d.text((w - mr + 32, mt + 14 * i), name[:26], fill=(0, 0, 0))
    d.text((ml, 10), title, fill=(0, 0, 0))
    d.text((ml + pw // 2 - 3 * len(xlabel), h - 18), xlabel, fill=(0, 0, 0))
    d.text((4, mt - 16), ylabel, fill=(0, 0, 0))
    img.save(path)


def bar_chart(groups: Sequence[str], series: dict[str, Sequence[float]], title: str, ylabel: str, path,
              size=(820, 420), ylim: Optional[tuple[float, float]] = None) -> None:
    """Grouped bars: for each group, one bar per series."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    ml, mr, mt, mb = 60, 170, 34, 60
    pw, ph = w - ml - mr, h - mt - mb
    vals = [v for vs in series.values() for v in vs if math.isfinite(v)]
    y0, y1 = ylim if ylim else (min(0.0, min(vals)), max(vals) * 1.05 if max(vals) > 0 else 1.0)
    d.rectangle([ml, mt, ml + pw, mt + ph], outline=(0, 0, 0))
    for t in _ticks(y0, y1):
        yy = mt + (1 - (t - y0) / (y1 - y0)) * ph
        d.line([(ml, yy), (ml + pw, yy)], fill=(230, 230, 230))
        d.text((4, yy - 6), f"{t:.3g}", fill=(0, 0, 0))
    ng, ns = len(groups), len(series)
    gw = pw / max(ng, 1)
    bw = gw * 0.8 / max(ns, 1)
    for si, (name, vs) in enumerate(series.items()):
        col = COLOURS[si % len(COLOURS)]
        for gi, v in enumerate(vs):
            if not math.isfinite(v):
                continue
            xa = ml + gi * gw + gw * 0.1 + si * bw
            ya = mt + (1 - (v - y0) / (y1 - y0)) * ph
            yb = mt + (1 - (0 - y0) / (y1 - y0)) * ph if y0 <= 0 <= y1 else mt + ph
            d.rectangle([xa, min(ya, yb), xa + bw - 1, max(ya, yb)], fill=col)
        d.rectangle([w - mr + 10, mt + 14 * si + 2, w - mr + 24, mt + 14 * si + 12], fill=col)
        d.text((w - mr + 30, mt + 14 * si), name[:24], fill=(0, 0, 0))
    for gi, g in enumerate(groups):
        d.text((ml + gi * gw + 4, mt + ph + 6 + 12 * (gi % 2)), g[:18], fill=(0, 0, 0))
    d.text((ml, 10), title, fill=(0, 0, 0))
    d.text((4, mt - 16), ylabel, fill=(0, 0, 0))
    img.save(path)
