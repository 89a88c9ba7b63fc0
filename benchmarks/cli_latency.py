"""Start-up latency of estimation commands against importing their four dependencies.

    python benchmarks/cli_latency.py [--runs 21] [--max-ratio 1.5]

Runs `python -c "import typer, rich, pydantic, yaml"` and each command below as whole
processes, interleaved, and reports the median wall time and the median CPU time
(user + system of the child, from getrusage: steadier than wall time on a shared
machine) and each command's ratio to the baseline. A "floor" row times the smallest
program with the same stack (a typer command that validates one pydantic model and
prints a rich table) to show how much of the gap the stack itself costs. Exits 1 when
a command's CPU-time ratio exceeds --max-ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

BASELINE = [sys.executable, "-c", "import typer, rich, pydantic, yaml"]

# The least any CLI built as the design asks (typer command, validated pydantic model, rich table)
# can cost: one tiny model, one two-row table. Shown so the gap to the baseline can be split into
# what the stack costs and what llm-budget adds.
FLOOR_CODE = """
import typer, yaml
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
app = typer.Typer()
class M(BaseModel):
    x: int
@app.command()
def main(x: int = 1) -> None:
    t = Table('name', 'count')
    t.add_row('x', f'{M(x=x).x:,}')
    Console().print(t)
app()
"""
FLOOR = [sys.executable, "-c", FLOOR_CODE]
COMMANDS = {
    "params --preset gpt3-175b": ["params", "--preset", "gpt3-175b"],
    "params --preset gpt3-175b --json": ["params", "--preset", "gpt3-175b", "--json"],
    "presets": ["presets"],
}


def once(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--max-ratio", type=float, default=1.5)
    args = ap.parse_args()
    cmds = {"baseline": BASELINE, "floor": FLOOR} | {
        k: [sys.executable, "-m", "llm_budget", *v] for k, v in COMMANDS.items()
    }
    for cmd in cmds.values():  # warm the OS file cache and .pyc files
        once(cmd)
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            samples[name].append(once(cmd))

    def med(name: str, i: int) -> float:
        return statistics.median(s[i] for s in samples[name])

    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs, {args.runs} runs each (medians)")
    print(f"  {'command':<44}{'wall ms':>9}{'cpu ms':>9}{'wall x':>8}{'cpu x':>8}")
    worst = 0.0
    for name in cmds:
        label = {
            "baseline": "import typer, rich, pydantic, yaml",
            "floor": "floor: typer + 1 pydantic model + rich table",
        }.get(name, f"llm-budget {name}")
        w, c = med(name, 0), med(name, 1)
        wr, cr = w / med("baseline", 0), c / med("baseline", 1)
        if name not in ("baseline", "floor"):
            worst = max(worst, cr)
        print(f"  {label:<44}{w * 1000:9.1f}{c * 1000:9.1f}{wr:8.2f}{cr:8.2f}")
    floor = med("floor", 1) / med("baseline", 1)
    print(f"worst CPU-time ratio {worst:.2f} (target <= {args.max_ratio}); the floor alone is {floor:.2f}")
    return 0 if worst <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
