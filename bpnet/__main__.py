"""`python -m bpnet ...`: the command-line trainer (see bpnet.cli)."""
import sys

from .cli import main

sys.exit(main())
