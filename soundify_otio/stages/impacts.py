"""Fine sync: the frames where a source's motion is stopped or turned back (contacts, slams, footfalls).

Input is what the decode pass keeps of every frame, a small Y/Cb/Cr picture (`vision.planes`), and
the Grad-CAM maps of the source at a few sampled frames. Per frame the maps are interpolated into a
soft region; inside it the moving content is what differs from the span's median picture in
brightness or colour. Its centre of mass is followed, as a whole and in a grid of overlapping
Gaussian windows (so a foot that lands while the body walks on is seen on its own). A frame is an
impact when the motion that arrived there is lost: velocity reversed (a bounce) or stopped (a slam,
a foot planted), or the moving content vanished at once (a door closing into its frame). Numpy only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

CHROMA_WEIGHT = 1.0
"""Weight of a Cb or Cr level against a Y level in the distance between two pictures' pixels."""


def colour_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, how far apart two [..., 3] Y/Cb/Cr pictures are (float32, Y levels): brightness and
    colour both count, so neither an isoluminant hue change nor a grey one goes unseen."""
    d = a.astype(np.float32) - b.astype(np.float32)
    return np.sqrt(d[..., 0] ** 2 + CHROMA_WEIGHT * (d[..., 1] ** 2 + d[..., 2] ** 2))


NOISE_LEVEL = 6.0
"""Levels of colour distance from the span's median picture below which a pixel counts as unchanged."""
MIN_MASS = 50.0
"""Moving content (distance levels x thumbnail pixels, after the noise floor) a window needs to be followed: one
thumbnail pixel wholly covered by something ~56 levels away from what it hides (a small foot of a saturated
colour on grey) is enough."""
MIN_SPEED = 0.25
"""Thumbnail pixels per frame (about 1.75 px of a 224 frame) the arriving motion needs: slower is drift."""
MIN_LOSS = 0.8
"""Share of the arriving velocity that must be lost at once for an impact (1 = stopped, 2 = bounced back)."""
MIN_TURN = 1.2
"""A motion that goes on (not stopped) must be turned back at least this much: a bounce, not a swerve."""
STOP_RATIO = 0.15
"""Change in the whole region from one frame to the next falling below this share of the change before it is
a shut (the moving content vanished into its frame)."""
SUSTAIN_FRAMES = 3
"""Frames the arriving motion must keep its direction for (a bounce's fall, a door's swing, a foot's step)."""
SPEED_FRAMES = 1
"""Of those, the last frames that must move at MIN_SPEED or faster."""
MASS_CHANGE = 0.15
"""A turn (the motion going on in another direction) counts only in a window whose moving content
stays within this share of its amount around the turn: a centre can turn because parts appear or hide
(legs crossing), not only because the thing bounced."""
WHOLE_REGION_SPEED = 1.0
"""Thumbnail pixels per frame a turn of the whole region's centre needs (a thrown or falling thing too fast
for the small windows; parts of a figure shifting move its centre slower)."""
STOPPED_SHARE = 0.1
"""Leaving motion under this share of the arriving speed is a stop."""
BUILD_RATIO = 3.0
"""The arriving speed may be at most this many times the frame's before: motion that builds up (a fall, a
swing), not a centre that jumps because content appeared, hid or flickered."""
SLOWING_RATIO = 0.65
"""The arriving speed must be at least this share of the frame's before: a thing that slows down to rest (a
ball at the top of its flight, a puck sliding to a stop) hits nothing."""
TURN_SPEED = 0.5
"""Thumbnail pixels per frame a turn's arriving motion needs: a bounce comes in fast; a slow centre turning
back is a limb swinging through its arc while the figure walks on."""
REBOUND_RATIO = 1.1
"""A turn comes back at most this many times as fast as it arrived: a bounce loses speed; a centre that
leaves faster than it came is parts of a figure shifting, not a thing hitting something."""
REGION_FLOOR = 0.5
"""Grad-CAM cells at or above this share of the map's peak are wholly inside the source's region."""
REGION_SHARE = 0.65
"""Share of a window's moving content near the source's region (where its weight exceeds REGION_EDGE) that
must lie in the region itself for the window to be followed: another thing moving at the region's blurred
edge (a second ball, a passer-by) is not the source's motion; things moving far from it do not count."""
REGION_EDGE = 0.05
"""Region weight above which a pixel is near the source's region."""
GRID_SIDES = (1, 3, 8)
"""Windows the region is followed in: the whole region, then 3x3 and 8x8 overlapping Gaussians."""


