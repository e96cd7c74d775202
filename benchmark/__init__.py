"""Accuracy benchmark of components/sizing.py against real vLLM start-up logs (see README.md)."""
