"""The upstream calls on aiohttp (`httpx-aiohttp`), with httpx's meaning of every failure kept.

aiohttp's client costs the gateway about half of what httpx's own transport does per proxied call
(docs/performance.md). The library's error mapping differs from httpx's in the two ways the
gateway's answers depend on, so this subclass restores them:

- a refused connection (`ClientConnectorError`) is `httpx.ConnectError` (502
  `upstream_unavailable`, retried once), not `ConnectTimeout` (504);
- a wait for a free connection of our own pool is `httpx.PoolTimeout` (503 `upstream_busy`, not
  counted by the circuit breaker), not a connect timeout. aiohttp times the pool wait and the
  connect together, so the pool is bounded here by a semaphore of `max_connections` held until
  the response is closed, and aiohttp's own limit never makes a call wait;
- a kept-alive connection the service closed under the request (`ServerDisconnectedError`) is
  `httpx.RemoteProtocolError`, which the proxy retries once on a fresh connection, and a reset
  (`ClientOSError`) is `httpx.ReadError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


def _httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError | None:
    """httpx's exception for the aiohttp failure `exc` (or the one it was mapped from), if any."""
    cause = exc.__cause__ if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None else exc
    message = str(cause) or type(cause).__name__
    kinds: list[tuple[type[BaseException], type[httpx.TransportError]]] = [
        (aiohttp.ClientConnectorError, httpx.ConnectError),
        (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError, httpx.ReadError),
        (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
        (aiohttp.ClientOSError, httpx.ReadError),
        (aiohttp.ClientConnectionError, httpx.ReadError),
    ]
    for aiohttp_kind, httpx_kind in kinds:
        if isinstance(cause, aiohttp_kind):
            return httpx_kind(message, request=request)
    return exc if isinstance(exc, httpx.TransportError) else None


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body; closing it gives the connection's place in the pool back."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None], request: httpx.Request) -> None:
        self._inner = inner
        self._release = release
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            mapped = _httpx_error(exc, self._request)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._release()


class _RecordingBody(httpx.AsyncByteStream):
    """A streamed request body whose reading failure is kept: aiohttp sends the body from a task
    of its own and reports any failure there as a broken connection, while the failure is ours
    (the client's body was over the limit, or the client left) and must surface as itself."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner
        self.failure: BaseException | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except BaseException as exc:
            self.failure = exc
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


class UpstreamTransport(AiohttpTransport):
    def __init__(self, limits: httpx.Limits, pool_timeout: float) -> None:
        max_connections = limits.max_connections or 100
        super().__init__(limits=limits, trust_env=False, client=self._session)
        self._slots = asyncio.Semaphore(max_connections)
        self._pool_timeout = pool_timeout
        self._max_connections = max_connections
        self._keep_alive = bool(limits.max_keepalive_connections)

    def _session(self) -> aiohttp.ClientSession:
        """Made on the first call, inside the running loop, as aiohttp wants."""
        if self._keep_alive:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                keepalive_timeout=self.limits.keepalive_expiry or 15.0,
            )
        else:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0, force_close=True)
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            # Send the headers the proxy chose and no others of aiohttp's own.
            skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
            auto_decompress=False,
            trust_env=False,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection to the upstream in time", request=request) from None
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._slots.release()

        body: _RecordingBody | None = None
        if not hasattr(request, "_content") and isinstance(request.stream, httpx.AsyncByteStream):
            body = request.stream = _RecordingBody(request.stream)
        try:
            response = await super().handle_async_request(request)
        except BaseException as exc:
            release()
            if body is not None and body.failure is not None:
                raise body.failure from None
            mapped = _httpx_error(exc, request)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc
        response.stream = _ReleasingStream(response.stream, release, request)  # type: ignore[arg-type]
        return response
