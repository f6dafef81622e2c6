"""`python3 -m app`: serve the app with uvicorn on APP_HOST:APP_PORT (default 0.0.0.0:8000)."""

import logging
import os

import uvicorn


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    uvicorn.run("app.main:app", host=os.environ.get("APP_HOST", "0.0.0.0"),
                port=int(os.environ.get("APP_PORT", "8000")),
                log_level=os.environ.get("APP_LOG_LEVEL", "info"))


if __name__ == "__main__":
    main()
