"""`llm-budget oom`: PyTorch CUDA out-of-memory messages, parsed to exact bytes and explained.

Expected numbers come from the message text: a printed figure is its value × unit rounded to the
nearest byte (Decimal arithmetic below), derived figures are the arithmetic written in each test.
Real messages are quoted from the GitHub threads cited beside them.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.errors import LLMBudgetError
from llm_budget.oom import FitSuggestion, explain_oom, format_size, gpu_candidates, max_split_size_mb, parse_size
from llm_budget.render.oom import finding_text, headline, oom_json, recommendation_text

KiB, MiB, GiB = 2**10, 2**20, 2**30
runner = CliRunner()


def B(value: str, unit: int) -> int:
    """Printed value × unit, to the nearest byte."""
    return int((Decimal(value) * unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def run(*args: str, input: str | None = None):
    return runner.invoke(app, ["oom", *args], input=input, env={"COLUMNS": "110"})


def settings_text(r) -> list[str]:
    """Each recommendation's setting, as the renderer writes it."""
    return [recommendation_text(x)["setting"] for x in r.recommendations]


def findings_text(r) -> list[str]:
    return [finding_text(f) for f in r.observations]


# The lecture's slide ("Computational Challenges: CUDA Out of Memory"), exactly.
LECTURE = (
    "RuntimeError: CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; 14.56 GiB already "
    "allocated; 38.44 MiB free; 14.80 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try "
    "setting max_split_size_mb to avoid fragmentation. See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF"
)

# https://github.com/kerrj/lerf/issues/73 (comment, 2024-02-01): PyTorch 2.1 wording, fragmentation-dominated.
LERF_73 = (
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.00 GiB. GPU 0 has a total capacty of 23.65 GiB "
    "of which 1.66 GiB is free. Including non-PyTorch memory, this process has 20.81 GiB memory in use. Of the allocated "
    "memory 12.09 GiB is allocated by PyTorch, and 4.84 GiB is reserved by PyTorch but unallocated. If reserved but "
    "unallocated memory is large try setting max_split_size_mb to avoid fragmentation.  See documentation for Memory "
    "Management and PYTORCH_CUDA_ALLOC_CONF"
)

# https://github.com/vllm-project/vllm/issues/27508 (H100, vLLM worker log line; private pools; a container PID).
VLLM_27508 = (
    "(EngineCore_DP0 pid=8884) torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 786.00 MiB. GPU 0 has a total "
    "capacity of 79.11 GiB of which 140.75 MiB is free. Process 3270336 has 78.96 GiB memory in use. Of the allocated memory "
    "68.83 GiB is allocated by PyTorch, with 660.00 MiB allocated in private pools (e.g., CUDA Graphs), and 331.08 MiB is "
    "reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
    "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See docume"
)

# https://github.com/murong-xu/CADS/issues/4: much cached but unallocated, yet the request is larger still.
CADS_4 = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 22.78 GiB. GPU 0 has a total capacity of 31.47 GiB of "
    "which 12.73 GiB is free. Including non-PyTorch memory, this process has 18.73 GiB memory in use. Of the allocated memory "
    "9.08 GiB is allocated by PyTorch, and 9.35 GiB is reserved by PyTorch but unallocated. If reserved but unallocated "
    "memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation "
    "for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
)

# https://github.com/pytorch/pytorch/pull/99699 (the PR that introduced the current wording), its example,
# wrapped over lines as in the PR description.
PR_99699 = """torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 138.00 MiB.
GPU 0 has a total capacty of 15.90 GiB of which 8.44 MiB is free.
Process 1246069 has 577.00 MiB memory in use. Including non-PyTorch memory,
this process has 15.32 GiB memory in use. Of the allocated memory
14.12 GiB is allocated by PyTorch, and 410.41 MiB is reserved
by PyTorch but unallocated. If reserved but unallocated memory is large
try setting max_split_size_mb to avoid fragmentation.  See documentation
 for Memory Management and PYTORCH_CUDA_ALLOC_CONF"""

# https://github.com/pytorch/pytorch/issues/35901: legacy form, "~50% of the GPU RAM cannot be utilised".
PT_35901 = (
    "CUDA out of memory. Tried to allocate 10.84 GiB (GPU 0; 23.65 GiB total capacity; 1.06 GiB already allocated; "
    "10.26 GiB free; 12.53 GiB reserved in total by PyTorch)"
)

