"""The one place where papers, datasheets and other sources are named.

Formula code cites a source as "key" or "key: section", e.g. "brown2020: Table 2.1";
`cite()` checks the key exists (tests/test_refs.py keeps every cited key resolvable),
and the CLI's --explain prints the title and URL beside the formula.
"""

from __future__ import annotations

from typing import NamedTuple


class Ref(NamedTuple):
    title: str
    url: str


REFERENCES: dict[str, Ref] = {
    "lecture": Ref("R. Fayyazi (RIT), Large Language Models, lecture slides", ""),
    "3b1b2024": Ref(
        "3Blue1Brown, Deep Learning ch. 5-7: the GPT-3 weight tally (175,181,291,520)",
        "https://www.3blue1brown.com/lessons/gpt",
    ),
    "vaswani2017": Ref("Vaswani et al. 2017, Attention Is All You Need", "https://arxiv.org/abs/1706.03762"),
    "radford2019": Ref(
        "Radford et al. 2019, Language Models are Unsupervised Multitask Learners (GPT-2)",
        "https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf",
    ),
    "brown2020": Ref(
        "Brown et al. 2020, Language Models are Few-Shot Learners (GPT-3)", "https://arxiv.org/abs/2005.14165"
    ),
    "shazeer2019": Ref(
        "Shazeer 2019, Fast Transformer Decoding: One Write-Head is All You Need (multi-query attention)",
        "https://arxiv.org/abs/1911.02150",
    ),
    "ainslie2023": Ref(
        "Ainslie et al. 2023, GQA: Training Generalized Multi-Query Transformer Models",
        "https://arxiv.org/abs/2305.13245",
    ),
    "shazeer2020": Ref(
        "Shazeer 2020, GLU Variants Improve Transformer (SwiGLU, GeGLU)", "https://arxiv.org/abs/2002.05202"
    ),
    "shazeer2017": Ref(
        "Shazeer et al. 2017, Outrageously Large Neural Networks: the Sparsely-Gated Mixture-of-Experts Layer",
        "https://arxiv.org/abs/1701.06538",
    ),
    "ba2016": Ref("Ba et al. 2016, Layer Normalization", "https://arxiv.org/abs/1607.06450"),
    "zhang2019": Ref("Zhang & Sennrich 2019, Root Mean Square Layer Normalization", "https://arxiv.org/abs/1910.07467"),
    "dehghani2023": Ref(
        "Dehghani et al. 2023, Scaling Vision Transformers to 22B Parameters (QK-norm)",
        "https://arxiv.org/abs/2302.05442",
    ),
    "su2021": Ref("Su et al. 2021, RoFormer: Rotary Position Embedding", "https://arxiv.org/abs/2104.09864"),
    "press2022": Ref("Press et al. 2022, Train Short, Test Long: ALiBi", "https://arxiv.org/abs/2108.12409"),
    "press2017": Ref(
        "Press & Wolf 2017, Using the Output Embedding to Improve Language Models (weight tying)",
        "https://arxiv.org/abs/1608.05859",
    ),
    "touvron2023a": Ref(
        "Touvron et al. 2023, LLaMA: Open and Efficient Foundation Language Models", "https://arxiv.org/abs/2302.13971"
    ),
    "touvron2023b": Ref(
        "Touvron et al. 2023, Llama 2: Open Foundation and Fine-Tuned Chat Models", "https://arxiv.org/abs/2307.09288"
    ),
    "roziere2023": Ref(
        "Rozière et al. 2023, Code Llama: Open Foundation Models for Code", "https://arxiv.org/abs/2308.12950"
    ),
    "gemma2024": Ref(
        "Gemma Team 2024, Gemma: Open Models Based on Gemini Research and Technology (Table 2)",
        "https://arxiv.org/abs/2403.08295",
    ),
    "jiang2023": Ref("Jiang et al. 2023, Mistral 7B", "https://arxiv.org/abs/2310.06825"),
    "jiang2024": Ref("Jiang et al. 2024, Mixtral of Experts", "https://arxiv.org/abs/2401.04088"),
    "ieee754": Ref(
        "IEEE 754-2008, Standard for Floating-Point Arithmetic (binary32, binary16)",
        "https://doi.org/10.1109/IEEESTD.2008.4610935",
    ),
    "bfloat16": Ref(
        "Google Cloud, BFloat16: the secret to high performance on Cloud TPUs",
        "https://cloud.google.com/blog/products/ai-machine-learning/bfloat16-the-secret-to-high-performance-on-cloud-tpus",
    ),
    "micikevicius2022": Ref(
        "Micikevicius et al. 2022, FP8 Formats for Deep Learning (E4M3, E5M2)", "https://arxiv.org/abs/2209.05433"
    ),
    "jacob2018": Ref(
        "Jacob et al. 2018, Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference",
        "https://arxiv.org/abs/1712.05877",
    ),
    "ocp-fp8": Ref(
        "Open Compute Project, OCP 8-bit Floating Point Specification (OFP8), Rev. 1.0, 2023 (saturating and non-saturating conversion)",
        "https://www.opencompute.org/documents/ocp-8-bit-floating-point-specification-ofp8-revision-1-0-2023-12-01-pdf-1",
    ),
    "bitsandbytes": Ref(
        "bitsandbytes: the NF4 level table and block-wise quantization as shipped (bitsandbytes/functional.py)",
        "https://github.com/bitsandbytes-foundation/bitsandbytes",
    ),
    "dettmers2022a": Ref(
        "Dettmers et al. 2022, LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale (absmax quantization)",
        "https://arxiv.org/abs/2208.07339",
    ),
    "dettmers2022b": Ref(
        "Dettmers et al. 2022, 8-bit Optimizers via Block-wise Quantization", "https://arxiv.org/abs/2110.02861"
    ),
    "dettmers2023": Ref(
        "Dettmers et al. 2023, QLoRA: Efficient Finetuning of Quantized LLMs (NF4, double quantization)",
        "https://arxiv.org/abs/2305.14314",
    ),
    # -- compute and scaling ----------------------------------------------------------------------
    "kaplan2020": Ref(
        "Kaplan et al. 2020, Scaling Laws for Neural Language Models (C ≈ 6N per token, §2.1, Table 1)",
        "https://arxiv.org/abs/2001.08361",
    ),
    "hoffmann2022": Ref(
        "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (Chinchilla)",
        "https://arxiv.org/abs/2203.15556",
    ),
    "besiroglu2024": Ref(
        "Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt", "https://arxiv.org/abs/2404.10102"
    ),
    "narayanan2021": Ref(
        "Narayanan et al. 2021, Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM",
        "https://arxiv.org/abs/2104.04473",
    ),
    "chowdhery2022": Ref(
        "Chowdhery et al. 2022, PaLM: Scaling Language Modeling with Pathways (MFU, Appendix B)",
        "https://arxiv.org/abs/2204.02311",
    ),
    "touvron2023a-hours": Ref(
        "Touvron et al. 2023, LLaMA, Table 15 (GPU-hours on A100-80GB)", "https://arxiv.org/abs/2302.13971"
    ),
    "llama2-card": Ref(
        "Meta, Llama 2 model card (GPU-hours on A100-80GB)",
        "https://github.com/meta-llama/llama/blob/main/MODEL_CARD.md",
    ),
    "llama3-card": Ref(
        "Meta, Llama 3 model card (GPU-hours on H100-80GB)",
        "https://github.com/meta-llama/llama3/blob/main/MODEL_CARD.md",
    ),
    "pope2022": Ref(
        "Pope et al. 2022, Efficiently Scaling Transformer Inference (decode is memory-bandwidth bound)",
        "https://arxiv.org/abs/2211.05102",
    ),
    "kwon2023": Ref(
        "Kwon et al. 2023, Efficient Memory Management for LLM Serving with PagedAttention (vLLM; KV cache per token)",
        "https://arxiv.org/abs/2309.06180",
    ),
    # -- training memory ---------------------------------------------------------------------------
    "rajbhandari2020": Ref(
        "Rajbhandari et al. 2020, ZeRO: Memory Optimizations Toward Training Trillion Parameter Models (§3.1, 16 bytes/param; stages)",
        "https://arxiv.org/abs/1910.02054",
    ),
    "micikevicius2018": Ref(
        "Micikevicius et al. 2018, Mixed Precision Training (FP32 master weights, loss scaling)",
        "https://arxiv.org/abs/1710.03740",
    ),
    "korthikanti2022": Ref(
        "Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models (Table 2)",
        "https://arxiv.org/abs/2205.05198",
    ),
    "shoeybi2019": Ref(
        "Shoeybi et al. 2019, Megatron-LM: Training Multi-Billion Parameter Language Models Using Model Parallelism (tensor parallelism)",
        "https://arxiv.org/abs/1909.08053",
    ),
    "huang2019": Ref(
        "Huang et al. 2019, GPipe: Efficient Training of Giant Neural Networks using Pipeline Parallelism",
        "https://arxiv.org/abs/1811.06965",
    ),
    "zhao2023": Ref(
        "Zhao et al. 2023, PyTorch FSDP: Experiences on Scaling Fully Sharded Data Parallel",
        "https://arxiv.org/abs/2304.11277",
    ),
    "chen2016": Ref(
        "Chen et al. 2016, Training Deep Nets with Sublinear Memory Cost (activation checkpointing)",
        "https://arxiv.org/abs/1604.06174",
    ),
    "dao2022": Ref(
        "Dao et al. 2022, FlashAttention: Fast and Memory-Efficient Exact Attention (no s² activations; needs sm80+)",
        "https://arxiv.org/abs/2205.14135",
    ),
    "kingma2015": Ref(
        "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization (two moment estimates)",
        "https://arxiv.org/abs/1412.6980",
    ),
    "loshchilov2019": Ref(
        "Loshchilov & Hutter 2019, Decoupled Weight Decay Regularization (AdamW)", "https://arxiv.org/abs/1711.05101"
    ),
    "shazeer2018": Ref(
        "Shazeer & Stern 2018, Adafactor: Adaptive Learning Rates with Sublinear Memory Cost (factored second moment)",
        "https://arxiv.org/abs/1804.04235",
    ),
    "chen2023": Ref(
        "Chen et al. 2023, Symbolic Discovery of Optimization Algorithms (Lion: one momentum state)",
        "https://arxiv.org/abs/2302.06675",
    ),
    "hu2021": Ref(
        "Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models", "https://arxiv.org/abs/2106.09685"
    ),
    "hf-memory-anatomy": Ref(
        "Hugging Face transformers docs, Anatomy of Model's Memory (18 bytes/param mixed precision)",
        "https://huggingface.co/docs/transformers/v4.20.1/en/perf_train_gpu_one#anatomy-of-models-memory",
    ),
    "pytorch-cuda-notes": Ref(
        "PyTorch docs, CUDA semantics: memory management and PYTORCH_CUDA_ALLOC_CONF",
        "https://pytorch.org/docs/stable/notes/cuda.html",
    ),
    "pytorch-ddp": Ref(
        "PyTorch docs, DistributedDataParallel (gradient buckets; gradient_as_bucket_view defaults to False)",
        "https://pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html",
    ),
    "pytorch-amp": Ref(
        "PyTorch docs, Automatic Mixed Precision (torch.autocast: op lists, weight-cast cache)",
        "https://pytorch.org/docs/stable/amp.html",
    ),
    "deepseek2024v2": Ref(
        "DeepSeek-AI 2024, DeepSeek-V2: A Strong, Economical, and Efficient Mixture-of-Experts Language Model "
        "(§2.1 multi-head latent attention)",
        "https://arxiv.org/abs/2405.04434",
    ),
    "deepseek2024v3": Ref(
        "DeepSeek-AI 2024, DeepSeek-V3 Technical Report (§2.1.2 DeepSeekMoE with shared experts; §2.2 MTP)",
        "https://arxiv.org/abs/2412.19437",
    ),
    "litgpt": Ref(
        "Lightning-AI litgpt (litgpt/utils.py chunked_cross_entropy; finetune/lora.py), read at 01fe959c",
        "https://github.com/Lightning-AI/litgpt",
    ),
    "torchtune": Ref(
        "pytorch/torchtune (torchtune/modules/loss/ce_chunked_output_loss.py, CEWithChunkedOutputLoss), read at 0b3e04ad",
        "https://github.com/pytorch/torchtune",
    ),
    "liger": Ref(
        "linkedin Liger-Kernel (src/liger_kernel/ops/fused_linear_cross_entropy.py)",
        "https://github.com/linkedin/Liger-Kernel",
    ),
    "hf-transformers": Ref(
        "Hugging Face transformers: the models' reference implementations and config.json keys",
        "https://github.com/huggingface/transformers",
    ),
}