@dataclass(frozen=True)
class Impact:
    """A visual impact: its frame (from the span's first frame) and how much motion it stopped (0.6..2+)."""

    frame: int
    strength: float


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [n, p] @ b [p, w] in numpy's own loops, not BLAS: OpenBLAS's threads keep spinning after a product,
    and on a machine with few cores they halved the speed of the Grad-CAM that fine sync runs next on
    torch's threads (2.9 s against 5.8 s for the 2-minute bench case's 120 maps)."""
    return np.einsum("np,pw->nw", a, b)


def _upsample_matrix(cells: int, size: int) -> np.ndarray:
    """[size, cells] linear interpolation from cell centres to pixel centres (edges held)."""
    positions = (np.arange(size) + 0.5) * cells / size - 0.5
    matrix = np.zeros((size, cells), np.float32)
    low = np.clip(np.floor(positions).astype(int), 0, cells - 1)
    high = np.clip(low + 1, 0, cells - 1)
    frac = np.clip(positions - np.floor(positions), 0.0, 1.0).astype(np.float32)
    frac[positions < 0] = 0.0
    matrix[np.arange(size), low] += 1.0 - frac
    matrix[np.arange(size), high] += frac
    return matrix


def _dilate(maps: np.ndarray) -> np.ndarray:
    """3x3 maximum filter of [k, h, w] maps (edges padded with zeros)."""
    padded = np.pad(maps, ((0, 0), (1, 1), (1, 1)))
    h, w = maps.shape[1:]
    return np.max([padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0)


def interpolate_maps(maps: np.ndarray, map_frames: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Maps [k, h, w] known at `map_frames` (sorted), linearly blended at each of `frames` (held at the ends)."""
    if len(maps) == 1:
        return np.repeat(maps[:1], len(frames), axis=0).astype(np.float32)
    right = np.clip(np.searchsorted(map_frames, frames, side="right"), 1, len(maps) - 1)
    left = right - 1
    span = np.maximum(map_frames[right] - map_frames[left], 1e-9)
    weight = np.clip((frames - map_frames[left]) / span, 0.0, 1.0).astype(np.float32)[:, None, None]
    return (maps[left] * (1.0 - weight) + maps[right] * weight).astype(np.float32)


def region_weights(cams: np.ndarray, cam_frames: np.ndarray, n_frames: int, reach: float, size: int) -> np.ndarray:
    """Per frame [n, size, size] in 0..1: the source's region from Grad-CAM maps [k, h, w] at `cam_frames`.

    Each map is widened by one cell, cells at or above REGION_FLOOR of its peak count wholly, and a
    frame's region is the union of the maps sampled within `reach` frames of it (the two around it at
    least): sampled a few times a second, the maps miss where a fast source goes between them (a
    ball's flight to the top of its bounce), and a region that blinked would make moving content
    appear and vanish. Scaled up to the thumbnails' grid (`size` a side)."""
    peaks = np.maximum(cams.reshape(len(cams), -1).max(axis=1), 1e-12)[:, None, None]
    soft = np.clip(_dilate(cams / peaks) / REGION_FLOOR, 0.0, 1.0)
    frames = np.asarray(cam_frames, float)
    per_frame = np.empty((n_frames, *cams.shape[1:]), np.float32)
    for t in range(n_frames):
        after = int(np.searchsorted(frames, t))
        near = [*np.flatnonzero(np.abs(frames - t) <= reach).tolist(), max(0, after - 1), min(len(frames) - 1, after)]
        per_frame[t] = soft[sorted(set(near))].max(axis=0)
    uy, ux = _upsample_matrix(cams.shape[1], size), _upsample_matrix(cams.shape[2], size)
    return np.einsum("yh,nhx->nyx", uy, np.einsum("nhw,xw->nhx", per_frame, ux))  # not BLAS: see _product


