"""Conform the sounds an output uses to broadcast WAV that every editor links.

Final Cut links neither OGG nor FLAC, Pro Tools links WAV/AIFF from an AAF, Premiere and Media
Composer are safest with WAV (docs/editors.md, media). Each sound that is not already a WAV at a usable
rate is written once as PCM WAV into `<OUT stem>_media/` beside OUT: its own channel count, its own
rate where that is one of USABLE_RATES (else CONFORM_RATE), 16-bit where the source is 16-bit or
less, else 24-bit; a `bext` chunk whose description names the label and the original file. The name
is the sound's own plus a digest of its content and the conform settings, so a re-run (or another
output in the same folder) reuses the file instead of encoding it again. The `bext` chunk's
originator reference holds a digest of the rest of the file: a file is reused only when its bytes
still match it (a truncated or damaged copy is encoded again).
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import io
import re
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile
from scipy.signal import resample_poly

from soundify_otio.atomic import atomic_output, write_bytes_verified
from soundify_otio.audio.headers import BadHeader, checked_info
from soundify_otio.errors import MediaError
from soundify_otio.exporters import EDITOR_SUFFIXES
from soundify_otio.timeline.metadata import SoundInfo, set_clip_sound, soundify_clips

CHOICES = ("wav", "none")
"""Values of `annotate --conform-media` (default: wav for the formats below, none otherwise)."""
USABLE_RATES = frozenset({32000, 44100, 48000, 88200, 96000, 176400, 192000})
"""Sample rates kept as they are. The interop evidence does not settle which rates each editor links;
these are the session rates Pro Tools and Final Cut offer, so a 22.05 kHz file is resampled."""
CONFORM_RATE = 48000
WAV_SUFFIXES = (".wav", ".wave", ".bwf")
_SHALLOW = ("PCM_S8", "PCM_U8", "PCM_16")
_UNSAFE_NAME = re.compile(r"[^\w .,()+-]+")


def wants_conform(out: Path, targets: list[str], choice: str | None) -> bool:
    """Whether this output gets conformed media: the explicit choice, else by format (the editors' own,
    and .otio when it targets Premiere)."""
    if choice is not None:
        return choice == "wav"
    suffix = out.suffix.lower()
    return suffix in EDITOR_SUFFIXES or (suffix == ".otio" and "premiere" in targets)


def media_folder(out: Path) -> Path:
    """Where the conformed sounds of OUT live (absolute: clips reference them by file URL)."""
    return out.absolute().parent / f"{out.stem}_media"


def sounds_to_conform(timeline: otio.schema.Timeline) -> set[str]:
    """The generated clips' sounds (paths) that are not WAVs at a usable rate: each file's header read once
    however many clips use it; none means a write needs no conformed copy of the timeline."""
    return {p for p in {info.sound.path for _track, _clip, info in soundify_clips(timeline)} if _needs_conform(Path(p))}


def conform_media(
    timeline: otio.schema.Timeline, out: Path, sounds: set[str] | None = None, created: list[Path] | None = None
) -> list[Path]:
    """Point every generated clip whose sound is not a WAV at a usable rate (`sounds`, when the caller has
    found them already) at a conformed copy (written once); returns the files this call created, so a
    failed write can remove them. `created` (when given) is filled as each file is made, so a caller
    still knows them when this call fails half-way."""
    to_conform = sounds_to_conform(timeline) if sounds is None else sounds
    created = [] if created is None else created
    done: dict[str, SoundInfo] = {}
    for _track, clip, info in list(soundify_clips(timeline)):
        if info.sound.path not in to_conform:
            continue
        source = Path(info.sound.path)
        if info.sound.path not in done:
            done[info.sound.path] = _conform(source, info.label, media_folder(out), created)
        sound = done[info.sound.path]
        clip.media_reference = otio.schema.ExternalReference(
            target_url=Path(sound.path).as_uri(),
            available_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, sound.sample_rate),
                otio.opentime.RationalTime(round(sound.duration * sound.sample_rate), sound.sample_rate),
            ),
        )
        set_clip_sound(clip, sound)
    return created


def _needs_conform(path: Path) -> bool:
    if path.suffix.lower() not in WAV_SUFFIXES:
        return True
    try:
        return checked_info(path).samplerate not in USABLE_RATES
    except (soundfile.LibsndfileError, RuntimeError, OSError, BadHeader):
        return True  # _conform says what is wrong with it


def _conform(source: Path, label: str, folder: Path, created: list[Path]) -> SoundInfo:
    """The conformed copy of `source`, encoded unless a file of that content is already there."""
    try:
        info = checked_info(source)
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
    except (soundfile.LibsndfileError, RuntimeError, OSError, BadHeader) as exc:
        raise MediaError(f"cannot read sound to conform it: {exc}", source) from exc
    rate = info.samplerate if info.samplerate in USABLE_RATES else CONFORM_RATE
    subtype = "PCM_16" if info.subtype in _SHALLOW else "PCM_24"
    digest.update(f"{rate}/{subtype}".encode())
    target = folder / f"{_UNSAFE_NAME.sub('_', source.stem).strip() or 'sound'}-{digest.hexdigest()[:12]}.wav"
    if not _complete(target, rate, info.channels):
        try:
            data, native = soundfile.read(str(source), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
            raise MediaError(f"cannot decode sound to conform it: {exc}", source) from exc
        if native != rate:
            ratio = Fraction(rate, native)
            data = resample_poly(data, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
        buffer = io.BytesIO()
        soundfile.write(buffer, np.clip(data, -1.0, 1.0), rate, subtype=subtype, format="WAV")
        description = f"{label} | {source}"
        with atomic_output(target, ".wav", verify=_check_written) as temp:
            write_bytes_verified(temp, with_bext(buffer.getvalue(), description))
        created.append(target)
    frames = soundfile.info(str(target)).frames
    return SoundInfo(str(target), rate, info.channels, frames / rate, original=str(source))


def _complete(path: Path, rate: int, channels: int) -> bool:
    """An earlier run's conformed file that is whole: its bytes match the digest it carries (its name
    already fixes what they should be), and its header the rate and channels asked for."""
    try:
        if not _carries_own_digest(path.read_bytes()):
            return False
        found = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError):
        return False
    return found.samplerate == rate and found.channels == channels and found.frames > 0


def _check_written(path: Path) -> None:
    if not _carries_own_digest(path.read_bytes()):
        raise OSError(errno.EIO, "the conformed file does not read back as written", str(path))


def _content_digest(wav_body: bytes) -> bytes:
    """The digest kept in the `bext` originator reference: of every byte after the `bext` chunk."""
    return hashlib.blake2b(wav_body, digest_size=16).hexdigest().encode()


def _carries_own_digest(data: bytes) -> bool:
    """Whether a file written by with_bext is whole: RIFF size, `bext` first, the digest of the rest."""
    if len(data) < 12 + 8 + _BEXT_SIZE or data[:4] != b"RIFF" or data[8:12] != b"WAVE" or data[12:16] != b"bext":
        return False
    riff_size, bext_size = struct.unpack("<I", data[4:8])[0], struct.unpack("<I", data[16:20])[0]
    if riff_size != len(data) - 8 or bext_size != _BEXT_SIZE:
        return False
    reference = data[20 + 256 + 32 : 20 + 256 + 64]
    return reference == _content_digest(data[20 + _BEXT_SIZE :])


_BEXT_SIZE = 602


def bext_chunk(description: str, when: datetime.datetime | None = None, reference: bytes = b"") -> bytes:
    """An EBU Tech 3285 v1 `bext` chunk (602 bytes of fields, no coding history); `reference` is
    its originator reference (32 bytes at most)."""
    when = when or datetime.datetime.now()
    text = description.encode("utf-8")[:256].decode("utf-8", "ignore").encode("utf-8")
    body = struct.pack(
        "<256s32s32s10s8sQH64s190s",
        text,
        b"soundify-otio",
        reference,
        when.strftime("%Y-%m-%d").encode(),
        when.strftime("%H:%M:%S").encode(),
        0,
        1,
        b"",
        b"",
    )
    return b"bext" + struct.pack("<I", len(body)) + body


def with_bext(wav: bytes, description: str) -> bytes:
    """A RIFF/WAVE file's bytes with a `bext` chunk inserted first, as BWF writers place it, its
    originator reference the digest of the file's other chunks."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    body = bext_chunk(description, reference=_content_digest(wav[12:])) + wav[12:]
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body


def read_bext_description(path: Path) -> str | None:
    """The `bext` description of a WAV file, None without one."""
    data = Path(path).read_bytes()
    pos = 12
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"bext":
            return data[pos + 8 : pos + 8 + 256].rstrip(b"\0").decode("utf-8", "replace")
        pos += 8 + size + (size & 1)
    return None
