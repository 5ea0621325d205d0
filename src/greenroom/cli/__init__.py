"""The `greenroom` command line (see `main.py`)."""
