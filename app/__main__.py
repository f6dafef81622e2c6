"""`python3 -m app`: serve the app with uvicorn on APP_HOST:APP_PORT (default 0.0.0.0:8000).

On the first SIGTERM/SIGINT the process drains: `/livez` and `/healthz` answer 503 (so HAProxy's
check, `inter 1s fall 2`, takes it out of rotation) while requests are still served for DRAIN_SECONDS
(default 0: stop at once); then uvicorn shuts down gracefully. A second signal stops it at once.
Docker's stop grace period must be longer than DRAIN_SECONDS.
"""

import logging
import os
import threading

import uvicorn

log = logging.getLogger("app")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_s: float) -> None:
        super().__init__(config)
        self.drain_s = drain_s

    def handle_exit(self, sig, frame) -> None:
        from app.main import DRAINING

        if self.drain_s <= 0 or DRAINING.is_set():
            return super().handle_exit(sig, frame)
        DRAINING.set()
        log.info("signal %s: draining for %.1f s before stopping", sig, self.drain_s)
        timer = threading.Timer(self.drain_s, lambda: setattr(self, "should_exit", True))
        timer.daemon = True
        timer.start()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    config = uvicorn.Config("app.main:app", host=os.environ.get("APP_HOST", "0.0.0.0"),
                            port=int(os.environ.get("APP_PORT", "8000")),
                            log_level=os.environ.get("APP_LOG_LEVEL", "info"))
    DrainingServer(config, float(os.environ.get("DRAIN_SECONDS", "0") or 0)).run()


if __name__ == "__main__":
    main()
