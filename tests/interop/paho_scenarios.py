#!/usr/bin/env python3
"""Interop scenarios: the Eclipse paho-mqtt Python client against an mqttkit broker.

Usage: paho_scenarios.py --port PORT [--transport tcp|websockets] SCENARIO [SCENARIO...]
Scenarios: qos-v311 qos-v5 retained-v311 retained-v5 will-v311 will-v5 shared-v311 shared-v5 session-v311
session-v5 topic-alias message-expiry, and restart-prepare-{v311,v5} / restart-verify-{v311,v5}
which run before and after a restart of a broker with persistent storage.

Each scenario prints "ok <name>" or exits non-zero with the reason. Every wait is bounded.
"""

import argparse
import queue
import sys
import time
import uuid

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError:  # pragma: no cover - reported to the Rust test
    sys.exit("paho-mqtt is not installed: run scripts/install-test-deps.sh")

TIMEOUT = 5.0
PORT = 1883
TRANSPORT = "tcp"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Client:
    """A paho client with queues for its callbacks, so tests wait on events."""

    def __init__(self, client_id, v5=True, clean=True, expiry=None, will=None, alias_max=None):
        self.v5 = v5
        protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            clean_session=None if v5 else clean,
            transport=TRANSPORT,
        )
        if TRANSPORT == "websockets":
            self.c.ws_set_options(path="/mqtt")
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.c.on_message = lambda _c, _u, m: self.messages.put(m)
        self.c.on_connect = lambda _c, _u, flags, rc, props: self.connacks.put((flags, rc, props))
        self.c.on_subscribe = lambda _c, _u, mid, rcs, props: self.subacks.put(rcs)
        if will is not None:
            topic, payload, qos, retain = will
            self.c.will_set(topic, payload, qos=qos, retain=retain)
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            if expiry is not None:
                properties.SessionExpiryInterval = expiry
            if alias_max is not None:
                properties.TopicAliasMaximum = alias_max
        kwargs = {"properties": properties, "clean_start": clean} if v5 else {}
        self.c.connect("127.0.0.1", PORT, keepalive=30, **kwargs)
        self.c.loop_start()
        flags, rc, _props = self.connacks.get(timeout=TIMEOUT)
        check(not rc.is_failure, f"{client_id}: CONNACK {rc}")
        self.session_present = flags.session_present

    def subscribe(self, topic, qos):
        self.c.subscribe(topic, qos)
        rcs = self.subacks.get(timeout=TIMEOUT)
        check(all(not rc.is_failure for rc in rcs), f"SUBACK {rcs}")

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(TIMEOUT)
        check(info.is_published(), f"publish to {topic} not acknowledged")

    def receive(self):
        try:
            return self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise Failure("no message within the timeout") from None

    def nothing_more(self, marker_from, topic):
        """Publishes a marker and checks it is the next message (nothing else queued)."""
        marker = unique("marker").encode()
        marker_from.publish(topic, marker, qos=1)
        got = self.receive()
        check(got.payload == marker, f"unexpected message {got.topic} {got.payload!r}")

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()

    def kill(self):
        """Drops the TCP connection without DISCONNECT."""
        self.c.loop_stop()
        sock = self.c.socket()
        if sock is not None:
            sock.close()


def qos(v5):
    topic = unique("interop/qos")
    sub = Client(unique("sub"), v5=v5)
    sub.subscribe(topic + "/#", 2)
    pub = Client(unique("pub"), v5=v5)
    for q in (0, 1, 2):
        pub.publish(f"{topic}/{q}", f"payload {q}", qos=q)
    for q in (0, 1, 2):
        got = sub.receive()
        check(got.topic == f"{topic}/{q}", f"topic {got.topic}")
        check(got.qos == q, f"QoS {got.qos} for {q}")
        check(got.payload == f"payload {q}".encode(), f"payload {got.payload!r}")
    pub.close()
    sub.close()


def retained(v5):
    topic = unique("interop/retained")
    pub = Client(unique("pub"), v5=v5)
    pub.publish(topic, b"old", qos=1, retain=True)
    pub.publish(topic, b"new", qos=1, retain=True)
    sub = Client(unique("sub"), v5=v5)
    sub.subscribe(topic, 1)
    got = sub.receive()
    check(got.retain and got.payload == b"new", f"retained {got.payload!r} retain={got.retain}")
    pub.publish(topic, b"", qos=1, retain=True)  # delete
    sub.receive()
    late = Client(unique("late"), v5=v5)
    late.subscribe(topic, 1)
    late.nothing_more(pub, topic)
    for c in (pub, sub, late):
        c.close()


def will(v5):
    topic = unique("interop/will")
    watcher = Client(unique("watcher"), v5=v5)
    watcher.subscribe(topic, 1)
    dying = Client(unique("dying"), v5=v5, will=(topic, b"gone", 1, False))
    polite = Client(unique("polite"), v5=v5, will=(topic, b"polite", 1, False))
    polite.close()  # normal DISCONNECT: no will
    dying.kill()
    got = watcher.receive()
    check(got.payload == b"gone", f"will payload {got.payload!r}")
    watcher.close()


