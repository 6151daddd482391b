"""Enhanced authentication written in Python: a SCRAM-SHA-256 client (RFC 5802) as an
mqttkit authenticator, against the embedded broker."""

import asyncio
import base64
import hashlib
import hmac
import os
from typing import Optional

import mqttkit


class ScramExchange:
    """One SCRAM-SHA-256 exchange: client-first, client-final, server signature check."""

    def __init__(self, username: str, password: str) -> None:
        self.password = password
        self.first_bare = f"n={username},r={base64.b64encode(os.urandom(18)).decode()}"
        self.server_signature = b""

    def initial_data(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def respond(self, challenge: Optional[bytes]) -> bytes:
        server_first = (challenge or b"").decode()
        fields = {key: value for key, _, value in (item.partition("=") for item in server_first.split(","))}
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = hmac.digest(hmac.digest(salted, b"Server Key", "sha256"), auth_message, "sha256")
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def finish(self, data: Optional[bytes]) -> None:
        if data != b"v=" + base64.b64encode(self.server_signature):
            raise ValueError("the server does not know the password")


class Scram:
    """The authenticator: its method name, and a new exchange per (re-)authentication."""

    method = "SCRAM-SHA-256"

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def start(self) -> ScramExchange:
        return ScramExchange(self.username, self.password)


async def main() -> None:
    async with mqttkit.Broker(port=0, users=[("alice", "secret")], allow_anonymous=False) as broker:
        client = mqttkit.Client(broker.url, client_id="py-example-auth", authenticator=Scram("alice", "secret"))
        async with client:
            print("authenticated with", Scram.method)
            result = await client.re_authenticate()
            print("re-authenticated: reason code", result.reason_code)
        intruder = mqttkit.Client(broker.url, authenticator=Scram("alice", "guess"), reconnect=False)
        try:
            await intruder.connect(timeout=5)
        except mqttkit.MqttError as error:
            print(f"wrong password refused: {error} (auth error: {error.is_auth_error()})")
        finally:
            await intruder.close()


asyncio.run(main())
