"""The ``mobilestyle`` command. Subcommands live in mobilestyle/commands/, imported only when used."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from mobilestyle import __version__
from mobilestyle.errors import MobilestyleError

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


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except MobilestyleError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line unless asked for the traceback
        if os.environ.get("MOBILESTYLE_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"internal error: {type(exc).__name__}: {first} (MOBILESTYLE_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
