"""``python -m keras64 ARGS`` (and the ``keras64`` command pip installs) run the keras64
command-line tool that ships inside this package: the same C++ program as the ``keras64`` that
``cmake --install`` and the .deb install, so options, output, messages and exit codes are the
tool's own. It is exec'd, not re-implemented: Ctrl-C, exit statuses and progress bars behave as
in a shell."""

import os
import sys
from pathlib import Path


def cli_path() -> Path:
    """Where the bundled tool is: keras64/bin/keras64 beside this file."""
    return Path(__file__).resolve().parent / "bin" / "keras64"


def main() -> None:
    exe = cli_path()
    if not os.access(exe, os.X_OK):
        sys.exit(f"keras64: the command-line tool is missing from this install ({exe}); "
                 "it is built with the module unless KERAS64_BUILD_CLI=OFF")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, ["keras64", *sys.argv[1:]])


if __name__ == "__main__":
    main()
