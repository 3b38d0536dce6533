"""Knowing that a stop has begun, while the server still drains its in-flight requests.

uvicorn answers SIGTERM by refusing new connections and waiting for the open requests, and runs
the application's shutdown only after them. A long-polling request (the event feed waits up to
25 s for news) would outlast the graceful period and be cancelled with a 500. `on_terminate`
chains a callback before the server's own SIGTERM/SIGINT handler, so such a request can answer
at once instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_terminate(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` on SIGTERM/SIGINT before the handler in place (the server's); returns a
    function that puts that handler back. Does nothing outside the main thread or where no Python
    handler is installed (a test's event loop, not a server)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Any] = {}
    for sig in SIGNALS:
        handler = signal.getsignal(sig)
        if not callable(handler) or handler is signal.default_int_handler:
            continue
        previous[sig] = handler

        def chained(signum: int, frame: FrameType | None, _next: Any = handler) -> None:
            callback()
            _next(signum, frame)

        signal.signal(sig, chained)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
