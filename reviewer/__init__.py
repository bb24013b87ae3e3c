"""A Claude code-review bot for GitHub pull requests."""

__version__ = "0.1.0"
