"""Face identities across frames: greedy IoU tracking.

Each frame's faces are matched to the tracks alive in the previous frames by the overlap of
their boxes (intersection over union), best pairs first; a face that overlaps no track by
``min_iou`` may still join the nearest track whose centre is within half its size (fast
motion, or ``--every N`` sampling). Unmatched faces start new tracks with the next free
``face_id`` (0, 1, 2, ...); a track unseen for ``max_missed`` processed frames ends. Ids are
never reused, so a face that leaves and comes back gets a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .detect import Face


def box_iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class Track:
    face_id: int
    face: Face
    missed: int = 0


@dataclass
class IoUTracker:
    """Assigns a stable ``face_id`` to the faces of consecutive frames."""

    min_iou: float = 0.3
    max_missed: int = 10
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 0

    def update(self, faces: list[Face]) -> list[int]:
        """The ``face_id`` of each face of this frame (in the order given)."""
        ids = [-1] * len(faces)
        pairs = []
        for i, f in enumerate(faces):
            for k, t in enumerate(self.tracks):
                iou = box_iou(f.box, t.face.box)
                dist = np.hypot(f.cx - t.face.cx, f.cy - t.face.cy) / max(t.face.size, 1.0)
                if iou >= self.min_iou:
                    pairs.append((1.0 - iou, i, k))
                elif dist < 0.5:
                    pairs.append((1.0 + dist, i, k))
        used_f, used_t = set(), set()
        for _, i, k in sorted(pairs):
            if i in used_f or k in used_t:
                continue
            used_f.add(i)
            used_t.add(k)
            ids[i] = self.tracks[k].face_id
            self.tracks[k].face, self.tracks[k].missed = faces[i], 0
        for k, t in enumerate(self.tracks):
            if k not in used_t:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for i, f in enumerate(faces):
            if ids[i] < 0:
                ids[i] = self.next_id
                self.tracks.append(Track(self.next_id, f))
                self.next_id += 1
        return ids

    def active(self) -> list[Track]:
        """Tracks seen in the last processed frame or recently enough to be searched for."""
        return list(self.tracks)