def _moving(thumbnails: np.ndarray) -> np.ndarray:
    """[n, size, size]: each pixel's colour distance from the span's median picture beyond NOISE_LEVEL (the
    median taken on the uint8 pictures: the same values as in float, in half the time)."""
    still = np.median(thumbnails, axis=0).astype(np.float32)
    return np.maximum(colour_distance(thumbnails, still) - NOISE_LEVEL, 0.0)


def moves(thumbnails: np.ndarray) -> bool:
    """Whether anything in a span's pictures moves enough to be followed (MIN_MASS beyond the noise in some
    frame): where nothing does, no impact can be found and its Grad-CAM maps need not be made."""
    return bool(_moving(thumbnails).reshape(len(thumbnails), -1).sum(axis=1).max(initial=0.0) >= MIN_MASS)


FLAT_PEAK = 2.0
"""A Grad-CAM map whose peak is under this many times its mean has no clear peak: it says nothing of where."""


def is_flat(cams: np.ndarray) -> bool:
    """Whether maps [k, h, w] show no clear peak (every one of them): the source's region is unknown."""
    flat = cams.reshape(len(cams), -1)
    return bool(np.all(flat.max(axis=1) < FLAT_PEAK * np.maximum(flat.mean(axis=1), 1e-12)))


def moving_region(thumbnails: np.ndarray) -> np.ndarray:
    """Per frame [n, size, size] in 0..1: where the span's pictures move most (each pixel's largest distance
    from the span's median picture, against the largest anywhere; at REGION_FLOOR of it counted wholly), the
    region looked in when the source's maps have no clear peak."""
    motion = _moving(thumbnails).max(axis=0)
    soft = np.clip(_dilate(motion[None] / max(float(motion.max()), 1e-6))[0] / REGION_FLOOR, 0.0, 1.0)
    return np.repeat(soft[None], len(thumbnails), axis=0).astype(np.float32)


