"""``cor``: the command line (Typer + Rich). Thin: parse, call one service function, print.

One module per command group, each with a ``register(app)``; this module only assembles them, in
the order of the README.
"""

from __future__ import annotations

from importlib import metadata

import typer

from . import audit, chain, community, devnet, epochs, estimate, experiments, gov, market, network, nodes, serve, simulate, slashing, staking, submit

app = typer.Typer(
    help="cor-incentives: the incentive and reward engine of a COR inference network.", no_args_is_help=True, pretty_exceptions_enable=False
)
for group in (
    network,
    nodes,
    staking,
    slashing,
    market,
    epochs,
    estimate,
    community,
    gov,
    chain,
    submit,
    serve,
    devnet,
    simulate,
    experiments,
    audit,
):
    group.register(app)


def _print_version(value: bool) -> None:
    if value:
        print(f"cor {metadata.version('cor-incentives')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version of cor and exit."),
) -> None:
    """cor-incentives: the incentive and reward engine of a COR inference network."""
