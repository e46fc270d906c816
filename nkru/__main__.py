"""`python -m nkru` is the `nkru` command."""

from nkru.cli import main

main()
