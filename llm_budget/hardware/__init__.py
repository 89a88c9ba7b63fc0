"""What a GPU is: the catalog of cards and the precisions they store and compute in."""
