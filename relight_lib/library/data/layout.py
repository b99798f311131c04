"""The VIDIT file layout, lighting conditions and split rules, stated once.

Everything that names a file or a lighting condition goes through this module, so the SynVIDIT
renderer (:mod:`relight_lib.library.data.synvidit`) and the loaders (:mod:`relight_lib.library.data.vidit`) cannot
drift apart.

VIDIT facts (``spec/papers.md`` section 1):

* 40 illuminations per scene: 5 colour temperatures x 8 light directions.
* Full / any-to-any packaging: one flat folder of ``ImageNNN_TTTT_D.png`` (``Image049_4500_E.png``)
  plus one depth file ``ImageNNN.npy`` per scene in the same folder.
* NTIRE 2021 Track 1 (one-to-one): inputs ``ImageNNN.png`` (6500 K, North) with ``ImageNNN.npy``
  beside them; targets ``ImageNNN.png`` (4500 K, East) in a separate folder.
* NTIRE 2021 Track 2 (any-to-any) validation and test: paired folders ``input/`` and ``guide/``,
  each holding ``PairNNN.png`` + ``PairNNN.npy`` (image + its depth); pair NNN relights
  ``input/PairNNN.png`` to the lighting of ``guide/PairNNN.png``. The validation ground truth
  ``PairNNN.png`` comes in a separate archive (``track2_validation_gt.zip``); test ground truth is
  private. Scene names and lighting conditions are not given in this packaging.
* Scenes are numbered globally: train ``Image000``-``Image299``, validation ``Image300``-``Image344``,
  test ``Image345``-``Image389`` (300/45/45).

Direction convention (ours, for SynVIDIT; VIDIT does not document one): directions are relative to
the camera. ``N`` is straight ahead (the light is beyond the scene, facing the camera), ``S`` is
behind the camera, ``E`` is image-right and ``W`` image-left. A horizontal flip of an image
therefore swaps E<->W, NE<->NW and SE<->SW, which is what MBNet's extra-data trick assumes
(``spec/papers.md`` section 4.6).

SynVIDIT root layout written by ``relight render`` (and read by the loaders)::

    ROOT/manifest.json                                  generator version, parameters, sha256 per file
    ROOT/any2any/{train,validation,test}/ImageNNN_TTTT_D.png   every rendered condition (flat, as VIDIT)
    ROOT/any2any/{train,validation,test}/ImageNNN.npy          depth, one per scene
    ROOT/track1/{train,validation,test}/input/ImageNNN.png     6500 K N, with ImageNNN.npy beside it
    ROOT/track1/{train,validation,test}/target/ImageNNN.png    4500 K E
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Colour temperatures in kelvin, as in VIDIT.
TEMPERATURES: tuple[int, ...] = (2500, 3500, 4500, 5500, 6500)

#: Light directions in VIDIT's naming order.
DIRECTIONS: tuple[str, ...] = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")

#: Pan angle in degrees per direction, in the convention of the 2DSceneRelighting code
#: (``utils/dataset.py``: S=0, SE=45, E=90, ... increasing from S through E to N).
DIRECTION_ANGLES: dict[str, int] = {
    "S": 0, "SE": 45, "E": 90, "NE": 135, "N": 180, "NW": 225, "W": 270, "SW": 315,
}

#: Direction after a horizontal (left-right) image flip.
FLIP_DIRECTION: dict[str, str] = {
    "N": "N", "S": "S", "E": "W", "W": "E", "NE": "NW", "NW": "NE", "SE": "SW", "SW": "SE",
}

SPLITS: tuple[str, ...] = ("train", "validation", "test")

#: VIDIT's scene split proportions (300 / 45 / 45 of 390 scenes).
SPLIT_PROPORTIONS: dict[str, int] = {"train": 300, "validation": 45, "test": 45}

ANY2ANY_DIR = "any2any"
TRACK1_DIR = "track1"
MANIFEST = "manifest.json"


@dataclass(frozen=True, order=True)
class Condition:
    """One lighting condition: a colour temperature (K) and a direction name."""

    temperature: int
    direction: str

    def __post_init__(self) -> None:
        if self.temperature not in TEMPERATURES:
            raise ValueError(f"temperature {self.temperature} K is not one of {TEMPERATURES}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction {self.direction!r} is not one of {DIRECTIONS}")

    @property
    def tag(self) -> str:
        """``'6500_N'``: the ``TTTT_D`` part of a VIDIT file name."""
        return f"{self.temperature}_{self.direction}"

    @property
    def angle(self) -> int:
        """Pan angle in degrees (see :data:`DIRECTION_ANGLES`)."""
        return DIRECTION_ANGLES[self.direction]

    @classmethod
    def parse(cls, tag: str) -> "Condition":
        """Parse ``'6500_N'`` (or ``'6500-N'``) into a :class:`Condition`."""
        m = re.fullmatch(r"(\d{4})[_-]([NESW]{1,2})", tag.strip())
        if not m:
            raise ValueError(f"cannot parse lighting condition {tag!r}; expected e.g. '6500_N'")
        return cls(int(m.group(1)), m.group(2))


ALL_CONDITIONS: tuple[Condition, ...] = tuple(
    Condition(t, d) for t in TEMPERATURES for d in DIRECTIONS
)

#: NTIRE 2021 / AIM 2020 Track 1: input 6500 K North, target 4500 K East.
TRACK1_INPUT = Condition(6500, "N")
TRACK1_TARGET = Condition(4500, "E")

#: Named condition sets for ``relight render --conditions`` (comma-separated names or tags).
CONDITION_SETS: dict[str, tuple[Condition, ...]] = {
    "all": ALL_CONDITIONS,
    "track1": (TRACK1_INPUT, TRACK1_TARGET),
    # MBNet's extra pairs (spec/papers.md 4.6): 6500-NE inputs -> 4500-E, and flipped
    # 6500-N inputs -> flipped 4500-W targets.
    "mbnet": (Condition(6500, "NE"), Condition(4500, "W")),
}


def parse_conditions(spec: str) -> tuple[Condition, ...]:
    """Turn ``'track1,mbnet'`` or ``'6500_N,4500_E'`` or ``'all'`` into sorted unique conditions."""
    out: set[Condition] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part in CONDITION_SETS:
            out.update(CONDITION_SETS[part])
        else:
            out.add(Condition.parse(part))
    if not out:
        raise ValueError(f"no lighting conditions in {spec!r}")
    order = {c: i for i, c in enumerate(ALL_CONDITIONS)}
    return tuple(sorted(out, key=order.__getitem__))


def scene_name(index: int) -> str:
    """``Image007`` for scene 7 (VIDIT pads to three digits)."""
    if index < 0:
        raise ValueError(f"scene index must be >= 0, got {index}")
    return f"Image{index:03d}"


_IMAGE_RE = re.compile(r"^(Image\d{3,})_(\d{4})_([NESW]{1,2})\.png$")


def image_name(scene: str, cond: Condition) -> str:
    """``Image049_4500_E.png``: an any-to-any file name."""
    return f"{scene}_{cond.tag}.png"


def depth_name(scene: str) -> str:
    """``Image049.npy``: the per-scene depth file name."""
    return f"{scene}.npy"


_PAIR_RE = re.compile(r"^(Pair\d{3,})\.(png|npy)$")


def pair_name(index: int) -> str:
    """``Pair007`` for pair 7 of a Track 2 validation/test set (padded to three digits)."""
    if index < 0:
        raise ValueError(f"pair index must be >= 0, got {index}")
    return f"Pair{index:03d}"


def parse_pair_name(name: str) -> tuple[str, str] | None:
    """Split ``Pair011.npy`` into ``('Pair011', 'npy')`` (``png`` or ``npy``); None if no match.

    >>> parse_pair_name("Pair011.png"), parse_pair_name("Image011.png")
    (('Pair011', 'png'), None)
    """
    m = _PAIR_RE.match(name)
    return (m.group(1), m.group(2)) if m else None


def parse_image_name(name: str) -> tuple[str, Condition] | None:
    """Split ``Image049_4500_E.png`` into ``('Image049', Condition(4500, 'E'))``; None if no match."""
    m = _IMAGE_RE.match(name)
    if not m:
        return None
    try:
        return m.group(1), Condition(int(m.group(2)), m.group(3))
    except ValueError:
        return None


def split_counts(n_scenes: int) -> dict[str, int]:
    """Scenes per split in VIDIT's 300/45/45 proportions, with at least one validation and one
    test scene once there are three or more scenes.

    >>> split_counts(390)
    {'train': 300, 'validation': 45, 'test': 45}
    >>> split_counts(8)
    {'train': 6, 'validation': 1, 'test': 1}
    """
    if n_scenes < 1:
        raise ValueError(f"need at least one scene, got {n_scenes}")
    total = sum(SPLIT_PROPORTIONS.values())
    n_val = round(n_scenes * SPLIT_PROPORTIONS["validation"] / total)
    n_test = round(n_scenes * SPLIT_PROPORTIONS["test"] / total)
    if n_scenes >= 3:
        n_val, n_test = max(1, n_val), max(1, n_test)
    return {"train": n_scenes - n_val - n_test, "validation": n_val, "test": n_test}


def split_of_scenes(n_scenes: int) -> dict[str, list[int]]:
    """Scene indices per split; numbered consecutively like VIDIT (train first, then validation,
    then test)."""
    counts = split_counts(n_scenes)
    out, start = {}, 0
    for split in SPLITS:
        out[split] = list(range(start, start + counts[split]))
        start += counts[split]
    return out
