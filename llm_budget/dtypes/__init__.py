"""How numbers are encoded: exact bit layouts of FP32/FP16/BF16/FP8/INT8/INT4/NF4 (`llm-budget dtype`)."""
