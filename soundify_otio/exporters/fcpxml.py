"""FCPXML 1.10 writer with `<adjust-volume>`/`<adjust-panner>` keyframes (docs/editors.md, Final Cut Pro).

Own writer: the stock otio-fcpx-xml-adapter wraps audio clips in `<clip><gap><audio>` and loses their
sample rate. The first video track becomes the primary storyline; every other track becomes connected
clips on its own lane (video 1, 2, ..; audio -1, -2, ..) attached to the storyline element under
their start; timeline markers (our scene markers) go on that element too. Keyframe times are in
the clip's local time (the axis of its `start`), snapped to frames (keys_on_frames' rule) and marked
`curve="linear"` (the DTD's default is smooth, which is not what the keys mean); volume in dB strings,
panner amount -100..100. Transitions are not written (the repeats of a sound butt-join); clips
without media become offline assets under file:///offline/.

As in Final Cut's own exports (interop/fcpxml): the sequence's `<format>` carries name, width and
height (`FFVideoFormat1080p25`; a size or rate without a Final Cut preset gets no name, like the
custom format of DAWFileKit_SyncClipRoles2); audio-only clips use an `FFVideoFormatRateUndefined`
format and an `<audio-channel-source>` with their role; fades are `<fadeIn type="easeIn">` (Final
Cut's) and `<fadeOut type="easeOut">` (its mirror: no export with a fade-out was available).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote, unquote

import opentimelineio as otio
from lxml import etree

from soundify_otio.errors import MediaError, OutputError
from soundify_otio.exporters.xml_text import sanitise_timeline
from soundify_otio.timeline.keyframes import keys_on_frames, value_at
from soundify_otio.timeline.media import locate_media
from soundify_otio.timeline.metadata import ClipInfo, clip_info
from soundify_otio.timeline.timecode import timeline_rate

log = logging.getLogger(__name__)
VERSION = "1.10"
TITLE_UID = ".../Titles.localized/Bumper:Opener.localized/Basic Title.localized/Basic Title.moti"
"""Final Cut's Basic Title, the effect its exports reference for titles."""
DEFAULT_SIZE = (1920, 1080)
"""Picture size when no video file of the timeline can be probed."""
_RATE_NAMES = {
    Fraction(24000, 1001): "2398",
    Fraction(24): "24",
    Fraction(25): "25",
    Fraction(30000, 1001): "2997",
    Fraction(30): "30",
    Fraction(50): "50",
    Fraction(60000, 1001): "5994",
    Fraction(60): "60",
}
_SIZE_NAMES = {(1280, 720): "720", (1920, 1080): "1080", (3840, 2160): "3840x2160", (4096, 2160): "4096x2160"}


def write_fcpxml(timeline: otio.schema.Timeline, path: Path) -> None:
    """Write `timeline` as FCPXML to `path`, soundify clips carrying volume and pan keyframes."""
    copy = timeline.deepcopy()
    sanitise_timeline(copy)
    root = _Writer(copy).build()
    try:
        Path(path).write_bytes(
            etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True, doctype="<!DOCTYPE fcpxml>")
        )
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}") from exc


def seconds(t: Fraction) -> str:
    """FCPXML rational seconds, e.g. "5s", "1001/24000s"."""
    return f"{t.numerator}s" if t.denominator == 1 else f"{t.numerator}/{t.denominator}s"


