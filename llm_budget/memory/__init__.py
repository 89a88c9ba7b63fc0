"""Where the bytes go: the training step, serving, activations, optimizers and recipes."""
