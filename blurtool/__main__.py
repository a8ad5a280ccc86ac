"""`python -m blurtool` runs the command line."""

from blurtool.cli import main

if __name__ == "__main__":
    main()
