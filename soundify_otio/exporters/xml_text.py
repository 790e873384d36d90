"""The one text sanitiser for every XML (and AAF string) we write.

XML 1.0 allows only tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD and U+10000-U+10FFFF. Every other
character (C0 controls such as U+0001 or ESC, U+FFFE/U+FFFF, lone surrogates) is replaced with
U+FFFD, so a clip or sound named with one still writes a well-formed file; markup characters are
escaped by the serialiser (lxml / ElementTree), never by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import opentimelineio as otio

REPLACEMENT = "\ufffd"
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """`text` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _FORBIDDEN.sub(REPLACEMENT, text)


def sanitise_timeline(timeline: otio.schema.Timeline) -> None:
    """Replace forbidden characters, in place, in every name, marker text, media URL, effect name and
    metadata string of `timeline` (call it on a copy: the writers' input stays as given)."""
    timeline.name = xml_text(timeline.name or "")
    _clean_metadata(timeline.metadata)
    for obj in [timeline.tracks, *timeline.tracks.find_children()]:
        obj.name = xml_text(obj.name or "")
        _clean_metadata(obj.metadata)
        for marker in getattr(obj, "markers", []):
            marker.name = xml_text(marker.name or "")
            marker.comment = xml_text(marker.comment or "")
            _clean_metadata(marker.metadata)
        for effect in getattr(obj, "effects", []):
            effect.name = xml_text(effect.name or "")
            effect.effect_name = xml_text(effect.effect_name or "")
            _clean_metadata(effect.metadata)
        ref = getattr(obj, "media_reference", None)
        if ref is not None:
            ref.name = xml_text(ref.name or "")
            _clean_metadata(ref.metadata)
            if isinstance(ref, otio.schema.ExternalReference):
                ref.target_url = xml_text(ref.target_url or "")
            elif isinstance(ref, otio.schema.GeneratorReference):
                ref.generator_kind = xml_text(ref.generator_kind or "")


def _clean_metadata(metadata: Any) -> None:
    """Sanitise an OTIO metadata mapping in place (OTIO objects' metadata cannot be reassigned)."""
    if metadata:
        cleaned = _clean(dict(metadata.items()))
        metadata.clear()
        metadata.update(cleaned)


def _clean(value: Any) -> Any:
    """A metadata value with its strings (keys included) sanitised."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, otio.core.SerializableObject):
        return value  # an OTIO object kept in metadata (a Track is a Sequence too): left as it is
    if isinstance(value, Mapping):
        return {xml_text(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_clean(v) for v in value]
    return value
