"""``python -m rfdesign`` runs the command line."""

from rfdesign.cli import main

main()
