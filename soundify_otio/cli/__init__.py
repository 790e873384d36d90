"""The `soundify-otio` command line: the group and shared options in `app`, one module per command group."""

from soundify_otio.cli import (  # noqa: F401  (each registers its commands)
    annotate,
    batch,
    install,
    library,
    render,
    review,
    sample,
)
from soundify_otio.cli.app import accept_global_flags, cli, main

accept_global_flags(cli)

__all__ = ["cli", "main"]
