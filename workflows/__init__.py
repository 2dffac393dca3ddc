"""Workflow definitions (deterministic code only) and the workflow worker."""
