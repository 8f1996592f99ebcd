"""`python -m bot` runs the `strikewire` command."""

import sys

from bot.cli import main

sys.exit(main())
