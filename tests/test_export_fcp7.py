"""FCP7 xmeml: write the fixture and real Premiere exports, read back with lxml and the stock adapter."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from lxml import etree

from soundify_otio.exporters.fcp7 import write_fcp7_xml
from soundify_otio.timeline.keyframes import value_at

from helpers.timelines import SHARED_INTEROP, append_sfx_track, generated_clips

RATE = 24
EFFECT_ORDER = ["name", "effectid", "effectcategory", "effecttype", "mediatype", "parameter"]
PARAM_ORDER = ["parameterid", "name", "valuemin", "valuemax", "value"]


def _filter(clipitem: etree._Element, effect_id: str) -> etree._Element:
    return clipitem.xpath(f"filter/effect[effectid='{effect_id}']/parameter")[0]


def _keys(param: etree._Element) -> list[tuple[int, float]]:
    return [(int(k.findtext("when")), float(k.findtext("value"))) for k in param.findall("keyframe")]


def test_fixture_levels_and_pan(annotated_timeline, tmp_path):
    out = tmp_path / "cut.xml"
    expected = list(generated_clips(annotated_timeline))
    write_fcp7_xml(annotated_timeline, out)
    seq = etree.parse(str(out)).find(".//sequence")

    video = seq.findall("media/video/track")
    assert [c.findtext("name") for c in video[0].findall("clipitem")] == ["shot A", "shot B"]
    assert video[0].find("clipitem/marker/name").text == "note"

    tracks = seq.findall("media/audio/track")
    layout = {"SFX 1": [0], "SFX 2": [1, 2], "AMB": [3, 4]}  # stereo sounds: an exploded pair of tracks
    assert len(tracks) == 5
    for pair in ([1, 2], [3, 4]):
        assert [tracks[i].get("premiereTrackType") for i in pair] == ["Stereo", "Stereo"]
        assert [tracks[i].get("currentExplodedTrackIndex") for i in pair] == ["0", "1"]
    assert (tracks[0].get("premiereTrackType"), tracks[0].get("monotrack")) == ("Mono", "TRUE")
    assert [t.get("MZ.TrackName") for t in tracks] == ["SFX 1", "SFX 2", "SFX 2", "AMB", "AMB"]
    files = {f.findtext("pathurl"): f for f in seq.iter("file") if f.find("pathurl") is not None}
    for clip, meta, item in [
        (clip, meta, item)
        for otio_track, clip, meta in expected
        for item in [
            [c for c in tracks[i].findall("clipitem") if c.findtext("name") == clip.name][
                [c for c in otio_track if isinstance(c, otio.schema.Clip)].index(clip)
            ]
            for i in layout[otio_track.name]
        ]
    ]:
        placed = clip.range_in_parent()
        start, end = int(item.findtext("start")), int(item.findtext("end"))
        if start != -1:  # -1: the clip begins inside a transition, then its end says where it is
            assert start == round(placed.start_time.to_seconds() * RATE)
        assert end == -1 or end == round(placed.end_time_exclusive().to_seconds() * RATE)

        tags = [c.tag for c in item]
        assert tags.index("file") < tags.index("sourcetrack") < tags.index("filter")
        for effect in item.findall("filter/effect"):
            assert [c.tag for c in effect] == EFFECT_ORDER
            assert [c.tag for c in effect.find("parameter")][:5] == PARAM_ORDER
        media_in = round(clip.source_range.start_time.value)
        length = clip.duration().to_seconds()

        def faded(t: float, meta=meta, length=length) -> float:
            """Premiere's fades: the level ramps linearly from 0 over each fade."""
            rise = t / meta["fade_in"] if meta["fade_in"] else 1.0
            fall = (length - t) / meta["fade_out"] if meta["fade_out"] else 1.0
            return max(0.0, min(1.0, rise, fall))

        for effect_id, curve, expected, tol in (
            ("audiolevels", meta["keyframes"]["gain_db"], lambda c, t: 10 ** (value_at(c, t) / 20) * faded(t), 0.03),
            ("audiopan", meta["keyframes"]["pan"], value_at, 0.01),
        ):
            keys = _keys(_filter(item, effect_id))
            assert len(keys) >= 2
            for when, value in keys:  # levels within 3 % (0.25 dB): keys inside a fade are scaled by it
                want = expected(curve, (when - media_in) / RATE)
                assert abs(value - want) <= tol * max(abs(want), 1.0 if effect_id == "audiopan" else 1e-3)
            for t, _v in curve:
                assert min(abs((when - media_in) / RATE - t) for when, _ in keys) <= 1 / RATE
        sound = files[clip.media_reference.target_url.replace("file:///", "file://localhost/")]
        assert sound.findtext("media/audio/samplecharacteristics/samplerate") == str(meta["sound"]["sample_rate"])
        assert sound.findtext("media/audio/channelcount") == str(meta["sound"]["channels"])
        assert sound.find("media/video") is None

    bell = tracks[0].find("clipitem")
    assert _keys(_filter(bell, "audiopan"))[0] == (0, -0.8)
    traffic = tracks[1].find("clipitem")
    assert _keys(_filter(traffic, "audiolevels"))[0][0] == 24  # key at the in-point (1 s at 24 fps)


