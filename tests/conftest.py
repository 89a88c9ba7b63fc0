from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
HF_CONFIGS = FIXTURES / "hf"


@pytest.fixture
def hf_dir() -> Path:
    return HF_CONFIGS


def transformers_param_count(config_path: Path) -> int:
    """Parameters of the real Hugging Face model for a config.json, built on the meta device (no memory).

    This is our independent oracle: transformers' own modeling code, not ours.
    """
    import json
    import warnings

    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    cfg = json.loads(config_path.read_text())
    model_type = cfg.pop("model_type")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = transformers.AutoConfig.for_model(model_type, **cfg)
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch, tmp_path_factory):
    """No test reaches the Hugging Face Hub or reads the user's cache (`--model org/name` resolves offline)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-hub-cache")))