# https://github.com/pytorch/pytorch/issues/40863: legacy form; the maintainer: "another program ... is already using
# all the GPU memory".
PT_40863 = (
    "RuntimeError: CUDA out of memory. Tried to allocate 60.00 MiB (GPU 0; 11.17 GiB total capacity; 505.96 MiB "
    "already allocated; 12.50 MiB free; 530.00 MiB reserved in total by PyTorch)"
)

# https://github.com/pytorch/pytorch/issues/16417 (title): the oldest wording, "cached".
PT_16417 = (
    "RuntimeError: CUDA out of memory. Tried to allocate 12.50 MiB (GPU 0; 10.92 GiB total capacity; 8.57 MiB "
    "already allocated; 9.28 GiB free; 4.68 MiB cached)"
)

# https://github.com/awslabs/keys_values/issues/92: four other ranks' contexts of 414 MiB on this GPU.
KEYS_VALUES_92 = (
    "[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 572.00 MiB. GPU 0 has a total capacity of "
    "39.49 GiB of which 321.31 MiB is free. Process 3721648 has 414.00 MiB memory in use. Including non-PyTorch memory, this "
    "process has 37.46 GiB memory in use. Process 1374765 has 414.00 MiB memory in use. Process 1374763 has 414.00 MiB memory "
    "in use. Process 1374764 has 414.00 MiB memory in use. Of the allocated memory 36.04 GiB is allocated by PyTorch, and "
    "321.37 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
    "PYTORCH_ALLOC_CONF=expandable_segments:True to avoid fragmentation."
)

# https://github.com/kaito-project/kaito/issues/976: private pools, this process seen as "Process N" from a container.
KAITO_976 = (
    "ERROR 04-01 23:46:56 [engine.py:160] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 546.00 MiB. GPU 0 "
    "has a total capacity of 15.77 GiB of which 514.19 MiB is free. Process 562167 has 15.25 GiB memory in use. Of the "
    "allocated memory 13.73 GiB is allocated by PyTorch, with 46.00 MiB allocated in private pools (e.g., CUDA Graphs), and "
    "736.86 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
    "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation."
)

# https://github.com/ROCm/TheRock/issues/2118: ROCm ("HIP out of memory") under a per-process memory fraction.
THEROCK_2118 = (
    "torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 MiB. GPU 0 has a total capacity of 255.98 GiB of "
    "which 244.65 GiB is free. 1.05 GiB allowed; Of the allocated memory 1017.01 MiB is allocated by PyTorch, with 17.00 MiB "
    "allocated in private pools (e.g., HIP Graphs), and 54.99 MiB is reserved by PyTorch but unallocated."
)

# https://github.com/carolchenyx/MGFN./issues/35: no per-process figures, 0 bytes free, fragmentation.
MGFN_35 = (
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.70 GiB. GPU 0 has a total capacty of 6.00 GiB of "
    "which 0 bytes is free. Of the allocated memory 2.93 GiB is allocated by PyTorch, and 2.30 GiB is reserved by PyTorch "
    "but unallocated. If reserved but unallocated memory is large try setting max_split_size_mb to avoid fragmentation."
)


# -- sizes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected, tolerance",
    [
        ("200.00 MiB", 200 * MiB, B("0.005", MiB)),
        ("15.78 GiB", B("15.78", GiB), B("0.005", GiB)),
        ("0 bytes", 0, 0),
        ("512 bytes", 512, 0),
        ("982.50 KiB", B("982.50", KiB), B("0.005", KiB)),
        ("1.5 GB", 1_500_000_000, 50_000_000),  # decimal, as llm-budget defines GB; ±0.05 GB
        ("100 MB", 100_000_000, 500_000),
        ("7 B", 7, 0),
    ],
)
def test_parse_size(text, expected, tolerance):
    f = parse_size(text)
    assert (f.bytes, f.tolerance_bytes, f.printed) == (expected, tolerance, text)


def test_parse_size_rejects_unknown_units():
    with pytest.raises(LLMBudgetError, match="cannot read the size"):
        parse_size("3 furlongs")


