"""nblib.results: headline numbers written as JSON and gathered into one table."""
import json

import pytest

from nblib import results


@pytest.fixture(autouse=True)
def results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NBLIB_RESULTS_DIR", str(tmp_path))
    return tmp_path


def test_record_writes_json_under_the_chapter(results_folder):
    results.start("03_mlp")
    assert results.record("03_mlp", "digits_mlp_test_acc", 97.5, "%") == 97.5
    data = json.loads((results_folder / "03_mlp.json").read_text())
    assert data["chapter"] == "03_mlp"
    assert data["results"] == {"digits_mlp_test_acc": {"value": 97.5, "unit": "%"}}


def test_finish_records_the_run_time():
    results.start("01_neuron")
    seconds = results.finish("01_neuron")
    assert seconds >= 0 and results.load_all()[0]["results"]["run_time"]["unit"] == "s"


def test_start_clears_a_previous_run():
    results.start("02_learning")
    results.record("02_learning", "old", 1.0)
    results.start("02_learning")
    assert results.load_all()[0]["results"] == {}


def test_table_lists_every_result_and_each_chapters_run_time():
    for chapter, acc in (("01_neuron", 100.0), ("03_mlp", 96.25)):
        results.start(chapter)
        results.record(chapter, "acc", acc, "%")
        results.finish(chapter)
    text = results.table()
    assert "| 01_neuron | acc | 100.0 % |" in text and "| 03_mlp | acc | 96.2 % |" in text
    assert text.count("**run time**") == 2


def test_tensor_values_are_accepted():
    import torch

    results.start("x")
    assert results.record("x", "loss", torch.tensor(0.5)) == 0.5


@pytest.mark.parametrize("value, error", [("97%", TypeError), (None, TypeError), (float("nan"), ValueError)])
def test_values_must_be_finite_numbers(value, error):
    results.start("x")
    with pytest.raises(error, match="value of 'acc' must be"):
        results.record("x", "acc", value)


def test_names_must_be_simple():
    with pytest.raises(ValueError, match="chapter must be a non-empty name"):
        results.record("../etc", "acc", 1.0)


def test_finish_without_start_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"finish\('never'\) called before start"):
        results.finish("never")


def test_cli_writes_the_table(results_folder, capsys):
    results.start("01_neuron")
    results.record("01_neuron", "acc", 99.0, "%")
    assert results.main(["--out", str(results_folder / "t.md")]) == 0
    assert "| 01_neuron | acc | 99.0 % |" in (results_folder / "t.md").read_text()


def test_cli_without_results_says_what_to_run(tmp_path, capsys):
    assert results.main(["--dir", str(tmp_path / "empty")]) == 1
    assert "run the chapters first" in capsys.readouterr().err


def test_a_published_figure_is_recorded_with_its_source(results_folder):
    results.start("03_mlp")
    results.record("03_mlp", "mnist1d_mlp_test_acc", 65.3, "%", published=68.0,
                   source="Greydanus & Kobak (2020)")
    entry = json.loads((results_folder / "03_mlp.json").read_text())["results"]["mnist1d_mlp_test_acc"]
    assert entry == {"value": 65.3, "unit": "%", "published": 68.0, "source": "Greydanus & Kobak (2020)"}


def test_a_published_figure_without_its_source_is_refused():
    results.start("03_mlp")
    with pytest.raises(ValueError, match="give both published= and source="):
        results.record("03_mlp", "acc", 65.3, "%", published=68.0)
    with pytest.raises(ValueError, match="give both published= and source="):
        results.record("03_mlp", "acc", 65.3, "%", source="a paper")


def test_start_sets_up_a_chapter_in_one_call(results_folder, monkeypatch, capsys):
    import random

    import nblib
    import torch

    monkeypatch.setenv("NBLIB_DEVICE", "cpu")
    monkeypatch.delenv("NBLIB_SMOKE", raising=False)
    run = nblib.start("01_neuron", seed=3, smoke=False)
    assert (run.chapter, run.seed, run.smoke, run.device) == ("01_neuron", 3, False, torch.device("cpu"))
    assert run.pick(6000, 50) == 6000
    first = (random.random(), torch.rand(1).item())
    nblib.start("01_neuron", seed=3)
    assert (random.random(), torch.rand(1).item()) == first, "start did not seed Python and torch"
    assert "01_neuron: device cpu, seed 3, full settings" in capsys.readouterr().out
    run.record("acc", 99.0, "%")
    run.finish()
    data = json.loads((results_folder / "01_neuron.json").read_text())
    assert (data["device"], data["smoke"], data["seed"]) == ("cpu", False, 3)
    assert data["torch"] == torch.__version__
    assert set(data["results"]) == {"acc", "run_time"}


def test_start_in_smoke_mode_picks_the_smoke_settings_and_says_so(results_folder, monkeypatch):
    import nblib

    monkeypatch.setenv("NBLIB_SMOKE", "1")
    run = nblib.start("02_learning")
    assert run.smoke and run.pick(6000, 50) == 50
    assert json.loads((results_folder / "02_learning.json").read_text())["smoke"] is True
