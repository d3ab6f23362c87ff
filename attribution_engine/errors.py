"""Errors the engine raises; each message says what happened, why it usually happens and the fix."""


class AttributionInputError(ValueError):
    """A batch, target or option that the engine cannot score as given."""


class UnsupportedModuleError(TypeError):
    """A trainable parameter lives in a module for which no ghost rule exists."""


class NonFiniteError(FloatingPointError):
    """A loss or gradient of the step is NaN or infinite; nothing was applied."""
