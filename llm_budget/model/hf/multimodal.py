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
    "qwen2_vl_text": "qwen2",  # Qwen2VLTextModel: Qwen2's q, k, v (bias), o, SwiGLU MLP; mRoPE has no parameters
    "qwen2_5_vl_text": "qwen2",  # Qwen2_5_VLTextModel: the same modules
}


class TextModel(NamedTuple):
    text_type: str  # text_config's model_type when it names none
    tied_default: bool  # the outer config class's tie_word_embeddings default
    text_may_tie: bool  # the outer class's BC rule: tied also when the text config is (llava, Qwen2-VL, Qwen2.5-VL)
    vision: str  # what is left out, in the modeling file's module names


TEXT_MODELS: dict[str, TextModel] = {
    "gemma3": TextModel("gemma3_text", True, False, "SigLIP vision tower (vision_tower) and projector"),
    "llama4": TextModel("llama4_text", False, False, "vision model (vision_model) and projector"),
    "mistral3": TextModel("mistral", True, False, "Pixtral vision tower (vision_tower) and projector"),
    "llava": TextModel("llama", False, True, "CLIP vision tower (vision_tower) and projector"),
    "llava_next": TextModel("llama", False, False, "CLIP vision tower (vision_tower), projector and image_newline"),
    "qwen2_vl": TextModel("qwen2_vl_text", False, True, "vision transformer (visual) and its patch merger"),
    "qwen2_5_vl": TextModel("qwen2_5_vl_text", False, True, "vision transformer (visual) and its patch merger"),
}

FLAT = {"qwen2_vl", "qwen2_5_vl"}  # saved before transformers v5 with the text keys at the top level


def language_model(cfg: Config) -> tuple[Config, str] | None:
    """The text config of a multimodal config.json, with the note naming what is left out; None if not multimodal.

    Qwen2-VL and Qwen2.5-VL configs saved before transformers v5 keep the text keys at the top level (no
    text_config). Tied embeddings follow the outer config's flag (its class's default when absent), or with the
    BC rule of llava and Qwen2(.5)-VL either flag (LlavaConfig.__post_init__, Qwen2_5_VLConfig.__post_init__).
    """
    outer = cfg.get("model_type")
    if not isinstance(outer, str) or outer not in TEXT_MODELS:
        return None
    spec = TEXT_MODELS[outer]
    text = section(cfg, "text_config")
    if not text and outer not in FLAT:
        raise SpecError(f"config.json: model_type '{outer}' without a text_config (its language model's sizes)")
    text = text or {k: v for k, v in cfg.items() if k not in ("vision_config", "model_type")}
    if not isinstance(text.get("model_type", spec.text_type), str):
        raise SpecError("config.json: text_config.model_type must be a string")
    text = {**text, "model_type": text.get("model_type") or spec.text_type}
    outer_tied = cfg.get("tie_word_embeddings")
    if outer_tied is None:
        outer_tied = spec.tied_default
    if not spec.text_may_tie:
        text["tie_word_embeddings"] = bool(outer_tied)
    elif outer_tied:  # else the text config's own flag, or its family's default, decides
        text["tie_word_embeddings"] = True
    for key in ("_name_or_path",):
        if key in cfg and key not in text:
            text[key] = cfg[key]
    note = f"language model of a {outer} config only: the {spec.vision} are left out of every count"
    return text, note
