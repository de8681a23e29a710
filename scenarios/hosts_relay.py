"""``python -m scenarios.hosts_relay LISTEN=TARGET ...`` (each ``host:port``): plain TCP relays, for
``make hosts``.

The Kie fake contacts nothing off loopback (``sandbox/kie/worker.py``: reference images and callbacks), and the
Telegram fake takes a plain-HTTP webhook only at ``http://127.0.0.1``. So, across hosts:

- on the data host, where the fakes run, ``127.0.0.1:8000`` relays to the web host — the public ingress by
  which the providers' callbacks (Kie, T-Bank, Telegram) reach the web, ``PUBLIC_BASE_URL`` of the fleet — and
  ``127.0.0.1:9104`` to the S3 fake on the data host's address, where Kie fetches the presigned references;
- on the web and worker hosts, ``127.0.0.1:9104`` relays to the data host's S3: the fleet's ``S3_ENDPOINT_URL``
  is that loopback address, so the references it presigns carry a URL the Kie fake will fetch.

Each relay passes bytes unchanged (the Host header and SigV4 signatures included) over the private link. Runs
until SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys


def _split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _relay(listen: tuple[str, int], target: tuple[str, int]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, *listen)
    print(f"hosts_relay: {listen[0]}:{listen[1]} → {target[0]}:{target[1]}", flush=True)
    return server


async def main(pairs: list[str]) -> None:
    servers = [await _relay(_split(listen), _split(target)) for listen, target in (p.split("=", 1) for p in pairs)]
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    if len(sys.argv) < 2 or not all("=" in arg for arg in sys.argv[1:]):
        print("usage: python -m scenarios.hosts_relay LISTEN_HOST:PORT=TARGET_HOST:PORT ...", file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(sys.argv[1:]))
