import cv2
import numpy as np
import pytest

from blurtool.errors import InputError
from blurtool.train.config import TrainConfig
from blurtool.train.data import BlurTrainingSet, kind_from_stem, list_stems, load_example, split_train_val
from blurtool.train.synth import DEFOCUS, MOTION, SHARP


def test_kind_comes_from_the_name():
    assert kind_from_stem("motion0042") == MOTION
    assert kind_from_stem("out_of_focus0001") == DEFOCUS


def test_labels_take_the_kind_of_the_name_and_rgba_masks_read_as_gray(cuhk_folder):
    pairs = list_stems(cuhk_folder)
    examples = {e.stem: e for e in (load_example(*p) for p in pairs)}
    assert set(np.unique(examples["motion0001"].labels)) == {0, MOTION}
    assert set(np.unique(examples["out_of_focus0003"].labels)) == {0, DEFOCUS}  # the RGBA mask
    assert examples["motion0001"].labels[:, :64].max() == 0


def test_split_is_stratified_disjoint_and_reproducible():
    stems = [f"motion{i:04d}" for i in range(30)] + [f"out_of_focus{i:04d}" for i in range(70)]
    train, val = split_train_val(stems, 10, seed=0)
    assert len(val) == 10 and not set(train) & set(val) and len(train) == 90
    assert sum(s.startswith("motion") for s in val) == 3
    assert split_train_val(stems, 10, seed=0) == (train, val)
    assert split_train_val(stems, 10, seed=1)[1] != val


def test_bad_folders_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="CUHK-layout"):
        list_stems(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "gt").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="no ground-truth mask"):
        list_stems(tmp_path)


def test_samples_are_deterministic_and_well_formed(cuhk_folder):
    examples = [load_example(*p) for p in list_stems(cuhk_folder)]
    cfg = TrainConfig(crop=64, working_size=128, steps=10, batch_size=4, p_mixed=0.4, p_sharp=0.2, p_global=0.2)
    ds = BlurTrainingSet(examples, cfg, [0.5] * 3, [0.25] * 3)
    assert len(ds) == 40
    seen_kinds = set()
    for i in range(40):
        img, lab = ds[i]
        assert img.shape == (3, 64, 64) and img.dtype == np.float32
        assert lab.shape == (64, 64) and lab.min() >= 0 and lab.max() <= 2
        seen_kinds |= set(np.unique(lab).tolist())
    assert seen_kinds == {0, 1, 2}
    a, b = ds[7], ds[7]
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_motion_share_draws_plain_crops_from_motion_photos_only_when_asked(cuhk_folder):
    examples = [load_example(*p) for p in list_stems(cuhk_folder)]
    only_plain = dict(crop=64, working_size=128, steps=10, batch_size=4, p_mixed=0.0, p_sharp=0.0, p_global=0.0)
    motion = BlurTrainingSet(examples, TrainConfig(motion_share=1.0, **only_plain), [0.5] * 3, [0.25] * 3)
    other = BlurTrainingSet(examples, TrainConfig(motion_share=1e-9, **only_plain), [0.5] * 3, [0.25] * 3)
    motion_labels = set().union(*(np.unique(motion[i][1]).tolist() for i in range(40)))
    other_labels = set().union(*(np.unique(other[i][1]).tolist() for i in range(40)))
    assert DEFOCUS not in motion_labels and MOTION in motion_labels
    assert MOTION not in other_labels and DEFOCUS in other_labels


def test_grey_samples_have_equal_channels(cuhk_folder):
    examples = [load_example(*p) for p in list_stems(cuhk_folder)]
    small = dict(crop=64, working_size=128, steps=10, batch_size=4)
    grey = BlurTrainingSet(examples, TrainConfig(p_grey=1.0, **small), [0.5] * 3, [0.25] * 3)
    colour = BlurTrainingSet(examples, TrainConfig(**small), [0.5] * 3, [0.25] * 3)
    for i in range(8):
        img = grey.sample(i)[0]
        assert np.allclose(img[..., 0], img[..., 1]) and np.allclose(img[..., 0], img[..., 2])
    assert any(not np.allclose(colour.sample(i)[0][..., 0], colour.sample(i)[0][..., 1]) for i in range(8))


def test_receding_defocus_samples_come_from_sharp_photos_and_hold_a_sharp_and_a_defocus_part(tmp_path):
    # A folder of all-sharp photos (masks all black): every sample is a receding-defocus crop of one.
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    (tmp_path / "gt").mkdir()
    for i in range(3):
        img = cv2.resize((rng.random((64, 64, 3)) * 255).astype(np.uint8), (256, 256), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(tmp_path / "images" / f"sharp{i}.png"), img)
        cv2.imwrite(str(tmp_path / "gt" / f"sharp{i}.png"), np.zeros((256, 256), np.uint8))
    examples = [load_example(*p) for p in list_stems(tmp_path)]
    only = dict(crop=64, working_size=256, steps=10, batch_size=4, p_mixed=0.0, p_sharp=0.0, p_global=0.0)
    ds = BlurTrainingSet(examples, TrainConfig(p_receding=1.0, **only), [0.5] * 3, [0.25] * 3)
    plain = BlurTrainingSet(examples, TrainConfig(**only), [0.5] * 3, [0.25] * 3)
    labels = [ds.sample(i)[1] for i in range(12)]
    assert all(set(np.unique(lab)) <= {SHARP, DEFOCUS} for lab in labels)
    assert any(DEFOCUS in lab for lab in labels)
    assert all(not plain.sample(i)[1].any() for i in range(12))  # off by default: the photos' own labels (sharp)
