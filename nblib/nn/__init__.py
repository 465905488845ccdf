"""From-scratch models and functions, one module per idea, with PyTorch's names.

- :mod:`~nblib.nn.functional`: activations and losses (``torch.nn.functional``).
- :mod:`~nblib.nn.perceptron`: Rosenblatt's perceptron (1958).
- :mod:`~nblib.nn.mlp`: multilayer perceptrons, one with a hand-written backward pass.
- :mod:`~nblib.nn.init`: weight initialisation (Glorot & Bengio 2010; He et al. 2015).
- :mod:`~nblib.nn.value_mlp`: micrograd's MLP built from :class:`nblib.autograd.Value`.
- :mod:`~nblib.nn.conv`: conv2d (loops and im2col), max and average pooling (LeCun et al. 1998).
- :mod:`~nblib.nn.batchnorm`: batch normalisation, train and eval modes (Ioffe & Szegedy 2015);
  :mod:`~nblib.nn.cnn`: LeNet, the MNIST-1D CNN, residual blocks (He et al. 2016);
  :mod:`~nblib.nn.architectures`: AlexNet, VGG, ResNet-18/50, parameter and MAC counters.
- :mod:`~nblib.nn.rnn`: Elman RNN cell and layer, BPTT written as a loop (Elman 1990; Werbos 1990).
- :mod:`~nblib.nn.lstm`, :mod:`~nblib.nn.gru`: LSTM (1997 cell, Gers et al. 2000 forget gate) and
  GRU (PyTorch's variant of Cho et al. 2014) cells and layers with ``nn.LSTM``/``nn.GRU``'s names.
- :mod:`~nblib.nn.detection`: box IoU, non-maximum suppression and a YOLO-style grid
  detector (Redmon et al. 2016), with its targets, loss and decoding.
- :mod:`~nblib.nn.seq2seq`: encoder-decoder GRU/LSTM with a fixed context, additive attention
  (Bahdanau et al. 2014) or multiplicative attention (Luong et al. 2015).
- :mod:`~nblib.nn.attention`: scaled dot-product and multi-head attention, causal and padding
  masks (Vaswani et al. 2017).
- :mod:`~nblib.nn.layernorm`: layer normalisation (Ba et al. 2016); :mod:`~nblib.nn.positional`:
  sinusoidal and learned positional encodings (Vaswani et al. 2017).
- :mod:`~nblib.nn.transformer`: encoder and decoder layers and stacks with ``nn.Transformer*``'s
  names, post-norm and pre-norm, and a key/value cache for generation (Vaswani et al. 2017).
- :mod:`~nblib.nn.transformer_seq2seq`: the book's transformer encoder-decoder for token
  sequences, greedy decoding with the key/value cache (trained on SCAN in chapter 12).
- :mod:`~nblib.nn.char_lstm`: chapter 10's character LSTM language model (chapters 10 and 13).
- :mod:`~nblib.nn.gpt`: a decoder-only GPT from the transformer layers, weight tying, temperature
  and top-k sampling, generation with the key/value cache (Radford et al. 2018, 2019).
- :mod:`~nblib.nn.bert`: a BERT encoder from the transformer layers, mean pooling, and the
  all-MiniLM-L6-v2 weights loaded into it (Devlin et al. 2019; Wang et al. 2020);
  :mod:`~nblib.nn.wordpiece`: BERT's WordPiece tokenizer (Wu et al. 2016), equal to Hugging Face's.
- :mod:`~nblib.nn.vit`: the Vision Transformer on the book's encoder: patch embedding (linear and
  convolutional forms), [CLS], 1-D learned or 2-D sinusoidal positions, a convolutional stem,
  per-patch prediction, attention rollout and mean attention distance (Dosovitskiy et al. 2021).
- :mod:`~nblib.nn.mobilenet`: MobileNetV2 with torchvision's module names, so its ImageNet
  weights load strictly (Sandler et al. 2018).

Each is tested against the PyTorch function or module it mirrors, forward and backward.
"""
