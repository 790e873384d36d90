"""LibAAF's aaftool (../shared/tools/libaaf), the AAF reader DAWs import with, run on our files and
its clip listing parsed: an independent check that what we write is read as we meant it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from helpers.timelines import SHARED_INTEROP

BUILD_SCRIPT = SHARED_INTEROP.parent / "tools" / "libaaf" / "build.sh"


def build_aaftool(dest: Path) -> tuple[Path | None, str]:
    """Build aaftool into `dest` (kept between sessions: build.sh returns at once when it is there);
    (the binary, "") or (None, why not)."""
    if not BUILD_SCRIPT.is_file():
        return None, f"{BUILD_SCRIPT} is absent"
    tool = dest / "bin" / "aaftool"
    missing = [name for name in ("cmake", "cc") if shutil.which(name) is None]
    if missing and not tool.is_file():  # build.sh would apt-get them: a test installs nothing
        return None, f"{' and '.join(missing)} not installed (.ci/run installs cmake and build-essential)"
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT), str(dest)], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        return None, "building aaftool took over 15 minutes"
    if done.returncode != 0 or not tool.is_file():
        return None, f"aaftool could not be built: {done.stderr.strip()[-300:]}"
    return tool, ""


@dataclass
class Clip:
    start: str
    length: str
    channels: int
    volume_automation: bool
    gain: str | None
    fade_in: str | None
    fade_out: str | None
    sources: list[str] = field(default_factory=list)


@dataclass
class Track:
    kind: str
    name: str
    format: str | None
    clips: list[Clip] = field(default_factory=list)


@dataclass
class Listing:
    returncode: int
    text: str
    tracks: list[Track]
    markers: list[tuple[str, str]]
    """(start, comment) of each marker."""

    def track(self, name: str) -> Track:
        return next(t for t in self.tracks if t.name == name)


_TRACK = re.compile(r"(AudioTrack|VideoTrack)\[\d+\] ::.*?(?:Format: (\w+).*?)?Name: \"(.*)\"")
_CLIP = re.compile(r"Clip \(\d+\):\s+Start: (\S+)\s+Len: (\S+)")
_MARKER = re.compile(r"Marker\[\d+\]:.*?Start: (\S+).*?Comment: \"(.*)\"")
_FADE = re.compile(r"Fade(In|Out): \w+ \((\S+)\)")


def run_aaftool(tool: Path, aaf: Path, pos_format: str = "tc") -> Listing:
    """aaftool --aaf-clips --show-automation on `aaf`, its tracks and clips parsed; positions and
    lengths as timecode ("tc", counted at the file's timecode rate) or "samples"."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(tool.parent.parent / "lib")}
    done = subprocess.run(
        [str(tool), "--aaf-clips", "--show-automation", "--no-color", "--pos-format", pos_format, str(aaf)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
        env=env,
        check=False,
    )
    tracks: list[Track] = []
    markers: list[tuple[str, str]] = []
    for line in done.stdout.splitlines():
        if m := _MARKER.search(line):
            markers.append((m[1], m[2]))
        elif m := _TRACK.search(line):
            tracks.append(Track("audio" if m[1] == "AudioTrack" else "video", m[3], m[2]))
        elif (m := _CLIP.search(line)) and tracks:
            fades = dict(_FADE.findall(line))
            channels = re.search(r"Channels: (\d+)", line)
            gain = re.search(r"Gain: (\S+ dB)", line)
            tracks[-1].clips.append(
                Clip(
                    m[1],
                    m[2],
                    int(channels[1]) if channels else 0,
                    "VolumeAutomation: YES" in line,
                    gain[1] if gain else None,
                    fades.get("In"),
                    fades.get("Out"),
                )
            )
        elif "SourceFile" in line and tracks and tracks[-1].clips:
            tracks[-1].clips[-1].sources.append(line.split(":", 1)[1].strip().strip('"'))
    return Listing(done.returncode, done.stdout + done.stderr, tracks, markers)
