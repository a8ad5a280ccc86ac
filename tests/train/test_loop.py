import json

import pytest

from blurtool.errors import InputError
from blurtool.train.config import TrainConfig
from blurtool.train.data import split_train_val
from blurtool.train.loop import train
from blurtool.weights import load_weights, save_weights, sha256_of


def _cfg(cuhk_folder, out, **kw):
    base = dict(data=[str(cuhk_folder)], encoder_init="", out=str(out), steps=2, batch_size=2, crop=64,
                working_size=128, val_share=0.4, val_every=1, workers=0, warmup_steps=1)
    return TrainConfig(**{**base, **kw})


def test_two_steps_produce_loadable_self_describing_weights(cuhk_folder, tmp_path):
    best = train(_cfg(cuhk_folder, tmp_path / "run"))
    model, card = load_weights(best)
    assert card["working_size"] == 128 and card["threshold"] == 0.5
    assert len(card["training"]["val_stems"]) == 2
    assert set(card["metrics"]["validation"]["cuhk"]) >= {"accuracy", "f1", "miou"}
    assert 0 <= card["metrics"]["validation"]["score"] <= 1
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2]


def test_runs_of_different_seeds_hold_out_the_same_images(cuhk_folder, tmp_path):
    # --seed varies the samples and the initialisation; the split follows --split-seed only, so scores compare.
    cards = [load_weights(train(_cfg(cuhk_folder, tmp_path / f"run{seed}", steps=1, seed=seed)))[1] for seed in (0, 3)]
    assert cards[0]["training"]["val_stems"] == cards[1]["training"]["val_stems"]
    stems = sorted(p.stem for p in (cuhk_folder / "images").iterdir())
    assert sorted(cards[0]["training"]["val_stems"]) == sorted(split_train_val(stems, 2, seed=0)[1])


def test_resume_continues_where_it_stopped(cuhk_folder, tmp_path):
    out = tmp_path / "run"
    train(_cfg(cuhk_folder, out, steps=1))
    train(_cfg(cuhk_folder, out, steps=2, resume=True))
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2]
    assert "resumed at step 1" in (out / "train.log").read_text()


def test_resume_refuses_a_different_validation_split(cuhk_folder, tmp_path):
    out = tmp_path / "run"
    train(_cfg(cuhk_folder, out, steps=1))
    with pytest.raises(InputError, match="other validation images"):
        train(_cfg(cuhk_folder, out, steps=2, resume=True, split_seed=2))


def test_weight_average_follows_the_decay_formula():
    import torch

    from blurtool.train.loop import _WeightAverage

    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    avg = _WeightAverage(net, decay=0.5)
    with torch.no_grad():
        net.weight.fill_(4.0)
    avg.update(net, step=100)  # ramp (101 / 110) > 0.5: the decay itself applies
    assert avg.model.weight.item() == 2.0
    avg.update(net, step=0)  # first step: ramp 1/10 -> mostly the current weights
    assert abs(avg.model.weight.item() - (0.1 * 2.0 + 0.9 * 4.0)) < 1e-6
    assert not avg.model.weight.requires_grad


def test_shipped_weights_are_the_average_and_resume_keeps_it(cuhk_folder, tmp_path):
    import torch

    out = tmp_path / "run"
    train(_cfg(cuhk_folder, out, steps=2, ema_decay=0.9))
    state = torch.load(out / "last.pt", weights_only=True)
    shipped, _ = load_weights(out / "latest-weights.pt")
    name = next(k for k in state["ema"] if k.endswith("weight"))
    got = shipped.state_dict()[name].float()
    assert torch.allclose(got, state["ema"][name].float(), atol=1e-2)  # fp16 file
    assert not torch.allclose(state["ema"][name], state["model"][name])
    history = json.loads((out / "history.json").read_text())
    assert 0 <= history[-1]["raw"] <= 1  # the raw weights' validation score
    train(_cfg(cuhk_folder, out, steps=3, ema_decay=0.9, resume=True))
    resumed = torch.load(out / "last.pt", weights_only=True)
    assert resumed["step"] == 3 and not torch.equal(resumed["ema"][name], state["ema"][name])


