"""AAF export for Pro Tools and Media Composer, written with pyaaf2.

Layout of the file (edit rate = the timeline's rate; one frame = one edit unit):

* One top-level CompositionMob named after the timeline, a ``TC`` timecode slot from
  ``global_start_time``, then one TimelineMobSlot per OTIO track, in order (picture or sound).
* Gaps become Filler, clips SourceClips referencing a MasterMob (one per media file) whose slot
  points at a file SourceMob carrying the media's NetworkLocator (the media are linked, not
  embedded). OTIO transitions become AAF Transitions (dissolves); the clips on both sides are
  lengthened into the overlap as AAF requires (``CutPoint`` = the OTIO ``in_offset``).
* A nested Stack (e.g. an "Audio Channel Combiner" read by the stock AAF adapter) is written as its
  first clip over the stack's range.
* Input effects whose AAF OperationDef is MonoAudioGain (clips) or MonoAudioPan (tracks) are written
  back with their numeric parameters (constant or keyframed); other effects are dropped.
* Stereo as Premiere and Resolve export it (interop/aaf/LibAAF_PR_Audio_Levels-noBTM.aaf): a soundify
  track holding a 2-channel sound is declared stereo (slot attribute ``_TRACK_FORMAT`` = 2, mono = 1)
  and each of its clips is ``Audio Channel Combiner`` (6b46dd7a-...) over one SourceClip per channel
  (MasterMob slots 1 and 2 -> the file SourceMob's slots 1 and 2). A mono sound on such a track
  feeds its one channel to both inputs (inferred: no export shows a mono clip on a stereo track).
  Linked WAV media get a WAVE descriptor whose Summary is a RIFF header, the file's fmt chunk and a
  data chunk header (44 bytes for PCM: _wave_summary)
  (AIFF: an AIFC descriptor), as in the Premiere/Resolve/Pro Tools exports; other files a PCM one.
  Every OperationDef lists its ParametersDefined.
* Each soundify clip is ``OperationGroup(MonoAudioGain) -> SourceClip``; the group carries a
  ``VaryingValue`` of ``Amplitude`` with LinearInterp ControlPoints: ``Time`` = position / group
  length (0..1, measured from the group's first frame, which is earlier than the clip's cut by the
  overlap of a preceding transition), ``Value`` = linear gain (rational). Keys outside the group are
  replaced by the curve's value at its edges. The SourceMob describes the sound file (PCM, its sample
  rate, channel count and length in samples; multichannel files are one slot with Channels = n).
* Fade-in/out of a soundify clip not joined to a transition is a Transition against a Filler of the
  fade's length (Premiere's layout; LibAAF reads it as a fade), which leaves positions unchanged.
* AAF pan is track-level only (Edit Protocol): every soundify track (SFX n, AMB) is
  ``TimelineMobSlot -> OperationGroup(MonoAudioPan) -> Sequence`` with a ``VaryingValue`` of ``Pan``
  over the whole track: ``Time`` = track position / track length, ``Value`` = (pan + 1) / 2
  (0 = left, 0.5 = centre, 1 = right). Each clip contributes its keys plus its curve's values at its
  first and last frame, so every effect keeps its own pan curve (only clips overlapping in a
  crossfade share one).
* The timeline's own markers (our scene markers among them) as Media Composer exports them
  (interop/aaf/otio-aaf-adapter_multitrack.aaf): one EventMobSlot (slot 1000 + n, physical track n)
  per marker, holding a Sequence of one DescriptiveMarker on the first picture track
  (``DescribedSlots``) at the marker's first frame, its name as ``Comment``, its colour as
  ``CommentMarkerColor`` and ``_ATN_CRM_COLOR``. Like the export, the markers are points (no
  ``Length``): a scene marker keeps where its scene starts and its picks.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import aaf2
import aaf2.ama
import opentimelineio as otio
import soundfile
from aaf2.auid import AUID
from aaf2.rational import AAFRational

from soundify_otio.errors import OutputError
from soundify_otio.exporters.xml_text import sanitise_timeline
from soundify_otio.timeline.keyframes import clip_timeline_start, db_to_gain, keys_on_frames, value_at
from soundify_otio.timeline.metadata import AAF_GAIN, AAF_PAN, clip_info, is_generated
from soundify_otio.version import __version__

log = logging.getLogger(__name__)
MONO_AUDIO_GAIN = AUID(AAF_GAIN)
MONO_AUDIO_PAN = AUID(AAF_PAN)
MONO_AUDIO_DISSOLVE = AUID("0c3bea41-fc05-11d2-8a29-0050040ef7d2")
VIDEO_DISSOLVE = AUID("0c3bea40-fc05-11d2-8a29-0050040ef7d2")
AMPLITUDE = AUID("e4962321-2267-11d3-8a4c-0050040ef7d2")
PAN = AUID("e4962322-2267-11d3-8a4c-0050040ef7d2")
LEVEL = AUID("e4962320-2267-11d3-8a4c-0050040ef7d2")
CHANNEL_COMBINER = AUID("6b46dd7a-132d-4856-ab21-8b751d8462ec")
TRACK_FORMAT = "_TRACK_FORMAT"
"""Premiere's slot attribute for a track's channel layout: 1 mono, 2 stereo."""
MARKER_SLOT_BASE = 1000
"""Event slots are numbered from here, as in Media Composer's exports (1008, 1009, ...)."""
_AVID_COLORS = {
    otio.schema.MarkerColor.RED: ("Red", (65535, 0, 0)),
    otio.schema.MarkerColor.GREEN: ("Green", (0, 65535, 0)),
    otio.schema.MarkerColor.BLUE: ("Blue", (0, 0, 65535)),
    otio.schema.MarkerColor.CYAN: ("Cyan", (0, 65535, 65535)),
    otio.schema.MarkerColor.MAGENTA: ("Magenta", (65535, 0, 65535)),
    otio.schema.MarkerColor.PURPLE: ("Magenta", (65535, 0, 65535)),
    otio.schema.MarkerColor.PINK: ("Magenta", (65535, 0, 65535)),
    otio.schema.MarkerColor.YELLOW: ("Yellow", (65535, 65535, 0)),
    otio.schema.MarkerColor.ORANGE: ("Yellow", (65535, 65535, 0)),
    otio.schema.MarkerColor.BLACK: ("Black", (0, 0, 0)),
    otio.schema.MarkerColor.WHITE: ("White", (65535, 65535, 65535)),
}
"""OTIO marker colours as Media Composer's eight (its name in the attribute list, 16-bit RGB)."""
_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}
_RATIONAL_LIMIT = 2**29
SMPTE_FPS = (24, 25, 30, 48, 50, 60, 72, 96, 100, 120)
"""Timecode rates LibAAF (and SMPTE ST 12) count in."""


