"""`python -m desk` runs the same entry point as the `desk` console script."""

from desk.cli import main

raise SystemExit(main())
