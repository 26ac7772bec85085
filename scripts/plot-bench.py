#!/usr/bin/env python3
"""Draws docs/performance.md's plots from sevemu-bench's JSON (--benchmark_out_format=json):

  launch-throughput.svg  MiB/s of SNP and legacy launches and their limits, by image size
  rss-guests.svg         resident MiB against running guests on one Genoa platform

Plain SVG from the standard library, so no plotting package is needed.

  scripts/plot-bench.py BENCH_JSON OUT_DIR
"""
import json
import os
import sys


def medians(path):
    """{(function, arg): run} for the median aggregates (or single runs) of the JSON."""
    out = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("error_occurred"):
            continue
        median = b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"
        if not median and b.get("run_type") != "iteration":
            continue
        name = b["run_name"].split("/")
        key = (name[0], name[1] if len(name) > 1 and name[1].isdigit() else "")
        if median or key not in out:
            out[key] = b
    return out


def svg_plot(path, title, xlabel, ylabel, series, log_x=False):
    """series: [(label, colour, dash, [(x, y)...])]. A line chart with axes and a legend."""
    import math
    w, h, left, right, top, bottom = 640, 400, 70, 180, 40, 50
    xs = [x for _, _, _, pts in series for x, _ in pts]
    ys = [y for _, _, _, pts in series for _, y in pts]
    if not xs:
        return False
    fx = (lambda v: math.log2(v)) if log_x else (lambda v: v)
    x0, x1 = fx(min(xs)), fx(max(xs))
    y1 = max(ys) * 1.1 or 1
    if x1 == x0:
        x1 = x0 + 1

    def px(x):
        return left + (fx(x) - x0) / (x1 - x0) * (w - left - right)

    def py(y):
        return h - bottom - y / y1 * (h - top - bottom)

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{w / 2 - 60}" y="20" font-size="14">{title}</text>',
         f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
         f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
         f'<text x="{(left + w - right) / 2 - 40}" y="{h - 12}">{xlabel}</text>',
         f'<text x="15" y="{(top + h - bottom) / 2}" transform="rotate(-90 15 '
         f'{(top + h - bottom) / 2})">{ylabel}</text>']
    for i in range(6):
        y = y1 * i / 5
        o.append(f'<line x1="{left - 4}" y1="{py(y):.1f}" x2="{w - right}" y2="{py(y):.1f}" '
                 f'stroke="#ddd"/>')
        o.append(f'<text x="{left - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.0f}</text>')
    for x in sorted(set(xs)):
        o.append(f'<text x="{px(x):.1f}" y="{h - bottom + 16}" text-anchor="middle">{x:g}</text>')
    for n, (label, colour, dash, pts) in enumerate(series):
        pts = sorted(pts)
        d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        o.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2" '
                 f'stroke-dasharray="{dash}"/>')
        for x, y in pts:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + 20 * n
        o.append(f'<line x1="{w - right + 10}" y1="{ly}" x2="{w - right + 35}" y2="{ly}" '
                 f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        o.append(f'<text x="{w - right + 40}" y="{ly + 4}">{label}</text>')
    o.append("</svg>\n")
    with open(path, "w") as f:
        f.write("\n".join(o))
    return True


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = medians(sys.argv[1])
    os.makedirs(sys.argv[2], exist_ok=True)

    def curve(fn, field):
        return [(int(a), runs[(f, a)][field] / (1 << 20)) for (f, a) in runs
                if f == fn and a and field in runs[(f, a)]]

    series = [("SNP LAUNCH_UPDATE", "#c0392b", "", curve("snp_launch_update", "bytes_per_second")),
              ("SNP launch (OVMF)", "#e67e22", "", curve("snp_launch", "bytes_per_second")),
              ("SHA-384 + XTS", "#c0392b", "6,4", curve("limit_snp_pages", "bytes_per_second")),
              ("legacy launch", "#2471a3", "", curve("sev_launch", "bytes_per_second")),
              ("SHA-256 + XTS", "#2471a3", "6,4", curve("limit_sev_pages", "bytes_per_second"))]
    series = [s for s in series if s[3]]
    if svg_plot(os.path.join(sys.argv[2], "launch-throughput.svg"),
                "Launch throughput vs image size", "image MiB (log scale)", "MiB/s", series,
                log_x=True):
        print("wrote", os.path.join(sys.argv[2], "launch-throughput.svg"))

    rss = sorted((runs[k]["guests"], runs[k]["rss_MiB"]) for k in runs if k[0] == "rss_guests")
    if svg_plot(os.path.join(sys.argv[2], "rss-guests.svg"), "RSS vs running guests (Genoa)",
                "running SNP guests", "RSS MiB",
                [("sevemu-bench process", "#1e8449", "", rss),
                 ("256 MiB target", "#888", "4,4", [(rss[0][0], 256), (rss[-1][0], 256)]
                  if rss else [])]):
        print("wrote", os.path.join(sys.argv[2], "rss-guests.svg"))


if __name__ == "__main__":
    main()
