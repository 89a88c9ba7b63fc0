"""Rich output for `llm-budget serve`: the budget, the KV-cache groups, the lines the engine logs, the capacity
at common request lengths, and the throughput bounds."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from llm_budget.render import fit_table
from llm_budget.render.compute import duration
from llm_budget.serving import ServeView
from llm_budget.units import MemoryUnit, format_bytes

GIB = MemoryUnit.gib


def _budget(view: ServeView, explain: bool) -> Any:
    r = view.capacity
    t = fit_table(title=f"Memory per GPU ({r.gpu}, {r.engine} {r.engine_version})", title_justify="left")
    t.add_column("", no_wrap=True)
    t.add_column("GiB", justify="right", no_wrap=True)
    t.add_column("How" if explain else "", overflow="fold")
    t.add_row("total", format_bytes(r.total_bytes, GIB), "as the driver reports it")
    share = "mem_fraction_static" if r.engine == "sglang" else "gpu_memory_utilization"
    t.add_row("requested", format_bytes(r.requested_bytes, GIB), f"total × {share}")
    for b in r.budget:
        how = b.formula + (f" [{b.source}]" if explain else "")
        t.add_row(f"− {b.name}" + (" (estimate)" if b.assumed else ""), format_bytes(b.bytes, GIB), how)
    t.add_row(Text("KV cache", style="bold"), Text(format_bytes(r.available_kv_bytes, GIB), style="bold"), "")
    return t


def _groups(view: ServeView) -> Any:
    r = view.capacity
    t = fit_table(title="KV-cache layout", title_justify="left")
    for name in ("Kind", "Groups", "Layers", "Window", "Blocks / request"):
        t.add_column(name, justify="left" if name == "Kind" else "right", no_wrap=True)
    for g in r.groups:
        t.add_row(
            g.kind, str(g.groups), str(g.layers), f"{g.window:,}" if g.window else "", f"{g.blocks_per_request:,}"
        )
    unit = "page (one layer, one block)" if r.engine == "vllm" else "cell (one token, every layer)"
    caption = f"{unit}: {r.page_bytes:,} B; block size {r.block_size}; layers per pool {r.group_size}"
    return Group(t, Text(caption, style="dim"))


def _lengths(view: ServeView) -> Any:
    t = fit_table(title="Capacity by request length", title_justify="left")
    for name in ("Tokens / request", "Blocks / request", "Concurrent requests"):
        t.add_column(name, justify="right", no_wrap=True)
    for c in view.capacity.by_length:
        t.add_row(f"{c.tokens:,}", f"{c.blocks_per_request:,}", f"{c.concurrency:.2f}x")
    return t


def _throughput(view: ServeView) -> Any:
    b = view.throughput
    if b is None:
        return Text("")
    lines = [
        f"Bounds at {b.concurrency} sequence(s) of {b.context:,} tokens: decode ≤ "
        f"{b.decode_tokens_per_s_per_sequence:,.1f} tokens/s per sequence, ≤ {b.decode_tokens_per_s_total:,.0f} in total "
        f"({b.bound}-bound: memory {duration(b.memory_time_s)}, compute {duration(b.compute_time_s)} per step)",
        f"prefill of {b.prompt:,} tokens ≥ {duration(b.prefill_time_s)}; "
        + (
            f"compute-bound from {b.crossover_batch:,.0f} sequences"
            if b.crossover_batch is not None
            else "memory-bound at every batch at this context"
        ),
    ]
    return Text("\n".join(lines))


def _changes(view: ServeView) -> Any:
    if not view.changes:
        return Text("")
    t = fit_table(title="Changes, one at a time (the engine's arithmetic on each)", title_justify="left")
    for name in ("Change", "Option", "Starts"):
        t.add_column(name)
    t.add_column("KV tokens", justify="right", no_wrap=True)
    t.add_column("Concurrency", justify="right", no_wrap=True)
    for c in view.changes:
        mark = Text("yes", style="green") if c.starts else Text("no", style="red")
        t.add_row(
            c.change, c.option, mark, f"{c.kv_cache_tokens:,}", f"{c.max_concurrency:.2f}x at {c.max_model_len:,}"
        )
    return t


def serve_render(view: ServeView, *, explain: bool = False) -> Group:
    r = view.capacity
    head = Text(f"{r.model} on {r.gpu} × TP {r.tensor_parallel_size} × PP {r.pipeline_parallel_size}", style="bold")
    verdict = (
        Text("starts", style="bold green") if r.starts else Text("does not start: " + (r.error or ""), style="bold red")
    )
    logs = Text("\n".join(["Start-up lines, ours:"] + [f"  {line}" for line in r.log_lines]))
    parts: list[Any] = [head, verdict, _budget(view, explain), _groups(view), logs, _lengths(view), _throughput(view)]
    parts.append(_changes(view))
    if explain:
        parts.append(Text("\n".join([f"Read from: {r.read_at}"] + [f"• {a}" for a in r.assumptions]), style="dim"))
    return Group(*parts)