def _db(value: float) -> str:
    """A dB string such as "-6dB" or "-4.5dB"."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0dB" if text in ("-0", "0") else f"{text}dB"


class _Writer:
    """Builds one FCPXML document from a timeline."""

    def __init__(self, timeline: otio.schema.Timeline) -> None:
        self.timeline = timeline
        self.rate = Fraction(timeline_rate(timeline)).limit_denominator(1001)
        self.resources = etree.Element("resources")
        self.assets: dict[str, etree._Element] = {}
        width, height = _picture_size(timeline)
        video_format = etree.SubElement(self.resources, "format", id="r1")
        name = _format_name(self.rate, width, height)
        if name:
            video_format.set("name", name)
        video_format.set("frameDuration", seconds(1 / self.rate))
        video_format.set("width", str(width))
        video_format.set("height", str(height))
        video_format.set("colorSpace", "1-1-1 (Rec. 709)")
        self.audio_format: str | None = None
        self.effects: dict[str, str] = {}

    def frac(self, rt: otio.opentime.RationalTime) -> Fraction:
        """A RationalTime as exact seconds, on the timeline's frame grid."""
        return Fraction(round(rt.rescaled_to(float(self.rate)).value)) / self.rate

    def build(self) -> etree._Element:
        """The whole document."""
        tl = self.timeline
        tc_start = self.frac(tl.global_start_time) if tl.global_start_time else Fraction(0)
        video = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
        audio = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio]
        total = max((self.frac(t.duration()) for t in tl.tracks), default=Fraction(0))
        spine = etree.Element("spine")
        slots: list[tuple[Fraction, Fraction, Fraction, etree._Element]] = []  # offset, dur, local start
        markers: list[tuple[etree._Element, list[etree._Element]]] = []
        position = Fraction(0)
        for item in video[0] if video else []:
            if isinstance(item, otio.schema.Transition):
                continue
            duration = self.frac(item.source_range.duration if item.source_range else item.duration())
            if isinstance(item, otio.schema.Clip):
                elem, local = self.clip(item, tc_start + position, None, "video")
                markers.append((elem, self.markers(item)))
            else:
                if isinstance(item, otio.schema.Stack):
                    _unwritten(item, video[0], "a nested stack (written as a gap of its length)")
                elem = etree.Element(
                    "gap",
                    name=item.name or "Gap",
                    offset=seconds(tc_start + position),
                    start="0s",
                    duration=seconds(duration),
                )
                local = Fraction(0)
            spine.append(elem)
            slots.append((position, duration, local, elem))
            position += duration
        if position < total or not slots:
            gap = etree.SubElement(
                spine,
                "gap",
                name="Gap",
                offset=seconds(tc_start + position),
                start="0s",
                duration=seconds(max(total - position, 1 / self.rate)),
            )
            slots.append((position, total - position, Fraction(0), gap))
        lanes = [(t, i + 1, "video") for i, t in enumerate(video[1:])] + [
            (t, -(i + 1), "audio") for i, t in enumerate(audio)
        ]
        for track in tl.tracks:
            for item in track:
                if isinstance(item, otio.schema.Transition):
                    _unwritten(item, track, "a transition (the clips on both sides are butt-joined)")
        for track, lane, kind in lanes:
            for item in track:
                if isinstance(item, otio.schema.Stack):
                    _unwritten(item, track, "a nested stack")
                if not isinstance(item, otio.schema.Clip):
                    continue
                start = self.frac(item.range_in_parent().start_time)
                offset, _dur, local, parent = next(s for s in reversed(slots) if s[0] <= start)
                elem, _ = self.clip(item, local + start - offset, lane, kind)
                markers.append((elem, self.markers(item)))
                parent.append(elem)
        for marker in tl.tracks.markers:  # timeline markers (our scene markers) on the storyline under them
            start = self.frac(marker.marked_range.start_time)
            offset, _dur, local, parent = next(s for s in reversed(slots) if s[0] <= start)
            markers.append((parent, [self.marker(marker, local + start - offset)]))
        for elem, marks in markers:
            elem.extend(marks)
        sequence = etree.Element(
            "sequence",
            format="r1",
            duration=seconds(total),
            tcStart=seconds(tc_start),
            tcFormat="NDF",
            audioLayout="stereo",
            audioRate="48k",
        )
        sequence.append(spine)
        root = etree.Element("fcpxml", version=VERSION)
        root.append(self.resources)
        name = tl.name or "soundify"
        library = etree.SubElement(root, "library")
        event = etree.SubElement(library, "event", name=name)
        etree.SubElement(event, "project", name=name).append(sequence)
        return root

    def clip(
        self, clip: otio.schema.Clip, offset: Fraction, lane: int | None, kind: str
    ) -> tuple[etree._Element, Fraction]:
        """An `<asset-clip>` (a `<title>` or `<video>` for a generator) and its local start; soundify
        clips get volume/pan adjustments."""
        info = clip_info(clip)
        local = self.frac(clip.source_range.start_time) if clip.source_range else Fraction(0)
        duration = self.frac(clip.source_range.duration if clip.source_range else clip.duration())
        if isinstance(clip.media_reference, otio.schema.GeneratorReference):
            return self.generator(clip, offset, lane, local, duration), local
        elem = etree.Element(
            "asset-clip",
            ref=self.asset(clip, kind, info),
            offset=seconds(offset),
            name=clip.name or "",
            start=seconds(local),
            duration=seconds(duration),
        )
        if lane is not None:
            elem.set("lane", str(lane))
        if not clip.enabled:
            elem.set("enabled", "0")
        if kind == "audio":
            elem.set("format", self.undefined_rate_format())
        if info is not None:
            elem.set("audioRole", "effects")
            self.automation(elem, info, local)
            channels = ", ".join(str(c) for c in range(1, min(2, info.sound.channels) + 1))
            etree.SubElement(elem, "audio-channel-source", srcCh=channels, role="effects.effects-1")
        return elem, local

    def generator(
        self, clip: otio.schema.Clip, offset: Fraction, lane: int | None, local: Fraction, duration: Fraction
    ) -> etree._Element:
        """A `<title>` referencing an `<effect>` resource (Final Cut's Basic Title for text, else the
        generator's own), as Final Cut exports titles (interop/fcpxml/DAWFileKit_Complex.fcpxml).
        Final Cut writes other generators as `<video>`, but the stock otio-fcpx-xml-adapter crashes on
        a `<video>` in the spine (it does on that very export), so every generator is a `<title>`,
        which that reader reads as a gap of the generator's place and length."""
        ref = clip.media_reference
        kind = ref.generator_kind or ref.name or clip.name or "Generator"
        title = any(word in kind.lower() for word in ("text", "title", "slug"))
        effect = self.effects.get(kind)
        if effect is None:
            effect = f"g{len(self.effects) + 1}"
            uid = TITLE_UID if title else f".../Generators.localized/{quote(kind)}.motn"
            etree.SubElement(self.resources, "effect", id=effect, name=kind, uid=uid)
            self.effects[kind] = effect
        elem = etree.Element(
            "title",
            ref=effect,
            offset=seconds(offset),
            name=clip.name or kind,
            start=seconds(local),
            duration=seconds(duration),
        )
        if lane is not None:
            elem.set("lane", str(lane))
        if not clip.enabled:
            elem.set("enabled", "0")
        return elem

    def undefined_rate_format(self) -> str:
        """The id of Final Cut's format for audio-only clips, created on first use."""
        if self.audio_format is None:
            self.audio_format = f"r{len(self.assets) + 2}"
            etree.SubElement(self.resources, "format", id=self.audio_format, name="FFVideoFormatRateUndefined")
        return self.audio_format

    def asset(self, clip: otio.schema.Clip, kind: str, info: ClipInfo | None) -> str:
        """The id of the asset for the clip's media, created on first use."""
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference):
            url = ref.target_url
        else:
            url = "file:///offline/" + quote(clip.name or "clip")
        asset = self.assets.get(url)
        if asset is None:
            asset = etree.SubElement(
                self.resources,
                "asset",
                id=f"r{len(self.assets) + 2 + (self.audio_format is not None)}",
                name=unquote(Path(url).stem),
                start="0s",
                hasVideo="0",
                hasAudio="0",
            )
            available = ref.available_range if ref is not None else None
            if available is not None:
                asset.set("start", seconds(self.frac(available.start_time)))
                asset.set("duration", seconds(self.frac(available.duration)))
            etree.SubElement(asset, "media-rep", kind="original-media", src=url)
            self.assets[url] = asset
        if "duration" not in asset.attrib and clip.source_range is not None:
            asset.set("duration", seconds(self.frac(clip.source_range.end_time_exclusive())))
        if kind == "video":
            asset.set("hasVideo", "1")
            asset.set("format", "r1")
        else:
            asset.set("hasAudio", "1")
            asset.set("audioSources", "1")
            if info is not None:
                asset.set("audioChannels", str(info.sound.channels))
                asset.set("audioRate", str(info.sound.sample_rate))
        return asset.get("id")

    def automation(self, elem: etree._Element, info: ClipInfo, local: Fraction) -> None:
        """`<adjust-volume>` (with fades) and `<adjust-panner>`, keyframed in local time."""
        volume = etree.SubElement(elem, "adjust-volume", amount=_db(value_at(info.gain_db, 0.0)))
        param = etree.SubElement(volume, "param", name="amount")
        for tag, kind, length in (
            ("fadeIn", "easeIn", info.fade_in),
            ("fadeOut", "easeOut", info.fade_out),
        ):
            frames = round(float(length) * self.rate)
            if frames > 0:
                etree.SubElement(param, tag, type=kind, duration=seconds(frames / self.rate))
        self.keyframes(param, info.gain_db, local, _db)
        panner = etree.SubElement(
            elem, "adjust-panner", mode="1 (Stereo Left/Right)", amount=f"{value_at(info.pan, 0.0) * 100:g}"
        )
        self.keyframes(
            etree.SubElement(panner, "param", name="amount"),
            [[t, v * 100.0] for t, v in info.pan],
            local,
            lambda v: f"{v:.4g}",
        )

    def keyframes(
        self, param: etree._Element, curve: list[list[float]], local: Fraction, fmt: Callable[[float], str]
    ) -> None:
        """A `<keyframeAnimation>` of at least two linear keys at frame times `local` + t (Resolve drops
        an animation of one key)."""
        keys = keys_on_frames(curve, float(self.rate))
        if len(keys) == 1:
            keys.append((keys[0][0] + 1, keys[0][1]))
        animation = etree.SubElement(param, "keyframeAnimation")
        for frame, value in keys:
            etree.SubElement(
                animation, "keyframe", time=seconds(local + frame / self.rate), value=fmt(value), curve="linear"
            )

    def marker(self, marker: otio.schema.Marker, start: Fraction) -> etree._Element:
        """A `<marker>` at `start` (local time of the element it goes into), its comment as the note."""
        elem = etree.Element(
            "marker",
            start=seconds(start),
            duration=seconds(max(self.frac(marker.marked_range.duration), 1 / self.rate)),
            value=marker.name or "",
        )
        if marker.comment:
            elem.set("note", marker.comment)
        return elem

    def markers(self, clip: otio.schema.Clip) -> list[etree._Element]:
        """The clip's markers, in its local time, at least one frame long."""
        out = []
        for marker in clip.markers:
            duration = max(self.frac(marker.marked_range.duration), 1 / self.rate)
            out.append(
                etree.Element(
                    "marker",
                    start=seconds(self.frac(marker.marked_range.start_time)),
                    duration=seconds(duration),
                    value=marker.name or "",
                )
            )
        return out