def test_format_size_is_pytorchs():
    # c10 format_size: "N bytes" up to 1024, KiB up to 1 MiB, MiB up to 1 GiB, else GiB, two decimals.
    assert format_size(1024) == "1024 bytes"
    assert format_size(1025) == "1.00 KiB"
    assert format_size(MiB) == "1024.00 KiB"
    assert format_size(GiB) == "1024.00 MiB"
    assert format_size(200 * MiB) == "200.00 MiB"
    assert format_size(B("15.78", GiB)) == "15.78 GiB"


@pytest.mark.parametrize(
    "n",
    [
        0,
        1,
        1024,
        1025,
        982 * KiB + 511,
        MiB,
        MiB + 1,
        200 * MiB + 12_345,
        GiB,
        GiB + 1,
        B("15.78", GiB),
        81559 * MiB,
        2**64 - 1,
    ],
)
def test_parse_size_reads_what_format_size_writes(n):
    # The parser mirrors PyTorch's printer: reading a printed size gives the true size within the printed rounding.
    f = parse_size(format_size(n))
    assert abs(f.bytes - n) <= f.tolerance_bytes


def test_max_split_size_mb():
    assert max_split_size_mb(200 * MiB) == 128
    assert max_split_size_mb(3 * GiB) == 2048
    assert max_split_size_mb(1740 * MiB) == 1024
    assert max_split_size_mb(32 * MiB) == 32
    assert max_split_size_mb(22 * MiB) is None  # PyTorch rejects ≤ 20; below 32 MiB it is no use


def test_gpu_candidates():
    assert [c.name for c in gpu_candidates(parse_size("15.78 GiB"))] == ["v100-pcie-16gb", "v100-sxm2-16gb"]
    h100 = gpu_candidates(parse_size("79.11 GiB"))
    assert h100[0].name.startswith("h100") and not h100[0].exact
    assert h100[0].below_catalog_bytes == 81559 * MiB - B("79.11", GiB)
    assert {c.name for c in h100} >= {"h100-sxm5-80gb", "a100-sxm4-80gb"}
    assert [c.name for c in gpu_candidates(parse_size("14.75 GiB"))] == ["t4-pcie-16gb"]  # Colab T4
    assert gpu_candidates(parse_size("6.00 GiB")) == []


# -- the lecture's message ------------------------------------------------------------------------------


def test_lecture_message_figures():
    r = explain_oom(LECTURE)
    assert (r.format, r.wording, r.exception, r.backend, r.gpu_index, r.complete) == (
        "legacy",
        "legacy",
        "RuntimeError",
        "CUDA",
        0,
        True,
    )
    total, allocated, free, reserved, request = (
        B("15.78", GiB),
        B("14.56", GiB),
        B("38.44", MiB),
        B("14.80", GiB),
        200 * MiB,
    )
    assert r.tried_to_allocate_bytes == request == 209_715_200
    assert r.total_capacity_bytes == total
    assert r.allocated_bytes == allocated
    assert r.free_bytes == free
    assert r.reserved_bytes == reserved
    assert r.reserved_unallocated_bytes == reserved - allocated
    assert abs(r.reserved_unallocated_bytes - Decimal("0.24") * GiB) <= 1  # 14.80 − 14.56 = 0.24 GiB
    assert r.non_pytorch_bytes == total - free - reserved
    assert r.shortfall_bytes == request - free
    assert r.available_to_pytorch_bytes == free + reserved
    assert r.figures["reserved_unallocated"].printed is None
    assert r.figures["reserved_unallocated"].tolerance_bytes == 2 * B("0.005", GiB)
    assert r.pytorch_hint == "max_split_size_mb"


