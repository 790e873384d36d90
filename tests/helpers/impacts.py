"""Synthetic footage of impacts with the truth where they happen (PyAV encodes it): a ball dropped and
bouncing, a door slammed, a figure walking, and a puck sliding (no contact at all). Each writer returns
the video and the contact frames; colours, background and floor are parameters, so each clip also
comes in an isoluminant variant (ISO_RED...: the object differs from its background by hue alone).

Contacts fall on whole frames: the frame given is the first one where the ball touches the floor,
the door is shut, or the foot is on the ground.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile

from soundify_otio.types import Shot

from helpers.synthetic import MID_GREY, write_video

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)
RGB = tuple[int, int, int]
ISO_RED, ISO_GREEN, ISO_BLUE = (230, 84, 84), (80, 170, 40), (112, 112, 255)
"""Colours of MID_GREY's luma (BT.601 Y 128 +- 1): against a MID_GREY background they differ by hue alone."""


def _floor(width: int, rows: int, colour: RGB, texture: float, seed: int = 7) -> np.ndarray:
    """A floor [rows, width, 3]: `colour` plus a static tile pattern of +-`texture` grey levels (8 px tiles)."""
    floor = np.empty((rows, width, 3), np.float32)
    floor[:] = colour
    if texture:
        tiles = np.random.default_rng(seed).uniform(-texture, texture, (rows // 8 + 1, width // 8 + 1))
        floor += np.kron(tiles, np.ones((8, 8)))[:rows, :width, None]
    return np.clip(np.round(floor), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ImpactVideo:
    """A written video and the frames of its contacts."""

    path: Path
    fps: float
    n_frames: int
    contacts: tuple[int, ...]
    size: tuple[int, int]


def _disc(img: np.ndarray, cy: float, cx: float, radius: float, colour: tuple[int, int, int]) -> None:
    """Draw an anti-aliased disc (coverage by 4x4 supersampling) onto img in place."""
    h, w = img.shape[:2]
    y0, y1 = max(0, int(cy - radius - 1)), min(h, int(cy + radius + 2))
    x0, x1 = max(0, int(cx - radius - 1)), min(w, int(cx + radius + 2))
    if y1 <= y0 or x1 <= x0:
        return
    sub = (np.arange(4) + 0.5) / 4
    ys = (np.arange(y0, y1)[:, None] + sub[None, :]).ravel()
    xs = (np.arange(x0, x1)[:, None] + sub[None, :]).ravel()
    inside = ((ys[:, None] - cy) ** 2 + (xs[None, :] - cx) ** 2) <= radius**2
    cover = inside.reshape(y1 - y0, 4, x1 - x0, 4).mean(axis=(1, 3))[..., None]
    patch = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = np.round(patch * (1 - cover) + np.array(colour, np.float32) * cover).astype(np.uint8)


def _box(img: np.ndarray, y0: float, y1: float, x0: float, x1: float, colour: tuple[int, int, int]) -> None:
    """Fill a rectangle with fractional edges (partial coverage at its border pixels)."""
    h, w = img.shape[:2]
    ys, xs = np.arange(h) + 0.5, np.arange(w) + 0.5
    cy = np.clip(np.minimum(ys + 0.5, y1) - np.maximum(ys - 0.5, y0), 0, 1)
    cx = np.clip(np.minimum(xs + 0.5, x1) - np.maximum(xs - 0.5, x0), 0, 1)
    cover = (cy[:, None] * cx[None, :])[..., None]
    rows, cols = np.flatnonzero(cy), np.flatnonzero(cx)
    if rows.size == 0 or cols.size == 0:
        return
    r, c = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    patch = img[r, c].astype(np.float32)
    img[r, c] = np.round(patch * (1 - cover[r, c]) + np.array(colour, np.float32) * cover[r, c]).astype(np.uint8)


def bounce_heights(contacts: tuple[int, ...], release: int, floor: float, gravity: float, pause: int = 0) -> np.ndarray:
    """Per frame the height above the floor of a ball released at `release` that lands at each contact:
    free fall, then one parabola per bounce (gravity in px/frame^2), at rest after the last contact.
    `pause` frames before the last contact the ball is caught at the top of its last bounce and held
    still, then dropped (the parabola split at its apex)."""
    n = contacts[-1] + 1
    height = np.zeros(n)
    first = contacts[0]
    drop = 0.5 * gravity * (first - release) ** 2
    for t in range(n):
        if t <= release:
            height[t] = drop
        elif t <= first:
            height[t] = drop - 0.5 * gravity * (t - release) ** 2
    pairs = list(itertools.pairwise(contacts))
    for k, (a, b) in enumerate(pairs):
        held = pause if k == len(pairs) - 1 else 0
        flight = b - a - held
        for t in range(a, b + 1):
            u = t - a if t - a <= flight / 2 else max(flight / 2, t - a - held)
            height[t] = 0.5 * gravity * u * (flight - u)
    return np.maximum(height, 0.0)


def bouncing_ball(
    path: Path,
    contacts: tuple[int, ...] = (22, 46, 66, 83, 97, 108),
    n_frames: int = 125,
    fps: float = 25,
    size: tuple[int, int] = (320, 180),
    moving_distractor: bool = False,
    colour: RGB = RED,
    background: RGB = MID_GREY,
    floor_colour: RGB = (100, 100, 100),
    texture: float = 0.0,
    pause: int = 0,
    distractor_colour: RGB = BLUE,
    distractor_at: float = 0.75,
    distractor_period: int = 30,
) -> ImpactVideo:
    """A ball (`colour`) dropped at frame 4, bouncing on a floor with contacts at `contacts`, drifting right,
    at rest after the last; a static green box beside it. `moving_distractor` adds a block that slides
    left and right at `distractor_at` of the width, turning back sharply every `distractor_period` / 2
    frames (which must not count as the ball's). `texture` patterns the floor; `pause` holds the ball
    still at the top of its last bounce for that many frames before it drops (see bounce_heights)."""
    width, height = size
    radius = height * 0.06
    floor = height * 0.85
    gravity = 2 * (floor - radius - height * 0.12) / (contacts[0] - 4) ** 2
    heights = bounce_heights(contacts, 4, floor, gravity, pause)
    base = np.empty((height, width, 3), np.uint8)
    base[:] = background
    base[int(floor) :] = _floor(width, height - int(floor), floor_colour, texture)
    _box(base, floor - height * 0.25, floor, width * 0.55, width * 0.66, GREEN)

    def frame(i: int) -> np.ndarray:
        img = base.copy()
        h = heights[min(i, len(heights) - 1)]
        _disc(img, floor - radius - h, width * 0.15 + 0.4 * min(i, contacts[-1]), radius, colour)
        if moving_distractor:
            phase = (i % distractor_period) / distractor_period
            x = width * (distractor_at + 0.15 * (1 - abs(2 * phase - 1)))
            _box(img, height * 0.2, height * 0.4, x, x + width * 0.06, distractor_colour)
        return img

    write_video(path, frame, n_frames, fps, width, height)
    return ImpactVideo(Path(path), fps, n_frames, tuple(contacts), size)


ISSUE_BALL_CONTACTS = (18, 40, 58, 73, 85, 95, 104, 122)
"""Contact frames of `ball_with_distractor_and_pause`."""


def ball_with_distractor_and_pause(path: Path) -> ImpactVideo:
    """Issue 23's case: a ball on a darker textured floor, a blue block turning back sharply beside it, the
    ball held at the top of its last bounce before it drops (contacts at ISSUE_BALL_CONTACTS)."""
    return bouncing_ball(
        path,
        contacts=ISSUE_BALL_CONTACTS,
        n_frames=135,
        moving_distractor=True,
        distractor_at=0.36,
        floor_colour=(70, 70, 70),
        texture=18.0,
        pause=10,
    )


def sliding_puck(
    path: Path,
    pushes: tuple[int, ...] = (5, 45, 85),
    n_frames: int = 125,
    fps: float = 25,
    size: tuple[int, int] = (320, 180),
    colour: RGB = RED,
    background: RGB = MID_GREY,
    floor_colour: RGB = (100, 100, 100),
    texture: float = 0.0,
) -> ImpactVideo:
    """A flat puck (`colour`) on the floor, pushed at each frame of `pushes` (alternately right and left):
    eased up to speed over 6 frames, then slowed by friction to a stop. It never hits anything, so the
    truth is no contact at all: every hit found on it is a false one."""
    width, height = size
    floor = height * 0.85
    base = np.empty((height, width, 3), np.uint8)
    base[:] = background
    base[int(floor) :] = _floor(width, height - int(floor), floor_colour, texture)
    velocity = np.zeros(n_frames)
    top = width * 0.016  # px per frame at the end of a push
    for k, push in enumerate(pushes):
        sign = 1.0 if k % 2 == 0 else -1.0
        for t in range(push, n_frames):
            lead = t - push
            speed = top * 0.5 * (1 - np.cos(np.pi * lead / 6)) if lead < 6 else top - (lead - 6) * top / 28
            if speed <= 0:
                break
            velocity[t] = sign * speed
    xs = width * 0.3 + np.cumsum(velocity)

    def frame(i: int) -> np.ndarray:
        img = base.copy()
        _box(img, floor - height * 0.05, floor, xs[i], xs[i] + width * 0.1, colour)
        return img

    write_video(path, frame, n_frames, fps, width, height)
    return ImpactVideo(Path(path), fps, n_frames, (), size)


def slamming_door(
    path: Path,
    slams: tuple[int, ...] = (40, 95),
    n_frames: int = 125,
    fps: float = 25,
    size: tuple[int, int] = (320, 180),
    colour: RGB = GREEN,
    background: RGB = MID_GREY,
    doorway: RGB = (25, 25, 25),
) -> ImpactVideo:
    """A door (`colour`) in a dark doorway, seen from the front, hinged on its left: it swings open over
    0.8 s, waits, and is slammed shut (accelerating) to close at each frame of `slams`."""
    width, height = size
    x0, x1, top = width * 0.35, width * 0.6, height * 0.15
    base = np.empty((height, width, 3), np.uint8)
    base[:] = background
    base[int(height * 0.9) :] = (90, 90, 90)
    _box(base, top, height * 0.9, x0, x1, doorway)
    opening = np.zeros(n_frames)  # 0 shut .. 1 wide open
    for slam in slams:
        for t in range(n_frames):
            lead = slam - t
            if 0 < lead <= 8:  # slammed: accelerating shut over 8 frames
                opening[t] = max(opening[t], 1.0 - (1 - lead / 8) ** 2)
            elif 8 < lead <= 12:
                opening[t] = max(opening[t], 1.0)
            elif 12 < lead <= 32:  # swung open gently
                opening[t] = max(opening[t], 0.5 - 0.5 * np.cos(np.pi * (32 - lead) / 20))

    def frame(i: int) -> np.ndarray:
        img = base.copy()
        panel = (x1 - x0) * np.cos(opening[i] * np.pi / 2 * 0.9)
        _box(img, top, height * 0.9, x0, x0 + panel, colour)
        return img

    write_video(path, frame, n_frames, fps, width, height)
    return ImpactVideo(Path(path), fps, n_frames, tuple(slams), size)


def walking_figure(
    path: Path,
    first_step: int = 12,
    step_frames: int = 13,
    steps: int = 7,
    n_frames: int = 125,
    fps: float = 25,
    size: tuple[int, int] = (320, 180),
    colour: RGB = BLUE,
    background: RGB = MID_GREY,
    ground: RGB = (95, 95, 95),
) -> ImpactVideo:
    """A figure (`colour`) walking left to right: body and head gliding at a steady pace, bobbing lowest
    where a foot lands; each foot swings forward on an arc, lands (the contact) while still moving,
    and stays planted until two frames after the other foot lands. Returns the landing frames."""
    width, height = size
    floor = height * 0.9
    stride = width * 0.12  # one foot's travel per swing; the body moves half of it per step
    speed = stride / 2 / step_frames
    landings = [first_step + k * step_frames for k in range(steps)]
    swing = step_frames - 2  # a foot stays down until two frames after the other lands (double support)
    start = width * 0.08
    foot_w, foot_h = width * 0.035, height * 0.03

    def foot(i: int, which: int) -> tuple[float, float]:
        """(x of the foot's heel, its height above the ground) at frame i; foot 0 lands at even steps."""
        x, lifted = start + which * stride / 2, 0.0
        for land in landings[which::2]:
            if i >= land:
                x += stride
                continue
            if i > land - swing:
                tau = (i - land + swing) / swing
                x += stride * (tau - 0.25 * np.sin(2 * np.pi * tau) / (2 * np.pi))
                lifted = height * 0.06 * np.sin(np.pi * tau) ** 0.7
            break
        return x, lifted

    def frame(i: int) -> np.ndarray:
        img = np.empty((height, width, 3), np.uint8)
        img[:] = background
        img[int(floor) :] = ground
        bob = height * 0.006 * (1 + np.cos(2 * np.pi * (i - landings[0]) / step_frames))  # lowest at landings
        hip_x = start + 0.75 * stride + speed * (i - landings[0]) + foot_w / 2
        hip_y = floor - height * 0.32 + bob
        _box(img, hip_y - height * 0.3, hip_y, hip_x - width * 0.03, hip_x + width * 0.03, colour)
        _disc(img, hip_y - height * 0.36, hip_x, height * 0.055, colour)
        for which in (0, 1):
            fx, lifted = foot(i, which)
            fy = floor - lifted
            for k in range(12):  # the leg: a line of small boxes from the hip to the foot
                a = k / 11
                ly, lx = hip_y + (fy - foot_h - hip_y) * a, hip_x + (fx + foot_w / 3 - hip_x) * a
                _box(img, ly - 2, ly + 2, lx - 2, lx + 2, colour)
            _box(img, fy - foot_h, fy, fx, fx + foot_w, colour)
        return img

    write_video(path, frame, n_frames, fps, width, height)
    return ImpactVideo(Path(path), fps, n_frames, tuple(landings), size)


def unseen_checks() -> tuple[tuple[str, Callable[[Path], ImpactVideo], str], ...]:
    """Clips made after fine sync's thresholds were last set (i23), never tuned on: (name, writer, label).

    Other colours, contrasts, frame sizes, timings and distractors than any clip the thresholds saw: a
    magenta-red ball on a textured brown floor with a green block turning near it, an isoluminant blue
    ball held twice as long before its last drop beside a red block, a door of a pale green on a
    mid-grey doorway slammed three times in a wider frame, a red figure on light ground at a step every
    12 frames, and a green puck sliding on a textured floor (no contact at all)."""
    return (
        (
            "magenta_ball_brown_floor",
            lambda p: bouncing_ball(
                p,
                contacts=(19, 42, 62, 79, 93, 104),
                size=(384, 216),
                colour=(200, 40, 120),
                background=(150, 150, 150),
                floor_colour=(90, 70, 50),
                texture=14.0,
                moving_distractor=True,
                distractor_colour=GREEN,
                distractor_at=0.62,
                distractor_period=22,
            ),
            "red ball bounce",
        ),
        (
            "iso_blue_ball_long_hold",
            lambda p: bouncing_ball(
                p,
                contacts=(20, 44, 65, 83, 118),
                n_frames=130,
                colour=ISO_BLUE,
                floor_colour=MID_GREY,
                texture=8.0,
                moving_distractor=True,
                distractor_colour=ISO_RED,
                distractor_at=0.45,
                distractor_period=28,
                pause=18,
            ),
            "blue footsteps",
        ),
        (
            "pale_green_door_wide",
            lambda p: slamming_door(
                p, slams=(35, 72, 110), size=(384, 162), colour=(120, 190, 110), doorway=(100, 100, 100)
            ),
            "green door slam",
        ),
        (
            "red_walk_light_ground",
            lambda p: walking_figure(
                p,
                first_step=11,
                step_frames=12,
                steps=8,
                n_frames=115,
                colour=(200, 50, 50),
                background=(150, 150, 150),
                ground=(110, 110, 110),
            ),
            "red ball bounce",
        ),
        (
            "green_puck_textured",
            lambda p: sliding_puck(p, pushes=(8, 48, 88), colour=(40, 170, 60), texture=12.0),
            "green door slam",
        ),
    )


def hit_sound(seconds: float, transient: float, sample_rate: int = 48000, seed: int = 0) -> np.ndarray:
    """A thud that peaks exactly at `transient` s: silence, a 2 ms rise, an exponential ring-out (mono)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    t = (np.arange(n) - round(transient * sample_rate)) / sample_rate
    envelope = np.where(t < 0, np.clip(1 + t / 0.002, 0, 1), np.exp(-np.maximum(t, 0) / 0.06))
    body = 0.6 * np.sin(2 * np.pi * 90 * np.maximum(t, 0)) + 0.4 * rng.uniform(-1, 1, n)
    out = 0.8 * envelope * body
    out[round(transient * sample_rate)] = 0.8  # the peak itself, so the truth is one sample
    return out.astype(np.float32)


def shots_of(videos: list[ImpactVideo]) -> list[Shot]:
    """Each video whole, one shot after another on a timeline that starts at 0."""
    shots, start = [], 0.0
    for index, video in enumerate(videos):
        duration = video.n_frames / video.fps
        shots.append(Shot(index, video.path.stem, video.path, 0.0, start, duration))
        start += duration
    return shots


def timeline_of(videos: list[ImpactVideo]) -> otio.schema.Timeline:
    """The same shots as a timeline: each video whole, one clip after another at its own rate, on track V1."""
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for video in videos:
        media = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, video.fps), otio.opentime.RationalTime(video.n_frames, video.fps)
        )
        reference = otio.schema.ExternalReference(target_url=video.path.resolve().as_uri(), available_range=media)
        track.append(otio.schema.Clip(name=video.path.stem, source_range=media, media_reference=reference))
    timeline = otio.schema.Timeline(name="impacts")
    timeline.tracks.append(track)
    return timeline


def audio_peaks(path: Path, min_gap: float = 0.15) -> np.ndarray:
    """Seconds of a rendered mix's hits: local peaks of |x| above a third of the loudest, min_gap apart."""
    data, rate = soundfile.read(str(path), always_2d=True)
    level = np.abs(data).max(axis=1)
    order = np.argsort(-level)
    peaks: list[int] = []
    for i in order:
        if level[i] < level[order[0]] / 3:
            break
        if all(abs(i - p) >= min_gap * rate for p in peaks):
            peaks.append(int(i))
    return np.sort(np.array(peaks)) / rate
