import pytest

from relight_lib.library.data import layout
from relight_lib.library.data.layout import Condition


def test_forty_conditions_in_vidit_naming():
    assert len(layout.ALL_CONDITIONS) == 40
    assert len({c.tag for c in layout.ALL_CONDITIONS}) == 40
    assert layout.image_name("Image049", Condition(4500, "E")) == "Image049_4500_E.png"
    assert layout.depth_name("Image049") == "Image049.npy"
    assert layout.scene_name(7) == "Image007"
    assert layout.scene_name(1234) == "Image1234"


@pytest.mark.parametrize("cond", layout.ALL_CONDITIONS, ids=lambda c: c.tag)
def test_image_name_round_trip(cond):
    assert layout.parse_image_name(layout.image_name("Image123", cond)) == ("Image123", cond)


@pytest.mark.parametrize("name", ["Image049_4500_X.png", "Image049_4000_E.png", "Image049.png",
                                  "image049_4500_E.png", "Image049_4500_E.jpg"])
def test_parse_image_name_rejects(name):
    assert layout.parse_image_name(name) is None


def test_condition_errors():
    with pytest.raises(ValueError, match="4000"):
        Condition(4000, "N")
    with pytest.raises(ValueError, match="'X'"):
        Condition(6500, "X")
    with pytest.raises(ValueError, match="cannot parse"):
        Condition.parse("warm-left")


def test_parse_conditions_sets_and_tags():
    assert layout.parse_conditions("all") == layout.ALL_CONDITIONS
    t1 = layout.parse_conditions("track1")
    assert set(t1) == {layout.TRACK1_INPUT, layout.TRACK1_TARGET}
    both = layout.parse_conditions("track1,mbnet, 6500-N")
    assert [c.tag for c in both] == ["4500_E", "4500_W", "6500_N", "6500_NE"]
    with pytest.raises(ValueError):
        layout.parse_conditions(" , ")


def test_flip_matches_angles():
    # a horizontal flip mirrors the pan angle: a -> 360 - a (S=0, E=90, N=180, W=270)
    for d, a in layout.DIRECTION_ANGLES.items():
        assert layout.DIRECTION_ANGLES[layout.FLIP_DIRECTION[d]] == (360 - a) % 360
    assert layout.FLIP_DIRECTION["W"] == "E"


@pytest.mark.parametrize("n", [1, 2, 3, 8, 40, 120, 390, 1000])
def test_split_counts(n):
    counts = layout.split_counts(n)
    assert sum(counts.values()) == n
    assert counts["train"] >= 1
    if n >= 3:
        assert counts["validation"] >= 1 and counts["test"] >= 1
    splits = layout.split_of_scenes(n)
    flat = splits["train"] + splits["validation"] + splits["test"]
    assert flat == list(range(n))


def test_split_counts_vidit():
    assert layout.split_counts(390) == {"train": 300, "validation": 45, "test": 45}
    with pytest.raises(ValueError):
        layout.split_counts(0)