def test_lecture_message_is_a_full_card_not_fragmentation():
    r = explain_oom(LECTURE)
    # 0.24 GiB cached but unallocated is more than the 200 MiB request, but only 1.5% of the card (< 10%).
    assert r.diagnosis == "full"
    # the diagnosis as data: live tensors 14.56 GiB of 15.78 GiB, 200 MiB asked, 200 MiB − 38.44 MiB short
    assert r.verdict.case == "full-live-tensors"
    assert r.verdict.numbers == {
        "allocated": B("14.56", GiB),
        "total": B("15.78", GiB),
        "request": 200 * MiB,
        "shortfall": 200 * MiB - B("38.44", MiB),
    }
    assert headline(r).startswith("The card is full")
    assert "92.3%" in headline(r)  # 14.56 / 15.78
    assert r.recommendations[0].kind == "smaller-micro-batch"
    assert recommendation_text(r.recommendations[0])["title"].startswith("Smaller micro-batch")
    last = r.recommendations[-1]
    assert (last.kind, last.env, last.settings) == (
        "expandable-segments-one-allocation",
        "PYTORCH_CUDA_ALLOC_CONF",
        {"expandable_segments": True},
    )
    assert recommendation_text(last)["setting"] == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
    assert "this one allocation" in recommendation_text(last)["title"]
    assert not any("empty_cache" in x for x in settings_text(r))


def test_lecture_message_matches_a_v100_16gb():
    r = explain_oom(LECTURE)
    names = [c.name for c in r.gpu_candidates]
    assert names == ["v100-pcie-16gb", "v100-sxm2-16gb"]
    assert all(c.exact and c.memory_bytes == 16160 * MiB for c in r.gpu_candidates)  # 16160 MiB = 15.78 GiB


# -- the current form, from real issues ------------------------------------------------------------------


def test_current_form_fragmentation_lerf_73():
    r = explain_oom(LERF_73)
    assert (r.format, r.wording, r.exception) == ("current", "current-2.1", "torch.cuda.OutOfMemoryError")
    total, free, in_use = B("23.65", GiB), B("1.66", GiB), B("20.81", GiB)
    allocated, unallocated, request = B("12.09", GiB), B("4.84", GiB), 3 * GiB
    assert (r.total_capacity_bytes, r.free_bytes, r.allocated_bytes, r.reserved_unallocated_bytes) == (
        total,
        free,
        allocated,
        unallocated,
    )
    assert r.reserved_bytes == allocated + unallocated and r.tried_to_allocate_bytes == request
    assert r.process_in_use_bytes == in_use and not r.process_in_use_inferred
    assert r.this_process_non_pytorch_bytes == in_use - (allocated + unallocated)  # 3.88 GiB outside the allocator
    assert r.other_processes_bytes == total - free - in_use
    assert r.non_pytorch_bytes == total - free - allocated - unallocated
    # 4.84 GiB ≥ the 3.00 GiB request and ≥ 10% of 23.65 GiB
    assert r.diagnosis == "fragmentation"
    assert [x.settings for x in r.recommendations[:2]] == [{"expandable_segments": True}, {"max_split_size_mb": 2048}]
    settings = settings_text(r)
    assert settings[0] == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
    assert settings[1] == "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:2048"
    assert {c.name for c in r.gpu_candidates} == {"rtx-3090-24gb", "rtx-4090-24gb"}
    assert any("more than a CUDA context" in f for f in findings_text(r))


def test_current_form_full_vllm_27508():
    r = explain_oom(VLLM_27508)
    total, free, proc = B("79.11", GiB), B("140.75", MiB), B("78.96", GiB)
    allocated, unallocated, private = B("68.83", GiB), B("331.08", MiB), 660 * MiB
    assert r.tried_to_allocate_bytes == 786 * MiB
    assert r.private_pools_bytes == private
    assert r.reserved_bytes == allocated + unallocated
    # no "this process" entry: the only process holding at least the reserve is this one, seen from a container
    assert r.processes[0].pid == 3270336 and not r.processes[0].this_process
    assert r.process_in_use_bytes == proc and r.process_in_use_inferred
    assert r.other_processes_bytes == total - free - proc
    assert r.diagnosis == "full"
    assert r.gpu_candidates[0].name.startswith("h100")
    assert any("private pools" in f for f in findings_text(r))
    assert r.pytorch_hint == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"


def test_large_cache_that_would_not_fit_anyway_cads_4():
    r = explain_oom(CADS_4)
    free, unallocated, request = B("12.73", GiB), B("9.35", GiB), B("22.78", GiB)
    assert unallocated < request and free + unallocated < request  # 22.08 GiB < 22.78 GiB
    assert r.diagnosis == "full"
    assert any("even if all of it were usable" in f for f in findings_text(r))
    assert r.recommendations[0].kind == "shrink-large-tensor"  # 22.78 / 31.47 = 72% of the card
    assert r.recommendations[0].numbers == {"request": request, "total": B("31.47", GiB)}
    assert recommendation_text(r.recommendations[0])["title"] == "Shrink the one large tensor"


