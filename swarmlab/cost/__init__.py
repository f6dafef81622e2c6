"""Cost: price table, ledger from what the API reports, estimates and budget checks (pure, no prefect)."""

from swarmlab.cost.ledger import (Estimate, Ledger, Line, OverBudget, billed_hours, check_budget, estimate,
                                  ledger, planned, projected)
from swarmlab.cost.prices import BUNDLED, PriceTable, Rate


def load_prices(client) -> PriceTable:
    """The API's public price list; the bundled walkthrough prices if it cannot be read or is empty."""
    from swarmlab.sakura.errors import SakuraError

    try:
        table = PriceTable.from_service_classes(client.prices.list())
    except SakuraError:
        return PriceTable.bundled()
    return table if table.rates else PriceTable.bundled()


def markdown_estimate(est: Estimate) -> str:
    rows = ["| resource | count | service class | rate (¥) | hours | ¥ |", "|---|---:|---|---|---:|---:|"]
    rows += [f"| {g['kind']} | {g['count']} | `{g['service_class']}` | {g['rate']} | {g['hours']} | {g['yen']:g} |"
             for g in est.grouped()]
    verdict = "over budget" if est.over_budget else "within budget"
    return (f"Estimate for `{est.lab}`, {est.hours:g} h ({est.price_source} prices): **{est.total:g} yen**, "
            f"budget {est.budget_yen} yen ({verdict}).\n\n" + "\n".join(rows) + "\n")


def markdown_ledger(led: Ledger) -> str:
    rows = ["| resource | count | service class | rate (¥) | hours | ¥ |", "|---|---:|---|---|---:|---:|"]
    rows += [f"| {g['kind']} | {g['count']} | `{g['service_class']}` | {g['rate']} | {g['hours']} | {g['yen']:g} |"
             for g in led.grouped()]
    return (f"Accrued by `{led.lab}` at {led.at:%Y-%m-%d %H:%M:%SZ} ({led.price_source} prices): "
            f"**{led.total:g} yen**.\n\n" + "\n".join(rows) + "\n")


__all__ = ["BUNDLED", "Estimate", "Ledger", "Line", "OverBudget", "PriceTable", "Rate", "billed_hours",
           "check_budget", "estimate", "ledger", "load_prices", "markdown_estimate", "markdown_ledger", "planned",
           "projected"]
