"""What the card shows beside the allocated peak (issue 12, part 5): the caching allocator's reserved segments
and nvidia-smi's figure. Expected numbers are the allocator's rules (PyTorch c10/cuda/CUDACachingAllocator.cpp:
kMinBlockSize 512, kSmallSize 1 MiB, kSmallBuffer 2 MiB, kLargeBuffer 20 MiB, kMinLargeAlloc 10 MiB,
kRoundLarge 2 MiB) applied by hand."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.memory.allocator import reserved_for

MiB = 2**20


def test_small_requests_share_2_mib_segments():
    # three 512 KiB tensors: 1.5 MiB, one 2 MiB segment; five: 2.5 MiB, two segments
    assert reserved_for([(512 * 1024, 3)]) == 2 * MiB
    assert reserved_for([(512 * 1024, 5)]) == 4 * MiB


def test_medium_requests_share_20_mib_segments():
    # 1-10 MiB requests are carved from 20 MiB segments: 3 × 5 MiB = 15 MiB -> 20; 5 × 5 MiB = 25 -> 40
    assert reserved_for([(5 * MiB, 3)]) == 20 * MiB
    assert reserved_for([(5 * MiB, 5)]) == 40 * MiB


def test_large_requests_get_their_own_segment_rounded_to_2_mib():
    # 11 MiB + 1 byte -> 512-byte block 11 MiB + 512 -> segment 12 MiB; 64 MiB exactly -> 64 MiB
    assert reserved_for([(11 * MiB + 1, 1)]) == 12 * MiB
    assert reserved_for([(64 * MiB, 2)]) == 128 * MiB
    assert reserved_for([(11 * MiB + 1, 1), (64 * MiB, 2), (512 * 1024, 3), (5 * MiB, 3)]) == (12 + 128 + 2 + 20) * MiB


def _memory(*args: str) -> dict:
    out = CliRunner().invoke(app, ["memory", "--preset", "gpt2-124m", *args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def test_report_carries_reserved_and_nvidia_smi_with_their_assumptions():
    for data in (_memory("--mode", "train", "--seq", "256"), _memory("--mode", "infer", "--context", "1024")):
        card = data["card"]
        assert card["allocated_bytes"] == data["total_bytes"]
        assert card["reserved_bytes"] >= card["allocated_bytes"]
        # what nvidia-smi adds is the CUDA context alone: 426 MiB (unslothai/unsloth-zoo#1053)
        assert card["cuda_context_bytes"] == 426 * MiB
        assert card["nvidia_smi_bytes"] == card["reserved_bytes"] + 426 * MiB
        assert "No fragmentation is assumed" in card["reserved_assumption"]
        assert "lazy module loading" in card["nvidia_smi_assumption"]


def test_cpu_has_no_card():
    assert _memory("--mode", "train", "--seq", "64", "--device", "cpu")["card"] is None


def test_reserved_rounds_the_training_tensors():
    """GPT-2 at 256 tokens: its 50257 × 768 embedding in FP32 (154,389,504 bytes) is a large request, alone in a
    segment rounded up to 2 MiB (147.24 MiB -> 148 MiB): reserved exceeds allocated by at least that."""
    card = _memory("--mode", "train", "--seq", "256")["card"]
    assert card["reserved_bytes"] - card["allocated_bytes"] >= 74 * 2 * MiB - 50257 * 768 * 4
