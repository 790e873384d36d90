"""The `soundify-otio` command group, the options its commands share, and `main`, which maps errors
to exit codes: 0 success; 1 internal error; 2 usage; 3 bad timeline or media; 4 bad sound library;
5 model or weights unavailable; 6 output not written; 7 bad choices file (130 Ctrl-C, 143 SIGTERM).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from soundify_otio.cli.terminal import terminal_safe, wrapped
from soundify_otio.config import RUN_OPTIONS, SETTINGS, Config
from soundify_otio.errors import INTERRUPTED_EXIT, TERMINATED_EXIT, OutputError, SoundifyError
from soundify_otio.progress import STAGE_UNITS
from soundify_otio.user_cache import user_cache_dir
from soundify_otio.vision.device import DEVICE_TYPES
from soundify_otio.vision.runtime import CPU_RUNTIME_PREFERENCE, PRECISIONS, RUNTIMES

if TYPE_CHECKING:  # loaded by the commands that need them (torch)
    from soundify_otio.app.model import ModelRequest
    from soundify_otio.vision.model import ClipModel

log = logging.getLogger("soundify_otio")


class _Progress:
    """One tqdm bar on stderr that each stage takes over in turn, with the stage's unit and an ETA from the
    rate measured since the stage began (hidden with --quiet or when stderr is not a terminal). Every other
    line on the terminal goes through `write`, so the bar never breaks a line nor a line the bar."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.stage: str | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        unit = f" {STAGE_UNITS.get(stage, 'steps')}"
        if self.bar is None:
            self.bar = tqdm(
                total=total, desc=stage, unit=unit, leave=False, disable=None, file=sys.stderr, dynamic_ncols=True,
                smoothing=0,
            )  # fmt: skip
        elif stage != self.stage:
            self.bar.reset(total=total)
            self.bar.unit = unit
            self.bar.set_description_str(stage, refresh=False)
        self.stage = stage
        self.bar.total = total
        self.bar.bar_format = _BAR_FORMAT if total else _COUNT_FORMAT
        if done >= self.bar.n:
            self.bar.update(done - self.bar.n)
        else:
            self.bar.n = done
            self.bar.refresh()

    def write(self, line: str) -> None:
        """A whole line on stderr, wrapped to the terminal, with the bar (if any) redrawn under it."""
        text = wrapped(line, sys.stderr)
        if self.bar is not None and not self.bar.disable:
            self.bar.write(text, file=sys.stderr)
        else:
            click.echo(text, err=True)

    def close(self) -> None:
        """Take the bar off the screen (also on Ctrl-C: the bar leaves no fragment)."""
        if self.bar is not None:
            self.bar.close()
        self.bar, self.stage = None, None


_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}, {rate_fmt}]"
"""tqdm's own layout with the unit after the counts ("12/40 s of video"; units start with a space)."""
_COUNT_FORMAT = "{desc}: {n_fmt}{unit} [{elapsed}, {rate_fmt}]"
"""While the total is unknown: the count, no bar, no time left."""


class _StderrHandler(logging.Handler):
    """Log records as 'warning: ...' lines (terminal-safe, wrapped) through the progress bar's writer; a
    record with exception info also gets its traceback (only --verbose logs those)."""

    def __init__(self, progress: _Progress) -> None:
        super().__init__()
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.write(f"{record.levelname.lower()}: {terminal_safe(record.getMessage())}")
        if record.exc_info:
            self.progress.close()
            click.echo("".join(traceback.format_exception(*record.exc_info)).rstrip(), err=True)


