"""`python -m bot`: the same as the `warroom` command."""

from bot.composition.cli import main

raise SystemExit(main())