def write_aaf(timeline: otio.schema.Timeline, path: Path) -> None:
    """Write the timeline, soundify clips with clip gain and track pan automation, to an AAF file."""
    try:
        copy = timeline.deepcopy()
        sanitise_timeline(copy)  # pyaaf2 cannot encode lone surrogates; LibAAF prints names as text
        with aaf2.open(str(path), "w") as f:
            _identify(f)
            _Writer(f, _edit_rate(copy)).write(copy)
    except OSError as exc:
        raise OutputError(f"cannot write AAF: {exc.strerror or exc}") from exc


def _identify(f: aaf2.file.AAFFile) -> None:
    """Name the writer in the Identification as the editors' exports do: company, product and the
    ProductVersion / ToolkitVersion records (pyaaf2 leaves both out; LibAAF warns of each)."""
    ident = f.header["IdentificationList"].value[0]
    ident["CompanyName"].value = "soundify-otio"
    ident["ProductName"].value = "soundify-otio"
    ident["ProductVersionString"].value = __version__
    ident["ProductVersion"].value = _version_record(__version__, "VersionUnknown")
    ident["ToolkitVersion"].value = _version_record(getattr(aaf2, "__version__", "0"), "VersionReleased")


def _version_record(text: str, kind: str) -> dict[str, int | str]:
    """A "1.7.1" version string as AAF's ProductVersion record."""
    parts = [int(p) if p.isdigit() else 0 for p in text.split(".")[:4]] + [0, 0, 0, 0]
    return {"major": parts[0], "minor": parts[1], "tertiary": parts[2], "patchLevel": parts[3], "type": kind}


