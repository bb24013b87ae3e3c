"""A fake Anthropic Messages API on loopback (filled in by the Claude client work)."""
