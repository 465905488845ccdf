"""nblib: the reference implementations behind *Neural Networks, Step by Step*.

One module per idea: ``config`` (device, seeds, smoke switch), ``data`` (offline datasets),
``train`` (the training loop), ``plot``, ``results`` (headline numbers), ``autograd``,
``optim``, ``widgets`` (steppers), ``check`` and ``grading`` (exercises).
"""
__version__ = "0.1.0"

# The repository every chapter's Colab setup cell installs nblib from. Its single source is
# _config.yml (repository.url); tests/test_consistency.py checks the two agree.
REPOSITORY_URL = "https://github.com/nn-step-by-step/book"


def setup() -> None:
    """Prepare a notebook: the book's plot style, and on Colab the custom widget manager
    that the steppers (anywidget) need."""
    from . import plot

    plot.use_style()
    try:
        from google.colab import output  # type: ignore[import-not-found]
    except ImportError:
        return
    output.enable_custom_widget_manager()


def show(obj):
    """Display the source code of an nblib function or class in a notebook, so a chapter shows
    the library's code instead of copying it (book and library cannot drift apart)."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
