"""Accuracy benchmark of the deployment plan's memory and start-up steps against real vLLM start-up logs
(see README.md)."""