def cite(source: str) -> str:
    """Return `source` unchanged after checking that its key ("key" or "key: detail") is registered."""
    key = source.split(":", 1)[0].strip()
    if key not in REFERENCES:
        raise KeyError(f"unregistered reference {key!r} (add it to llm_budget/refs.py)")
    return source


def describe(source: str) -> str:
    """'key: detail' -> 'Title, detail <url>' for --explain."""
    key, _, detail = source.partition(":")
    ref = REFERENCES[key.strip()]
    detail = detail.strip()
    url = f" <{ref.url}>" if ref.url else ""
    return f"{ref.title}{', ' + detail if detail else ''}{url}"


def short(source: str) -> str:
    """'rajbhandari2020: §3.1' -> 'Rajbhandari et al. 2020, §3.1' (author and year, for table cells)."""
    key, _, detail = source.partition(":")
    title = REFERENCES[key.strip()].title.split(",")[0]
    detail = detail.strip()
    return f"{title}{', ' + detail if detail else ''}"


def listing(sources: list[str]) -> list[str]:
    """Each distinct reference once, 'Title <url>', in order of first use."""
    seen: dict[str, None] = {}
    for s in sources:
        if s:
            seen.setdefault(s.partition(":")[0].strip(), None)
    out = []
    for key in seen:
        ref = REFERENCES[key]
        out.append(f"{ref.title}" + (f" <{ref.url}>" if ref.url else ""))
    return out
