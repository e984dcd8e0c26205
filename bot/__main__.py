"""`python -m bot`: the same as the `warroom` command."""

from bot.cli import main

raise SystemExit(main())
