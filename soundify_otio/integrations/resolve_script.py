"""soundify-otio for DaVinci Resolve: Workspace > Scripts > Soundify.

Exports the current timeline as OTIO (Resolve 18.5+ scripting API), annotates it with the library
and settings it was installed with, imports the result as a NEW timeline beside the original (the
original is never touched), and starts the review page for it.

Installed by `soundify-otio install resolve`, which writes the settings into CONFIG. It runs in
Resolve's own Python (3.6 or later): standard library only. The annotation runs as a child process
in the Python soundify-otio is installed in (CONFIG["python"]).
"""

import os
import re
import subprocess
import time

CONFIG: dict = {}  # written by `soundify-otio install resolve`

LAUNCH = "from soundify_otio.cli import main; main()"
SUFFIX = "soundify"


def resolve_app(namespace):
    """The Resolve object: the `resolve` global Resolve gives its scripts, else through bmd or the module."""
    if namespace.get("resolve") is not None:
        return namespace["resolve"]
    if namespace.get("bmd") is not None:
        return namespace["bmd"].scriptapp("Resolve")
    import DaVinciResolveScript  # the scripting module, for a run from outside Resolve's menu

    return DaVinciResolveScript.scriptapp("Resolve")


def file_stem(name):
    """A file name made from a timeline name (anything but letters, digits, '.', '-' becomes '_')."""
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "timeline"


def free_timeline_name(project, name):
    """`name (soundify)`, or `name (soundify 2)`... when the project has a timeline of that name."""
    taken = set()
    for index in range(1, int(project.GetTimelineCount() or 0) + 1):
        existing = project.GetTimelineByIndex(index)
        if existing:
            taken.add(existing.GetName())
    candidate, number = f"{name} ({SUFFIX})", 1
    while candidate in taken:
        number += 1
        candidate = f"{name} ({SUFFIX} {number})"
    return candidate


def soundify_command(config, *args):
    return [config["python"], "-c", LAUNCH, *args, "--library", config["library"], *config["options"]]


def run(resolve, config, run_command=subprocess.run, start=subprocess.Popen, say=print):
    """The whole job; returns 0 on success, else a non-zero code after saying why (one line)."""
    manager = resolve.GetProjectManager()
    project = manager.GetCurrentProject() if manager else None
    if not project:
        say("soundify: no project is open")
        return 1
    timeline = project.GetCurrentTimeline()
    if not timeline:
        say("soundify: the project has no current timeline; open one on the Edit page")
        return 1
    name = timeline.GetName()
    folder = os.path.join(config["work_dir"], f"{file_stem(name)}-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(folder, exist_ok=True)
    exported = os.path.join(folder, file_stem(name) + ".otio")
    if not timeline.Export(exported, resolve.EXPORT_OTIO, resolve.EXPORT_NONE):
        say(f"soundify: Resolve did not export '{name}' as OTIO (that needs Resolve 18.5 or later)")
        return 1
    annotated = os.path.join(folder, file_stem(name) + ".soundify.otio")
    done = run_command(
        soundify_command(config, "--quiet", "annotate", exported, "-o", annotated, "--target", "resolve", "--force"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    if done.returncode != 0:
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        say(f"soundify: the annotation failed (exit {done.returncode}): {lines[-1] if lines else 'no message'}")
        return done.returncode
    new_name = free_timeline_name(project, name)
    imported = project.GetMediaPool().ImportTimelineFromFile(
        annotated, {"timelineName": new_name, "importSourceClips": True}
    )
    if not imported:
        say(
            f"soundify: Resolve did not import {annotated} (it refuses a timeline whose media it cannot find); "
            "the file is kept"
        )
        return 1
    say(f"soundify: imported '{new_name}' beside '{name}' (the original is unchanged)")
    if config.get("review", True):
        offer_review(config, exported, folder, start, say)
    return 0


def offer_review(config, exported, folder, start, say):
    """Start the review page for the exported timeline; its Write button writes a revised timeline."""
    revised = os.path.join(folder, os.path.basename(exported)[: -len(".otio")] + ".reviewed.otio")
    args = ["review", exported, "-o", revised, "--target", "resolve", "--force"]
    if not config.get("open_browser", True):
        args.append("--no-browser")
    with open(os.path.join(folder, "review.log"), "w") as log:
        child = start(
            soundify_command(config, "--quiet", *args), stdout=subprocess.PIPE, stderr=log, universal_newlines=True
        )
    url = child.stdout.readline().strip()
    if url:
        say(f"soundify: review page {url} - pick and listen, then Write timeline and import {revised}")
    else:
        say(f"soundify: the review page did not start (see {os.path.join(folder, 'review.log')})")
    return child


if __name__ == "__main__" or globals().get("resolve") is not None:  # run from Resolve's menu
    run(resolve_app(globals()), CONFIG)
