"""What a model is: the validated ModelSpec, its one parameter inventory, the exact counter, presets and config readers."""
