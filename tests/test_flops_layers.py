"""FLOPs and decode bounds per layer kind: sliding and chunked layers attend to at most their window or chunk,
MLA's core multiplies keys of qk_head_dim and values of v_head_dim, shared experts run for every token.
Expected numbers are arithmetic written here."""

from __future__ import annotations

from llm_budget.compute.flops import attention_span, training_flops
from llm_budget.compute.inference import inference_estimate, kv_bytes_per_sequence, kv_bytes_per_token
from llm_budget.compute.model_size import model_size
from llm_budget.model.counter import count_params
from llm_budget.model.spec import MLA, ModelSpec

S, F, C = "sliding_attention", "full_attention", "chunked_attention"
GEMMA3_27B = ModelSpec(
    d_embed=5376, n_heads=32, n_layers=62, n_vocab=262_208, d_mlp=21_504, n_kv_heads=16, d_head=128,
    sliding_window=1024, layer_pattern=(S,) * 5 + (F,), mlp="gated",
)  # fmt: skip
DEEPSEEK_V3 = ModelSpec(
    d_embed=7168, n_heads=128, n_layers=61, n_vocab=129_280, d_mlp=18_432, mlp="gated",
    mla=MLA(q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128),
    n_experts=256, n_active_experts=8, d_expert=2048, d_shared_mlp=2048, first_dense_layers=3,
)  # fmt: skip


def test_sliding_layers_attend_to_their_window_full_layers_to_the_sequence():
    f = training_flops(model_size(GEMMA3_27B), 1000, seq_len=32_768)
    # 52 sliding layers see 1,024 positions, 10 full layers 32,768: 12·H·Q per layer-position
    assert f.attention_flops_per_token == 12 * 32 * 128 * (52 * 1024 + 10 * 32_768)
    assert f.attention_span == 32_768  # the longest span a layer has


def test_chunked_layers_attend_to_their_chunk():
    spec = ModelSpec(
        d_embed=5120, n_heads=40, n_layers=48, n_vocab=202_048, d_mlp=8192, n_kv_heads=8, d_head=128,
        attention_chunk=8192, layer_pattern=(C, C, C, F),
    )  # fmt: skip
    f = training_flops(model_size(spec), 1, seq_len=65_536)
    assert f.attention_flops_per_token == 12 * 40 * 128 * (36 * 8192 + 12 * 65_536)


def test_mla_attention_uses_qk_and_v_head_sizes():
    f = training_flops(model_size(DEEPSEEK_V3), 1, seq_len=4096)
    # QKᵀ: 128 heads × (128 + 64) per position; A·V: 128 heads × 128; 2 FLOPs each, ×3 for training
    assert f.attention_flops_per_token == 6 * 61 * 128 * (192 + 128) * 4096


def test_shared_experts_are_active_for_every_token():
    size = model_size(DEEPSEEK_V3)
    count = count_params(DEEPSEEK_V3)
    routed = count.get("Experts")
    # 58 MoE layers × 256 experts × 3 matrices of 7168 × 2048; a token uses 8 of the 256
    assert routed == 58 * 256 * 3 * 7168 * 2048
    assert size.params == count.total - routed + routed // 256 * 8
    assert count.get("Shared experts") == 58 * 3 * 7168 * 2048  # counted whole in the active N


def test_decode_reads_the_cache_per_layer_kind():
    size = model_size(GEMMA3_27B)
    per_position_layer = 2 * 16 * 128 * 2  # K and V, 16 KV heads of 128, bf16
    assert kv_bytes_per_token(size, bits=16) == 62 * per_position_layer
    assert kv_bytes_per_sequence(size, context_tokens=32_768, bits=16) == per_position_layer * (52 * 1024 + 10 * 32_768)
    est = inference_estimate(size, [], context_tokens=32_768, precision="bf16")
    assert est.kv_bytes_per_sequence == kv_bytes_per_sequence(size, context_tokens=32_768, bits=16)
    assert est.kv_cache is not None and [r.kind for r in est.kv_cache.rows] == [F, S]


def test_mla_decode_reads_the_latent_or_every_head():
    size = model_size(DEEPSEEK_V3)
    assert kv_bytes_per_token(size, bits=16) == 61 * (512 + 64) * 2  # 70,272 B: DeepSeek-V2 §2.1.2's d_c + d_h^R
    assert kv_bytes_per_token(size, bits=16, layout="per_head") == 61 * 128 * (192 + 128) * 2
    assert attention_span(size, 4096) == 4096
