"""The chat agent: a deterministic conversation policy, pluggable chat models, sessions."""
