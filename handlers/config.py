"""Which adapter each external system uses: ``ZHIXING_ADAPTER_<SYSTEM>=sandbox|...``, default ``sandbox``.

Handlers never import an adapter class; they ask ``use(system)`` for the configured one, so a real adapter is
one entry in ``ADAPTERS`` (or one ``register_adapter`` call) plus an environment variable, and tests and demos
run against the deterministic sandboxes by default. Adapters are built per call: they are cheap, and a test
that changes the environment sees the change at once.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from handlers.base import BusinessRejection
from handlers.errors import map_errors

DEFAULT = "sandbox"

# system -> adapter name -> factory ("module:attribute" imported on first use, or a callable)
ADAPTERS: dict[str, dict[str, str | Callable[[], object]]] = {
    "assets": {"sandbox": "handlers.assets.sandbox:SandboxAssets"},          # 网络执行查控 (总对总/点对点)
    "valuation": {"sandbox": "handlers.valuation.sandbox:SandboxValuation"},  # 询价/评估
    "auction": {"sandbox": "handlers.auction.sandbox:SandboxAuction"},        # 网络司法拍卖平台
    "credit": {"sandbox": "handlers.credit.sandbox:SandboxCredit"},           # 失信/限消 系统
    "delivery": {"sandbox": "handlers.delivery.sandbox:SandboxDelivery"},     # 送达平台
    "ledger": {"sandbox": "handlers.ledger.sandbox:SandboxLedger"},           # 案款管理 (一案一账号)
}


class AdapterNotConfigured(BusinessRejection):
    """The configuration names an adapter that does not exist: fix the environment, then retry the incident."""


def env_name(system: str) -> str:
    return f"ZHIXING_ADAPTER_{system.upper()}"


def register_adapter(system: str, name: str, factory: str | Callable[[], object]) -> None:
    """Make ``name`` selectable for ``system`` (e.g. a real bank-query client in a deployment package)."""
    _known(system)[name] = factory


def adapter_name(system: str) -> str:
    return (os.environ.get(env_name(system)) or DEFAULT).strip()


def adapter_for(system: str) -> object:
    """Build the adapter configured for ``system``.

    :raises AdapterNotConfigured: the variable names an unknown adapter, or its factory cannot be loaded.
    """
    return _factory(system)()


def is_local(system: str) -> bool:
    """Whether ``system``'s configured adapter runs in this process (its class says ``local = True``, as the
    sandboxes do): its calls are fast and cannot hang, so the engine may make them inside an instance transaction.
    A real system's client is not local. An adapter that cannot be resolved is not local (its job reports why)."""
    try:
        return getattr(_factory(system), "local", False) is True
    except AdapterNotConfigured:
        return False


def _factory(system: str) -> Callable[[], object]:
    name, choices = adapter_name(system), _known(system)
    factory = choices.get(name)
    details = {"field": env_name(system), "value": name, "allowed": sorted(choices)}
    if factory is None:
        raise AdapterNotConfigured(f"{env_name(system)}={name!r} is not an adapter for '{system}'; "
                                   f"use one of: {', '.join(sorted(choices))}", details)
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise AdapterNotConfigured(f"adapter '{name}' for '{system}' cannot be loaded from {module}:{attribute}: "
                                       f"{exc}", details) from exc
    return factory


def check() -> dict[str, str]:
    """Resolve every system's adapter once (for start-up): ``{system: adapter name}``, or raise at the first bad one."""
    for system in ADAPTERS:
        adapter_for(system)
    return {system: adapter_name(system) for system in ADAPTERS}


@contextmanager
def use(system: str) -> Iterator:
    """The configured adapter for ``system``, with its foreign errors translated (``handlers.errors``)."""
    adapter = adapter_for(system)
    with map_errors(system):
        yield adapter


def _known(system: str) -> dict:
    if system not in ADAPTERS:
        raise ValueError(f"unknown external system '{system}'; known: {', '.join(ADAPTERS)}")
    return ADAPTERS[system]