def test_multiline_message_from_pr_99699():
    r = explain_oom(PR_99699)
    assert r.complete and r.wording == "current-2.1"
    assert r.tried_to_allocate_bytes == 138 * MiB
    assert r.process_in_use_bytes == B("15.32", GiB)
    assert [(p.pid, p.this_process) for p in r.processes] == [(1246069, False), (None, True)]
    assert r.other_processes_bytes == B("15.90", GiB) - B("8.44", MiB) - B("15.32", GiB)
    assert r.reserved_unallocated_bytes == B("410.41", MiB)


def test_legacy_fragmentation_pytorch_35901():
    r = explain_oom(PT_35901)
    unallocated = B("12.53", GiB) - B("1.06", GiB)  # 11.47 GiB ≥ the 10.84 GiB request, 48% of the card
    assert r.reserved_unallocated_bytes == unallocated
    assert r.diagnosis == "fragmentation"
    assert r.exception is None


def test_legacy_other_processes_pytorch_40863():
    r = explain_oom(PT_40863)
    outside = B("11.17", GiB) - B("12.50", MiB) - B("530.00", MiB)
    assert r.non_pytorch_bytes == outside
    assert r.other_processes_bytes is None
    assert r.other_processes_min_bytes == outside - 2 * GiB  # less a CUDA context of at most 2 GiB
    assert r.diagnosis == "other-processes"
    assert r.recommendations[0].kind == "find-other-processes"
    assert r.recommendations[0].numbers == {"other_processes_min": outside - 2 * GiB}
    assert settings_text(r)[0].startswith("nvidia-smi --query-compute-apps")


def test_current_other_processes():
    # Synthetic, built from the template: another process holds most of the card.
    text = (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 1 has a total capacity of 23.65 GiB "
        "of which 1.25 GiB is free. Process 4242 has 18.50 GiB memory in use. Including non-PyTorch memory, this process "
        "has 3.80 GiB memory in use. Of the allocated memory 3.10 GiB is allocated by PyTorch, and 200.00 MiB is reserved "
        "by PyTorch but unallocated."
    )
    r = explain_oom(text)
    assert r.gpu_index == 1
    assert r.other_processes_bytes == B("23.65", GiB) - B("1.25", GiB) - B("3.80", GiB)
    assert r.diagnosis == "other-processes"
    assert r.verdict.case == "other-processes"
    assert headline(r).startswith("Other processes: they hold")


def test_other_ranks_contexts_keys_values_92():
    r = explain_oom(KEYS_VALUES_92)
    assert len([p for p in r.processes if not p.this_process]) == 4
    assert r.diagnosis == "full"
    assert any("torch.cuda.set_device(local_rank)" in f for f in findings_text(r))
    assert r.recommendations[-1].env == "PYTORCH_ALLOC_CONF"  # the name the message used
    assert settings_text(r)[-1] == "PYTORCH_ALLOC_CONF=expandable_segments:True"


def test_container_pid_kaito_976():
    r = explain_oom(KAITO_976)
    assert r.process_in_use_inferred and r.process_in_use_bytes == B("15.25", GiB)
    assert r.private_pools_bytes == 46 * MiB
    assert r.diagnosis == "full"  # 736.86 MiB unallocated ≥ the request but only 4.6% of the card
    assert r.gpu_candidates and r.gpu_candidates[0].name.startswith("v100")


def test_hip_and_memory_fraction_therock_2118():
    r = explain_oom(THEROCK_2118)
    assert (r.backend, r.allowed_bytes) == ("HIP", B("1.05", GiB))
    assert r.diagnosis == "memory-fraction"
    assert r.recommendations[0].kind == "raise-memory-fraction"
    assert "set_per_process_memory_fraction" in settings_text(r)[0]