def test_without_averaging_the_raw_weights_ship(cuhk_folder, tmp_path):
    import torch

    out = tmp_path / "run"
    train(_cfg(cuhk_folder, out, steps=1, ema_decay=0.0))
    state = torch.load(out / "last.pt", weights_only=True)
    assert "ema" not in state
    shipped, _ = load_weights(out / "latest-weights.pt")
    name = next(k for k in state["model"] if k.endswith("weight"))
    assert torch.allclose(shipped.state_dict()[name].float(), state["model"][name].float(), atol=1e-2)



def _sharp_folder(root, n=5):
    """Photos sharp everywhere (all-black masks), as ../shared/data/sharp-photos."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(2)
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    for i in range(n):
        img = cv2.resize((rng.random((24, 32, 3)) * 255).astype(np.uint8), (128, 96), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(root / "images" / f"sharp{i}.png"), img)
        cv2.imwrite(str(root / "gt" / f"sharp{i}.png"), np.zeros((96, 128), np.uint8))
    return root


def test_each_folder_holds_out_its_own_share_and_is_validated_apart(cuhk_folder, tmp_path):
    sharp = _sharp_folder(tmp_path / "sharp")
    _, card = load_weights(train(_cfg(cuhk_folder, tmp_path / "run", steps=1, data=[str(cuhk_folder), str(sharp)])))
    val = card["training"]["val_stems"]
    assert sum(s.startswith("sharp") for s in val) == 2 and len(val) == 4
    # The CUHK folder keeps the split it has alone: adding a folder never moves another folder's split.
    stems = sorted(p.stem for p in (cuhk_folder / "images").iterdir())
    assert sorted(s for s in val if not s.startswith("sharp")) == sorted(split_train_val(stems, 2, seed=0)[1])
    metrics = card["metrics"]["validation"]
    assert set(metrics["sharp"]) == {"accuracy", "blurred_share_median", "blurred_share_max"}
    assert abs(metrics["score"] - (metrics["cuhk"]["miou"] + metrics["sharp"]["accuracy"]) / 2) < 1e-3


def test_init_warm_starts_from_a_weights_file_and_records_its_stages(cuhk_folder, tmp_path):
    import torch

    from blurtool.model import create_model
    from blurtool.train.loop import warm_start

    first = train(_cfg(cuhk_folder, tmp_path / "a", steps=1))
    model = create_model("blurnet", amount_head=True)
    _, fresh = warm_start(model, first)
    assert fresh == []
    source, _ = load_weights(first)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), source.state_dict().values()))
    # A model with a reshaped part (a wider finest decoder stage) keeps what matches and starts the rest fresh.
    grown = create_model("blurnet", decoder_channels=(128, 96, 64, 48), amount_head=True)
    _, fresh = warm_start(grown, first)
    assert fresh and all(name.startswith("decoder.stages.3.") for name in fresh)
    # A file from before the amount channel warm-starts every class head; only the amount convolutions start fresh.
    old = tmp_path / "old.pt"
    save_weights(old, create_model("blurnet"), {"threshold": 0.5})
    _, fresh = warm_start(create_model("blurnet", amount_head=True), old)
    assert fresh and all(".amount." in name for name in fresh)
    _, card = load_weights(train(_cfg(cuhk_folder, tmp_path / "b", steps=1, init=str(first))))
    stages = card["training"]["stages"]
    assert len(stages) == 2 and stages[1]["init"] == [{"file": "best.pt", "sha256": sha256_of(first)}]
    assert "warm start from" in (tmp_path / "b" / "train.log").read_text()


def test_several_init_files_are_averaged_and_zero_steps_ships_the_average(cuhk_folder, tmp_path):
    import torch

    first = train(_cfg(cuhk_folder, tmp_path / "a", steps=1))
    second = train(_cfg(cuhk_folder, tmp_path / "b", steps=1, seed=1, init=[str(first)]))
    (a, _), (b, _) = load_weights(first), load_weights(second)
    soup = train(_cfg(cuhk_folder, tmp_path / "soup", steps=0, init=[str(first), str(second)]))
    model, card = load_weights(soup)
    got, sa, sb = model.state_dict(), a.state_dict(), b.state_dict()
    # The weights files store float16, so the mean of two stored tensors is exact only to that precision.
    differ = [k for k in got if got[k].is_floating_point() and not torch.equal(sa[k], sb[k])]
    assert differ, "the two runs must differ for the average to be tested"
    for k in differ:
        assert torch.allclose(got[k], (sa[k] + sb[k]) / 2, rtol=1e-3, atol=1e-3), k
    training = card["training"]
    assert training["steps"] == 0 and [r["file"] for r in training["init"]] == ["best.pt", "best.pt"]
    # Stages: a's one stage (shared by b, recorded once), b's own (warm-started from a), then the average.
    stages = training["stages"]
    assert [s["steps"] for s in stages] == [1, 1, 0] and stages[0]["init"] is None
    assert stages[1]["init"][0]["sha256"] == sha256_of(first) and len(stages[2]["init"]) == 2
    assert card["metrics"]["validation"]["score"] >= 0
    assert "averaged" in (tmp_path / "soup" / "train.log").read_text()


def test_init_files_of_different_architectures_are_refused(cuhk_folder, tmp_path):
    from blurtool.model import create_model

    first = train(_cfg(cuhk_folder, tmp_path / "a", steps=1))
    wide = tmp_path / "wide.pt"
    save_weights(wide, create_model("blurnet", decoder_channels=(128, 96, 64, 48), amount_head=True), {"threshold": 0.5})
    with pytest.raises(InputError, match="different architectures cannot be averaged"):
        train(_cfg(cuhk_folder, tmp_path / "soup", steps=0, init=[str(first), str(wide)]))


def test_a_folder_with_too_few_images_for_validation_is_refused_before_anything_is_written(cuhk_folder, tmp_path):
    with pytest.raises(InputError, match="cannot be split"):
        train(_cfg(cuhk_folder, tmp_path / "run", val_share=0.05))
    assert not (tmp_path / "run").exists()


def test_an_existing_run_is_never_overwritten_without_resume(cuhk_folder, tmp_path):
    out = tmp_path / "run"
    train(_cfg(cuhk_folder, out, steps=1))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(InputError, match="already holds a training run"):
        train(_cfg(cuhk_folder, out, steps=1))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    "option,value",
    [("steps", 0), ("steps", -1), ("batch_size", 0), ("crop", 0), ("crop", 48), ("val_share", 0.0),
     ("val_share", 1.0), ("workers", -1), ("val_every", 0), ("lr", -1.0), ("lr", 0.0), ("ema_decay", 1.0),
     ("scale_jitter", 1.0), ("p_grey", 1.5), ("warmup_steps", -1), ("max_minutes", -1.0), ("threads", -2)],
)
def test_every_option_out_of_range_is_refused_up_front(cuhk_folder, tmp_path, option, value):
    with pytest.raises(InputError, match=f"`{option}`"):  # the field; the CLI shows it as its option
        train(_cfg(cuhk_folder, tmp_path / "run", **{option: value}))
    assert not (tmp_path / "run").exists()


def test_bad_files_and_folders_are_refused_up_front(cuhk_folder, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    with pytest.raises(InputError, match="no last.pt to resume"):
        train(_cfg(cuhk_folder, tmp_path / "run", resume=True))
    with pytest.raises(InputError, match="is a file"):
        train(_cfg(cuhk_folder, text))
    with pytest.raises(InputError, match="`init` file not found"):
        train(_cfg(cuhk_folder, tmp_path / "run", init=str(tmp_path / "missing.pt")))
    with pytest.raises(InputError, match="not a MobileNetV2 state_dict"):
        train(_cfg(cuhk_folder, tmp_path / "run", encoder_init=str(text)))
    from blurtool.errors import WeightsError

    with pytest.raises(WeightsError, match="not a readable weights file"):
        train(_cfg(cuhk_folder, tmp_path / "run", init=str(text)))
