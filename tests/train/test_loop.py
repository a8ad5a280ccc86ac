import json

import pytest

from blurtool.errors import InputError
from blurtool.train.config import TrainConfig
from blurtool.train.data import split_train_val
from blurtool.train.loop import train
from blurtool.weights import load_weights


def _cfg(cuhk_folder, out, **kw):
    base = dict(data=[str(cuhk_folder)], encoder_init="", out=str(out), steps=2, batch_size=2, crop=64,
                working_size=128, val_count=2, val_every=1, workers=0, warmup_steps=1)
    return TrainConfig(**{**base, **kw})


def test_two_steps_produce_loadable_self_describing_weights(cuhk_folder, tmp_path):
    best = train(_cfg(cuhk_folder, tmp_path / "run"))
    model, card = load_weights(best)
    assert card["working_size"] == 128 and card["threshold"] == 0.5
    assert len(card["training"]["val_stems"]) == 2
    assert set(card["metrics"]["validation"]) >= {"accuracy", "f1", "miou"}
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
    assert "raw" in history[-1] and "miou" in history[-1]["raw"]
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


def test_dice_weight_trains_and_is_recorded_in_the_card(cuhk_folder, tmp_path):
    best = train(_cfg(cuhk_folder, tmp_path / "run", steps=1, dice_weight=0.5))
    _, card = load_weights(best)
    assert card["training"]["config"]["dice_weight"] == 0.5
