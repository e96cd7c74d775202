"""Accuracy benchmark of planning/sizing.py against real vLLM start-up logs (see README.md)."""
