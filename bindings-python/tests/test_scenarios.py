"""The cross-language scenarios of ``tests/scenarios/`` (format in its README), run with
the asyncio client against a fresh embedded broker per file; Rust, Node and C run the same
files with their own APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

import mqttkit
from conftest import EVENT_TIMEOUT

SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "scenarios"

pytestmark = pytest.mark.skipif(not hasattr(mqttkit._mqttkit, "start_broker"), reason="built without the broker")


@dataclass
class Step:
    """One line of a scenario: ``verb client key=value ...``."""

    line: int
    verb: str
    client: str
    args: Dict[str, str] = field(default_factory=dict)

    @staticmethod
    def parse(line: int, text: str) -> Optional["Step"]:
        text = text.split(" #")[0].strip()
        if not text or text.startswith("#"):
            return None
        verb, client, *words = text.split()
        args = {}
        for word in words:
            key, sep, value = word.partition("=")
            assert sep, f"line {line}: `{word}` is not key=value"
            args[key] = value
        return Step(line, verb, client, args)

    def flag(self, key: str) -> Optional[bool]:
        value = self.args.get(key)
        if value is None:
            return None
        assert value in ("true", "false"), f"line {self.line}: {key}={value} is not true or false"
        return value == "true"


def steps(path: Path) -> List[Step]:
    lines = path.read_text().splitlines()
    return [step for number, text in enumerate(lines, 1) if (step := Step.parse(number, text)) is not None]


class Runner:
    """Carries out the steps of one file against the broker at ``url``."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.clients: Dict[str, mqttkit.Client] = {}
        self.streams: Dict[str, mqttkit.MessageStream] = {}

    async def step(self, step: Step) -> None:
        at = f"{self.name}:{step.line} `{step.verb} {step.client}`"
        if step.verb == "connect":
            await self.connect(step, at)
            return
        assert step.client in self.clients, f"{at}: `{step.client}` is not connected"
        client = self.clients[step.client]
        args = step.args
        if step.verb == "subscribe":
            result = await client.subscribe(args["filter"], qos=int(args["qos"]), no_local=step.flag("no_local") or False)
            assert result.reason_codes == [int(args.get("granted", args["qos"]))], f"{at}: SUBACK {result.reason_codes}"
        elif step.verb == "unsubscribe":
            await client.unsubscribe(args["filter"])
        elif step.verb == "publish":
            await client.publish(args["topic"], args["payload"].encode(), qos=int(args["qos"]), retain=step.flag("retain") or False)
        elif step.verb == "receive":
            message = await self.streams[step.client].next(EVENT_TIMEOUT)
            got = (message.topic, message.payload.decode())
            assert got == (args["topic"], args["payload"]), f"{at}: received {got}"
            if "qos" in args:
                assert message.qos == int(args["qos"]), f"{at}: QoS {message.qos}"
            if step.flag("retain") is not None:
                assert message.retain == step.flag("retain"), f"{at}: RETAIN {message.retain}"
        elif step.verb == "nothing":
            fence = f"fence/{step.client}"
            await client.publish(fence, b"fence", qos=1)
            message = await self.streams[step.client].next(EVENT_TIMEOUT)
            assert message.topic == fence, f"{at}: expected nothing, received {message.topic} {message.payload!r}"
        elif step.verb == "disconnect":
            await client.disconnect()
            await client.close()
            del self.clients[step.client], self.streams[step.client]
        else:
            raise AssertionError(f"{at}: unknown step `{step.verb}`")

    async def connect(self, step: Step, at: str) -> None:
        version = step.args.get("version", "5")
        assert version in ("5", "3.1.1"), f"{at}: unknown version {version}"
        expiry = step.args.get("expiry")
        client = mqttkit.Client(
            self.url,
            client_id=step.client,
            protocol_version=version,
            clean_start=step.flag("clean") if step.flag("clean") is not None else True,
            session_expiry_interval=int(expiry) if expiry is not None else None,
            reconnect=False,
        )
        result = await client.connect()
        if step.flag("present") is not None:
            assert result.session_present == step.flag("present"), f"{at}: Session Present {result.session_present}"
        self.streams[step.client] = client.messages()
        await client.subscribe(f"fence/{step.client}", qos=1)
        self.clients[step.client] = client

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()


def scenario_files() -> List[Path]:
    return sorted(SCENARIOS.glob("*.scenario"))


def test_the_scenario_files_are_there() -> None:
    assert len(scenario_files()) >= 4, f"scenario files missing in {SCENARIOS}"


def test_a_step_names_its_verb_client_and_arguments() -> None:
    step = Step.parse(3, "publish pub topic=a/b qos=1 payload= # trailing comment")
    assert step == Step(3, "publish", "pub", {"topic": "a/b", "qos": "1", "payload": ""})
    assert Step.parse(4, "   # only a comment") is None


@pytest.mark.parametrize("path", scenario_files(), ids=lambda path: path.stem)
async def test_scenario(path: Path) -> None:
    async with mqttkit.Broker(port=0) as broker:
        runner = Runner(path.name, broker.url)
        try:
            for step in steps(path):
                await runner.step(step)
        finally:
            await runner.close()
