"""The one error the private server stack raises: a message a person can act on."""

from __future__ import annotations


class StackError(RuntimeError):
    """A private server could not be started, checked or stopped.

    The message names the server, and where it helps the port, the PRISM_*_PORT variable that moves it,
    the log file to read and the Debian package to install.
    """
