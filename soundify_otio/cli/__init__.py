"""The `soundify-otio` command line: the group and shared options in `app`, one module per command group."""

from soundify_otio.cli import annotate, install, library, render, review, sample  # noqa: F401  (each registers its commands)
from soundify_otio.cli.app import cli, main

__all__ = ["cli", "main"]
