"""``python -m mqttkit broker [--host H] [--port P] [--config FILE]``: runs the embedded
broker until interrupted (Ctrl-C or SIGTERM); SIGHUP reloads the password file and the ACL
file."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mqttkit")
    commands = parser.add_subparsers(dest="command", required=True)
    broker = commands.add_parser("broker", help="run an MQTT broker")
    broker.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    broker.add_argument("--port", type=int, default=1883, help="port (default 1883; 0: a free one)")
    broker.add_argument("--config", help="a TOML configuration file (as for `mqttkit broker`)")
    args = parser.parse_args(argv)

    from . import Broker, MqttError

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with Broker(args.host, args.port, config_file=args.config) as running:

            def reload() -> None:
                try:
                    running.reload_auth()
                    print("mqttkit broker: password file and ACL reloaded", flush=True)
                except MqttError as error:
                    print(f"mqttkit broker: reload failed, the rules in force stay: {error}", file=sys.stderr)

            if hasattr(signal, "SIGHUP"):
                loop.add_signal_handler(signal.SIGHUP, reload)
            print(f"mqttkit broker listening on {running.url}", flush=True)
            await stop.wait()
        print("mqttkit broker stopped", flush=True)

    try:
        asyncio.run(serve())
    except MqttError as error:
        print(f"mqttkit broker: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"mqttkit broker: cannot read the configuration: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
