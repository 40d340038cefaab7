"""`python -m shinsou`: the same entry point as the `shinsou` command.
Exists so that launchers (Lightning Fabric's DDP re-launch) can start the CLI by module."""

import sys

from shinsou.cli import main

sys.exit(main())
