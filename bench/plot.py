"""The summary plot of a result file (PNG, matplotlib):

.venv/bin/python -m bench.plot bench/results/FILE.json [OUT.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def draw(res: dict[str, Any], out: Path) -> Path:
    fr = res["freeradius"]["peak"]["rps"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})

    labels, values, colours = ["FreeRADIUS\nPAP"], [fr], ["#888888"]
    palette = {"a": "#1f77b4", "b": "#d62728", "c": "#2ca02c"}
    for run in res["radiusd"]:
        for key in ("a", "b", "c"):
            if key in run:
                labels.append(
                    f"{'pg' if run['backend'] == 'postgresql' else run['backend']}\nw{run['workers']} ({key})"
                )
                values.append(run[key]["rps"])
                colours.append(palette[key])
    bars = left.bar(range(len(values)), values, color=colours)
    left.set_yscale("log")
    left.set_xticks(range(len(values)), labels, fontsize=7)
    left.set_ylabel("requests per second (log scale)")
    left.axhline(fr / 2, color="#888888", linestyle="--", linewidth=1)
    left.text(len(values) - 0.5, fr / 2 * 1.1, "target: 50% of FreeRADIUS", ha="right", fontsize=8)
    for bar, v in zip(bars, values, strict=True):
        left.text(bar.get_x() + bar.get_width() / 2, v * 1.05, f"{v:,.0f}", ha="center", fontsize=7)
    left.set_title("Throughput: (a) code-only accept, (b) wrong code, (c) argon2id + TOTP")

    if res.get("scale"):
        p99_axis = right.twinx()
        for backend, style in (("sqlite", "o-"), ("postgresql", "s-")):
            points = [s for s in res["scale"] if s["backend"] == backend]
            if not points:
                continue
            xs = [s["users"] for s in points]
            right.plot(xs, [s["a"]["rps"] for s in points], style, color="#1f77b4", label=f"{backend} req/s")
            p99_axis.plot(
                xs, [s["a_half_peak"]["p99_ms"] for s in points], style, color="#ff7f0e", alpha=0.7,
                label=f"{backend} p99 at half peak",
            )  # fmt: skip
        right.set_xscale("log")
        right.set_xlabel("users with a token")
        right.set_ylabel("workload (a) req/s, --workers 2", color="#1f77b4")
        p99_axis.set_ylabel("p99 ms at half peak", color="#ff7f0e")
        right.set_ylim(bottom=0)
        p99_axis.set_ylim(bottom=0)
        right.legend(loc="lower left", fontsize=7)
        p99_axis.legend(loc="lower right", fontsize=7)
        right.set_title("Store size")
    fig.suptitle(
        f"radiusd vs FreeRADIUS {res['freeradius']['version']} — {res['machine']['cores']} cores, "
        f"{res['date'][:10]}, load {res['load_before'][0]:.1f}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    source = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else source.with_suffix(".png")
    print(draw(json.loads(source.read_text()), target))
