"""The GitHub Action entry point."""
