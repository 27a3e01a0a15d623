"""``tclsta``: one subcommand per pipeline stage.

Each stage is a module in :mod:`tclsta.commands` defining ``NAME``, ``HELP``, ``ORDER``,
``add_arguments(parser)`` and ``run(args, config)``; they are discovered automatically.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import signal
import sys
from types import ModuleType

from tclsta import __version__, commands
from tclsta.config import load
from tclsta.errors import TclstaError, describe_os_error
from tclsta.logs import setup_logging

DESCRIPTION = """\
TCLSTA: Two-stream Collaborative Learning with Spatial-Temporal Attention for video
classification (Peng, Zhao & Zhang). Each subcommand is one stage of the pipeline; the
Snakemake workflow (workflow/Snakefile) chains them, but every stage can be run by hand.

Every subcommand reads the same configuration: --config FILE (e.g. config.yaml or a
preset), then --config-json, then --set KEY=VALUE overrides; missing keys take the
defaults of tclsta/schemas/config.schema.yaml.
"""

log = logging.getLogger("tclsta")


def discover_commands() -> list[ModuleType]:
    """Import every stage module of :mod:`tclsta.commands`, in pipeline order."""
    modules = [
        importlib.import_module(f"tclsta.commands.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    ]
    return sorted(modules, key=lambda m: (m.ORDER, m.NAME))


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("configuration and logging")
    group.add_argument("--config", metavar="FILE", help="YAML configuration (e.g. config.yaml, presets/ucf101.yaml)")
    group.add_argument("--config-json", metavar="JSON", help="configuration snippet as JSON (used by the workflow)")
    group.add_argument(
        "--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
        help="override one setting, e.g. --set stream.lr=0.01 (repeatable)",
    )
    group.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    group.add_argument("-q", "--quiet", action="count", default=0, help="less logging")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per discovered stage."""
    parser = argparse.ArgumentParser(
        prog="tclsta", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"tclsta {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="pipeline stages")
    parent = common_options()
    for module in discover_commands():
        sp = sub.add_parser(
            module.NAME, parents=[parent], help=module.HELP, description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sp)
        sp.set_defaults(handler=module.run)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (scheduler, ``kill``) unwinds like Ctrl-C, so temporaries are removed on the way out."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tclsta`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    setup_logging(args.verbose - args.quiet)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        config = load(args.config, args.config_json, args.overrides)
        args.handler(args, config)
    except (TclstaError, OSError) as err:  # OSError: permissions, a read-only disk…: the file, no traceback
        log.error("%s", describe_os_error(err) if isinstance(err, OSError) else err)
        if args.verbose:
            log.exception("traceback")
        return 1
    except KeyboardInterrupt as err:
        log.error("interrupted%s", f" ({err})" if str(err) else "")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