def test_stock_reader_sees_the_filters(annotated_timeline, tmp_path):
    out = tmp_path / "cut.xml"
    write_fcp7_xml(annotated_timeline, out)
    back = otio.adapters.read_from_file(str(out), adapter_name="fcp_xml")
    audio = [c for t in back.tracks if t.kind == "Audio" for c in t if isinstance(c, otio.schema.Clip)]
    assert [c.name for c in audio] == [c.name for _t, c, _m in generated_clips(annotated_timeline)]
    assert all(sorted(e.name for e in c.effects) == ["Audio Levels", "Audio Pan"] for c in audio)


def _interop_files() -> list[Path]:
    return sorted((SHARED_INTEROP / "fcp7xml").glob("*.xml")) if SHARED_INTEROP.is_dir() else []


def _counts(root: etree._Element) -> tuple[int, int, int]:
    seq = root.find(".//sequence")
    return (
        len(seq.findall("media/video/track")),
        len(seq.findall("media/audio/track")),
        len(seq.findall("media/*/track/clipitem")),
    )


@pytest.mark.interop
@pytest.mark.skipif(not _interop_files(), reason=f"real xmeml samples not found under {SHARED_INTEROP}/fcp7xml")
@pytest.mark.parametrize("source", _interop_files(), ids=lambda p: p.name)
def test_real_premiere_export_keeps_its_tracks(source, tmp_path):
    timeline = otio.adapters.read_from_file(str(source), adapter_name="fcp_xml")
    # baseline: what the stock adapter itself round-trips (its reader keeps one track per stereo pair)
    base = etree.fromstring(otio.adapters.write_to_string(timeline, "fcp_xml").encode())
    rate = timeline.tracks[0].duration().rate
    append_sfx_track(timeline, tmp_path, rate)
    out = tmp_path / "out.xml"
    write_fcp7_xml(timeline, out)
    root = etree.parse(str(out)).getroot()

    video, audio, items = _counts(base)
    assert _counts(root) == (video, audio + 2, items + 2)  # the stereo whoosh: two clipitems, two tracks
    original = etree.parse(str(source)).findall(".//sequence/media/*/track/clipitem")
    assert {c.findtext("name") for c in original} <= {c.findtext("name") for c in root.iter("clipitem")}
    pair = root.findall(".//sequence/media/audio/track")[-2:]
    new = [t.find("clipitem") for t in pair]
    assert [c.findtext("name") for c in new] == ["whoosh", "whoosh"]
    assert all(int(c.findtext("start")) == round(rate) for c in new)
    for clipitem in new:
        levels = _keys(_filter(clipitem, "audiolevels"))
        # 0.5 s fades baked into the levels, as Premiere writes fades: silent at both edges
        assert levels[0] == (0, 0.0)
        assert levels[-1] == (2 * round(rate), 0.0)
        assert (round(rate), 1.0) in levels
        assert [v for _w, v in _keys(_filter(clipitem, "audiopan"))] == [-1.0, 1.0]
    assert _stereo_layout(pair) == _stereo_layout(_premiere_pair(etree.parse(str(source)).getroot()))


def _premiere_pair(root: etree._Element) -> list[etree._Element]:
    """The first exploded stereo track pair holding clipitems in a real Premiere export."""
    tracks = [
        t for t in root.iter("track") if t.get("premiereTrackType") == "Stereo" and t.find("clipitem") is not None
    ]
    return tracks[:2]


def _stereo_layout(pair: list[etree._Element]) -> list[tuple]:
    """What makes two xmeml tracks one stereo clip: the exploded-track attributes, each clipitem's
    source channel, and its audio links (how many, whether grouped, which channels' clipitems)."""
    out = []
    ids = [t.find("clipitem").get("id") for t in pair]
    for track in pair:
        item = track.find("clipitem")
        links = [lk for lk in item.findall("link") if lk.findtext("mediatype") == "audio"]
        out.append(
            (
                track.get("premiereTrackType"),
                track.get("currentExplodedTrackIndex"),
                track.get("totalExplodedTrackCount"),
                item.findtext("sourcetrack/trackindex"),
                [lk.findtext("linkclipref") in ids for lk in links],
                [lk.findtext("groupindex") for lk in links],
                item.get("premiereChannelType", "stereo"),
            )
        )
    return out
