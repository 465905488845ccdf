"""nblib: the reference implementations behind *Neural Networks, Step by Step*.

The map of the package (``CONTRIBUTING.md`` shows the same):

The engine, from scratch
    ``autograd``     a scalar reverse-mode autodiff engine (micrograd's ``Value``)
    ``optim``        SGD, momentum, RMSprop, Adam, AdamW (``torch.optim``'s names)
    ``gradcheck``    finite differences against analytic gradients

Models, from scratch (``nn/``, one module per idea, PyTorch's names)
    ``nn.functional``  activations and losses (``torch.nn.functional``)
    ``nn.perceptron``  Rosenblatt's perceptron
    ``nn.mlp``         multilayer perceptrons, one with a hand-written backward pass
    ``nn.init``        weight initialisation (Xavier/Glorot, He/Kaiming)
    ``nn.value_mlp``   micrograd's MLP of autograd ``Value``s (the training loop by hand)
    ``nn.conv``        conv2d (loops and im2col), max and average pooling, receptive fields
    ``nn.batchnorm``   batch normalisation; ``nn.cnn``, ``nn.architectures``: CNNs, LeNet to ResNet
    ``nn.mobilenet``   MobileNetV2 that loads torchvision's ImageNet weights
    ``nn.detection``   IoU, non-maximum suppression, a YOLO-style grid detector
    ``nn.rnn``         Elman RNN cell and layer, BPTT written as a loop
    ``nn.lstm``, ``nn.gru``  gated recurrent cells and layers
    ``nn.seq2seq``     encoder-decoder, additive (Bahdanau) and multiplicative (Luong) attention
    ``nn.attention``   scaled dot-product and multi-head attention, causal and padding masks
    ``nn.layernorm``, ``nn.positional``  layer normalisation; sinusoidal and learned positions
    ``nn.transformer`` encoder and decoder layers and stacks (``nn.Transformer*``'s names), KV cache
    ``nn.transformer_seq2seq``  the book's encoder-decoder for token sequences (SCAN)
    ``nn.char_lstm``   chapter 10's character LSTM language model
    ``nn.gpt``         a GPT (decoder-only transformer), sampling, key/value-cached generation
    ``nn.bert``, ``nn.wordpiece``  a BERT encoder that loads all-MiniLM-L6-v2; WordPiece tokenizer
    ``nn.vit``         the Vision Transformer: patch embedding, [CLS], rollout, attention distance

Support
    ``start`` (``session``)  the one setup call of every chapter: device, seeds, smoke, results
    ``config``       device choice, seeding, the smoke switch
    ``data/``        offline datasets, a module per family (toy 2-D, MNIST-1D, 28x28 MNIST, digits,
                     diabetes, detection scenes, faces, ImageNet conventions, adding/copy tasks,
                     Shakespeare, sunspots, SCAN)
    ``train``        the training loop and evaluation
    ``recipes``, ``cnn_recipes``, ``transformer_recipes``  training protocols the chapters reproduce
    ``detection_metrics``  average precision and mAP@0.5 from scratch
    ``plot``, ``surfaces``   figures and optimisation test functions
    ``results``      each chapter's headline numbers, run time and device (the Results page)
    ``validate``     the shared input checks behind every clear error message
    ``widgets/``     steppers that work in the static book: backprop, convolution, BPTT, attention
                     (on tokens or on image patches)
    ``compare``, ``questions``  comparing answers and naming questions (learner and grader)

Exercises
    ``exercises/``   the learner's side: ``check(...)`` under every exercise, public checks
    ``grading/``     the instructor's side: release, sandboxed grading, gradebook
"""
__version__ = "0.1.0"

# The repository every chapter's Colab setup cell installs nblib from. Its single source is
# _config.yml (repository.url); tests/book/test_consistency.py checks the two agree.
REPOSITORY_URL = "https://github.com/nn-step-by-step/book"


def start(chapter: str, *, seed: int = 0, smoke: bool = False):
    """Set up a chapter in one call: see :func:`nblib.session.start`.

    Imported lazily, so that ``import nblib`` (the command line, the grader) stays light.
    """
    from nblib.session import start as _start

    return _start(chapter, seed=seed, smoke=smoke)


def show(obj):
    """Display the source code of an nblib function or class in a notebook, so a chapter shows
    the library's code instead of copying it (book and library cannot drift apart)."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