def _unwritten(item: otio.core.Composable, track: otio.schema.Track, what: str) -> None:
    """Warn that FCPXML output leaves out `what`, naming the item, its track and its start."""
    start = item.range_in_parent().start_time.to_seconds() if item.parent() is not None else 0.0
    log.warning("FCPXML cannot hold %s: '%s' on track '%s' at %.3f s", what, item.name, track.name, start)


def _format_name(rate: Fraction, width: int, height: int) -> str | None:
    """Final Cut's preset name for a picture format (FFVideoFormat1080p25), None for a custom one."""
    size, fps = _SIZE_NAMES.get((width, height)), _RATE_NAMES.get(rate)
    return f"FFVideoFormat{size}p{fps}" if size and fps else None


def _picture_size(timeline: otio.schema.Timeline) -> tuple[int, int]:
    """Width and height of the timeline's first readable video file, else DEFAULT_SIZE."""
    from soundify_otio.vision.decode import probe_video

    for clip in timeline.find_clips():
        ref = clip.media_reference
        if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
            continue
        if clip.parent() is None or clip.parent().kind != otio.schema.TrackKind.Video:
            continue
        try:
            info = probe_video(locate_media(ref.target_url, Path.cwd()))
        except (MediaError, OSError):
            continue
        return info.width, info.height
    return DEFAULT_SIZE