def say(ctx: click.Context, message: str) -> None:
    """A line for the person at the terminal (stderr), unless --quiet; untrusted parts must already
    be terminal-safe (one line per call; wrapped to the terminal's width)."""
    if not ctx.obj["quiet"]:
        ctx.obj["progress"].write(message)


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every temp and scratch file is cleaned up."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def _parse_device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """'auto' or a torch device the machine has (exit 2 for `--device banana` or a missing GPU)."""
    if value is None or value == "auto":
        return "auto"
    import torch

    from soundify_otio.vision.device import mps_available

    try:
        device = torch.device(value)
    except (RuntimeError, ValueError) as exc:
        shown = terminal_safe(value, 60)
        raise click.BadParameter(f"'{shown}' is not a torch device (cpu, cuda, cuda:1, ...)") from exc
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise click.BadParameter(f"'{terminal_safe(value, 60)}': no such CUDA device here (use cpu)")
    if device.type == "mps" and not mps_available():
        raise click.BadParameter(f"'{terminal_safe(value, 60)}': no MPS (Apple Metal) device here (use cpu)")
    if device.type not in DEVICE_TYPES:
        raise click.BadParameter(
            f"'{terminal_safe(value, 60)}': device type {device.type} is not supported ({', '.join(DEVICE_TYPES)})"
        )
    return value


def _set_verbosity(obj: dict[str, Any], quiet: bool, verbose: bool) -> None:
    """--quiet: errors only (no bar, no notes, no warnings); --verbose: debug detail and tracebacks."""
    obj["quiet"] = obj.get("quiet", False) or quiet
    obj["verbose"] = loud = obj.get("verbose", False) or verbose
    obj["progress"].quiet = obj["quiet"]
    log.setLevel(logging.DEBUG if loud else logging.ERROR if obj["quiet"] else logging.WARNING)
    logging.getLogger().setLevel(logging.DEBUG if loud else logging.ERROR)  # open_clip's and the hub's chatter


def _flag_callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        obj = ctx.find_root().obj
        _set_verbosity(obj, quiet=param.name == "quiet", verbose=param.name == "verbose")


_QUIET_HELP = "Errors only: no progress bar, notes or warnings."
_VERBOSE_HELP = "Log debug detail, and the traceback of an error."


def accept_global_flags(command: click.Command) -> None:
    """Let -q/-v follow the subcommand too (`annotate IN ... -q`): every command, nested ones included,
    takes them and they act as they do before the subcommand."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_global_flags(sub)
        return
    flags = {"quiet": (("--quiet", "-q"), _QUIET_HELP), "verbose": (("--verbose", "-v"), _VERBOSE_HELP)}
    for name, (declarations, help) in flags.items():
        if not any(p.name == name for p in command.params):
            option = click.Option([*declarations, name], is_flag=True, expose_value=False, is_eager=True, help=help)
            option.callback = _flag_callback
            command.params.append(option)


