"""Backend-neutral model: what is simulated (no backend library is imported here)."""
