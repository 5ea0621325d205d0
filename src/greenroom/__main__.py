"""`python -m greenroom` runs the command line."""

from greenroom.cli.main import main

main()