@functools.cache
def _windows(size: int) -> np.ndarray:
    """[size * size, 3 * count] weights of the follow windows (GRID_SIDES), each summing to its own coverage,
    then the same times each pixel's row and times its column: one product gives each window's moving
    content and the first moments of its centre. Made once per size (read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    columns = []
    for side in GRID_SIDES:
        if side == 1:
            columns.append(np.ones(size * size, np.float32))
            continue
        sigma = size / side * 0.6
        for cy in (np.arange(side) + 0.5) * size / side:
            for cx in (np.arange(side) + 0.5) * size / side:
                columns.append(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2)).ravel())
    windows = np.stack(columns, axis=1).astype(np.float32)
    weights = np.concatenate([windows, windows * yy.ravel()[:, None], windows * xx.ravel()[:, None]], axis=1)
    weights.flags.writeable = False
    return weights


def impact_strength(thumbnails: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Per frame: the largest share of arriving velocity lost at that frame in any window (0 = none).

    Frame t is an impact when the motion from t-1 to t, the same way for SUSTAIN_FRAMES, at MIN_SPEED
    at least and built up to (BUILD_RATIO, SLOWING_RATIO), is stopped from t to t+1 where the content
    stays, or turned back (MIN_TURN, TURN_SPEED, REBOUND_RATIO) where it neither appears nor hides (the
    window's centre of moving content, in windows mostly inside the region: REGION_SHARE); or when the change
    from t-1 to t in the whole region, near its recent peak, is followed by almost none (STOP_RATIO: a door
    shut into its frame, where the moving content itself vanishes). That last is judged on the whole region
    only: in a small window, change stops as soon as a thing passes out of it (a falling ball, a distractor
    turning at the region's edge), which is no impact. Every frame at once, in numpy."""
    n, size = thumbnails.shape[0], thumbnails.shape[1]
    strength = np.zeros(n, np.float32)
    if n < SUSTAIN_FRAMES + 2:
        return strength
    pictures = thumbnails.astype(np.float32)
    weights = _windows(size)
    count = weights.shape[1] // 3
    windows = weights[:, :count]
    unweighted = _moving(thumbnails)
    moving = (unweighted * region).reshape(n, -1)
    change = np.maximum(colour_distance(pictures[1:], pictures[:-1]) - NOISE_LEVEL, 0.0) * region[1:]
    energy = change.reshape(n - 1, -1).sum(axis=1)  # energy[t - 1]: change from t - 1 to t in the whole region
    moments = _product(moving, weights)
    mass = moments[:, :count]
    near = _product((unweighted * (region > REGION_EDGE)).reshape(n, -1), windows)  # what moves near the region
    inside = mass >= REGION_SHARE * near
    safe = np.maximum(mass, 1e-6)
    centre = np.stack([moments[:, count : 2 * count], moments[:, 2 * count :]]) / safe
    velocity = np.diff(centre, axis=1)  # velocity[:, t - 1]: motion from t - 1 to t
    present = (mass >= MIN_MASS) & inside
    both = present[1:] & present[:-1]  # both[t - 1]: followed from t - 1 to t
    speed = np.linalg.norm(velocity, axis=0)
    same_way = (velocity[:, 1:] * velocity[:, :-1]).sum(axis=0) > 0  # same_way[t - 2]: t-2->t-1 and t-1->t agree
    t = np.arange(SUSTAIN_FRAMES, n - 1)  # frames that can be impacts: enough before, one after
    sustained = np.all([both[t - k] for k in range(1, SUSTAIN_FRAMES + 1)], axis=0)
    sustained &= np.all([same_way[t - k] for k in range(2, SUSTAIN_FRAMES + 1)], axis=0)
    sustained &= np.all([speed[t - k] >= MIN_SPEED for k in range(1, SPEED_FRAMES + 1)], axis=0)
    arriving, leaving = velocity[:, t - 1], velocity[:, t]
    lost = 1.0 - (leaving * arriving).sum(axis=0) / np.maximum(speed[t - 1] ** 2, 1e-9)
    kept = [np.abs(mass[t + k] / np.maximum(mass[t], 1e-6) - 1.0) <= MASS_CHANGE for k in (-1, 1)]
    stopped = (speed[t] <= STOPPED_SHARE * speed[t - 1]) & kept[1]
    local = np.arange(windows.shape[1]) > 0  # every window but the whole region
    turned = (local | (speed[t - 1] >= WHOLE_REGION_SPEED)) & (lost >= MIN_TURN) & kept[0] & kept[1]
    turned &= (speed[t] <= REBOUND_RATIO * speed[t - 1]) & (speed[t - 1] >= TURN_SPEED)
    built = (speed[t - 1] <= BUILD_RATIO * speed[t - 2]) & (speed[t - 1] >= SLOWING_RATIO * speed[t - 2])
    valid = sustained & built & both[t] & (stopped | turned)
    strength[t] = np.where(valid, lost, 0.0).max(axis=1)
    padded = np.concatenate([np.zeros(7, energy.dtype), energy])
    recent = np.lib.stride_tricks.sliding_window_view(padded, 8).max(axis=-1)  # recent[t]: energy[t-7..t]
    e = t[t >= 2]
    moved = (energy[e - 1] >= MIN_MASS) & (energy[e - 2] >= MIN_MASS)
    abrupt = energy[e - 2] >= 0.6 * recent[e - 1]
    shut = moved & abrupt & (energy[e] < STOP_RATIO * energy[e - 1])
    strength[e[shut]] = np.maximum(strength[e[shut]], 1.0)
    return strength


def detect_impacts(
    thumbnails: np.ndarray, region: np.ndarray, fps: float, min_gap_seconds: float = 0.15
) -> list[Impact]:
    """Impacts in a span of frames: strength peaks of at least MIN_LOSS, at least `min_gap_seconds` apart."""
    strength = impact_strength(thumbnails, region)
    gap = max(1, round(min_gap_seconds * fps))
    found: list[Impact] = []
    for t in np.argsort(-strength, kind="stable"):
        if strength[t] < MIN_LOSS:
            break
        if all(abs(int(t) - o.frame) >= gap for o in found):
            found.append(Impact(int(t), float(strength[t])))
    return sorted(found, key=lambda o: o.frame)
