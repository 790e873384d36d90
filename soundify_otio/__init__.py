"""Soundify for editors: match sound effects to a cut, write editable automation through OTIO."""

__version__ = "0.1.0"
