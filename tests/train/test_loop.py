import json

from blurtool.train.config import TrainConfig
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


def test_resume_continues_where_it_stopped(cuhk_folder, tmp_path):
    out = tmp_path / "run"
    train(_cfg(cuhk_folder, out, steps=1))
    train(_cfg(cuhk_folder, out, steps=2, resume=True))
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [1, 2]
    assert "resumed at step 1" in (out / "train.log").read_text()
