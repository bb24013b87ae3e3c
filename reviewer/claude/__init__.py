"""The Anthropic adapter: the SDK client and the model runners (the only anthropic user)."""
