"""boto3 clients, created once per container and replaceable for tests and the offline twin.

Handlers take clients as parameters defaulting to `client(service)`. The offline twin and the tests install a
factory with `use_client_factory`, so the same handler code talks to moto, a botocore Stubber or the local Bedrock
simulator without a line of test-only code in the handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ClientFactory = Callable[[str], Any]

# Standard retry mode with more attempts: throttling and transient errors are retried with backoff and jitter
# inside the call, before a Step Functions Retry ever sees them.
_RETRIES = {"mode": "standard", "max_attempts": 6}


# Clients whose caller retries itself: evaluation's adaptive rate must hear every ThrottlingException, which
# botocore's own retries would hide.
UNRETRIED = "+unretried"


def _boto3_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    if service.endswith(UNRETRIED):
        return boto3.client(
            service.removesuffix(UNRETRIED), config=Config(retries={"mode": "standard", "max_attempts": 1})
        )
    return boto3.client(service, config=Config(retries=_RETRIES))


_factory: ClientFactory = _boto3_client
_clients: dict[str, Any] = {}


def client(service: str, *, retries: bool = True) -> Any:
    """The container's client for `service` (created on first use); `retries=False`: botocore makes one attempt
    (test and twin factories receive the plain service name)."""
    key = service if retries else service + UNRETRIED
    if key not in _clients:
        _clients[key] = _factory(key) if _factory is _boto3_client else _factory(service)
    return _clients[key]


@contextmanager
def use_client_factory(factory: ClientFactory) -> Iterator[None]:
    """Route every `client(service)` call through `factory` for the duration of the block."""
    global _factory  # noqa: PLW0603 - the one process-wide switch, restored on exit
    previous, saved = _factory, dict(_clients)
    _factory = factory
    _clients.clear()
    try:
        yield
    finally:
        _factory = previous
        _clients.clear()
        _clients.update(saved)
