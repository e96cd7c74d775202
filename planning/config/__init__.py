"""Typed stack configuration: what a stack file may say, validated once before anything is created.

Every key is camelCase as written in `Pulumi.<stack>.yaml`. Models forbid unknown keys, so a typo
is an error rather than a silently ignored setting. Cross-field rules that need model or GPU facts
live in `planning/plan.py`; the rules here are about the config alone.

One module per concern: `base` (the model base, shared value types, `SecretRef`), `model`,
`engine` (and the flags the program manages), `hardware` (gpu, multiNode), `storage`, `workload`
(resources, image, placement, probes, shutdown, apiKey), `network`, `observability` (monitoring,
autoscaling), `traffic`, `stack` (`StackConfig` and its cross-key rules), `errors` and `runtime`
(reading what the Pulumi CLI hands over). This module re-exports what the rest of the program
reads, so callers import `planning.config` alone.
"""

from planning.config.base import K8S_NAME, PROJECT
from planning.config.engine import EngineConfig
from planning.config.errors import ConfigError, _key_path, describe_errors
from planning.config.hardware import GpuConfig, GpuFacts
from planning.config.model import ModelFacts
from planning.config.network import NetworkConfig
from planning.config.observability import AutoscalingConfig, MonitoringConfig, MonitoringThresholds
from planning.config.runtime import (ClusterConfig, check_cluster, check_stack_name,
                                     cluster_from_pulumi_config,
                                     from_pulumi_config, parse, values_from_cli)
from planning.config.stack import StackConfig
from planning.config.storage import (ImageStoreConfig, NodeCacheConfig, ObjectStoreConfig,
                                     StorageConfig)
from planning.config.workload import ImageConfig, ProbesConfig

__all__ = [
    "K8S_NAME", "PROJECT", "EngineConfig", "ConfigError", "_key_path", "describe_errors",
    "GpuConfig", "GpuFacts", "ModelFacts", "NetworkConfig", "AutoscalingConfig",
    "MonitoringConfig", "MonitoringThresholds", "ClusterConfig", "check_cluster", "check_stack_name",
    "cluster_from_pulumi_config", "from_pulumi_config", "parse", "values_from_cli",
    "StackConfig", "StorageConfig", "ImageConfig", "ProbesConfig", "ImageStoreConfig",
    "NodeCacheConfig", "ObjectStoreConfig",
]
