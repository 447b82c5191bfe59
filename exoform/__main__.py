"""`python -m exoform` runs the CLI."""
from exoform.cli import main

raise SystemExit(main())
