"""The ``mobilestyle`` command. Subcommands live in mobilestyle/commands/, imported only when used."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import sys
import warnings

import click

from mobilestyle import __version__
from mobilestyle.errors import SIGINT_EXIT, SIGTERM_EXIT, MobilestyleError, Terminated, pending_exit_code

# Known third-party start-up noise (torch / litert-torch / torchao / triton): not the user's business in normal runs.
THIRD_PARTY_WARNINGS = (
    r".*torchao.*",
    r".*[Tt]riton.*",
    r".*_register_pytree_node.*",
    r".*pytree.*deprecated.*",
    r".*TensorFlow Lite.*",
    r".*tf\.lite\.Interpreter is deprecated.*",
)
THIRD_PARTY_LOGGERS = (
    "torchao",
    "triton",
    "torch.utils._pytree",
    "torch.onnx",
    "torch._dynamo",
    "torch._export",
    "absl",
    "litert_torch",
    "ai_edge_torch",
)
# C++ logging of TensorFlow / LiteRT / absl (oneDNN notes, converter op counts): set before those libraries load
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2"}
THIRD_PARTY_MODULES = (
    "torchao",
    "triton",
    "torch.utils._pytree",
    "litert_torch",
    "ai_edge_torch",
    "ai_edge_litert",
    "coremltools",
    "onnxscript",
)

# name -> (module, short help); modules are imported lazily so `mobilestyle --help` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("mobilestyle.commands.train", "Train a meta network (Shen), a per-style net (Johnson) or a MetaStyle initialization."),
    "export": ("mobilestyle.commands.export", "Style image(s) -> verified ONNX / TFLite / CoreML models."),
    "stylize": ("mobilestyle.commands.stylize", "Stylize photos with PyTorch or an exported model file."),
    "bench": ("mobilestyle.commands.bench", "Benchmark latency, throughput and size across runtimes."),
    "adapt": ("mobilestyle.commands.adapt", "Adapt the MetaStyle initialization to a new style in a few steps."),
    "optimize": ("mobilestyle.commands.optimize", "Gatys-style optimization of one image (baseline)."),
    "evaluate": ("mobilestyle.commands.evaluate", "Compare losses of ours vs Johnson, Gatys and Magenta."),
    "bundle": ("mobilestyle.commands.bundle", "Bundle style models into the Android demo app and the web demo."),
    "serve": ("mobilestyle.commands.serve", "Run the HTTP service: upload a style, get verified model files."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _) in COMMANDS.items() if importlib.util.find_spec(module) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[name]
        if importlib.util.find_spec(module_name) is None:
            return None
        return importlib.import_module(module_name).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mobilestyle")
@click.option("-v", "--verbose", is_flag=True, help="Log more (warnings and info).")
def cli(verbose: bool) -> None:
    """mobilestyle: any style image -> a tiny real-time style-transfer net for phones."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")


def quiet_third_party_warnings() -> None:
    """Filter the known third-party warnings (MOBILESTYLE_DEBUG=1 keeps them)."""
    if os.environ.get("MOBILESTYLE_DEBUG"):
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for pattern in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for module in THIRD_PARTY_MODULES:
        warnings.filterwarnings("ignore", module=module.replace(".", r"\.") + r"(\..*)?$")


_MAIN_PID: list[int] = []


def _on_sigterm(signum: int, frame: object) -> None:
    if _MAIN_PID and os.getpid() != _MAIN_PID[0]:  # a forked child (data-loading worker): die as SIGTERM always did
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated


def install_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C (temporaries removed, empty new folders removed), then exits 143."""
    _MAIN_PID[:] = [os.getpid()]
    with contextlib.suppress(ValueError):  # not the main thread (an embedding application): leave its handler alone
        signal.signal(signal.SIGTERM, _on_sigterm)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    quiet_third_party_warnings()
    install_sigterm()
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(SIGINT_EXIT)
    except click.ClickException as exc:  # usage errors too: one line, naming the command's --help
        hint = f" (see {exc.ctx.command_path} --help)" if isinstance(exc, click.UsageError) and exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except MobilestyleError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Terminated:
        click.echo("terminated (SIGTERM)", err=True)
        sys.exit(SIGTERM_EXIT)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(SIGINT_EXIT)
    except OSError as exc:  # the environment (disk full, read-only or pseudo file system, permissions): not a bug
        if os.environ.get("MOBILESTYLE_DEBUG"):
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"error: {exc.strerror or type(exc).__name__}{where}", err=True)
        sys.exit(MobilestyleError.exit_code)
    except Exception as exc:  # a bug: still one line unless asked for the traceback
        if os.environ.get("MOBILESTYLE_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"internal error: {type(exc).__name__}: {first} (MOBILESTYLE_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)
    code = pending_exit_code()
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
