"""Regenerate street.otio and street.xml in this folder from `soundify_otio.sample.sample_timeline`.

Change the edit there (so `soundify-otio`'s sample builder writes the same files), then run
``python sample_projects/make_timelines.py``.
"""

from __future__ import annotations

from pathlib import Path

from soundify_otio.sample.project import write_timelines

if __name__ == "__main__":
    for path in write_timelines(Path(__file__).resolve().parent):
        print(path)
