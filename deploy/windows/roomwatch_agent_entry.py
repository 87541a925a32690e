"""PyInstaller entry point for the Windows agent executable (roomwatch-agent.exe)."""

import sys

from roomwatch.agent.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
