import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rag.storage import Database
from rag.storage.rate_buckets import RateBuckets


def test_two_replicas_take_from_one_bucket_per_key(
    open_replica: Callable[[], Database],
) -> None:
    replicas = [RateBuckets(open_replica(), per_minute=10) for _ in range(2)]

    # Twenty requests at once, half on each replica: the bucket holds ten, whoever asks,
    # plus one for every six seconds the twenty took (a loaded machine may be slow).
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda n: replicas[n % 2].take("k_alice"), range(20)))
    refilled = math.floor((time.monotonic() - started) / 6)

    assert 10 <= sum(wait == 0 for wait in waits) <= 10 + refilled
    refused = [wait for wait in waits if wait > 0]
    # One token comes back every six seconds.
    assert all(0 < wait <= 6 for wait in refused)
    assert replicas[1].take("k_bob") == 0
