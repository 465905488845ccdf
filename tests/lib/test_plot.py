"""nblib.plot: every figure is labelled, and bad shapes are clear errors."""
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from nblib import config, data, plot, train


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_learning_curves_label_every_loss():
    config.seed_everything(0)
    s = data.load_digits()
    model = nn.Linear(64, 10)
    h = train.fit(model, s.loader("train", 128), loss_fn=nn.functional.cross_entropy,
                  optimizer=torch.optim.Adam(model.parameters(), 1e-2), epochs=2, val_loader=s.loader("val", 360),
                  progress=False)
    ax = plot.learning_curves(h)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train loss", "val loss"]
    assert ax.get_xlabel() and ax.get_title()
    with pytest.raises(KeyError, match="history has no"):
        plot.learning_curves(h, keys=["val_f1"])


@pytest.mark.parametrize("predict", [lambda g: g[:, :1] - g[:, 1:], lambda g: torch.stack([g[:, 0], g[:, 1]], 1),
                                     lambda g: (g[:, 0] > 0).long()], ids=["score", "logits", "labels"])
def test_decision_boundary_accepts_scores_logits_and_labels(predict):
    x, y = data.toy_2d("moons", n=50)
    ax = plot.decision_boundary(predict, x, y, resolution=20)
    assert ax.get_xlabel() == "$x_1$" and len(ax.collections) >= 2


def test_decision_boundary_rejects_non_2d_points():
    with pytest.raises(ValueError, match=r"points x must have shape \(n, 2\), got \(10, 3\)"):
        plot.decision_boundary(lambda g: g[:, 0], torch.zeros(10, 3), torch.zeros(10))
    with pytest.raises(ValueError, match=r"y \(one label per point of x\) must have shape \(10,\), got"):
        plot.decision_boundary(lambda g: g[:, 0], torch.zeros(10, 2), torch.zeros(9))


def test_decision_boundary_shades_negative_labels():
    # A perceptron fitted on {-1, +1} labels predicts -1 / +1: both regions must be shaded.
    from matplotlib.contour import ContourSet

    x, y = data.toy_2d("blobs", n=50)
    ax = plot.decision_boundary(lambda g: torch.where(g[:, 0] > 0, 1, -1), x, 2 * y - 1, resolution=20)
    (contours,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert contours.levels.min() < -1 < 1 < contours.levels.max()


def test_decision_boundary_restores_training_mode_even_when_predict_fails():
    model = nn.Sequential(nn.Linear(3, 2))  # expects 3 features, gets the 2-D grid
    model.train()
    with pytest.raises(RuntimeError):
        plot.decision_boundary(model, torch.randn(10, 2), torch.zeros(10, dtype=torch.long), resolution=5)
    assert model.training


def test_image_grid_marks_wrong_predictions_in_red():
    axes = plot.image_grid(torch.rand(3, 1, 8, 8), labels=[1, 2, 3], preds=[1, 0, 3], ncols=3)
    assert axes[0, 1].title.get_color() == "red" and axes[0, 0].title.get_color() == "black"
    with pytest.raises(ValueError, match="labels must have one entry per image"):
        plot.image_grid(torch.rand(3, 8, 8), labels=[1])
    with pytest.raises(ValueError, match=r"image_grid expects .* got \(3, 8\)"):
        plot.image_grid(torch.rand(3, 8))


def test_heatmap_annotates_small_matrices_and_checks_labels():
    ax = plot.heatmap(torch.eye(3), xlabels="abc", ylabels="xyz", title="identity")
    assert len(ax.texts) == 9 and ax.get_title() == "identity"
    with pytest.raises(ValueError, match=r"xlabels needs 3 entries for a matrix of shape \(3, 3\), got 2"):
        plot.heatmap(torch.eye(3), xlabels="ab")
    with pytest.raises(ValueError, match=r"2-D matrix must have shape \(rows, columns\), got \(2, 2, 2\)"):
        plot.heatmap(torch.zeros(2, 2, 2))
