"""`perfkit pool`: what fresh connections cost, whether a pool helps, and how big it should be.

Library use::

    from perfkit.pool import PoolBenchOptions, run_pool_benchmark, create_pool

    result = run_pool_benchmark("postgresql://app@db/app",
                                options=PoolBenchOptions(clients=(1, 4), requests=2000))
    print(result.recommendations[0].pool_size)

    pool = create_pool("postgresql://app@db/app", memory_mb=1024)  # a ready-made pool
"""

from perfkit.pool.bench import PoolBenchOptions, run_pool_benchmark
from perfkit.pool.factory import PoolSettings, create_pool, pool_settings
from perfkit.pool.model import Endpoint, PointResult, PoolBenchResult
from perfkit.pool.recommend import (
    LambdaCheck,
    Recommendation,
    SizeChoice,
    lambda_pool_size,
)
from perfkit.pool.timing import ConnectTiming, Summary, timed_connect
from perfkit.pool.workload import Workload, load_script, parse_script, query_workload

__all__ = [
    "ConnectTiming",
    "Endpoint",
    "LambdaCheck",
    "PointResult",
    "PoolBenchOptions",
    "PoolBenchResult",
    "PoolSettings",
    "Recommendation",
    "SizeChoice",
    "Summary",
    "Workload",
    "create_pool",
    "lambda_pool_size",
    "load_script",
    "parse_script",
    "pool_settings",
    "query_workload",
    "run_pool_benchmark",
    "timed_connect",
]
