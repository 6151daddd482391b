"""Process-level behaviour: fork, interpreter exit with open clients, garbage collection."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

import mqttkit
from conftest import EVENT_TIMEOUT, Mosquitto, unique, wait_until

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _child(url: str, topic: str, queue: "multiprocessing.Queue[object]") -> None:
    async def run() -> bytes:
        async with mqttkit.Client(url, client_id=f"child-{os.getpid()}") as client:
            await client.subscribe(topic, qos=1)
            await client.publish(topic, b"from the child", qos=1)
            message = await client.messages().next(EVENT_TIMEOUT)
            return message.payload

    try:
        queue.put(asyncio.run(run()))
    except BaseException as exc:  # noqa: BLE001
        queue.put(repr(exc))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
async def test_works_in_a_forked_child(broker: Mosquitto) -> None:
    # The parent uses the runtime first, so the child inherits a runtime without threads.
    async with mqttkit.Client(broker.url, client_id=unique()) as parent:
        await parent.ping()
        context = multiprocessing.get_context("fork")
        queue: "multiprocessing.Queue[object]" = context.Queue()
        process = context.Process(target=_child, args=(broker.url, unique("fork"), queue))
        process.start()
        result = await asyncio.get_running_loop().run_in_executor(None, queue.get, True, 30)
        process.join(30)
        assert result == b"from the child"
        assert process.exitcode == 0
        await parent.ping()


def _run_script(script: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE_ROOT,
    )


def test_open_clients_at_interpreter_exit(broker: Mosquitto) -> None:
    result = _run_script(
        f"""
        import asyncio, mqttkit, mqttkit.sync

        blocking = mqttkit.sync.Client({broker.url!r}, client_id="exit-sync", on_message=print)
        blocking.connect()
        blocking.subscribe("exit/#")

        async def main():
            client = mqttkit.Client({broker.url!r}, client_id="exit-async")
            await client.connect()
            await client.subscribe("exit/#")
            client.publish_nowait("exit/a", b"x")
            globals()["kept"] = client   # never closed

        asyncio.run(main())
        print("end of script")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "end of script" in result.stdout


def test_garbage_collected_client_releases_the_runtime(broker: Mosquitto) -> None:
    result = _run_script(
        f"""
        import asyncio, gc, time, mqttkit
        from mqttkit import _mqttkit

        async def main():
            client = mqttkit.Client({broker.url!r}, client_id="gc-client")
            await client.connect()
            await client.publish("gc/t", b"x", qos=1)

        asyncio.run(main())
        gc.collect()
        deadline = time.monotonic() + 10
        while _mqttkit.runtime_running() and time.monotonic() < deadline:
            time.sleep(0.01)
        print("running" if _mqttkit.runtime_running() else "stopped")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stopped"


async def test_closing_every_client_stops_the_runtime(broker: Mosquitto) -> None:
    async with mqttkit.Client(broker.url, client_id=unique()) as client:
        await client.ping()
    gc.collect()
    wait_until(lambda: not mqttkit._mqttkit.runtime_running())