def test_zero_bytes_free_fragmentation_mgfn_35():
    r = explain_oom(MGFN_35)
    assert r.free_bytes == 0 and r.figures["free"].tolerance_bytes == 0
    assert r.diagnosis == "fragmentation"  # 2.30 GiB ≥ 1.70 GiB and 38% of 6.00 GiB
    assert r.recommendations[1].settings == {"max_split_size_mb": 1024}  # 1.70 GiB = 1740.8 MiB -> 1024
    assert settings_text(r)[1] == "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:1024"
    assert r.gpu_candidates == []
    assert any("NVML was not available" in f for f in findings_text(r))


def test_oldest_wording_and_free_covering_the_request_pytorch_16417():
    r = explain_oom(PT_16417)
    assert (r.format, r.wording) == ("legacy", "legacy-cached")
    assert r.reserved_bytes == B("4.68", MiB)
    assert r.diagnosis == "free-covers-request"


def test_nvml_not_available_and_exceeds_card():
    # Synthetic: NVML's 2^64 − 1 bytes prints as 17179869184.00 GiB; a request larger than the card.
    text = (
        "CUDA out of memory. Tried to allocate 32.00 GiB. GPU 0 has a total capacity of 23.99 GiB of which 20.00 GiB is "
        "free. Including non-PyTorch memory, this process has 17179869184.00 GiB memory in use. Of the allocated memory "
        "2.50 GiB is allocated by PyTorch, and 20.00 MiB is reserved by PyTorch but unallocated."
    )
    r = explain_oom(text)
    assert r.processes[0].bytes is None and r.process_in_use_bytes is None
    assert r.diagnosis == "exceeds-card"
    assert any("NVML could not measure" in f for f in findings_text(r))


def test_message_cut_before_the_allocator_figures():
    r = explain_oom(
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 552.00 MiB.\n"
        "GPU 0 has a total capacty of 14.74 GiB of which 58.19 MiB is free."
    )
    assert not r.complete and r.allocated_bytes is None and r.reserved_bytes is None
    assert r.diagnosis == "full"
    assert any("stops before" in f for f in findings_text(r))


def test_last_message_in_a_log_with_prefixes():
    log = f"""step 10 loss 2.31
Traceback (most recent call last):
  File "train.py", line 88, in <module>
{LECTURE}
[rank0]: Traceback (most recent call last):
[rank0]:   File "train.py", line 90, in <module>
[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 18.84 GiB. GPU 2 has a total capacity of 39.38 GiB of which 276.56 MiB is free.
[rank0]: Including non-PyTorch memory, this process has 38.99 GiB memory in use. Of the allocated memory 35.59 GiB
[rank0]: is allocated by PyTorch, and 2.31 GiB is reserved by PyTorch but unallocated.
[rank0]:[W901 09:06:55.171030829 ProcessGroupNCCL.cpp:1250] Warning: ...
"""
    r = explain_oom(log)
    assert r.messages_found == 2
    assert (r.format, r.gpu_index, r.exception) == ("current", 2, "torch.OutOfMemoryError")
    assert r.allocated_bytes == B("35.59", GiB) and r.reserved_unallocated_bytes == B("2.31", GiB)


def test_colored_traceback():
    colored = "\x1b[0;31mOutOfMemoryError\x1b[0m: " + LECTURE.removeprefix("RuntimeError: ").replace(
        "15.78 GiB", "\x1b[1m15.78 GiB\x1b[0m"
    )
    r = explain_oom(colored)
    assert r.exception == "OutOfMemoryError" and r.total_capacity_bytes == B("15.78", GiB)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("hello world", "no PyTorch CUDA out-of-memory message found"),
        ("RuntimeError: CUDA error: out of memory", "CUDA runtime's own out-of-memory error"),
        ("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 552.00 MiB.", "not the figures"),
        ("   \n", "empty input"),
    ],
)
def test_unreadable_input(text, fragment):
    with pytest.raises(LLMBudgetError, match=fragment):
        explain_oom(text)


def test_suggestions_are_empty_until_the_fit_advisor_fills_them():
    r = explain_oom(LECTURE)
    assert r.suggestions == []
    s = FitSuggestion(
        change="QLoRA",
        settings={"precision": "nf4", "lora_rank": 16},
        required_bytes_per_gpu=10 * GiB,
        gpus=1,
        fits=True,
    )
    r2 = r.model_copy(update={"suggestions": [s]})
    dumped = json.loads(oom_json(r2))["suggestions"][0]
    assert dumped["settings"] == {"precision": "nf4", "lora_rank": 16}
    assert dumped["option"] == "--precision nf4 --lora-rank 16"  # the JSON key kept from when it was a flag string


