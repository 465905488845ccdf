"""Graded tests of 10-ar-forecast: recursive (free-running) AR(p) forecasts, equal to the
reference and to statsmodels' AutoReg.forecast."""
import torch

from nblib.exercises.ch10 import ar_forecast_ref
from nblib.grading import assert_close, question

FORBIDDEN = {"10-ar-forecast": ["statsmodels", "nblib", "getattr", "eval", "exec", "__import__"]}


@question("10-ar-forecast", points=1)
def test_matches_the_reference_on_random_models(student, reference, rng):
    for _ in range(4):
        p = int(torch.randint(1, 10, (), generator=rng))
        history = torch.randn(int(torch.randint(p, 40, (), generator=rng)), dtype=torch.float64,
                              generator=rng) * 20
        coefs = torch.randn(p, dtype=torch.float64, generator=rng) * (0.8 / p)
        intercept = float(torch.randn((), generator=rng)) * 5
        horizon = int(torch.randint(1, 30, (), generator=rng))
        out = student.ar_forecast(history, intercept, coefs, horizon)
        assert_close(out, ar_forecast_ref(history, intercept, coefs, horizon), rtol=1e-12, atol=1e-9)
        assert_close(out, reference.ar_forecast(history, intercept, coefs, horizon), rtol=1e-12, atol=1e-9)


@question("10-ar-forecast", points=1)
def test_matches_statsmodels_on_a_fitted_ar(student, rng):
    from statsmodels.tsa.ar_model import AutoReg

    p = int(torch.randint(2, 6, (), generator=rng))
    noise = torch.randn(400, dtype=torch.float64, generator=rng)
    x = [10.0] * p
    phi = [0.9] + [-0.2 / p] * (p - 1)
    for e in noise.tolist():
        x.append(3.0 + sum(phi[i] * x[-1 - i] for i in range(p)) + e)
    res = AutoReg(x, lags=p).fit()
    horizon = int(torch.randint(5, 25, (), generator=rng))
    out = student.ar_forecast(torch.tensor(x, dtype=torch.float64), float(res.params[0]),
                              torch.tensor(res.params[1:], dtype=torch.float64), horizon)
    assert_close(out, torch.tensor(res.forecast(horizon)), rtol=1e-10, atol=1e-8)
