"""Scores and verdict rules of blurtool.ops.rank on synthetic blur/kind maps built for each level."""

import cv2
import numpy as np
import pytest

from blurtool.errors import InputError
from blurtool.ops.rank import GRID, RankRules, Verdict, rank_maps, score_maps, to_grid, verdict

H, W = 240, 320


def maps(blurred: np.ndarray, kind: int = 1, motion: np.ndarray | None = None, noise: float = 0.0, seed: int = 0):
    """Blur map 0.9 on ``blurred`` and 0.1 elsewhere (plus noise), kind map ``kind`` there (``motion`` -> 2)."""
    rng = np.random.default_rng(seed)
    blur = np.where(blurred, 0.9, 0.1).astype(np.float32)
    if noise:
        blur = np.clip(blur + rng.normal(0, noise, blur.shape), 0, 1).astype(np.float32)
    k = np.where(blurred, kind, 0).astype(np.uint8)
    if motion is not None:
        k[motion & blurred] = 2
    return blur, k


def ellipse(cx, cy, rx, ry, h=H, w=W):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0


def v(blur, kind, rules=None):
    return rank_maps(blur, kind, 0.5, rules)[1:]


def test_degree_is_mean_of_map_and_fractions_add_up():
    blurred = np.zeros((H, W), bool)
    blurred[:, : W // 2] = True
    motion = np.zeros((H, W), bool)
    motion[: H // 2] = True
    blur, kind = maps(blurred, 1, motion)
    s = score_maps(blur, kind, 0.5)
    assert s.degree == pytest.approx(0.5 * 0.9 + 0.5 * 0.1, abs=1e-3)
    assert s.blurred_fraction == pytest.approx(0.5, abs=0.01)
    assert s.sharp_fraction == pytest.approx(0.5, abs=0.01)
    assert s.motion_fraction == pytest.approx(0.25, abs=0.01)
    assert s.defocus_fraction == pytest.approx(0.25, abs=0.01)
    assert s.defocus_share == pytest.approx(0.5, abs=0.02)
    # Sharp half is the right half: centroid on the horizontal axis, half-way to the edge -> 0.5 / sqrt(2).
    assert s.sharp_offset == pytest.approx(0.5 / np.sqrt(2), abs=0.02)
    assert s.subject_area == pytest.approx(0.5, abs=0.01)
    assert s.centre_sharp == pytest.approx(0.5, abs=0.05)


def test_scores_do_not_depend_on_map_resolution():
    blurred = ~ellipse(W / 2, H / 2, W / 5, H / 4)
    blur, kind = maps(blurred, noise=0.05)
    big = score_maps(blur, kind)
    small_b = cv2.resize(blur, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    small_k = cv2.resize(kind, (W // 2, H // 2), interpolation=cv2.INTER_NEAREST)
    small = score_maps(small_b, small_k)
    for name, a in big.to_dict().items():
        assert a == pytest.approx(small.to_dict()[name], abs=0.02), name


def test_to_grid_never_upsamples_and_keeps_aspect():
    b = np.zeros((50, 60), np.float32)
    assert to_grid(b)[0].shape == (50, 60)
    big = np.zeros((1000, 2000), np.float32)
    assert to_grid(big)[0].shape == (GRID // 2, GRID)


def test_no_blur_whole_photo_sharp():
    blurred = np.zeros((H, W), bool)
    blurred[:10, :20] = True  # a speck of map noise
    assert v(*maps(blurred, noise=0.05))[0] is Verdict.NONE


def test_good_blur_central_subject_on_defocused_background():
    subject = ellipse(W / 2, H * 0.55, W / 6, H / 4)
    verdict_, why = v(*maps(~subject, kind=1))
    assert verdict_ is Verdict.GOOD, why


def test_good_blur_rule_of_thirds_subject():
    subject = ellipse(W / 3, H / 3, W / 8, H / 5)
    s = score_maps(*maps(~subject, kind=1))
    assert s.subject_offset == pytest.approx(1 / 3, abs=0.05)
    assert verdict(s)[0] is Verdict.GOOD


def test_ok_blur_small_corner_region():
    blurred = np.zeros((H, W), bool)
    blurred[: H // 3, : W // 3] = True  # 11 % of the frame, a corner
    verdict_, why = v(*maps(blurred, kind=1))
    assert verdict_ is Verdict.OK, why


def test_bad_blur_whole_frame():
    verdict_, why = v(*maps(np.ones((H, W), bool), kind=1))
    assert verdict_ is Verdict.BAD and "whole frame" in why


def test_bad_blur_camera_shake():
    blurred = np.ones((H, W), bool)
    blurred[-H // 5 :] = False  # a sharp strip (20 %) at the bottom, motion blur over the rest
    verdict_, why = v(*maps(blurred, kind=2))
    assert verdict_ is Verdict.BAD and "shake" in why


def test_bad_blur_motion_blurred_subject():
    # Sharp background, a moving subject in the centre (20 % of the frame): not shake, the subject is the problem.
    subject = ellipse(W / 2, H / 2, W / 5, H / 4)
    verdict_, why = v(*maps(subject, kind=2))
    assert verdict_ is Verdict.BAD and "motion-blurred subject" in why
    # The same region defocused is a soft subject on a sharp background: missed focus, not ok.
    verdict_, why = v(*maps(ellipse(W / 2, H / 2, W / 4, H / 3), kind=1))
    assert verdict_ is Verdict.BAD and "missed focus" in why, why


def test_bad_blur_missed_focus_sharp_only_at_periphery():
    # Focus on the background at the left edge, the centre soft: the strip lies along the frame's edge.
    blurred = np.ones((H, W), bool)
    blurred[:, : W // 5] = False
    s = score_maps(*maps(blurred, kind=1))
    assert s.subject_enclosed < 0.5 and s.subject_centre == 0.0
    verdict_, why = verdict(s)
    assert verdict_ is Verdict.BAD and "missed focus" in why
    # Focus on the foreground: a sharp strip along the bottom (10 % of the frame).
    blurred = np.ones((H, W), bool)
    blurred[-H // 10 :] = False
    assert v(*maps(blurred, kind=1)) == (Verdict.BAD, "missed focus")
    # A sharp ring around a soft centre: central centroid, but neither in the central third nor free in the blur.
    ring = np.ones((H, W), bool)
    ring[H // 5 : -H // 5, W // 5 : -W // 5] = False
    s = score_maps(*maps(~ring, kind=1))
    assert s.subject_offset < 0.1 and s.subject_centre == 0.0 and s.subject_enclosed < 0.5
    assert verdict(s) == (Verdict.BAD, "missed focus")
    # A soft centre whose sharp surroundings are thin (a ring 10 % wide): the same.
    ring = np.ones((H, W), bool)
    ring[H // 10 : -H // 10, W // 10 : -W // 10] = False
    assert v(*maps(~ring, kind=1)) == (Verdict.BAD, "missed focus")


def test_good_blur_small_subject_on_a_defocused_frame():
    # Macro: a ladybird covering 1 % of the frame, everything else defocused (99 % blurred, more than the
    # "whole frame blurred" bound): the subject is there, so the blur is the photographer's.
    subject = ellipse(W / 2, H / 2, 17, 14)
    assert subject.mean() == pytest.approx(0.01, abs=0.002)
    s = score_maps(*maps(~subject, kind=1))
    assert s.blurred_fraction > RankRules().frame_blurred_min
    assert verdict(s) == (Verdict.GOOD, "sharp subject, defocused background")


@pytest.mark.parametrize("fx, fy", [(1 / 3, 1 / 3), (2 / 3, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 2 / 3)])
def test_good_blur_small_subject_on_a_rule_of_thirds_point(fx, fy):
    # 1 % on a thirds point: only a quarter of it lies in the central third (2 % of that third), so the central-third
    # test alone would call it missed focus; it stands free in the blur.
    s = score_maps(*maps(~ellipse(fx * W, fy * H, 17, 14), kind=1))
    assert s.subject_offset == pytest.approx(1 / 3, abs=0.03)
    assert s.subject_centre < RankRules().subject_centre_min and s.subject_enclosed == 1.0
    assert verdict(s)[0] is Verdict.GOOD


def test_good_blur_subject_near_the_edge_on_a_thirds_line():
    # A bird (2 % of the frame) 12 % of the width from the right edge, on the upper thirds line; nothing of it in the
    # central third.
    bird = ellipse(0.88 * W, H / 3, 25, 20)
    s = score_maps(*maps(~bird, kind=1))
    assert s.subject_centre == 0.0 and s.subject_enclosed == 1.0 and 0.5 < s.subject_offset < 0.6
    assert verdict(s)[0] is Verdict.GOOD
    # On the lower thirds line with a small part of its outline on the frame's edge (its feet cut by the frame): still
    # a subject.
    cut = ellipse(2 * W / 3, H - 30, 30, 32)
    s = score_maps(*maps(~cut, kind=1))
    assert RankRules().subject_enclosed_min <= s.subject_enclosed < 1.0 and s.subject_centre == 0.0
    assert verdict(s)[0] is Verdict.GOOD
    # The same subject in a corner is a sharp patch at the margin, not a subject: missed focus.
    corner = ellipse(W - 35, H - 35, 30, 30)
    s = score_maps(*maps(~corner, kind=1))
    assert s.subject_enclosed >= RankRules().subject_enclosed_min and s.subject_offset > RankRules().subject_offset_max
    assert verdict(s) == (Verdict.BAD, "missed focus")


def test_a_region_barely_below_the_threshold_is_no_subject():
    # What a shaken or misfocused frame's map leaves here and there: a patch (1 %) just below the threshold.
    subject = ellipse(W / 2, H / 2, 18, 14)
    blur = np.where(subject, 0.45, 0.9).astype(np.float32)
    kind = np.where(subject, 0, 1).astype(np.uint8)
    s = score_maps(blur, kind, 0.5)
    assert s.subject_sharpness == pytest.approx(0.1, abs=0.02)
    assert verdict(s) == (Verdict.BAD, "whole frame blurred")
    # The same patch clearly sharp is a subject.
    blur[subject] = 0.05
    s = score_maps(blur, kind, 0.5)
    assert s.subject_sharpness > 0.7  # 0.9 inside; the grid's area averaging mixes in the blur at its rim
    assert verdict(s)[0] is Verdict.GOOD


def test_subject_scores_enclosed_and_sharpness():
    # Free in the blur: every outline pixel is blurred. A strip along the left edge: its outline is the frame's edge
    # on three sides (the pixels beyond the edge count), the blur on one.
    free = score_maps(*maps(~ellipse(W / 2, H / 2, W / 6, H / 5)))
    assert free.subject_enclosed == 1.0 and free.subject_sharpness == pytest.approx(0.8, abs=0.03)  # map 0.1 of 0.5
    strip = np.ones((H, W), bool)
    strip[:, : W // 4] = False
    s = score_maps(*maps(strip))
    assert s.subject_enclosed == pytest.approx(0.4, abs=0.05)
    nothing = score_maps(*maps(np.ones((H, W), bool)))
    assert nothing.subject_area == 0.0 and nothing.subject_enclosed == 0.0 and nothing.subject_sharpness == 0.0


def test_rules_are_options_that_change_the_verdict():
    blurred = np.zeros((H, W), bool)
    blurred[: H // 3, : W // 3] = True
    b, k = maps(blurred)
    assert v(b, k)[0] is Verdict.OK
    assert v(b, k, RankRules(no_blur_max=0.2))[0] is Verdict.NONE
    # The subject rules: a 1 % subject on a thirds point is one by default, not with a larger minimum area, a
    # stricter sharpness, or without the "free in the blur" alternative to the central third.
    b, k = maps(~ellipse(W / 3, H / 3, 17, 14))
    assert v(b, k)[0] is Verdict.GOOD
    assert v(b, k, RankRules(subject_area_min=0.04))[0] is Verdict.BAD
    assert v(b, k, RankRules(subject_sharpness_min=0.9))[0] is Verdict.BAD
    assert v(b, k, RankRules(subject_enclosed_min=1.0))[0] is Verdict.GOOD
    assert v(b, k, RankRules(subject_offset_max=0.3))[0] is Verdict.BAD


def test_verdict_order_is_worst_first():
    assert [x.rank for x in (Verdict.BAD, Verdict.OK, Verdict.GOOD, Verdict.NONE)] == [0, 1, 2, 3]


@pytest.mark.parametrize("bad", [np.zeros((0, 3), np.float32), np.zeros((3, 3, 3), np.float32), [[0.1]]])
def test_bad_maps_raise_input_error(bad):
    with pytest.raises(InputError):
        score_maps(bad, None)


def test_bad_rules_and_threshold_raise_input_error():
    with pytest.raises(InputError):
        RankRules(no_blur_max=1.5)
    with pytest.raises(InputError):
        score_maps(np.zeros((4, 4), np.float32), None, threshold=1.0)
    with pytest.raises(InputError):
        score_maps(np.zeros((4, 4), np.float32), np.zeros((3, 4), np.uint8))


def test_bad_blur_mixed_defocus_and_motion_around_a_subject():
    subject = ellipse(W / 2, H / 2, W / 5, H / 4)
    motion = np.zeros((H, W), bool)
    motion[:, W // 2 :] = True  # background: defocus on the left, motion on the right
    s = score_maps(*maps(~subject, kind=1, motion=motion))
    assert s.motion_fraction < 0.5 and s.defocus_share < 0.6
    verdict_, why = verdict(s)
    assert verdict_ is Verdict.BAD and "mixed" in why


def test_bad_blur_no_subject_only_sharp_specks():
    # Small sharp squares (each 0.3 % of the frame) on a defocused frame: the centre is partly sharp, no subject.
    blurred = np.ones((H, W), bool)
    for y in range(0, H, 24):
        for x in range(0, W, 24):
            blurred[y : y + 14, x : x + 14] = False
    s = score_maps(*maps(blurred, kind=1))
    assert s.centre_sharp >= RankRules().centre_sharp_min and s.subject_area < RankRules().subject_area_min
    verdict_, why = verdict(s)
    assert verdict_ is Verdict.BAD and why == "no sharp subject"


def test_the_amount_is_scored_on_blurred_pixels_and_a_slight_blur_is_only_slightly_soft():
    blurred = np.ones((H, W), bool)
    blurred[:, : W // 4] = False  # a sharp strip at the left edge: no subject, the frame mostly blurred
    blur, kind = maps(blurred)
    heavy = np.where(blurred, 12.0, 0.0).astype(np.float32)
    s = score_maps(blur, kind, 0.5, amount=heavy)
    assert s.amount == pytest.approx(12.0, abs=0.3) and s.centre_amount == pytest.approx(12.0, abs=0.3)
    assert score_maps(blur, kind, 0.5).amount is None  # no amount map, no amount
    assert v(blur, kind) == (Verdict.BAD, "missed focus")
    assert rank_maps(blur, kind, 0.5, amount=heavy)[1:] == (Verdict.BAD, "missed focus")
    slight = np.where(blurred, 2.0, 0.0).astype(np.float32)  # the "low" level: details still visible
    assert rank_maps(blur, kind, 0.5, amount=slight)[1:] == (Verdict.OK, "slightly soft")
    # The rule's bound is an option; the amount map must have the blur map's shape.
    assert rank_maps(blur, kind, 0.5, RankRules(soft_amount_max=1.0), amount=slight)[1] is Verdict.BAD
    with pytest.raises(InputError):
        score_maps(blur, kind, 0.5, amount=slight[:10])
    with pytest.raises(InputError):
        RankRules(soft_amount_max=-1)


def test_a_slight_defocus_judged_by_rule_8_is_slightly_soft():
    # Sharp specks on a defocused frame (rule 8, "no sharp subject", as in the test above) and a subject with mixed
    # blur around it (rule 8, "mixed blur around the subject"): a slight blur, mostly defocus, makes either only
    # slightly soft, as it does for rules 2 and 5; most of it motion leaves it bad-blur.
    specks = np.ones((H, W), bool)
    for y in range(0, H, 24):
        for x in range(0, W, 24):
            specks[y : y + 14, x : x + 14] = False
    slight = np.full((H, W), 2.0, np.float32)
    assert rank_maps(*maps(specks), 0.5, amount=slight)[1:] == (Verdict.OK, "slightly soft")
    assert rank_maps(*maps(specks), 0.5, amount=slight * 4)[1:] == (Verdict.BAD, "no sharp subject")
    assert rank_maps(*maps(specks, kind=2), 0.5, amount=slight)[1] is Verdict.BAD
    subject = ~ellipse(W / 2, H / 2, W / 6, H / 6)  # a sharp centre, the rest blurred
    left_motion = np.zeros((H, W), bool)
    left_motion[:, : W * 2 // 5] = True  # 43 % of the blur is motion (defocus share 0.57: mixed, still mostly
    # defocus), 11 % of the central third: too little for rule 4
    blur, kind = maps(subject, motion=left_motion)
    assert v(blur, kind) == (Verdict.BAD, "mixed blur around the subject")
    assert rank_maps(blur, kind, 0.5, amount=slight)[1:] == (Verdict.OK, "slightly soft")


def test_the_amount_is_the_median_over_the_blurred_pixels():
    # A frame slightly soft where it has texture (2) with a flat part the network guesses at 9: the mean would be
    # "medium" and the photo bad-blur; the median is the slight blur.
    whole = np.ones((H, W), bool)
    reading = np.full((H, W), 2.0, np.float32)
    reading[: H * 2 // 5] = 9.0  # the flat top two fifths (a sky): the mean is 4.8, "medium"
    s = score_maps(*maps(whole), 0.5, amount=reading)
    assert s.amount == pytest.approx(2.0, abs=0.1)
    assert rank_maps(*maps(whole), 0.5, amount=reading)[1:] == (Verdict.OK, "slightly soft")


def test_a_slight_motion_blur_is_never_only_slightly_soft():
    # The same slight amount that makes a defocused frame "slightly soft" leaves a shaken one bad-blur: whole frame
    # (rule 2) when most of the blur is motion, camera shake (3) and a motion-blurred subject (4) always.
    whole = np.ones((H, W), bool)
    slight = np.full((H, W), 2.0, np.float32)
    assert rank_maps(*maps(whole), 0.5, amount=slight)[1:] == (Verdict.OK, "slightly soft")
    assert rank_maps(*maps(whole, kind=2), 0.5, amount=slight)[1:] == (Verdict.BAD, "whole frame blurred")
    strip = np.ones((H, W), bool)
    strip[:, : W // 4] = False  # a sharp strip at the edge: no subject, most of the frame blurred
    assert rank_maps(*maps(strip), 0.5, amount=slight)[1:] == (Verdict.OK, "slightly soft")
    assert rank_maps(*maps(strip, kind=2), 0.5, amount=slight)[1:] == (Verdict.BAD, "camera shake")
    # A motion-blurred centre on a frame mostly sharp: the subject's blur is motion, however slight.
    centre = ellipse(W / 2, H / 2, W / 5, H / 5)
    assert rank_maps(*maps(centre, kind=2), 0.5, amount=slight)[1:] == (Verdict.BAD, "motion-blurred subject")

