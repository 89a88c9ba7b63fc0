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

from llm_budget.compute.frozen import Frozen
from llm_budget.compute.model_size import default_seq_len, model_size, ModelSize
from llm_budget.compute.flops import (
    attention_span,
    FlopTerm,
    forward_flops_per_token,
    SRC_6ND,
    SRC_ATTENTION,
    SRC_RECOMPUTE,
    training_flops,
    training_flops_per_token,
    TrainingFlops,
)
from llm_budget.compute.peaks import (
    check_utilization,
    COMPUTE_PRECISIONS,
    parse_compute_precision,
    PeakChoice,
    resolve_peak,
    storage_bits,
)
from llm_budget.compute.training import (
    hourly_price,
    MfuFrom,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    SRC_MFU,
    training_run,
    TrainingRun,
)
from llm_budget.compute.inference import (
    decode_bound,
    DecodeBound,
    DEFAULT_BATCH_SIZES,
    GpuInference,
    inference_estimate,
    InferenceEstimate,
    kv_bytes_per_token,
    SRC_DECODE,
    SRC_KV,
    SRC_PREFILL,
)
from llm_budget.compute.estimate import ComputeEstimate, estimate_compute, Speedup
from llm_budget.compute.laws import (
    EPOCH,
    FitName,
    FITS,
    flops_for_params,
    HOFFMANN,
    law_for,
    LAWS,
    loss,
    LossLaw,
    optimum,
    Optimum,
    optimum_law,
    optimum_rule,
    SRC_C6ND,
    SRC_EQ4,
    SRC_TABLE3,
    tokens_for,
    TOKENS_PER_PARAM,
)
from llm_budget.compute.budget import Budget, make_budget
from llm_budget.compute.plan import (
    Candidate,
    fixed_size,
    FixedSize,
    iso_flop_curve,
    IsoFlopPoint,
    nearby_models,
    NearbyModel,
    plan_scale,
    preset_candidates,
    ScalePlan,
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