def _edit_rate(timeline: otio.schema.Timeline) -> Fraction:
    """The timeline's frame rate as an exact rational (29.97 -> 30000/1001)."""
    if timeline.global_start_time is not None:
        rate = timeline.global_start_time.rate
    else:
        clips = list(timeline.find_clips())
        rate = clips[0].trimmed_range().duration.rate if clips else 24.0
    return Fraction(rate).limit_denominator(1001)


def _timecode_fps(rate: Fraction) -> int:
    """The Timecode's FPS: the rate itself where SMPTE defines it, else the nearest SMPTE rate, as the
    stock otio-aaf-adapter writes it (`_nearest_timecode`) and Premiere does for its non-SMPTE rates
    (Start stays in edit units; FPS only says how to count it). LibAAF finds no timecode format for
    FPS 10 or 15 and aaftool exits 255 on such a file."""
    nominal = round(float(rate))
    if nominal in SMPTE_FPS:
        return nominal
    return min(SMPTE_FPS, key=lambda fps: abs(fps - float(rate)))


def _rational(value: float) -> Fraction:
    """A float as a rational that fits AAF's int32 numerator and denominator."""
    limit = max(1, min(_RATIONAL_LIMIT, int(0x7FFFFFFF / max(1.0, abs(value)))))
    return Fraction(value).limit_denominator(limit)


def _aaf_op_id(effect: otio.schema.Effect) -> str:
    return str(effect.metadata.get("AAF", {}).get("Operation", {}).get("Identification", ""))


