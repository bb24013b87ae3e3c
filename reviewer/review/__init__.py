"""Use cases: each one module that wires the ports (review, and what comes beside it)."""
