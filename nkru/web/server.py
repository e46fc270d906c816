"""Runs the web app under uvicorn; on stop, open live streams are ended first so shutdown does not wait for them."""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig, frame) -> None:
        self._app.state.close_streams()
        super().handle_exit(sig, frame)


def run_server(app: Starlette, host: str, port: int) -> None:
    """Serve `app` until SIGINT/SIGTERM."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
    _Server(config, app).run()