class _Writer:
    """One AAF file being written: definitions, mobs and the composition."""

    def __init__(self, f: aaf2.file.AAFFile, rate: Fraction) -> None:
        self.f = f
        self.rate = rate
        self.masters: dict[tuple[str, str, str, int], aaf2.mobs.MasterMob] = {}
        self.files: dict[tuple[str, str], tuple[aaf2.mobs.SourceMob, Fraction, int]] = {}
        self.interp = f.create.InterpolationDef(aaf2.misc.LinearInterp, "LinearInterp", "Linear interpolation")
        f.dictionary.register_def(self.interp)

    def frames(self, seconds: float) -> int:
        """Seconds to edit units."""
        return round(seconds * self.rate)

    def op_def(
        self, auid: AUID, name: str, inputs: int, kind: str, params: tuple[tuple[AUID, str], ...] = ()
    ) -> aaf2.dictionary.OperationDef:
        """The OperationDef with this AUID and the ParameterDefs it uses, registered once."""
        existing = self.f.dictionary.lookup_operationdef(auid)
        if existing is not None:
            return existing
        op = self.f.create.OperationDef(auid, name, "")
        op.media_kind = kind
        op["NumberInputs"].value = inputs
        op["IsTimeWarp"].value = False
        op["Bypass"].value = 0
        for param_auid, param_name in params:
            op["ParametersDefined"].append(self.param_def(param_auid, param_name))
        self.f.dictionary.register_def(op)
        return op

    def param_def(self, auid: AUID, name: str) -> aaf2.dictionary.ParameterDef:
        """The Rational ParameterDef with this AUID, registered once."""
        existing = self.f.dictionary.lookup_parameterdef(auid)
        if existing is not None:
            return existing
        pdef = self.f.create.ParameterDef(auid, name, name, "Rational")
        self.f.dictionary.register_def(pdef)
        return pdef

    def varying(
        self, pdef: aaf2.dictionary.ParameterDef, points: list[tuple[Fraction, Fraction]]
    ) -> aaf2.misc.VaryingValue:
        """A linearly interpolated VaryingValue of (normalised time, value) points."""
        vv = self.f.create.VaryingValue()
        vv.parameterdef = pdef
        vv["Interpolation"].value = self.interp
        for time, value in points:
            cp = self.f.create.ControlPoint()
            cp["Time"].value = AAFRational(time)
            cp["Value"].add_pid_entry()  # an indirect value typed by the parameter, as pyaaf2 does
            cp["Value"].data = cp["Value"].typedef.encode(AAFRational(value), pdef.typedef)
            cp["Value"].mark_modified()
            cp["EditHint"].value = "Proportional"
            vv["PointList"].append(cp)
        return vv

    def write(self, timeline: otio.schema.Timeline) -> None:
        """Write the composition and every track."""
        comp = self.f.create.CompositionMob(timeline.name or "soundify")
        comp.usage = "Usage_TopLevel"
        self.f.content.mobs.append(comp)
        start = timeline.global_start_time
        tc_slot = comp.create_timeline_slot(self.rate)
        tc_slot.name = "TC"
        tc_slot["PhysicalTrackNumber"].value = 1
        tc = self.f.create.Timecode(_timecode_fps(self.rate), False)
        tc.start = 0 if start is None else self.frames(start.to_seconds())
        tc_slot.segment = tc
        numbers = {"picture": 0, "sound": 0}
        first_picture: aaf2.mobslots.MobSlot | None = None
        for track in timeline.tracks:
            kind = "picture" if track.kind == otio.schema.TrackKind.Video else "sound"
            numbers[kind] += 1
            slot = comp.create_timeline_slot(self.rate)
            slot.name = track.name
            slot["PhysicalTrackNumber"].value = numbers[kind]
            if kind == "sound" and is_generated(track):
                slot["TimelineMobAttributeList"].append(  # Premiere names it TimelineMobSlotAttributes (same AUID)
                    self.f.create.TaggedValue(TRACK_FORMAT, 2 if _track_channels(track) == 2 else 1)
                )
            seq = self.sequence(track, kind)
            slot.segment = self.track_pan(track, seq) if kind == "sound" else seq
            if kind == "picture" and numbers[kind] == 1:
                first_picture = slot
        if timeline.tracks.markers and first_picture is not None:
            self.markers(comp, timeline.tracks.markers, first_picture)

    def markers(
        self, comp: aaf2.mobs.CompositionMob, markers: list[otio.schema.Marker], picture: aaf2.mobslots.MobSlot
    ) -> None:
        """Each marker as a DescriptiveMarker in an EventMobSlot of its own, on the picture slot."""
        for number, marker in enumerate(markers, start=1):
            color_name, (red, green, blue) = _AVID_COLORS.get(marker.color, _AVID_COLORS[otio.schema.MarkerColor.RED])
            point = self.f.create.DescriptiveMarker()
            point["Position"].value = self.frames(marker.marked_range.start_time.to_seconds())
            point["Comment"].value = marker.name
            point["DescribedSlots"].value = {picture.slot_id}
            point["CommentMarkerColor"].value = {"red": red, "green": green, "blue": blue}
            point["CommentMarkerUser"].value = "soundify-otio"
            for key, value in (
                ("_ATN_CRM_COLOR", color_name),
                ("_ATN_CRM_COM", marker.name),
                ("_ATN_CRM_USER", "soundify-otio"),
            ):
                point["CommentMarkerAttributeList"].append(self.f.create.TaggedValue(key, value))
            events = self.f.create.Sequence(media_kind="DescriptiveMetadata")
            events.components.append(point)
            slot = self.f.create.EventMobSlot()
            slot.slot_id = MARKER_SLOT_BASE + number
            slot.edit_rate = self.rate
            slot["PhysicalTrackNumber"].value = number
            slot.segment = events
            comp.slots.append(slot)

    def sequence(self, track: otio.schema.Track, kind: str) -> aaf2.components.Sequence:
        """The track's items as a Sequence (fillers, clips, transitions, fades)."""
        seq = self.f.create.Sequence(media_kind=kind)
        length = 0
        items = list(track)
        channels = _track_channels(track) if is_generated(track) else 1
        for i, item in enumerate(items):
            if isinstance(item, otio.schema.Transition):
                parts = [
                    self.transition(
                        kind, self.frames(item.in_offset.to_seconds()), self.frames(item.out_offset.to_seconds())
                    )
                ]
            else:
                head, tail = self.overlaps(items, i)
                if isinstance(item, otio.schema.Gap):
                    parts = [self.f.create.Filler(kind, self.frames(item.duration().to_seconds()) + head + tail)]
                else:
                    parts = self.clip_parts(item, kind, head, tail, channels)
            for part in parts:
                seq.components.append(part)
                length += -part.length if isinstance(part, aaf2.components.Transition) else part.length
        seq.length = length
        return seq

    def transition(self, kind: str, in_frames: int, out_frames: int) -> aaf2.components.Transition:
        """A dissolve of in+out frames, cut after in_frames."""
        length = in_frames + out_frames
        op = (
            self.op_def(MONO_AUDIO_DISSOLVE, "Mono Audio Dissolve", 2, kind, ((LEVEL, "Level"),))
            if kind == "sound"
            else self.op_def(VIDEO_DISSOLVE, "Video Dissolve", 2, kind, ((LEVEL, "Level"),))
        )
        group = self.f.create.OperationGroup(op, length, kind)
        group.parameters.append(
            self.varying(self.param_def(LEVEL, "Level"), [(Fraction(0), Fraction(0)), (Fraction(1), Fraction(1))])
        )
        transition = self.f.create.Transition(kind, length)
        transition["OperationGroup"].value = group
        transition["CutPoint"].value = in_frames
        return transition

    def overlaps(self, items: list[otio.core.Composable], i: int) -> tuple[int, int]:
        """Frames by which item i reaches into the transitions before and after it (AAF overlap)."""
        before = items[i - 1] if i > 0 else None
        after = items[i + 1] if i + 1 < len(items) else None
        head = self.frames(before.in_offset.to_seconds()) if isinstance(before, otio.schema.Transition) else 0
        tail = self.frames(after.out_offset.to_seconds()) if isinstance(after, otio.schema.Transition) else 0
        return head, tail

    def clip_parts(self, item: otio.core.Item, kind: str, head: int, tail: int, channels: int = 1) -> list:
        """The components for one clip (or nested stack): fades, gain group, channel combiner, SourceClips."""
        clip = item if isinstance(item, otio.schema.Clip) else next(iter(item.find_clips()), None)
        length = self.frames(item.duration().to_seconds()) + head + tail
        if isinstance(item, otio.schema.Stack) and len(list(item.find_clips())) > 1:
            _unwritten(item, "a nested stack of several clips (written as its first clip)")
        if clip is not None and not clip.enabled:
            _unwritten(clip, "a disabled clip (written enabled)")
        if clip is not None and isinstance(clip.media_reference, otio.schema.GeneratorReference):
            _unwritten(clip, "a generator (written as a filler of its length)")
            clip = None
        if clip is None:
            return [self.f.create.Filler(kind, length)]
        info = clip_info(clip)
        if info is not None:
            own = min(2, info.sound.channels)
            sources = [self.source_clip(clip, kind, head, length, min(c, own), own) for c in range(1, channels + 1)]
            source = sources[0] if channels == 1 else self.combiner(sources)
            segment = self.gain_group(source, info.gain_db, head)
            fade_in = self.frames(info.fade_in) if not head else 0
            fade_out = self.frames(info.fade_out) if not tail else 0
            fade_in, fade_out = min(fade_in, length), min(fade_out, length - min(fade_in, length))
            parts = []
            if fade_in:
                parts += [self.f.create.Filler(kind, fade_in), self.transition(kind, 0, fade_in)]
            parts.append(segment)
            if fade_out:
                parts += [self.transition(kind, fade_out, 0), self.f.create.Filler(kind, fade_out)]
            return parts
        segment = self.source_clip(clip, kind, head, length)
        for effect in [*clip.effects, *(item.effects if item is not clip else [])]:
            if _aaf_op_id(effect) == str(MONO_AUDIO_GAIN):
                segment = self.effect_group(effect, segment, MONO_AUDIO_GAIN, "Audio Gain")
        return [segment]

    def combiner(self, sources: list[aaf2.components.SourceClip]) -> aaf2.components.OperationGroup:
        """Premiere's "Audio Channel Combiner" over one SourceClip per channel."""
        op = self.op_def(CHANNEL_COMBINER, "Audio Channel Combiner", 1, "sound")
        group = self.f.create.OperationGroup(op, sources[0].length, "sound")
        for source in sources:
            group.segments.append(source)
        return group

    def source_clip(
        self, clip: otio.schema.Clip, kind: str, head: int, length: int, channel: int = 1, channels: int = 1
    ) -> aaf2.components.SourceClip:
        """A SourceClip into slot `channel` of the clip's MasterMob (of `channels` slots), starting
        `head` frames before the clip's in-point."""
        ref = clip.media_reference
        available = clip.available_range() if ref.available_range is not None else None
        offset = clip.trimmed_range().start_time.to_seconds()
        if available is not None:
            offset -= available.start_time.to_seconds()
        master = self.master_mob(clip, kind, channels)
        sc = self.f.create.SourceClip(start=self.frames(offset) - head, length=length, media_kind=kind)
        sc.mob = master
        sc.slot_id = channel
        return sc

    def master_mob(self, clip: otio.schema.Clip, kind: str, channels: int = 1) -> aaf2.mobs.MasterMob:
        """One MasterMob per clip name and media (one slot per channel used), pointing at one file
        SourceMob per media file."""
        url = getattr(clip.media_reference, "target_url", "") or ""
        key = (kind, url or clip.name, clip.name, channels)
        if key not in self.masters:
            file_mob, rate, samples = self.file_mob(clip, kind, url, channels)
            master = self.f.create.MasterMob(clip.name)
            self.f.content.mobs.append(master)
            for channel in range(1, channels + 1):
                master_slot = master.create_timeline_slot(self.rate, slot_id=channel)
                master_clip = self.f.create.SourceClip(length=self.frames(samples / float(rate)), media_kind=kind)
                master_clip.mob = file_mob
                master_clip.slot_id = channel
                master_slot.segment = master_clip
            self.masters[key] = master
        return self.masters[key]

    def file_mob(
        self, clip: otio.schema.Clip, kind: str, url: str, channels: int = 1
    ) -> tuple[aaf2.mobs.SourceMob, Fraction, int]:
        """The file SourceMob (descriptor + locator, one slot per channel used) of the clip's media,
        its rate and length in samples."""
        key = (kind, url or clip.name)
        if key in self.files:
            return self.files[key]
        info = clip_info(clip)
        available = clip.media_reference.available_range
        if info is not None:
            sound = info.sound
            rate = Fraction(sound.sample_rate)
            samples = round(sound.duration * rate)
            descriptor = self.sound_descriptor(Path(sound.path), sound.sample_rate, sound.channels, samples)
            name = Path(sound.path).name
        elif kind == "sound":
            has_rate = available is not None and available.duration.rate >= 8000
            rate = Fraction(round(available.duration.rate) if has_rate else 48000)
            samples = round(available.duration.to_seconds() * rate) if available is not None else 0
            descriptor = self.pcm_descriptor(int(rate), 1, samples, 16)
            name = clip.name
        else:
            rate = self.rate
            samples = self.frames(available.duration.to_seconds()) if available is not None else 0
            descriptor = self.f.create.ImportDescriptor()
            name = clip.name
        if url:
            locator = self.f.create.NetworkLocator()
            locator["URLString"].value = url
            descriptor["Locator"].append(locator)
        mob = self.f.create.SourceMob(f"{name}.PHYS")
        mob.descriptor = descriptor
        self.f.content.mobs.append(mob)
        for channel in range(1, channels + 1):
            slot = mob.create_timeline_slot(rate, slot_id=channel)
            slot.segment = self.f.create.SourceClip(length=samples, media_kind=kind)
        self.files[key] = (mob, rate, samples)
        return self.files[key]

    def sound_descriptor(self, path: Path, rate: int, channels: int, samples: int) -> aaf2.essence.FileDescriptor:
        """WAVE (or AIFC) descriptor with the file's header as Summary, as the editors' linked-media
        exports carry; a PCM descriptor where the file is neither or cannot be read."""
        suffix = path.suffix.lower()
        try:
            if suffix in (".wav", ".wave", ".bwf"):
                summary, descriptor = _wave_summary(path, samples), self.f.create.WAVEDescriptor()
            elif suffix in (".aif", ".aiff"):
                summary, descriptor = _aifc_summary(path, samples), self.f.create.AIFCDescriptor()
            else:
                summary = None
        except (OSError, struct.error):
            summary = None
        if not summary:
            return self.pcm_descriptor(rate, channels, samples, _bits(path))
        descriptor["SampleRate"].value = rate
        descriptor["Length"].value = samples
        descriptor["Summary"].value = summary
        descriptor["ContainerFormat"].value = self.f.dictionary.lookup_containerdef("AAF")
        return descriptor

    def pcm_descriptor(self, rate: int, channels: int, samples: int, bits: int) -> aaf2.essence.PCMDescriptor:
        """A PCM descriptor for a linked sound file."""
        d = self.f.create.PCMDescriptor()
        d["SampleRate"].value = rate
        d["AudioSamplingRate"].value = rate
        d["Channels"].value = channels
        d["QuantizationBits"].value = bits
        d["BlockAlign"].value = channels * bits // 8
        d["AverageBPS"].value = rate * channels * bits // 8
        d["Length"].value = samples
        return d

    def gain_group(
        self, source: aaf2.components.SourceClip, gain_db: list[list[float]], head: int
    ) -> aaf2.components.OperationGroup:
        """MonoAudioGain around the SourceClip with the clip's gain keys as Amplitude points."""
        length = source.length
        op = self.op_def(MONO_AUDIO_GAIN, "Audio Gain", 1, "sound", ((AMPLITUDE, "Amplitude"),))  # before f.create
        group = self.f.create.OperationGroup(op, length, "sound")
        group.segments.append(source)
        span = (-head / float(self.rate), (length - head) / float(self.rate))
        points = [
            (Fraction(frame + head, length), _rational(db_to_gain(v)))
            for frame, v in keys_on_frames(_curve_within(gain_db, *span), float(self.rate))
        ]
        group.parameters.append(self.varying(self.param_def(AMPLITUDE, "Amplitude"), points))
        return group

    def effect_group(
        self, effect: otio.schema.Effect, segment: aaf2.components.Segment, op_id: AUID, name: str
    ) -> aaf2.components.OperationGroup:
        """An input AAF gain/pan effect around a segment, numeric parameters preserved."""
        aaf_meta = effect.metadata["AAF"]
        op = self.op_def(op_id, name, 1, "sound")
        group = self.f.create.OperationGroup(op, segment.length, "sound")
        group.segments.append(segment)
        defined = aaf_meta.get("Operation", {}).get("ParametersDefined", {})
        for pname, value in aaf_meta.get("Parameters", {}).items():
            pid = defined.get(pname, {}).get("Identification")
            if pid is None:
                continue
            pdef = self.param_def(AUID(pid), pname)
            if isinstance(value, Mapping) and value.get("_aaf_keyframed_property"):
                group.parameters.append(
                    self.varying(
                        pdef, [(_rational(float(t)), _rational(float(v))) for t, v in value["keyframe_values"]]
                    )
                )
            elif _is_number(value):
                group.parameters.append(
                    self.f.create.ConstantValue(pdef, AAFRational(_rational(float(Fraction(value)))))
                )
        return group

    def track_pan(self, track: otio.schema.Track, seq: aaf2.components.Sequence) -> aaf2.components.Segment:
        """The track's pan group: soundify pan curves, an input MonoAudioPan effect, or none."""
        if is_generated(track):
            op = self.op_def(MONO_AUDIO_PAN, "Audio Pan", 1, "sound", ((PAN, "Pan"),))
            group = self.f.create.OperationGroup(op, seq.length, "sound")
            group.segments.append(seq)
            group.parameters.append(self.varying(self.param_def(PAN, "Pan"), self.pan_points(track, seq.length)))
            return group
        for effect in track.effects:
            if _aaf_op_id(effect) == str(MONO_AUDIO_PAN):
                return self.effect_group(effect, seq, MONO_AUDIO_PAN, "Audio Pan")
        return seq

    def pan_points(self, track: otio.schema.Track, length: int) -> list[tuple[Fraction, Fraction]]:
        """Each soundify clip's pan keys on the track axis, normalised over the track; one key per frame
        within a clip (keys_on_frames), two at a cut where one clip ends and the next begins (a step)."""
        points = []
        for clip in track.find_clips(shallow_search=True):
            info = clip_info(clip)
            if info is None:
                continue
            start = self.frames(clip_timeline_start(clip))
            duration = clip.duration().to_seconds()
            for frame, v in keys_on_frames(_curve_within(info.pan, 0.0, duration), float(self.rate)):
                points.append((Fraction(start + frame, max(1, length)), _rational((v + 1.0) / 2.0)))
        if not points:
            points = [(Fraction(0), Fraction(1, 2)), (Fraction(1), Fraction(1, 2))]
        return points


