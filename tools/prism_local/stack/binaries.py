"""Finding the server binaries that come from Debian packages rather than from pip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prism_local.stack.errors import StackError

#: Daemons such as mariadbd live in sbin, which a non-root user's PATH often lacks.
SYSTEM_DIRS: tuple[str, ...] = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_binary(
    name: str, *, package: str, search_path: str | None = None, system_dirs: tuple[str, ...] = SYSTEM_DIRS
) -> str:
    """The path of executable ``name``, looked up in PATH (or ``search_path``) and then ``system_dirs``.

    Raises StackError naming the Debian package that provides it, and how Prism installs that package.
    """
    found = shutil.which(name, path=search_path)
    if found:
        return found
    for directory in system_dirs:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    looked_in = " and ".join(("PATH", *system_dirs)) if system_dirs else "PATH"
    raise StackError(
        f"{name} is not installed (looked in {looked_in}). It comes with the Debian package {package}: "
        f"`make up` and `make demo` install it through apt when run as root; "
        f"otherwise run `sudo apt-get install -y {package}`."
    )
