"""Benchmarks: `python -m benchmarks NAME` prints one JSON object on its last line."""


def warm_prefect() -> None:
    """Start the ephemeral Prefect server before timing anything (it takes seconds on first use)."""
    from prefect import flow

    @flow(name="warm-up")
    def warm_up() -> None:
        return None

    warm_up()
