"""Configs that are not a native family's own: names of another family's architecture, and multimodal
configs whose language model sits in `text_config`.

ALIASES: model_types whose modules are exactly another native family's (Kimi K2's config.json says
`kimi_k2` with architectures DeepseekV3ForCausalLM). TEXT_MODELS: multimodal model_types, each with the
text_config model_type its transformers config class falls back to (`sub_configs_defaults` in
transformers/models/<type>/configuration_<type>.py) and its default tie_word_embeddings: transformers v5
ties the unembedding by the outer config's flag (modeling_utils.py, tie_weights), so it is read there.
Only the language model is counted; the vision tower and the multimodal projector are left out, and the
spec's notes say so.
"""

from __future__ import annotations

from typing import NamedTuple

from llm_budget.errors import SpecError
from llm_budget.model.hf.keys import Config, section

ALIASES: dict[str, str] = {
    "kimi_k2": "deepseek_v3",  # moonshotai/Kimi-K2-*: DeepseekV3ForCausalLM (configuration_deepseek.DeepseekV3Config)
    "qwen2_5_vl_text": "qwen2",  # Qwen2_5_VLTextModel: Qwen2's q, k, v (bias), o, SwiGLU MLP; mRoPE has no parameters
}


class TextModel(NamedTuple):
    text_type: str  # text_config's model_type when it names none
    tied_default: bool  # the outer config class's tie_word_embeddings default
    vision: str  # what is left out, in the modeling file's module names


TEXT_MODELS: dict[str, TextModel] = {
    "gemma3": TextModel(
        "gemma3_text", True, "SigLIP vision tower (vision_tower) and projector (multi_modal_projector)"
    ),
    "llama4": TextModel("llama4_text", False, "vision model (vision_model) and projector (multi_modal_projector)"),
    "mistral3": TextModel("mistral", True, "Pixtral vision tower (vision_tower) and projector (multi_modal_projector)"),
    "qwen2_5_vl": TextModel("qwen2_5_vl_text", False, "vision transformer (visual) and its patch merger"),
}


def language_model(cfg: Config) -> tuple[Config, str] | None:
    """The text config of a multimodal config.json, with the note naming what is left out; None if not multimodal.

    Qwen2.5-VL configs saved before transformers v5 keep the text keys at the top level (no text_config);
    the BC rule of Qwen2_5_VLConfig (tied when the text config says so) is followed.
    """
    outer = cfg.get("model_type")
    if not isinstance(outer, str) or outer not in TEXT_MODELS:
        return None
    spec = TEXT_MODELS[outer]
    text = section(cfg, "text_config") or {k: v for k, v in cfg.items() if k not in ("vision_config", "model_type")}
    if not isinstance(text.get("model_type", spec.text_type), str):
        raise SpecError("config.json: text_config.model_type must be a string")
    text = {**text, "model_type": text.get("model_type") or spec.text_type}
    tied = cfg.get("tie_word_embeddings")
    if tied is None:
        tied = spec.tied_default
    if outer == "qwen2_5_vl" and not tied and text.get("tie_word_embeddings"):
        tied = True
    text["tie_word_embeddings"] = bool(tied)
    for key in ("_name_or_path",):
        if key in cfg and key not in text:
            text[key] = cfg[key]
    note = f"language model of a {outer} config only: the {spec.vision} are left out of every count"
    return text, note
