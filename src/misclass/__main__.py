"""``python -m misclass ...``: the same command line as ``misclass ...``."""

from misclass.cli import main

if __name__ == "__main__":
    main()
