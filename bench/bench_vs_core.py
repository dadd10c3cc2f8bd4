"""End to end, this tree against an earlier revision's gateway, in one run on one machine.

Run: ``.venv/bin/python bench/bench_vs_core.py [--rev REV] [--records N] [--rounds R]``

Why: the delivery core's issue asks for "no slower than today's median of 6,475 records/s on the
2-core machine", a figure taken on 2026-12-01 when the no-op dramatiq actor did 7,190 msgs/s. That
actor is fsync-bound (``appendfsync always``), so the figure moves with the disk under the VM; an
absolute number from another day compares disks as much as code. This script measures the
question itself: the code of that day (``--rev``, default ``3c53c78``, the last commit before the
channel rewrite) and this tree, on the same disk, in alternating rounds.

Each round runs ``bench_pipeline.py --rounds 1`` twice as child processes, rows (a) and (b) only
(no webhook, no latency, no extra rows): once with the revision's ``gateway`` package first on
``PYTHONPATH`` (``git archive`` into a temporary directory) and once with this tree's. The order
swaps every round so that a slow drift of the machine falls on both alike. Each child starts its
own private ``redis-server``. The report gives the medians and, per round, this tree's (b) over
the revision's. Environment variables (``BENCH_AUDIT``, ``BENCH_EVALUATIONS``, …) reach both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent
_CHILD_TIMEOUT_S = 900


def export_revision(rev: str, into: Path) -> Path:
    """The revision's ``gateway`` package, written under ``into``; the directory to put first."""
    archive = subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", "-C", str(_ROOT), "archive", "--format=tar", rev, "gateway"],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_child(records: int, tree: Path | None, out: Path) -> dict[str, Any]:
    """One ``bench_pipeline.py`` round of (a) and (b); ``tree`` first on the path if given."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    cmd = [
        sys.executable,
        str(_HERE / "bench_pipeline.py"),
        f"--records={records}",
        "--rounds=1",
        "--states=",
        "--seconds=0",
        "--no-python-parser-row",
        "--no-portal-process-row",
        f"--json={out}",
    ]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        cmd, env=env, capture_output=True, text=True, timeout=_CHILD_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"bench_pipeline.py failed ({done.returncode}) for {tree or 'this tree'}")
    figures: dict[str, Any] = json.loads(out.read_text("utf-8"))
    want = (tree / "gateway") if tree is not None else _ROOT / "gateway"
    if Path(figures["gateway"]) != want.resolve():
        # An editable install's import hook can win over PYTHONPATH: then both runs are one tree.
        raise SystemExit(f"the child imported {figures['gateway']}, not {want}")
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rev", default="3c53c78", help="the revision to compare with")
    p.add_argument("--records", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    started = datetime.now(UTC)
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.2f}; rev {args.rev}", flush=True
    )
    runs: dict[str, list[tuple[float, float]]] = {"rev": [], "tree": []}
    folded: list[float] = []  # this tree's (b) until its evaluations fold had caught up too
    with tempfile.TemporaryDirectory(prefix="bench-vs-core-") as tmp:
        old = export_revision(args.rev, Path(tmp) / "rev")
        for r in range(1, args.rounds + 1):
            order = ["rev", "tree"] if r % 2 else ["tree", "rev"]
            for which in order:
                figures = run_child(
                    args.records, old if which == "rev" else None, Path(tmp) / "out.json"
                )
                a, b = (figures["rows"][k][0] for k in ("a", "b"))
                runs[which].append((a["per_s"], b["per_s"]))
                fold = ""
                if "folded_per_s" in b:
                    folded.append(b["folded_per_s"])
                    fold = (
                        f"; {b['evaluations_folded']:,} folded by then, all folded at"
                        f" {b['folded_per_s']:,.0f} records/s"
                    )
                print(
                    f"round {r} {which:>4}: (a) {a['per_s']:,.0f} msgs/s, (b) {b['per_s']:,.0f}"
                    f" records/s, (b)/(a) {b['per_s'] / a['per_s']:.2f}; load {b['load']}{fold}",
                    flush=True,
                )
    med = {
        k: (statistics.median(x for x, _ in v), statistics.median(y for _, y in v))
        for k, v in runs.items()
    }
    pairs = [t[1] / o[1] for t, o in zip(runs["tree"], runs["rev"], strict=True)]
    print()
    print("| code | (a) no-op, median | (b) end to end, median | (b) ÷ (a) |")
    print("|---|---|---|---|")
    for k, label in (("rev", f"revision {args.rev}"), ("tree", "this tree")):
        a, b = med[k]
        rounds = ", ".join(f"{y:,.0f}" for _, y in runs[k])
        print(f"| {label} | {a:,.0f} msgs/s | {b:,.0f} records/s ({rounds}) | {b / a:.2f} |")
    print()
    print(
        f"this tree's (b) ÷ the revision's, per round: {', '.join(f'{x:.2f}' for x in pairs)};"
        f" median {statistics.median(pairs):.2f}"
    )
    if folded:
        each = ", ".join(f"{x:,.0f}" for x in folded)
        print(
            "this tree's (b) until every item was also folded into evaluations: median"
            f" {statistics.median(folded):,.0f} records/s ({each})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
