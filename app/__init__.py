"""The FastAPI service the swarmlab stack deploys: notes and a visit counter kept in PostgreSQL.

Runs on Debian bookworm's python3-fastapi (0.92, pydantic 1) in the image and on the project's pinned
FastAPI (pydantic 2) in the tests, so it uses only what both provide. `python3 -m app` serves it.
"""
