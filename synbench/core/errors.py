"""The one exception type for user mistakes.

Every public entry point raises :class:`SynbenchError` for bad input, with a message
that names the problem and the fix. The CLI prints that message on one line and exits
non-zero, without a traceback.
"""


class SynbenchError(ValueError):
    """Bad input to synbench: the message says what is wrong and how to fix it."""


class SynbenchWarning(UserWarning):
    """A run that works but may not mean what the user thinks (e.g. a very large dt)."""
