"""How much compute: FLOPs per token, training time and cost, decode bounds, scaling laws.

    model_size.py  N (active parameters) and the attention shape the formulas need
    flops.py       the one FLOPs-per-token formula (6·N + 12·L·H·Q·T) and training FLOPs
    peaks.py       a GPU's dense peak at a precision, storage width, utilization
    training.py    time, GPU-hours, cost, implied MFU of one run
    inference.py   prefill FLOPs and the decode bounds
    estimate.py    `llm-budget compute`: the pieces put together
    laws.py        Chinchilla loss laws and compute-optimal (N, D)
    budget.py      a FLOP budget from FLOPs, GPUs × days or dollars
    plan.py        `llm-budget scale`: optimum, iso-FLOP curve, presets near it

The package's public names; other packages import them from here, never from its modules."""

from llm_budget.compute.budget import Budget, make_budget
from llm_budget.compute.estimate import ComputeEstimate, Speedup, estimate_compute
from llm_budget.compute.flops import (
    SRC_6ND,
    SRC_ATTENTION,
    SRC_RECOMPUTE,
    FlopTerm,
    TrainingFlops,
    attention_span,
    forward_flops_per_token,
    training_flops,
    training_flops_per_token,
)
from llm_budget.compute.frozen import Frozen
from llm_budget.compute.inference import (
    DEFAULT_BATCH_SIZES,
    SRC_DECODE,
    SRC_KV,
    SRC_PREFILL,
    DecodeBound,
    GpuInference,
    InferenceEstimate,
    decode_bound,
    inference_estimate,
    kv_bytes_per_token,
)
from llm_budget.compute.laws import (
    EPOCH,
    FITS,
    HOFFMANN,
    LAWS,
    SRC_C6ND,
    SRC_EQ4,
    SRC_TABLE3,
    TOKENS_PER_PARAM,
    FitName,
    LossLaw,
    Optimum,
    flops_for_params,
    law_for,
    loss,
    optimum,
    optimum_law,
    optimum_rule,
    tokens_for,
)
from llm_budget.compute.model_size import ModelSize, default_seq_len, model_size
from llm_budget.compute.peaks import (
    COMPUTE_PRECISIONS,
    PeakChoice,
    check_utilization,
    parse_compute_precision,
    resolve_peak,
    storage_bits,
)
from llm_budget.compute.plan import (
    Candidate,
    FixedSize,
    IsoFlopPoint,
    NearbyModel,
    ScalePlan,
    fixed_size,
    iso_flop_curve,
    nearby_models,
    plan_scale,
    preset_candidates,
)
from llm_budget.compute.training import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    SRC_MFU,
    MfuFrom,
    TrainingRun,
    hourly_price,
    training_run,
)

__all__ = [
    "attention_span",
    "Budget",
    "Candidate",
    "check_utilization",
    "COMPUTE_PRECISIONS",
    "ComputeEstimate",
    "decode_bound",
    "DecodeBound",
    "DEFAULT_BATCH_SIZES",
    "default_seq_len",
    "EPOCH",
    "estimate_compute",
    "FitName",
    "FITS",
    "fixed_size",
    "FixedSize",
    "flops_for_params",
    "FlopTerm",
    "forward_flops_per_token",
    "Frozen",
    "GpuInference",
    "HOFFMANN",
    "hourly_price",
    "inference_estimate",
    "InferenceEstimate",
    "iso_flop_curve",
    "IsoFlopPoint",
    "kv_bytes_per_token",
    "law_for",
    "LAWS",
    "loss",
    "LossLaw",
    "make_budget",
    "MfuFrom",
    "model_size",
    "ModelSize",
    "nearby_models",
    "NearbyModel",
    "optimum",
    "Optimum",
    "optimum_law",
    "optimum_rule",
    "parse_compute_precision",
    "PeakChoice",
    "plan_scale",
    "preset_candidates",
    "resolve_peak",
    "ScalePlan",
    "SECONDS_PER_DAY",
    "SECONDS_PER_HOUR",
    "Speedup",
    "SRC_6ND",
    "SRC_ATTENTION",
    "SRC_C6ND",
    "SRC_DECODE",
    "SRC_EQ4",
    "SRC_KV",
    "SRC_MFU",
    "SRC_PREFILL",
    "SRC_RECOMPUTE",
    "SRC_TABLE3",
    "storage_bits",
    "tokens_for",
    "TOKENS_PER_PARAM",
    "training_flops",
    "training_flops_per_token",
    "training_run",
    "TrainingFlops",
    "TrainingRun",
]
