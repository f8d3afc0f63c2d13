"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class MobilestyleError(Exception):
    """An error caused by the user's input or environment, shown without a traceback."""

    exit_code = 2


class MissingBackendError(MobilestyleError):
    """An optional backend (coremltools, litert-torch, ...) is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'mobilestyle[{extra}]' (or pip install {package})")


class Terminated(BaseException):
    """SIGTERM, raised in the main thread by the CLI's handler so that ``finally`` blocks (temp files) still run.

    A BaseException (not KeyboardInterrupt, which click turns into "Aborted!"), so only ``finally`` blocks and the
    CLI's entry point see it."""


SIGTERM_EXIT = 143  # 128 + SIGTERM: what a shell reports for a process ended by SIGTERM
SIGINT_EXIT = 130

_pending_exit: list[int] = []


def request_exit_code(code: int) -> None:
    """Ask the CLI to exit with ``code`` after the command returns (a training run saved, then was interrupted)."""
    _pending_exit.append(code)


def pending_exit_code() -> int:
    """The exit code a command asked for (0 if none); clears the request."""
    code = _pending_exit[-1] if _pending_exit else 0
    _pending_exit.clear()
    return code