def test_fit_suggestion_has_the_fields_of_fit_change():
    from llm_budget.fit import Change

    assert set(FitSuggestion.model_fields) == set(Change.model_fields)  # depends on the fit branch (Change.settings)


def test_json_keeps_the_sentences_beside_the_data():
    r = explain_oom(LERF_73)
    data = json.loads(oom_json(r))
    assert data["headline"] == headline(r) and data["headline"].startswith("Fragmentation: 4.84 GiB")
    assert data["findings"] == findings_text(r) and len(data["findings"]) == len(data["observations"])
    assert data["verdict"] == {
        "case": "fragmentation",
        "numbers": {"unallocated": B("4.84", GiB), "total": B("23.65", GiB), "request": 3 * GiB},
    }
    first = data["recommendations"][0]
    assert first["setting"] == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
    assert (first["kind"], first["env"], first["settings"]) == (
        "expandable-segments",
        "PYTORCH_CUDA_ALLOC_CONF",
        {"expandable_segments": True},
    )
    assert first["numbers"] == {"reserved_unallocated": B("4.84", GiB)}
    assert data["rounding_note"].startswith("Printed figures are rounded to 0.01")


def test_every_kind_has_its_sentence():
    from typing import get_args

    from llm_budget.oom import FindingKind, RecommendationKind, VerdictCase
    from llm_budget.oom.advise import SOURCES
    from llm_budget.render.oom_text import FINDINGS, HEADLINES, RECOMMENDATIONS

    assert set(HEADLINES) == set(get_args(VerdictCase))
    assert set(FINDINGS) == set(get_args(FindingKind))
    assert set(RECOMMENDATIONS) == set(get_args(RecommendationKind)) == set(SOURCES)


# -- the CLI ----------------------------------------------------------------------------------------------


def test_cli_lecture_table():
    r = run(LECTURE)
    assert r.exit_code == 0, r.output
    out = r.stdout
    for s in [
        "200.00 MiB",
        "15.78 GiB",
        "14.56 GiB",
        "38.44 MiB",
        "14.80 GiB",
        "(245.76 MiB)",
        f"{B('15.78', GiB):,}",
        f"{B('14.80', GiB) - B('14.56', GiB):,}",
        "V100",
        "Diagnosis",
        "The card is full",
        "Smaller micro-batch",
        "rounded to 0.01 of their unit",
    ]:
        assert s in out, s
    assert "█" in out and "request" in out


def test_cli_json_keys():
    r = run(LERF_73, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) >= {
        "format",
        "gpu_index",
        "tried_to_allocate_bytes",
        "total_capacity_bytes",
        "free_bytes",
        "allocated_bytes",
        "reserved_bytes",
        "reserved_unallocated_bytes",
        "non_pytorch_bytes",
        "process_in_use_bytes",
        "other_processes_bytes",
        "gpu_candidates",
        "diagnosis",
        "headline",
        "findings",
        "recommendations",
        "suggestions",
        "figures",
        "message",
    }
    assert data["format"] == "current" and data["diagnosis"] == "fragmentation"
    assert isinstance(data["total_capacity_bytes"], int) and data["suggestions"] == []
    assert set(data["recommendations"][0]) >= {"title", "setting", "why", "source"}  # keys are only ever added
    assert data["recommendations"][0]["setting"] == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
    assert data["figures"]["total_capacity"] == {
        "printed": "23.65 GiB",
        "bytes": B("23.65", GiB),
        "tolerance_bytes": B("0.005", GiB),
        "formula": None,
    }


def test_cli_reads_a_log_on_stdin():
    log = 'epoch 3\nTraceback (most recent call last):\n  File "x.py", line 1\n' + PR_99699 + "\n"
    r = run("--json", input=log)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tried_to_allocate_bytes"] == 138 * MiB
    r = run("-", "--json", input=LECTURE)
    assert r.exit_code == 0 and json.loads(r.stdout)["format"] == "legacy"


