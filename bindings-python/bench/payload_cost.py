"""Cost of handing a payload to the client, per type (not a test).

Calls ``publish_nowait`` on a client that is not connected, so each message only goes into
its offline buffer: what is timed is the payload's conversion (copy, or none), no network.
Usage (from the repository root, with a release build installed):
    .venv-python/bin/python bindings-python/bench/payload_cost.py [--size BYTES]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Dict

import mqttkit

COUNT = 200
RUNS = 5


async def cost(payload: mqttkit.Payload) -> float:
    """Microseconds per publish_nowait call."""
    client = mqttkit.Client("mqtt://127.0.0.1:9", offline_buffer=mqttkit.OfflineBuffer(capacity=COUNT + 10))
    try:
        start = time.perf_counter()
        for _ in range(COUNT):
            await client.publish_nowait("bench/payload", payload, qos=1)
        return (time.perf_counter() - start) / COUNT * 1e6
    finally:
        await client.close()


async def main(size: int) -> None:
    data = os.urandom(size)
    cases: Dict[str, mqttkit.Payload] = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(bytearray(data)),
        "str": "x" * size,
    }
    print(f"| payload ({size:,} B) | µs per call (median of {RUNS}) |")
    print("|---|---|")
    for name, payload in cases.items():
        costs = [await cost(payload) for _ in range(RUNS)]
        print(f"| {name} | {statistics.median(costs):,.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1 << 20, help="payload size in bytes (default 1 MiB)")
    asyncio.run(main(parser.parse_args().size))
