"""The one error type for bad input.

Every validation failure raises :class:`InputError` with a single line that names the
field, the value and what is allowed. The CLI turns it into that line on stderr and exit 2.
"""


class InputError(ValueError):
    """Bad user input (data table, scenario, run file, CLI argument). Message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
