"""nblib.nn.char_lstm: chapter 10's character LSTM equals its three PyTorch modules applied in
turn, and reading a text chunk by chunk with the returned state equals reading it at once."""
import pytest
import torch
from torch import nn

from nblib.nn.char_lstm import CharLSTM


def test_equals_embedding_lstm_linear_and_carries_its_state():
    torch.manual_seed(0)
    model = CharLSTM(9, embed=5, hidden=7, num_layers=2).double()
    x = torch.randint(0, 9, (3, 10))
    logits, (h, c) = model(x)
    out, _ = model.lstm(model.embed(x))
    torch.testing.assert_close(logits, model.head(out))
    assert logits.shape == (3, 10, 9) and h.shape == c.shape == (2, 3, 7)
    first, state = model(x[:, :4])
    second, _ = model(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), logits, rtol=1e-12, atol=1e-12)


def test_bad_input_gets_a_clear_error():
    model = CharLSTM(9)
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.rand(2, 3))
    with pytest.raises(ValueError, match="2 dimensions"):
        model(torch.zeros(3, dtype=torch.long))
    assert isinstance(model.lstm, nn.LSTM) and model.lstm.batch_first


def test_a_forward_pass_reads_no_values_from_the_device():
    model = CharLSTM(9).to("meta")
    logits, _ = model(torch.zeros(2, 5, dtype=torch.long, device="meta"))
    assert logits.shape == (2, 5, 9)
