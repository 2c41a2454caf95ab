#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bar chart of a tunnel benchmark report: wgc vs wireguard-go for every ranked figure.

chart.py RESULTS.md OUT.png reads a report written by bench/tunnel.sh (bench/results/*.md):
each "## <mode>" section's table becomes one panel, each row whose "better" column says higher
or lower one pair of bars. The two bars of a pair are scaled to the larger of the two (the
figures have different units), so the longer bar is the larger value; the numbers are the
measured medians, and each label says whether higher or lower is better. Draws with gnuplot
(Debian's gnuplot-nox, pngcairo terminal). make bench-tunnel runs it on latest.md.
"""
import os
import re
import subprocess
import sys
import tempfile


def parse(path):
    """[(mode, [(metric, wgc, wireguard_go, better)])], in file order."""
    sections, mode, title = [], None, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# "):
            title = line[2:]
        elif line.startswith("## "):
            mode = line[3:]
            if mode.lower().startswith("per-run"):
                mode = None
            else:
                sections.append((mode, []))
        elif mode and line.startswith("| ") and not line.startswith("| Metric"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) >= 5 and cells[4] in ("higher", "lower"):
                try:
                    sections[-1][1].append((cells[0], float(cells[1]), float(cells[2]),
                                            cells[4]))
                except ValueError:
                    pass
    return title, [(m, rows) for m, rows in sections if rows]


def quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    src, out = sys.argv[1], sys.argv[2]
    title, sections = parse(src)
    if not sections:
        sys.exit("chart: no table with ranked figures in %s" % src)
    date = ""
    for line in open(src, encoding="utf-8"):
        m = re.match(r"- Date: (.*)", line)
        if m:
            date = m.group(1)
            break
    rows_total = sum(len(rows) for _, rows in sections)
    height = 140 + 90 * len(sections) + 44 * rows_total
    with tempfile.TemporaryDirectory() as tmp:
        script = ["set terminal pngcairo size 1100,%d font 'DejaVu Sans,10'" % height,
                  "set output %s" % quote(out), "set style fill solid 0.85 noborder",
                  "set xrange [0:1.32]", "unset xtics", "set grid noxtics noytics",
                  "set key outside top center horizontal", "set border 0",
                  "set ytics nomirror scale 0",
                  # (gnuplot reads \\n in a double-quoted string as a line break)
                  "set multiplot layout %d,1 title %s\\n%s" % (
                      len(sections), quote("%s, %s" % (title, date))[:-1],
                      quote("each pair of bars scaled to its larger value;"
                            " the numbers are the medians measured")[1:])]
        for n, (mode, rows) in enumerate(sections):
            data = os.path.join(tmp, "panel%d.dat" % n)
            with open(data, "w", encoding="utf-8") as f:
                for i, (metric, wgc, wggo, better) in enumerate(rows):
                    top = max(wgc, wggo) or 1.0
                    y = len(rows) - i
                    label = "%s, %s is better" % (metric, better)
                    f.write("%d\t%s\t%g\t%g\t%g\t%g\n" % (y, quote(label), wgc / top,
                                                         wggo / top, wgc, wggo))
            script += [
                "set title %s" % quote(mode),
                "set yrange [0.4:%g]" % (len(rows) + 0.6),
                "plot %s using ($3/2):($1+0.18):($3/2):(0.16):ytic(2) with boxxyerror"
                " lc rgb '#2a6fb0' title 'wgc', \\" % quote(data),
                " '' using ($4/2):($1-0.18):($4/2):(0.16) with boxxyerror"
                " lc rgb '#c8792a' title 'wireguard-go', \\",
                " '' using ($3+0.01):($1+0.18):(sprintf('%g', $5)) with labels left"
                " notitle, \\",
                " '' using ($4+0.01):($1-0.18):(sprintf('%g', $6)) with labels left notitle",
            ]
        script.append("unset multiplot")
        gp = os.path.join(tmp, "chart.gp")
        with open(gp, "w", encoding="utf-8") as f:
            f.write("\n".join(script) + "\n")
        subprocess.run(["gnuplot", gp], check=True)
    print("chart: %s (%d figures from %s)" % (out, rows_total, src))


if __name__ == "__main__":
    main()
