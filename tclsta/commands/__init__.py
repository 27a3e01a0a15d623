"""One module per ``tclsta`` subcommand (discovered by :func:`tclsta.cli.discover_commands`)."""