@click.group()
@click.option("--quiet", "-q", is_flag=True, help=_QUIET_HELP)
@click.option("--verbose", "-v", is_flag=True, help=_VERBOSE_HELP)
@click.version_option(package_name="soundify-otio")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Match sound effects to a cut (Soundify) and write editable automation back to the timeline.

    -q and -v may also follow the command (soundify-otio annotate ... -q)."""
    ctx.ensure_object(dict)
    ctx.obj["progress"] = _Progress(quiet)
    ctx.call_on_close(ctx.obj["progress"].close)
    log.handlers[:] = [_StderrHandler(ctx.obj["progress"])]
    log.propagate = False
    _set_verbosity(ctx.obj, quiet, verbose)


def _logging_as_it_was() -> Callable[[], None]:
    """What puts back the logging a command changes (our logger's handlers, propagation and level, the
    root's level), for a caller that runs `main` in its own process (a script, the tests)."""
    root = logging.getLogger()
    handlers, propagate, level, root_level = list(log.handlers), log.propagate, log.level, root.level

    def restore() -> None:
        log.handlers[:] = handlers
        log.propagate = propagate
        log.setLevel(level)
        root.setLevel(root_level)

    return restore


def setting_type(name: str) -> click.ParamType:
    """The click type of a setting: its bounds as a range, so an error names the flag and the range
    and --help shows it."""
    setting = SETTINGS[name]
    if setting.choices:
        return click.Choice(setting.choices)
    if isinstance(setting.default, bool) or not isinstance(setting.default, (int, float)):
        return click.STRING
    if isinstance(setting.default, int):
        low = None if setting.low is None else int(setting.low)
        high = None if setting.high is None else int(setting.high)
        return click.IntRange(low, high)
    return click.FloatRange(setting.low, setting.high)


def setting_option(name: str) -> Callable:
    """A CLI option for a setting of the table (config.SETTINGS): --name-with-dashes, its range and help."""
    setting = SETTINGS[name]
    return click.option(
        f"--{name.replace('_', '-')}",
        name,
        type=setting_type(name),
        default=setting.default,
        show_default=True,
        help=setting.help,
    )


def model_options(function: Callable) -> Callable:
    """--model / --pretrained / --device, shared by every command that loads CLIP."""
    function = click.option(
        "--device",
        default="auto",
        show_default=True,
        callback=_parse_device,
        help="torch device: auto (CUDA, else Apple's MPS, else the CPU), cpu, cuda, cuda:1, mps.",
    )(function)
    function = setting_option("pretrained")(function)
    function = setting_option("model")(function)
    return function


@contextlib.contextmanager
def without_collection(ctx: click.Context) -> Iterator[None]:
    """In the console script's process, no garbage collection during heavy imports and the model load, and
    what they made frozen after: torch, open_clip and the model make some 400,000 objects that live as long
    as the process and little garbage, and the collector would otherwise walk the growing heap again and
    again (seven full collections, 1.45 s of an annotate on 2 shared cores); frozen, later ones skip them."""
    if not ctx.obj.get("console") or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def open_model_for(ctx: click.Context, request: ModelRequest, images: bool = True) -> ClipModel:
    """The application's model loading (app.model.open_model) with its notes on the terminal."""
    with without_collection(ctx):
        from soundify_otio.app.model import open_model

        return open_model(request, lambda line: say(ctx, terminal_safe(line, None)), images=images)


def _no_stream(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A usage error for `-` (standard input or output): a timeline's relative media paths resolve against
    its folder, and every output is written to a temp file beside it and renamed, so both need a file."""
    if value is not None and str(value) == "-":
        raise click.BadParameter(
            "'-' (standard input/output) is not supported: media paths resolve against the timeline's folder and "
            "outputs are written whole or not at all, so give a file (e.g. a temporary .otio)"
        )
    return value


def timeline_argument(metavar: str = "IN") -> Callable:
    """The timeline a command reads (`timeline_in`; shown as `metavar`); `-` is refused by name."""
    return click.argument("timeline_in", metavar=metavar, type=click.Path(path_type=Path), callback=_no_stream)


def output_option(help: str, required: bool = True) -> Callable:
    """-o / --output (`out`), the file a command writes; `help` says what it is in that command's words; `-`
    is refused by name."""
    return click.option(
        "-o", "--output", "out", required=required, type=click.Path(path_type=Path), help=help, callback=_no_stream
    )


def choices_option(help: str) -> Callable:
    """--choices (`choices_file`), picks to start from; `help` says how the command uses them."""
    return click.option("--choices", "choices_file", type=click.Path(path_type=Path), default=None, help=help)


def _parse_targets(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """--target as a tuple of known editors (a usage error names the unknown ones and the valid ones)."""
    from soundify_otio.exporters import OTIO_TARGETS

    chosen = tuple(t.strip() for t in value.split(",") if t.strip())
    unknown = set(chosen) - set(OTIO_TARGETS)
    if unknown:
        raise click.BadParameter(f"{', '.join(sorted(unknown))}; valid: {', '.join(OTIO_TARGETS)}")
    return chosen


target_option = click.option(
    "--target",
    "targets",
    default="resolve,premiere",
    show_default=True,
    callback=_parse_targets,
    help="Editors whose automation an .otio output carries (resolve, premiere).",
)
"""--target, shared by every command that writes a timeline."""

conform_media_option = click.option(
    "--conform-media",
    "conform",
    type=click.Choice(["wav", "none"]),
    default=None,
    help="Copy the sounds OUT uses to broadcast WAV in OUT_media/ (default: wav for .aaf .xml .fcpxml .rpp "
    "and Premiere .otio; none otherwise).",
)
"""--conform-media, shared by every command that writes a timeline."""


def analysis_options(function: Callable) -> Callable:
    """Options shared by every command that analyses a timeline (annotate, suggest)."""
    for option in reversed(
        [
            click.option(
                "--library", "library_dir", required=True, type=click.Path(path_type=Path), help="Sound library folder."
            ),
            click.option(
                "--media-root",
                "media_roots",
                multiple=True,
                metavar="OLD=NEW",
                help="Remap a media path prefix (media moved between machines); repeatable.",
            ),
            click.option(
                "--fallback-random",
                is_flag=True,
                help="If the weights cannot be had, say so and run with random weights (pipeline check).",
            ),
            click.option(
                "--cache-dir",
                type=click.Path(path_type=Path),
                default=None,
                help="Frame-analysis cache (default: ~/.cache/soundify-otio).",
            ),
            click.option("--no-cache", is_flag=True, help="Neither read nor write the frame-analysis cache."),
            click.option(
                "--allow-offline",
                is_flag=True,
                help="Where no shot's media can be read, pass the timeline through instead of failing.",
            ),
            click.option(
                "--runtime",
                type=click.Choice(RUNTIMES),
                default="auto",
                show_default=True,
                help=f"Where the image tower runs: auto ({' or '.join(CPU_RUNTIME_PREFERENCE)} on the CPU, whichever "
                "is installed, else torch; torch on CUDA and MPS), "
                "or torch (eager), onnx (ONNX Runtime), openvino; converted once per machine and cached.",
            ),
            click.option(
                "--precision",
                type=click.Choice(PRECISIONS),
                default="auto",
                show_default=True,
                help="Image tower precision: auto (fp32 on the CPU, fp16 on CUDA), fp32, fp16 (CUDA), or int8 "
                "(onnx/openvino; calibrated on this run's frames, its agreement with fp32 printed and recorded).",
            ),
            *(setting_option(name) for name in RUN_OPTIONS),
        ]
    ):
        function = option(function)
    return model_options(function)


def run_config(options: dict[str, Any]) -> Config:
    """The run's settings, popped from an analysing command's options (the model's and RUN_OPTIONS)."""
    return parse_config(
        model=options.pop("model"),
        pretrained=options.pop("pretrained"),
        **{name: options.pop(name) for name in RUN_OPTIONS},
    )


def run_model(config: Config, options: dict[str, Any]) -> ModelRequest:
    """The model an analysing command asks for, its options popped (where its runtimes are kept: the run decides)."""
    from soundify_otio.app.model import ModelRequest

    return ModelRequest(
        config.model,
        config.pretrained,
        options.pop("device"),
        options.pop("fallback_random"),
        options.pop("runtime"),
        options.pop("precision"),
    )


def run_cache(options: dict[str, Any]) -> Path | None:
    """--cache-dir (default: the user's cache folder), or None with --no-cache; both popped."""
    folder, off = options.pop("cache_dir"), options.pop("no_cache")
    return None if off else folder or user_cache_dir()


def parse_config(**overrides: Any) -> Config:
    try:
        return Config.from_overrides(**overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def parse_media_root(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise click.BadParameter(f"'{text}' is not OLD=NEW", param_hint="--media-root")
    old, new = text.split("=", 1)
    return old, new


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping SoundifyError subclasses to their exit codes. Every error is
    one terminal-safe line; `--verbose` adds the traceback. SIGTERM is handled like Ctrl-C.

    Without `argv` (the console script) the process ends here, so the objects it made are frozen
    first: the interpreter's teardown then leaves them to the operating system instead of collecting
    them (some 400,000 once torch and open_clip are loaded; measured 3.0 s down to 0.7 s after an
    annotate on 2 cores)."""
    from soundify_otio.vision.decode import limit_malloc_arenas

    limit_malloc_arenas()
    restore_logging = _logging_as_it_was()
    log.setLevel(logging.WARNING)  # until the group's --verbose says otherwise
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        result = cli.main(args=argv, prog_name="soundify-otio", standalone_mode=False, obj={"console": argv is None})
    except click.exceptions.Abort:
        _fail("interrupted", INTERRUPTED_EXIT)  # click turns Ctrl-C into Abort
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            _fail(f"{exc.ctx.command_path}: {exc.format_message()} (see --help)", exc.exit_code)
        _fail(f"error: {exc.format_message()}", exc.exit_code)
    except SoundifyError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", INTERRUPTED_EXIT)
    except Terminated:
        _fail("terminated", TERMINATED_EXIT)
    except OSError as exc:  # disk full, read-only or forbidden place met mid-run (a cache, TMPDIR)
        if exc.errno not in _WRITE_ERRNOS:
            _internal(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"error: {where}cannot write: {exc.strerror} (nothing was written)", OutputError.exit_code)
    except Exception as exc:  # a bug, not bad input: one line, the traceback with --verbose
        _internal(exc)
    finally:
        restore_logging()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        if argv is None:
            gc.freeze()
    sys.exit(result if isinstance(result, int) else 0)


def _verbose() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def _fail(message: str, code: int) -> NoReturn:
    """Print one terminal-safe message, wrapped on a terminal (and, with --verbose, the traceback first), and
    exit with `code`."""
    if _verbose() and sys.exc_info()[0] is not None:
        click.echo(traceback.format_exc().rstrip(), err=True)
    click.echo(wrapped(terminal_safe(message), sys.stderr), err=True)
    sys.exit(code)


def _internal(exc: BaseException) -> NoReturn:
    hint = "please report it" if _verbose() else "run with --verbose for the traceback; please report it"
    _fail(f"internal error: {type(exc).__name__}: {exc} ({hint})", 1)
