"""`python -m flows COMMAND`: the `swarmlab` command line (flows/cli.py), under its old name too."""

import sys

from flows.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m flows"))
