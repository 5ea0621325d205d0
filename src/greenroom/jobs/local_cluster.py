"""A Ray cluster of several nodes on this one machine, bound to loopback: for tests and trials.

Ray normally binds its nodes to the machine's network address; its single-machine mode (what
it uses on macOS and Windows, `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`) keeps every socket on
127.0.0.1, and usage statistics are off. The settings must be in the environment before Ray is
first imported, since Ray reads them then (and its node processes inherit them): enter this
before anything imports `ray`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@contextmanager
def local_ray_cluster(nodes: int = 2, cpus_per_node: int = 1) -> Iterator[Any]:
    """A `ray.cluster_utils.Cluster` of `nodes` nodes on 127.0.0.1, shut down on exit."""
    saved = {key: os.environ.get(key) for key in LOOPBACK_ONLY}
    os.environ.update(LOOPBACK_ONLY)
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": cpus_per_node, "include_dashboard": False,
                        "node_ip_address": "127.0.0.1"},
    )
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=cpus_per_node, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
