"""Throughput of the wait-for-acknowledgement form (not a test): QoS 1 ``await
client.publish(...)`` to bench.py's sink, 100 at a time with ``asyncio.gather`` (20,000
messages) and one at a time (5,000), 64 B; medians of 5 runs.

Usage (from the repository root, with a release build installed):
    .venv-python/bin/python bindings-python/bench/wait_for_ack.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402

import mqttkit  # noqa: E402

RUNS = 5


async def rate(port: int, count: int, window: int) -> float:
    async with mqttkit.Client(f"mqtt://127.0.0.1:{port}", client_id=f"wait-{os.getpid()}") as client:
        start = time.perf_counter()
        for _ in range(count // window):
            await asyncio.gather(*(client.publish(bench.TOPIC, bench.PAYLOAD, qos=1) for _ in range(window)))
        return count / (time.perf_counter() - start)


def main() -> None:
    directory = tempfile.mkdtemp(prefix="mqttkit-bench-")
    sink, port = bench.start_sink(directory)
    try:
        for label, count, window in (("gather of 100", 20_000, 100), ("one at a time", 5_000, 1)):
            rates = [asyncio.run(rate(port, count, window)) for _ in range(RUNS)]
            runs = ", ".join(f"{value:,.0f}" for value in rates)
            print(f"publish QoS 1, awaited, {label}: median {statistics.median(rates):,.0f} msg/s (runs: {runs})")
    finally:
        sink.kill()
        sink.wait()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
