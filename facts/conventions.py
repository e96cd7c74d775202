"""The labels and annotations the program puts on objects so that policies can check them.

Policies cannot read stack config; what a rule needs is stated here, on the objects themselves.
"""

PART_OF = "vllm-serving"
"""Value of app.kubernetes.io/part-of on everything the program creates."""

COMPONENT_INFERENCE = "inference"
"""Value of app.kubernetes.io/component on inference workloads and their Service."""

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_VERSION = "app.kubernetes.io/version"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

_PREFIX = "vllm-serving.dev/"
ANN_VLLM_VERSION = _PREFIX + "vllm-version"
"""The pinned vLLM version (x.y.z), also on PrometheusRules and ScaledObjects."""
ANN_MODEL = _PREFIX + "model"
"""Hugging Face id of the served model."""
ANN_MODEL_REVISION = _PREFIX + "model-revision"
"""The Hugging Face revision (branch or 40-hex commit SHA) the weights come from."""
ANN_ESTIMATED_LOAD_SECONDS = _PREFIX + "estimated-load-seconds"
"""Estimated seconds from container start to /health 200 (weights read + engine start)."""
ANN_TENSOR_PARALLEL = _PREFIX + "tensor-parallel-size"
ANN_PIPELINE_PARALLEL = _PREFIX + "pipeline-parallel-size"
ANN_DATA_PARALLEL = _PREFIX + "data-parallel-size"
ANN_PRESTOP_SECONDS = _PREFIX + "prestop-seconds"
"""Longest time the preStop hook can take (sleep, or bounded drain wait before vLLM 0.18)."""
ANN_SHUTDOWN_TIMEOUT_SECONDS = _PREFIX + "shutdown-timeout-seconds"
"""vLLM's --shutdown-timeout (0 when the pinned version has none)."""
ANN_API_KEY_CHECKSUM = _PREFIX + "api-key-checksum"
"""SHA-256 of the API key: a new key rolls the pods."""
ANN_SCRAPED_BY = _PREFIX + "scraped-by"
"""On the inference Service: 'servicemonitor' or 'annotations'."""

ENGINE_CONTAINER = "vllm"
"""Name of the container that runs vLLM in every inference pod: policies read its probes, GPUs,
flags and preStop hook (a pod may hold other containers, such as init containers)."""

GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource NVIDIA's device plugin advertises; the engine requests and limits it."""
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
"""Node label GPU feature discovery writes with the GPU's product name (node affinity)."""
HOSTNAME_TOPOLOGY_KEY = "kubernetes.io/hostname"
"""Topology key that spreads replicas one per node."""
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
"""Label the LeaderWorkerSet controller puts on every pod of a LeaderWorkerSet (its
metadata.name; kubernetes-sigs/lws api/leaderworkerset/v1 SetNameLabelKey): the group's
anti-affinity selects on it, so the policy counts it among those pods' labels."""

COMPONENT_ROUTER = "router"
"""Value of app.kubernetes.io/component on the LiteLLM router and its Service."""
ANN_ROUTER_CONFIG_CHECKSUM = _PREFIX + "router-config-checksum"
"""SHA-256 of the router's ConfigMap data: a new config rolls the router pods."""
ANN_CLIENT_KEYS_CHECKSUM = _PREFIX + "client-keys-checksum"
"""SHA-256 over the client keys' digests: a rotated or added key rolls only the router."""
ANN_LONGEST_REQUEST_SECONDS = _PREFIX + "longest-request-seconds"
"""On the router Deployment and the edge objects: the engine's longest request (prefill plus
max tokens at the per-token latency), which every timeout in front of it must cover."""
ANN_MAX_BODY_BYTES = _PREFIX + "max-body-bytes"
"""On the router Deployment and the edge objects: the largest request body a prompt of
model.maxModelLen tokens can make, which every body limit in front of the engine must admit."""
ANN_ROUTER_TIMEOUT_SECONDS = _PREFIX + "router-timeout-seconds"
"""On the router Deployment: LiteLLM's request timeout (router_settings.timeout)."""

LABEL_MODEL_CACHE_PREFIX = _PREFIX + "model-"
"""Node labels `<prefix><6 hex>=ready` that the node cache's stager sets once a revision is
staged and verified on the node (rendering/node_cache.py `ready_label`); an engine pod reading
a node cache requires one (policy: model_delivery_checks)."""
MODEL_CACHE_READY = "ready"
"""The one value the stager writes on a cache-ready label (rendering/node_cache.py)."""
