import json

import pytest
import torch

from blurtool.errors import WeightsError
from blurtool.model import create_model
from blurtool.weights import ENV_VAR, load_weights, resolve_weights_path, save_weights, sha256_of


@pytest.fixture
def saved(tmp_path):
    model = create_model().eval()
    path = tmp_path / "m.pt"
    digest = save_weights(path, model, {"threshold": 0.4, "working_size": 320})
    return model, path, digest


def test_round_trip_is_self_describing(saved):
    model, path, digest = saved
    loaded, card = load_weights(path)
    assert card["threshold"] == 0.4 and card["working_size"] == 320 and card["arch"] == "blurnet"
    assert card["normalisation"]["mean"] == [0.485, 0.456, 0.406]
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        # Stored in float16: the outputs agree to float16 precision.
        assert torch.allclose(loaded(x), model(x), atol=2e-2)
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["sha256"] == digest == sha256_of(path)


def test_truncated_file_is_a_clear_error(saved, tmp_path):
    _, path, _ = saved
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(WeightsError, match="truncated.pt"):
        load_weights(bad)


def test_foreign_files_are_rejected(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(WeightsError, match="notes.pt: not a readable weights file.*: not a PyTorch file$"):
        load_weights(text)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(WeightsError, match="not a blurtool weights file"):
        load_weights(other)


def test_mismatched_state_dict_is_rejected(tmp_path):
    model = create_model()
    path = tmp_path / "m.pt"
    save_weights(path, model, {})
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop(next(iter(payload["state_dict"])))
    torch.save(payload, path)
    with pytest.raises(WeightsError, match="do not match"):
        load_weights(path)


def test_resolution_order(saved, tmp_path, monkeypatch):
    _, path, _ = saved
    monkeypatch.setenv(ENV_VAR, str(path))
    assert resolve_weights_path() == path
    assert resolve_weights_path(path) == path
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.pt"))
    with pytest.raises(WeightsError, match="not found"):
        resolve_weights_path()
    with pytest.raises(WeightsError, match="is not a file"):
        resolve_weights_path(tmp_path)


def test_update_card_rewrites_card_and_checksum(saved):
    from blurtool.weights import update_card

    model, path, digest = saved
    new = update_card(path, threshold=0.3)
    _, card = load_weights(path)
    assert card["threshold"] == 0.3 and card["working_size"] == 320
    assert new != digest and json.loads(path.with_suffix(".json").read_text())["sha256"] == new


def _with_card(src, dst, change):
    """A copy of the weights file `src` whose card is changed by `change(card)`, as an older blurtool wrote it."""
    payload = torch.load(src, weights_only=True)
    card = json.loads(payload["card_json"])
    change(card)
    payload["card_json"] = json.dumps(card)
    torch.save(payload, dst)
    return dst


def test_retired_gradient_input_loads_when_off_and_is_refused_when_on(saved, tmp_path):
    _, path, _ = saved

    def gradient_input(on):
        def change(card):
            card["config"]["gradient_input"] = on
            card["training"] = {"config": {"gradient_input": on, "steps": 10}}  # the TrainConfig of its run
        return change

    # Files from before the option was removed (the shipped one included) say "gradient_input": false.
    old, card = load_weights(_with_card(path, tmp_path / "old.pt", gradient_input(False)))
    assert "gradient_input" not in card["config"] and card["training"]["config"]["gradient_input"] is False
    new = save_weights(tmp_path / "resaved.pt", old, card)  # e.g. update_card: the retired key is gone
    assert new and "gradient_input" not in json.loads((tmp_path / "resaved.json").read_text())["config"]
    with pytest.raises(WeightsError, match="image-gradient input branch"):
        load_weights(_with_card(path, tmp_path / "on.pt", gradient_input(True)))


def test_the_shipped_weights_load():
    from blurtool.weights import default_weights_path

    if not default_weights_path().is_file():
        pytest.skip("no shipped weights in this checkout")
    model, card = load_weights()
    assert "gradient_input" not in card["config"] and model.config.num_classes == 3


def test_cards_name_the_training_files_not_where_they_lay(tmp_path):
    run = {"data": ["/home/me/data/cuhk-train", "../shared/data/gopro"], "out": "/home/me/runs/r2", "init": "",
           "encoder_init": "/home/me/pretrained/mobilenet_v2.pth", "steps": 10}
    card = {"training": {"data": ["cuhk-train"], "config": run, "init": {"file": "a.pt", "sha256": "x"},
                         "stages": [{"config": run, "init": None}]}}
    save_weights(tmp_path / "m.pt", create_model(), card)
    side = json.loads((tmp_path / "m.json").read_text())
    for config in (side["training"]["config"], side["training"]["stages"][0]["config"]):
        assert config == {"data": ["cuhk-train", "gopro"], "out": "r2", "init": "",
                          "encoder_init": "mobilenet_v2.pth", "steps": 10}
    assert side["training"]["init"] == {"file": "a.pt", "sha256": "x"} and "/home" not in json.dumps(side)
    assert card["training"]["config"]["out"] == "/home/me/runs/r2"  # the caller's dict is left alone
