"""A minimal HTTP/1.1 client on asyncio streams, for the bench's clients (so thousands of streams cost little).

``open_response`` sends one request on a new connection and returns the
status, the headers and a reader of the body's chunks (chunked or sized);
``SSELines`` splits body chunks into whole ``data:`` lines.
"""

import asyncio
import json
from collections.abc import AsyncIterator


def request_bytes(
    method: str, host: str, port: int, path: str, headers: dict[str, str] | None = None, body: dict | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Response:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.headers: dict[str, str] = {}

    async def read_head(self) -> None:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split(" ", 2)[1])
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives (one item per HTTP chunk), up to its end."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return
                data = await self.reader.readexactly(size + 2)
                yield data[:-2]
        elif "content-length" in self.headers:
            yield await self.reader.readexactly(int(self.headers["content-length"]))
        else:
            while data := await self.reader.read(65536):
                yield data

    async def body(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    def close(self) -> None:
        self.writer.close()


async def open_response(host: str, port: int, request: bytes) -> Response:
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
    writer.write(request)
    await writer.drain()
    response = Response(reader, writer)
    try:
        await response.read_head()
    except BaseException:
        writer.close()
        raise
    return response


class SSELines:
    """Feed body chunks; get back the ``data:`` payloads of the whole frames seen so far."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        return [line[6:] for line in lines if line.startswith(b"data: ")]
