import cv2
import numpy as np
import pytest

from blurtool.cuhk import list_samples
from blurtool.errors import InputError
from blurtool.kinds import Kind
from blurtool.train.config import TrainConfig
from blurtool.train.data import (
    BlurTrainingSet,
    is_frame_folder,
    load_example,
    load_frame_sequence,
    load_training_folders,
    split_train_val,
)
from blurtool.train.synth import IGNORE


def test_labels_take_the_kind_of_the_name_and_rgba_masks_read_as_gray(cuhk_folder):
    examples = {e.stem: e for e in map(load_example, list_samples(cuhk_folder))}
    assert set(np.unique(examples["motion0001"].labels)) == {0, Kind.MOTION}
    assert set(np.unique(examples["out_of_focus0003"].labels)) == {0, Kind.DEFOCUS}  # the RGBA mask
    assert examples["motion0001"].labels[:, :64].max() == 0


def test_split_is_stratified_disjoint_and_reproducible():
    stems = [f"motion{i:04d}" for i in range(30)] + [f"out_of_focus{i:04d}" for i in range(70)]
    train, val = split_train_val(stems, 10, seed=0)
    assert len(val) == 10 and not set(train) & set(val) and len(train) == 90
    assert sum(s.startswith("motion") for s in val) == 3
    assert split_train_val(stems, 10, seed=0) == (train, val)
    assert split_train_val(stems, 10, seed=1)[1] != val


def test_blurred_pixels_need_a_kind_in_the_name(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "gt").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "holiday.jpg"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "gt" / "holiday.png"), np.zeros((8, 8), np.uint8))
    (sample,) = list_samples(tmp_path)
    assert load_example(sample).kind is None and not load_example(sample).labels.any()  # sharp everywhere: fine
    cv2.imwrite(str(tmp_path / "gt" / "holiday.png"), np.full((8, 8), 255, np.uint8))
    with pytest.raises(InputError, match="does not say their kind"):
        load_example(sample)


def test_samples_are_deterministic_and_well_formed(cuhk_folder):
    examples = [load_example(s) for s in list_samples(cuhk_folder)]
    cfg = TrainConfig(crop=64, working_size=128, steps=10, batch_size=4, p_mixed=0.4, p_sharp=0.2, p_global=0.2)
    ds = BlurTrainingSet(examples, cfg, [0.5] * 3, [0.25] * 3)
    assert len(ds) == 40
    seen_kinds = set()
    for i in range(40):
        img, lab, amount = ds[i]
        assert img.shape == (3, 64, 64) and img.dtype == np.float32
        assert lab.shape == (64, 64) and set(np.unique(lab)) <= {Kind.SHARP, Kind.DEFOCUS, Kind.MOTION, IGNORE}
        assert amount.shape == (64, 64) and amount.dtype == np.float32
        known = ~np.isnan(amount)
        # Sharp pixels have amount 0; a known amount on a blurred label is a kernel's radius, never 0.
        assert (amount[lab == Kind.SHARP] == 0).all() and (amount[known & (lab != Kind.SHARP) & (lab != IGNORE)] > 0).all()
        seen_kinds |= set(np.unique(lab).tolist())
    assert seen_kinds >= {0, 1, 2}
    a, b = ds[7], ds[7]
    assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))



