"""Errors the engine raises; each message says what happened, why it usually happens and the fix."""


class AttributionInputError(ValueError):
    """A batch, target or option that the engine cannot score as given."""


class UnsupportedModuleError(TypeError):
    """A trainable parameter lives in a module for which no ghost rule exists."""


class NonFiniteError(FloatingPointError):
    """A loss or gradient of the step is NaN or infinite; nothing was applied.

    `rows`: the offending training rows (indices into the step's rows, micro-batches in order)
    when the fault is a row's loss; None when it cannot be traced to rows (a gradient, a target).
    """

    def __init__(self, message: str, rows: tuple[int, ...] | None = None) -> None:
        super().__init__(message)
        self.rows = rows


class StorageError(OSError):
    """A checkpoint or ledger write failed (disk full, I/O error); the state before it is intact."""
