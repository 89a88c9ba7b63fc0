"""Defaults every command shares, each in one place with the reason for its value."""

from __future__ import annotations

from typing import Optional

DEFAULT_SEQ = 2048
"""Sequence length (training) or context (serving) when neither the option nor the model's context
window says otherwise: GPT-3's and LLaMA's training context (Brown et al. 2020 §2.1; Touvron et al. 2023 §2)."""

DEFAULT_MFU = 0.40
"""Model FLOPs utilization when none is given: published large runs cluster at 35-50%
(PaLM 46.2%, Chowdhery et al. 2022 Table 3; LLaMA 43-51%; Llama 2 38-46%)."""


def sequence_length(given: Optional[int], context_window: Optional[int]) -> int:
    """The option when given, else the model's context window, else DEFAULT_SEQ."""
    return given or context_window or DEFAULT_SEQ
