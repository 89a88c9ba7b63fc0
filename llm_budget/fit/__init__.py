"""Whether it fits: usable memory per GPU, the layout search and the changes that would make it fit."""
