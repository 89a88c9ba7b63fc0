"""How much compute: FLOPs per token, training time and cost, decode bounds, scaling laws."""
