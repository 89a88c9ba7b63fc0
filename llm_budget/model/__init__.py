"""What a model is: the validated ModelSpec, its one parameter inventory, the exact counter, presets and config readers.

    spec.py       ModelSpec (the lecture's notation) and ClosedModel
    inventory.py  every parameter tensor by shape, each naming the counter row it belongs to
    counter.py    count_params(spec) -> ParamCount: the inventory summed by row, next to each row's formula
    presets.py    shipped presets and user spec files (the only module that reads preset files)
    files.py      the one safe reader under it: regular files only, UTF-8, size and depth limits, YAML without
                  aliases or YAML 1.1 coercions, numbers within units.MAX_QUANTITY
    hf/           Hugging Face config.json -> ModelSpec fields, one mapper per model_type

The package's public names; other packages import them from here (or, as before, from its modules).
"""

from llm_budget.model.counter import Component, ParamCount, count_params
from llm_budget.model.hf import read_hf_config, spec_fields_from_hf
from llm_budget.model.inventory import (
    ComponentCount,
    ComponentName,
    ParamTensor,
    buffer_bytes,
    component_counts,
    parameter_tensors,
    tensor_count,
)
from llm_budget.model.presets import (
    all_presets,
    closed_models,
    describe_validation_error,
    load_hf_config,
    load_preset,
    load_spec_file,
    preset_names,
    presets_dir,
    resolve,
    spec_from_mapping,
)
from llm_budget.model.spec import (
    Activation,
    ClosedModel,
    MlpKind,
    ModelSpec,
    NormKind,
    PositionKind,
    QKNorm,
    StrictModel,
)

__all__ = [
    "Activation",
    "ClosedModel",
    "Component",
    "ComponentCount",
    "ComponentName",
    "MlpKind",
    "ModelSpec",
    "NormKind",
    "ParamCount",
    "ParamTensor",
    "PositionKind",
    "QKNorm",
    "StrictModel",
    "all_presets",
    "buffer_bytes",
    "closed_models",
    "component_counts",
    "count_params",
    "describe_validation_error",
    "load_hf_config",
    "load_preset",
    "load_spec_file",
    "parameter_tensors",
    "preset_names",
    "presets_dir",
    "read_hf_config",
    "resolve",
    "spec_fields_from_hf",
    "spec_from_mapping",
    "tensor_count",
]