def _unwritten(item: otio.core.Composable, what: str) -> None:
    """Warn that AAF output cannot hold `what`, naming the item, its track and its start."""
    parent = item.parent()
    while parent is not None and not isinstance(parent, otio.schema.Track):
        item, parent = parent, parent.parent()
    start = item.range_in_parent().start_time.to_seconds() if parent is not None else 0.0
    track = parent.name if parent is not None else "?"
    log.warning("AAF cannot hold %s: '%s' on track '%s' at %.3f s", what, item.name, track, start)


def _track_channels(track: otio.schema.Track) -> int:
    """1 or 2: the widest sound among the track's soundify clips."""
    infos = [clip_info(c) for c in track.find_clips(shallow_search=True)]
    return 2 if any(i is not None and i.stereo for i in infos) else 1


def _curve_within(curve: list[list[float]], start: float, end: float) -> list[tuple[float, float]]:
    """The keys inside [start, end], plus the curve's values at both ends where keys are missing."""
    inside = [(float(t), float(v)) for t, v in curve if start <= float(t) <= end]
    if not inside or inside[0][0] > start:
        inside.insert(0, (start, value_at(curve, start)))
    if inside[-1][0] < end:
        inside.append((end, value_at(curve, end)))
    return inside


def _is_number(value: Any) -> bool:
    """Whether an AAF parameter value read by the stock adapter is a plain number ("3/4", 0.5)."""
    try:
        Fraction(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (bool, int))


