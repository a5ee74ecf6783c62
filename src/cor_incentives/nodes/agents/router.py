"""The router agent: runs the HTTP gateway (``nodes/router.py``) that carries users' signed commands."""

from __future__ import annotations

from typing import Any

from ..router import RouterGateway
from .base import Agent


class RouterAgent(Agent):
    role = "router"

    def __init__(self, *args: Any, api_url: str, listen_host: str = "127.0.0.1", listen_port: int = 0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.gateway = RouterGateway(self.me, api_url, self.log, listen_host, listen_port)

    def setup(self) -> dict[str, Any]:
        self.gateway.start()
        self.log.info("gateway listening on %s", self.gateway.url)
        return {"url": self.gateway.url}

    def step(self) -> bool:
        return False  # the gateway's threads do the work

    def shutdown(self) -> None:
        self.gateway.stop()
        self.log.info("carried %d command(s), refused %d", self.gateway.carried, self.gateway.refused)
        super().shutdown()
