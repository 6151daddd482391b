"""The embedded broker, :class:`mqttkit.Broker`."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

from . import _mqttkit

ConfigValue = Union[bool, int, float, str, None]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"unsupported broker option value {value!r}")


def _toml(sections: Mapping[str, Optional[Mapping[str, Any]]], users: Sequence[Tuple[str, str]]) -> str:
    lines: List[str] = []
    for name, values in sections.items():
        if not values:
            continue
        lines.append(f"[{name}]")
        for key, value in values.items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
    for username, password in users:
        lines.append("[[auth.users]]")
        lines.append(f"username = {_toml_value(username)}")
        lines.append(f"password = {_toml_value(password)}")
    return "\n".join(lines) + "\n"


class Broker:
    """An MQTT 5 / 3.1.1 broker running inside this process, on mqttkit's runtime threads.

    ``async with mqttkit.Broker(port=0) as broker:`` starts it on a free port
    (``broker.url``) and stops it gracefully on exit. Configuration: a TOML text
    (``config=``, the format of ``mqttkit broker --config``), or that of a file
    (``config_file=``: relative ``password_file`` / ``acl.file`` paths in it are taken
    relative to the file, as ``mqttkit broker --config`` does), and/or the sections as dicts
    (``limits={"max_connections": 100}``, ``features=...``, ``storage={"durability":
    "sync", "data_dir": "..."}``), ``allow_anonymous`` and ``users=[("alice", "secret")]``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: Optional[str] = None,
        config_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        limits: Optional[Mapping[str, ConfigValue]] = None,
        features: Optional[Mapping[str, ConfigValue]] = None,
        storage: Optional[Mapping[str, ConfigValue]] = None,
        allow_anonymous: Optional[bool] = None,
        users: Sequence[Tuple[str, str]] = (),
    ) -> None:
        auth = {"allow_anonymous": allow_anonymous} if allow_anonymous is not None else None
        generated = _toml({"limits": limits, "features": features, "storage": storage, "auth": auth}, users)
        texts = [config] if config else []
        self._base_dir: Optional[str] = None
        if config_file is not None:
            with open(config_file, encoding="utf-8") as file:
                texts.append(file.read())
            self._base_dir = os.path.dirname(os.path.abspath(config_file))
        self._config = "".join(text + "\n" for text in texts) + generated
        self._bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._native: Optional[Any] = None

    def _running(self) -> Any:
        if self._native is None:
            raise RuntimeError("the broker is not started")
        return self._native

    async def start(self) -> "Broker":
        """Binds the listener and starts serving."""
        if self._native is None:
            self._native = await _mqttkit.start_broker(self._config, self._bind, False, self._base_dir)
        return self

    def start_blocking(self) -> "Broker":
        """:meth:`start` for code without an event loop."""
        if self._native is None:
            self._native = _mqttkit.start_broker(self._config, self._bind, True, self._base_dir)
        return self

    @property
    def addresses(self) -> List[Tuple[str, int]]:
        """Every ``(host, port)`` the broker listens on."""
        return list(self._running().addresses)

    @property
    def host(self) -> str:
        """The host of the first listener."""
        return str(self.addresses[0][0])

    @property
    def port(self) -> int:
        """The port of the first listener (the actual one when 0 was asked)."""
        return int(self.addresses[0][1])

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the first listener."""
        host = self.host
        return f"mqtt://[{host}]:{self.port}" if ":" in host else f"mqtt://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker is serving."""
        return self._native is not None and bool(self._native.running)

    def stats(self) -> Dict[str, int]:
        """Counters: connections, connections_total, messages_in, messages_out, bytes_in,
        bytes_out, subscriptions, retained, queued, dropped, expired, throttled,
        publish_denied, subscribe_denied."""
        return dict(self._running().stats())

    def reload_auth(self) -> None:
        """Reads the password file and the ACL file of the configuration again and puts
        them in force, as Mosquitto does on SIGHUP: connected clients stay connected and are
        checked against the new rules from now on. Raises
        :class:`mqttkit.InvalidConfigurationError` naming the file and line of a bad file;
        then nothing changes."""
        self._running().reload_auth()

    async def close(self) -> None:
        """Stops gracefully: DISCONNECT (Server shutting down) to MQTT 5 clients, storage
        flushed, every task joined. Idempotent."""
        if self._native is not None:
            await self._native.close(False)
            self._native.release()

    def close_blocking(self) -> None:
        """:meth:`close` for code without an event loop."""
        if self._native is not None:
            self._native.close(True)
            self._native.release()

    async def __aenter__(self) -> "Broker":
        return await self.start()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        await self.close()


__all__ = ["Broker"]
