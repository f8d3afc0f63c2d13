"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class MobilestyleError(Exception):
    """An error caused by the user's input or environment, shown without a traceback."""

    exit_code = 2


class MissingBackendError(MobilestyleError):
    """An optional backend (coremltools, litert-torch, ...) is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed: pip install 'mobilestyle[{extra}]' (or pip install {package})"
        )
