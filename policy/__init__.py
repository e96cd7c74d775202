"""The vllm-serving CrossGuard policy pack: rules (`rules.py`), Kubernetes reading helpers
(`k8s.py`), vLLM metric-name checks (`metrics.py`) and an offline runner (`offline.py`).

`__main__.py` only builds the `PolicyPack` (which starts a server and blocks); import the other
modules, never it.
"""
