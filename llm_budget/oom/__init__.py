"""CUDA out-of-memory messages: parse, diagnose, advise."""