@pytest.mark.parametrize(
    "args, input, fragment",
    [
        (["garbage text"], None, "expected the legacy form"),
        ([], "no oom here\njust a log\n", "current form"),
        ([], "", "stdin was empty"),
        (["RuntimeError: CUDA error: out of memory"], None, "CUDA runtime's own"),
    ],
)
def test_cli_errors_are_one_line_exit_2(args, input, fragment):
    r = run(*args, input=input)
    assert r.exit_code == 2, r.output
    assert fragment in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_cli_explain_names_the_sources():
    r = run(LERF_73, "--explain")
    assert r.exit_code == 0, r.output
    assert "CUDACachingAllocator.cpp" in r.stdout and "pytorch.org/docs/stable/notes/cuda.html" in r.stdout


def test_oom_with_a_model_says_what_would_fit():
    from typer.testing import CliRunner

    from llm_budget.cli import app

    r = CliRunner().invoke(
        app,
        ["oom", LECTURE, "--preset", "gpt2-355m", "--batch", "8", "--seq", "1024", "--json"],
        env={"COLUMNS": "200"},
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    # the card PyTorch saw: 15.78 GiB total, of which the message leaves 14.80 reserved + 38.44 MiB free to this process
    assert data["model_need_bytes"] > data["model_usable_bytes"] and data["model_fits"] is False
    assert data["model_usable_bytes"] < 15.78 * 2**30
    assert any(s["fits"] for s in data["suggestions"])
    assert all(
        s["fits"] == (s["required_bytes_per_gpu"] <= data["model_usable_bytes"]) or s["option"].startswith("--gpu")
        for s in data["suggestions"]
    )


@pytest.mark.slow  # a fresh interpreter: a few seconds
def test_json_output_does_not_load_rich():
    # oom --json answers without rich (its import alone takes about half a second): the views import it lazily.
    import subprocess
    import sys

    code = (
        "import sys\nfrom llm_budget.oom import explain_oom\nfrom llm_budget.render.oom import oom_json\n"
        f"oom_json(explain_oom({LECTURE!r}))\nloaded = [m for m in sys.modules if m.split('.')[0] == 'rich']\n"
        "assert not loaded, loaded\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# -- issue 13: figures that contradict each other are refused, not explained ---------------------------------------------


def _lecture_form(total: str, allocated: str, free: str, reserved: str) -> str:
    return (
        f"RuntimeError: CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; {total} total capacity; {allocated} "
        f"already allocated; {free} free; {reserved} reserved in total by PyTorch)"
    )


@pytest.mark.parametrize(
    ("message", "says"),
    [
        # 800 GiB allocated on an 8 GiB card: 800 > 8.005 (8.00 GiB printed to 0.005 GiB).
        (_lecture_form("8.00 GiB", "800.00 GiB", "10.00 MiB", "801.00 GiB"), "allocated 800.00 GiB exceeds"),
        # reserved alone beyond the card
        (_lecture_form("8.00 GiB", "1.00 GiB", "10.00 MiB", "9.00 GiB"), "reserved 9.00 GiB exceeds"),
        # a 12-byte card
        (_lecture_form("12 bytes", "0 bytes", "0 bytes", "0 bytes"), "total capacity of 12 bytes"),
        # the current wording: allocated + reserved-but-unallocated = reserved, 6 + 4 GiB on an 8 GiB card
        (
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.00 GiB. GPU 0 has a total capacity of "
            "8.00 GiB of which 1.00 GiB is free. Including non-PyTorch memory, this process has 7.00 GiB memory in use. "
            "Of the allocated memory 6.00 GiB is allocated by PyTorch, and 4.00 GiB is reserved by PyTorch but "
            "unallocated.",
            "exceeds total capacity 8.00 GiB",
        ),
    ],
)
def test_contradictory_figures_are_one_line(message, says):
    with pytest.raises(LLMBudgetError, match="figures disagree"):
        explain_oom(message)
    r = run(input=message)
    assert r.exit_code == 2, r.output
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_figures_within_the_printed_rounding_are_accepted():
    # "8.01 GiB" reserved on an "8.00 GiB" card: 8.01 − 0.005 ≤ 8.00 + 0.005, within the printed rounding.
    r = explain_oom(_lecture_form("8.00 GiB", "7.99 GiB", "0 bytes", "8.01 GiB"))
    assert r.total_capacity_bytes == 8 * 2**30