def test_a_subject_on_bokeh_blurred_whole_knows_the_amount_on_the_subject_only():
    from blurtool.train.data import MARGIN, Example

    # One photo exactly the sample's size (no rescale, the crop is the whole photo): a sharp textured subject in the
    # middle third, the rest already defocused.
    side = 64 + 2 * MARGIN
    rng = np.random.default_rng(0)
    image = cv2.resize((rng.random((side // 4, side // 4, 3)) * 255).astype(np.uint8), (side, side),
                       interpolation=cv2.INTER_NEAREST)
    labels = np.full((side, side), Kind.DEFOCUS, np.uint8)
    labels[:, side // 3 : 2 * side // 3] = Kind.SHARP
    image[labels != Kind.SHARP] = cv2.GaussianBlur(image, (0, 0), 3)[labels != Kind.SHARP]
    ds = BlurTrainingSet([Example("out_of_focus_subject", image, labels, Kind.DEFOCUS)],
                         TrainConfig(crop=64, working_size=side, scale_jitter=0.0, steps=1), [0.5] * 3, [0.25] * 3)
    subject_samples = amounts_known = 0
    for i in range(40):
        img, lab, amount = ds._global(np.random.default_rng(i), side)
        if (amount[labels == Kind.SHARP] == 0).any():
            continue  # no sharp window in this photo: a plain crop instead, sharp where it was
        subject_samples += 1
        # Blurred before: twice blurred now, kind and amount unknown.
        assert (lab[labels != Kind.SHARP] == IGNORE).all() and np.isnan(amount[labels != Kind.SHARP]).all()
        # The subject: one known radius wherever the kernel visibly changed it (nowhere for the mildest kernels),
        # labelled blurred there (or ignored when milder than the map's range).
        known = amount[~np.isnan(amount)]
        assert known.size == 0 or (np.ptp(known) == 0 and known[0] > 0)
        assert set(np.unique(lab[labels == Kind.SHARP])) <= {Kind.DEFOCUS, Kind.MOTION, IGNORE}
        amounts_known += known.size > 0.5 * (labels == Kind.SHARP).sum()
    assert 5 <= subject_samples <= 35 and amounts_known >= subject_samples // 2


def test_motion_draws_weights_the_photos_whose_name_says_motion():
    from blurtool.train.data import Example

    flat = np.zeros((8, 8, 3), np.uint8)
    examples = [Example(f"motion{i}", flat, flat[..., 0], Kind.MOTION) for i in range(2)] + \
        [Example(f"out_of_focus{i}", flat, flat[..., 0], Kind.DEFOCUS) for i in range(6)]

    def motion_share(weight):
        ds = BlurTrainingSet(examples, TrainConfig(motion_draws=weight, steps=1), [0.5] * 3, [0.25] * 3)
        rng = np.random.default_rng(0)
        return np.mean([ds._draw_example(rng).kind == Kind.MOTION for _ in range(4000)])

    # 2 of 8 photos: a quarter of the draws alike, 2 x 3 / (2 x 3 + 6) = half of them at weight 3.
    assert abs(motion_share(1.0) - 0.25) < 0.03 and abs(motion_share(3.0) - 0.5) < 0.03


def test_grey_samples_have_equal_channels(cuhk_folder):
    examples = [load_example(s) for s in list_samples(cuhk_folder)]
    small = dict(crop=64, working_size=128, steps=10, batch_size=4)
    grey = BlurTrainingSet(examples, TrainConfig(p_grey=1.0, **small), [0.5] * 3, [0.25] * 3)
    colour = BlurTrainingSet(examples, TrainConfig(**small), [0.5] * 3, [0.25] * 3)
    for i in range(8):
        img = grey.sample(i)[0]
        assert np.allclose(img[..., 0], img[..., 1]) and np.allclose(img[..., 0], img[..., 2])
    assert any(not np.allclose(colour.sample(i)[0][..., 0], colour.sample(i)[0][..., 1]) for i in range(8))



def _frame_folder(root, n=20, size=(96, 160)):
    """Consecutive frames of a texture sliding 2 px a frame to the right (the bottom half stands still)."""
    rng = np.random.default_rng(1)
    texture = cv2.resize((rng.random((size[0] // 4, size[1] // 4 + n, 3)) * 255).astype(np.uint8),
                         (size[1] + 4 * n, size[0]), interpolation=cv2.INTER_NEAREST)
    (root / "frames").mkdir(parents=True)
    for t in range(n):
        frame = texture[:, : size[1]].copy()
        frame[: size[0] // 2] = texture[: size[0] // 2, 2 * t : 2 * t + size[1]]
        cv2.imwrite(str(root / "frames" / f"{t + 1:06d}.png"), frame)
    return root


def test_frame_folders_load_at_the_working_scale_beside_cuhk_folders(cuhk_folder, tmp_path):
    frames = _frame_folder(tmp_path / "video")
    assert is_frame_folder(frames) and not is_frame_folder(cuhk_folder)
    examples, sequences = load_training_folders([cuhk_folder, frames], working_size=80)
    assert len(examples) == 5 and {e.source for e in examples} == {"cuhk"}
    assert len(sequences) == 1 and sequences[0].frames.shape == (20, 48, 80, 3)


def test_a_frame_folder_with_too_few_frames_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="at least 15"):
        load_frame_sequence(_frame_folder(tmp_path / "v", n=6), working_size=80)


def test_frame_samples_label_the_moving_part_motion_and_the_still_part_sharp(cuhk_folder, tmp_path):
    examples, sequences = load_training_folders([cuhk_folder, _frame_folder(tmp_path / "v")], working_size=160)
    only = dict(crop=32, working_size=160, steps=4, batch_size=4, p_mixed=0.0, p_sharp=0.0, p_global=0.0,
                scale_jitter=0.0)
    ds = BlurTrainingSet(examples, TrainConfig(p_frames=1.0, **only), [0.5] * 3, [0.25] * 3, sequences)
    for i in range(6):
        img, lab, amount = ds._frames(np.random.default_rng(i), 96)
        assert img.shape == (96, 96, 3) and lab.shape == (96, 96)
        assert set(np.unique(lab)) <= {Kind.SHARP, Kind.MOTION, IGNORE} and (lab == Kind.MOTION).any()
        # The top half slides 2 px a frame: a run of 5-15 frames moves it 8-28 px, radius 4-14 px.
        assert (amount[lab == Kind.SHARP] == 0).all()
        assert 3 < np.median(amount[:48][lab[:48] == Kind.MOTION]) < 15
    # Without a frame folder the share falls back to plain crops of the photos.
    plain = BlurTrainingSet(examples, TrainConfig(p_frames=1.0, **only), [0.5] * 3, [0.25] * 3)
    assert IGNORE not in set(np.unique(plain.sample(0)[1]))