def shared(v5):
    topic = unique("interop/shared")
    a = Client(unique("a"), v5=v5)
    b = Client(unique("b"), v5=v5)
    a.subscribe(f"$share/group/{topic}", 1)
    b.subscribe(f"$share/group/{topic}", 1)
    pub = Client(unique("pub"), v5=v5)
    for i in range(10):
        pub.publish(topic, str(i), qos=1)
    received = []
    deadline = time.monotonic() + TIMEOUT
    while len(received) < 10 and time.monotonic() < deadline:
        for c in (a, b):
            try:
                received.append((c, c.messages.get(timeout=0.05).payload))
            except queue.Empty:
                pass
    check(sorted(int(p) for _, p in received) == list(range(10)), f"received {received}")
    check(any(c is a for c, _ in received) and any(c is b for c, _ in received), "not distributed")
    for c in (a, b, pub):
        c.close()


def session(v5):
    topic = unique("interop/session")
    cid = unique("persistent")
    sub = Client(cid, v5=v5, clean=False, expiry=300)
    sub.subscribe(topic, 1)
    sub.close()
    pub = Client(unique("pub"), v5=v5)
    for i in range(3):
        pub.publish(topic, str(i), qos=1)
    sub = Client(cid, v5=v5, clean=False, expiry=300)
    check(sub.session_present, "session not present on resume")
    got = [sub.receive().payload for _ in range(3)]
    check(got == [b"0", b"1", b"2"], f"queued messages {got}")
    sub.close()
    pub.close()


def topic_alias():
    topic = unique("interop/alias/with/a/long/topic/name")
    sub = Client(unique("sub"))
    sub.subscribe(topic, 1)
    pub = Client(unique("pub"))
    first = Properties(PacketTypes.PUBLISH)
    first.TopicAlias = 1
    pub.publish(topic, b"1", qos=1, properties=first)
    second = Properties(PacketTypes.PUBLISH)
    second.TopicAlias = 1
    pub.publish("", b"2", qos=1, properties=second)
    for payload in (b"1", b"2"):
        got = sub.receive()
        check(got.topic == topic and got.payload == payload, f"{got.topic} {got.payload!r}")
    sub.close()
    pub.close()


def message_expiry():
    topic = unique("interop/expiry")
    cid = unique("offline")
    sub = Client(cid, clean=False, expiry=300)
    sub.subscribe(topic, 1)
    sub.close()
    pub = Client(unique("pub"))
    short = Properties(PacketTypes.PUBLISH)
    short.MessageExpiryInterval = 1
    pub.publish(topic, b"short", qos=1, properties=short)
    long = Properties(PacketTypes.PUBLISH)
    long.MessageExpiryInterval = 100
    pub.publish(topic, b"long", qos=1, properties=long)
    time.sleep(1.2)  # the time that must pass for the short message to expire
    sub = Client(cid, clean=False, expiry=300)
    got = sub.receive()
    check(got.payload == b"long", f"expired message delivered: {got.payload!r}")
    left = got.properties.MessageExpiryInterval
    check(0 < left < 100, f"expiry not decremented: {left}")
    sub.close()
    pub.close()


def restart_prepare(v5):
    """Before a broker restart: a persistent session with queued messages, a retained one."""
    name = "v5" if v5 else "v311"
    sub = Client(f"paho-restart-{name}", v5=v5, clean=False, expiry=3600)
    sub.subscribe(f"interop/restart/{name}", 2)
    sub.close()
    pub = Client(unique("pub"), v5=v5)
    pub.publish(f"interop/restart/{name}", b"q1", qos=1)
    pub.publish(f"interop/restart/{name}", b"q2", qos=2)
    pub.publish(f"interop/restart/retained/{name}", b"kept", qos=1, retain=True)
    pub.close()


def restart_verify(v5):
    """After the restart: the session, its queued messages and the retained one are back."""
    name = "v5" if v5 else "v311"
    sub = Client(f"paho-restart-{name}", v5=v5, clean=False, expiry=3600)
    check(sub.session_present, "session not present after the restart")
    got = [(m.payload, m.qos) for m in (sub.receive(), sub.receive())]
    check(got == [(b"q1", 1), (b"q2", 2)], f"queued messages after restart: {got}")
    late = Client(unique("late"), v5=v5)
    late.subscribe(f"interop/restart/retained/{name}", 1)
    kept = late.receive()
    check(kept.retain and kept.payload == b"kept", f"retained after restart: {kept.payload!r}")
    sub.close()
    late.close()


SCENARIOS = {
    "restart-prepare-v311": lambda: restart_prepare(False),
    "restart-prepare-v5": lambda: restart_prepare(True),
    "restart-verify-v311": lambda: restart_verify(False),
    "restart-verify-v5": lambda: restart_verify(True),
    "qos-v311": lambda: qos(False),
    "qos-v5": lambda: qos(True),
    "retained-v311": lambda: retained(False),
    "retained-v5": lambda: retained(True),
    "will-v311": lambda: will(False),
    "will-v5": lambda: will(True),
    "shared-v311": lambda: shared(False),
    "shared-v5": lambda: shared(True),
    "session-v311": lambda: session(False),
    "session-v5": lambda: session(True),
    "topic-alias": topic_alias,
    "message-expiry": message_expiry,
}


def main():
    global PORT, TRANSPORT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--transport", choices=["tcp", "websockets"], default="tcp")
    parser.add_argument("scenarios", nargs="+", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    PORT = args.port
    TRANSPORT = args.transport
    failed = False
    for name in args.scenarios:
        try:
            SCENARIOS[name]()
            print(f"ok {name}", flush=True)
        except Exception as error:  # noqa: BLE001 - report every failure
            print(f"FAILED {name}: {type(error).__name__}: {error}", flush=True)
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
