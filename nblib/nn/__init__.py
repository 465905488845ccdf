"""From-scratch models and functions, one module per idea, with PyTorch's names.

- :mod:`~nblib.nn.functional`: activations and losses (``torch.nn.functional``).
- :mod:`~nblib.nn.perceptron`: Rosenblatt's perceptron (1958).
- :mod:`~nblib.nn.mlp`: multilayer perceptrons, one with a hand-written backward pass.
- :mod:`~nblib.nn.init`: weight initialisation (Glorot & Bengio 2010; He et al. 2015).
- :mod:`~nblib.nn.value_mlp`: micrograd's MLP built from :class:`nblib.autograd.Value`.

Each is tested against the PyTorch function or module it mirrors, forward and backward.
"""