def _wave_summary(path: Path, samples: int) -> bytes | None:
    """A WAVEDescriptor Summary laid out as Premiere's, Resolve's and Pro Tools' exports write it
    (interop/aaf/LibAAF_PR_*.aaf, 44 bytes for a 16-byte fmt): the RIFF header sized to the summary
    itself, the file's `fmt ` chunk, and a `data` chunk header holding the sound's size in bytes (the
    exports write 0 there; LibAAF takes the sample count from it). The file's own RIFF size would send
    a reader looking for chunks far beyond the summary's end (LibAAF crashed on it)."""
    header = aaf2.ama.get_wave_fmt(str(path))
    if not header or len(header) < 36:
        return None
    fmt = bytes(header[12:])
    block_align = struct.unpack("<H", fmt[20:22])[0]
    body = b"WAVE" + fmt + b"data" + struct.pack("<I", min(0xFFFFFFFF, samples * block_align))
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _aifc_summary(path: Path, samples: int) -> bytes | None:
    """An AIFCDescriptor Summary in the same layout: the FORM header sized to the summary, the file's
    COMM chunk, and an SSND chunk header holding the sound's size (offset and block size 0)."""
    header = aaf2.ama.get_aifc_fmt(str(path))
    if not header or len(header) < 38:
        return None
    comm = bytes(header[12:])
    channels, _frames, bits = struct.unpack(">hIh", comm[8:16])
    size = samples * max(1, channels) * ((bits + 7) // 8)
    body = bytes(header[8:12]) + comm + b"SSND" + struct.pack(">III", min(0xFFFFFFFF, size + 8), 0, 0)
    return b"FORM" + struct.pack(">I", len(body)) + body


def _bits(path: Path) -> int:
    """Bits per sample of a sound file (16 where the file cannot be read)."""
    try:
        return _BITS.get(soundfile.info(str(path)).subtype, 16)
    except (OSError, RuntimeError):
        return 16
