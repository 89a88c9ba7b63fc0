"""How long the fit advisor's layout search takes on a 1024-GPU cluster.

    python benchmarks/fit_search.py [--runs 5]

Runs `advise` (verdicts, the layout search over GPUs × tensor × pipeline × ZeRO × checkpointing ×
micro-batch, the largest batch and sequence, the changes) for models that need from one to
hundreds of GPUs, and prints the median seconds of each. Target: well under a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main() -> int:
    from llm_budget.fit import advise
    from llm_budget.hardware import load_gpu
    from llm_budget.memory import TrainSetup, unsharded_step
    from llm_budget.model.presets import load_preset

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    cases = [
        ("llama2-7b", "a100-80gb", TrainSetup(batch=4, seq=4096)),
        ("llama3-70b", "a100-80gb", TrainSetup(batch=4, seq=4096)),
        ("mixtral-8x22b", "h100-sxm", TrainSetup(batch=1, seq=4096)),
        ("gpt3-175b-full", "a100-80gb", TrainSetup(batch=8, seq=2048)),
    ]
    worst = 0.0
    for name, gpu, setup in cases:
        spec, card = load_preset(name), load_gpu(gpu)
        times = []
        for _ in range(args.runs):
            unsharded_step.cache_clear()  # every run from scratch
            t = time.perf_counter()
            r = advise(spec, card, mode="train", gpus=1024, train=setup)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        worst = max(worst, med)
        plan = r.plans[0].label if r.plans else "none"
        print(f"{name:16s} on {gpu:10s} needs {r.gpus_needed!s:>4} GPUs ({plan}); {med * 1000:7.1f} ms")
    print(f"slowest {worst * 1000:.1f} ms (target: well under 1000 ms)")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
