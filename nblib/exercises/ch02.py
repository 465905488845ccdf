"""Public self-checks of chapter 02 (How networks learn). Graded tests: grading/02_learning/.

Every check gives its hint in two tiers: a direction first, then more detail; no tier
prints the answer.
"""
import math

import torch
import torch.nn.functional as F

from nblib.exercises.expect import (expect_close, expect_dtype, expect_shape,
                                    expect_true)
from nblib.exercises.registry import public_check


def _logits(seed: int, n: int = 6, c: int = 4, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    z = scale * torch.randn(n, c, dtype=torch.float64, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    return z, y


# ------------------------------------------------------------------ 02-label-smoothing-ce
_LS_HINTS = (
    "the loss is -sum_k q_k log p_k with the smoothed target q; what is log p_k in terms "
    "of the logits and log-sum-exp?",
    "expand the sum with the two parts of q: the one-hot part picks out one class, the "
    "uniform part alpha / C touches every class; keep log p stable as in section 1",
)


@public_check("02-label-smoothing-ce")
def _ls_matches_torch(label_smoothed_ce):
    z, y = _logits(0)
    for alpha in (0.0, 0.1, 0.5):
        out = label_smoothed_ce(z, y, alpha)
        expect_shape(out, (), what=f"label_smoothed_ce(logits (6, 4), target (6,), {alpha})",
                     hint=("the result is one number for the whole batch",
                           "average the per-example losses over the N examples: a 0-d tensor"))
        expect_close(out, F.cross_entropy(z, y, label_smoothing=alpha), rtol=1e-6, atol=1e-9,
                     what=f"the mean label-smoothed cross-entropy with alpha = {alpha}",
                     hint=_LS_HINTS)


@public_check("02-label-smoothing-ce")
def _ls_is_stable_keeps_dtype_and_inputs(label_smoothed_ce):
    z = torch.tensor([[1000.0, 999.0, -1000.0], [-1000.0, -999.0, -1001.0]])   # float32
    y = torch.tensor([1, 1])
    z_before = z.clone()
    out = label_smoothed_ce(z, y, 0.1)
    expect_true(bool(torch.isfinite(torch.as_tensor(out)).all()),
                "a finite loss for float32 logits of size 1000",
                hint=("what does exp(1000) give in floating point, and exp(-1000)?",
                      "shift each row of logits by a constant before exp: which constant "
                      "keeps every exponent <= 0 and leaves the loss unchanged?"))
    expect_close(out, F.cross_entropy(z, y, label_smoothing=0.1), rtol=1e-5, atol=1e-5,
                 what="the loss for float32 logits of size 1000", hint=_LS_HINTS)
    expect_dtype(out, torch.float32, what="the loss for float32 logits",
                 hint=("compute in the logits' own dtype",
                       "avoid creating float64 tensors or calling .double(); use the "
                       "logits' dtype for any tensor you build"))
    expect_true(bool(torch.equal(z, z_before)), "the logits to be unchanged after the call",
                hint=("an in-place operation changed the caller's tensor",
                      "write z = z - m, not z -= m (no trailing-underscore methods)"))


# ------------------------------------------------------------------ 02-numerical-jacobian
JACOBIAN_TOLERANCES = {                  # (rtol, atol): |got - exact| <= atol + rtol |exact|
    "numerical, h = 1e-5": (1e-7, 1e-9),
    "numerical, h = 1e-3": (1e-5, 1e-6),  # central differences only: one-sided ones miss it
    "exact, float64": (1e-12, 1e-14),     # rounding only: no finite difference gets this close
    "exact, float32": (1e-5, 1e-6),
}


def per_example_bce(w, X, y):
    """The exercise's vector function: the binary cross-entropy of each example for the logit
    X @ w, r (n,) (given to the learner in the exercise cell)."""
    return F.binary_cross_entropy_with_logits(X @ w, y, reduction="none")


def exact_bce_jacobian(w, X, y):
    """d r_n / d w_i of ``per_example_bce`` by autograd (the learner may not use it): (n, d)."""
    return torch.func.jacrev(per_example_bce)(w, X, y)


def bce_problem(g, n=7, d=3, dtype=torch.float64):
    X = torch.randn(n, d, dtype=torch.float64, generator=g)
    w = torch.randn(d, dtype=torch.float64, generator=g)
    y = torch.randint(0, 2, (n,), generator=g).double()
    return w.to(dtype), X.to(dtype), y.to(dtype)


_NUM_HINTS = (
    "column i of the Jacobian is how the whole vector r changes when only w_i moves",
    "section 5's central difference, applied to a function whose value is a vector: each "
    "coordinate of w gives a whole column; shift a copy of w, never w itself",
)
_EXACT_HINTS = (
    "r_n depends on w only through the logit z_n = x_n . w: by the chain rule, "
    "dr_n/dw_i = (dr_n/dz_n) (dz_n/dw_i)",
    "section 1 gives the derivative of the binary cross-entropy with respect to its logit, "
    "and dz_n/dw_i is an entry of X; broadcasting an (n, 1) column against X (n, d) gives "
    "every entry at once",
)
_UNCHANGED_HINTS = ("the function moved the caller's w and did not put it back",
                    "build each shifted w as a new tensor (w plus something) instead of "
                    "writing into w")


@public_check("02-numerical-jacobian")
def _numerical_jacobian_close(numerical_jacobian, bce_jacobian):
    w, X, y = bce_problem(torch.Generator().manual_seed(0))
    w_before, exact = w.clone(), exact_bce_jacobian(w, X, y)
    out = numerical_jacobian(w, X, y, 1e-5)
    expect_shape(out, (7, 3), what="numerical_jacobian(w (3,), X (7, 3), y (7,), 1e-5)",
                 hint=("one row per output r_n, one column per parameter w_i",
                       "the Jacobian of r: R^d -> R^n has shape (n, d)"))
    expect_dtype(out, torch.float64, what="the numerical Jacobian for float64 inputs",
                 hint=("finite differences need float64 (section 5): keep w's dtype",
                       "give any tensor you create or fill the dtype of w, and never convert "
                       "to float32"))
    expect_true(bool(torch.equal(w, w_before)), "w to be unchanged by numerical_jacobian",
                hint=_UNCHANGED_HINTS)
    rtol, atol = JACOBIAN_TOLERANCES["numerical, h = 1e-5"]
    expect_close(out, exact, rtol=rtol, atol=atol,
                 what="the numerical Jacobian with h = 1e-5", hint=_NUM_HINTS)
    rtol, atol = JACOBIAN_TOLERANCES["numerical, h = 1e-3"]
    expect_close(numerical_jacobian(w, X, y, 1e-3), exact, rtol=rtol, atol=atol,
                 what="the numerical Jacobian with a large step h = 1e-3",
                 hint=("with h = 1e-3 a one-sided difference is off by about h r''/2: which "
                       "difference of section 5 is much more accurate?",
                       "section 5's Taylor expansion: evaluating r on both sides of w cancels "
                       "the h r'' term"))


@public_check("02-numerical-jacobian")
def _exact_jacobian(numerical_jacobian, bce_jacobian):
    w, X, y = bce_problem(torch.Generator().manual_seed(1), n=6, d=4)
    w_before, exact = w.clone(), exact_bce_jacobian(w, X, y)
    out = bce_jacobian(w, X, y)
    expect_shape(out, (6, 4), what="bce_jacobian(w (4,), X (6, 4), y (6,))",
                 hint=("one row per example, one column per coordinate of w",
                       "the same shape as the numerical Jacobian, (n, d)"))
    expect_dtype(out, torch.float64, what="bce_jacobian for float64 inputs",
                 hint=("keep w's dtype", "compute in w's dtype; no .float(), no .double()"))
    expect_true(bool(torch.equal(w, w_before)), "w to be unchanged by bce_jacobian",
                hint=_UNCHANGED_HINTS)
    expect_close(out, numerical_jacobian(w, X, y, 1e-5), rtol=1e-6, atol=1e-8,
                 what="bce_jacobian compared with your numerical Jacobian (h = 1e-5)",
                 hint=_EXACT_HINTS)
    rtol, atol = JACOBIAN_TOLERANCES["exact, float64"]
    expect_close(out, exact, rtol=rtol, atol=atol,
                 what="bce_jacobian (which must be exact up to rounding)",
                 hint=("bce_jacobian must be exact up to rounding: a finite difference, however "
                       "small its step, is not",
                       "evaluate your hand-derived formula directly, with no step h at all"))
    w32, X32, y32 = w.float(), X.float(), y.float()
    out32 = bce_jacobian(w32, X32, y32)
    expect_dtype(out32, torch.float32, what="bce_jacobian for float32 inputs",
                 hint=("float32 in, float32 out", "compute in w's dtype; no .double()"))
    rtol, atol = JACOBIAN_TOLERANCES["exact, float32"]
    expect_close(out32, exact.float(), rtol=rtol, atol=atol,
                 what="bce_jacobian in float32", hint=_EXACT_HINTS)


# ------------------------------------------------------------------ 02-sgd-nesterov-step
_NESTEROV_HINTS = (
    "weight decay changes the gradient before anything else; then update the buffer, then "
    "the parameters",
    "the buffer accumulates the gradient *with* its weight-decay term, and the look-ahead "
    "step uses the buffer after this step's update, not before",
)


def _nesterov_problem(seed):
    g = torch.Generator().manual_seed(seed)
    p0 = torch.randn(5, dtype=torch.float64, generator=g)
    curvature = torch.rand(5, dtype=torch.float64, generator=g) + 0.5
    return p0, curvature


@public_check("02-sgd-nesterov-step")
def _nesterov_matches_torch(sgd_nesterov_step):
    p0, curvature = _nesterov_problem(0)
    ref = p0.clone().requires_grad_()
    opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    p, buf = p0.clone(), None
    for step in range(4):
        grad = curvature * p          # the gradient of sum(curvature * p^2) / 2
        p, buf = sgd_nesterov_step(p, grad, buf, 0.1, 0.9, 0.01)
        opt.zero_grad()
        (0.5 * curvature * ref**2).sum().backward()
        opt.step()
        expect_close(p, ref.detach(), rtol=1e-10, atol=1e-12,
                     what=f"the parameters after step {step + 1} (compared with "
                          "torch.optim.SGD(nesterov=True, weight_decay=0.01))",
                     hint=_NESTEROV_HINTS)
        expect_close(buf, opt.state[ref]["momentum_buffer"], rtol=1e-10, atol=1e-12,
                     what=f"the momentum buffer after step {step + 1}", hint=_NESTEROV_HINTS)


@public_check("02-sgd-nesterov-step")
def _nesterov_leaves_inputs_alone(sgd_nesterov_step):
    p0, curvature = _nesterov_problem(1)
    grad, buf = curvature * p0, torch.ones(5, dtype=torch.float64)
    before = [p0.clone(), grad.clone(), buf.clone()]
    sgd_nesterov_step(p0, grad, buf, 0.1, 0.9, 0.01)
    same = all(torch.equal(a, b) for a, b in zip((p0, grad, buf), before))
    expect_true(same, "p, grad and buf to be unchanged after the call",
                hint=("an in-place operation (+=, mul_, add_) changed a tensor the caller "
                      "still holds",
                      "an arithmetic expression such as a * b + c builds a new tensor; a "
                      "method ending in _ or an augmented assignment (+=, *=) writes into the "
                      "tensor the caller passed"))


# ------------------------------------------------------------------ 02-ce-grad
_CE_GRAD_HINTS = (
    "start from the formula for d loss / d z of one example in section 1, then account "
    "for the mean over the batch",
    "section 1 ('A gradient that does not vanish') gives one example's gradient; a mean over "
    "N examples scales each example's contribution: by how much?",
)


@public_check("02-ce-grad")
def _ce_grad_matches_autograd(cross_entropy_grad):
    z, y = _logits(2, n=5, c=3)
    leaf = z.clone().requires_grad_()
    F.cross_entropy(leaf, y).backward()
    out = cross_entropy_grad(z, y)
    expect_shape(out, (5, 3), what="cross_entropy_grad(logits (5, 3), target (5,))",
                 hint=("one gradient entry per logit",
                       "the result has the shape of the logits, (N, C)"))
    expect_close(out, leaf.grad, rtol=1e-6, atol=1e-10,
                 what="the gradient of the mean cross-entropy", hint=_CE_GRAD_HINTS)


@public_check("02-ce-grad")
def _ce_grad_is_stable(cross_entropy_grad):
    z = torch.tensor([[800.0, -800.0, 0.0], [-900.0, -899.0, -901.0]], dtype=torch.float64)
    y = torch.tensor([1, 0])
    leaf = z.clone().requires_grad_()
    F.cross_entropy(leaf, y).backward()
    out = cross_entropy_grad(z, y)
    expect_true(bool(torch.isfinite(torch.as_tensor(out)).all()),
                "a finite gradient for logits of size 800",
                hint=("exp(800) overflows and exp(-900) underflows: your softmax divides "
                      "inf by inf or 0 by 0",
                      "the softmax does not change when every logit of a row is shifted by "
                      "the same constant: pick the shift that makes the largest exponent 0"))
    expect_close(out, leaf.grad, rtol=1e-6, atol=1e-10,
                 what="the gradient for logits of size 800", hint=_CE_GRAD_HINTS)


# ------------------------------------------------------------------ 02-value-logaddexp
_LAE_HINTS = (
    "differentiate log(e^a + e^b) with respect to a by the chain rule, and likewise b; at "
    "a = b each derivative must be 1/2, and the two always add up to 1",
    "the lambda also receives out = log(e^a + e^b): write the denominator of your derivative "
    "with out, and the derivative becomes a single exponential whose exponent is never "
    "positive",
)


def torch_logaddexp(a, b, upstream):
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    out = torch.logaddexp(ta, tb)
    (out * upstream).backward()
    return out.item(), ta.grad.item(), tb.grad.item()


@public_check("02-value-logaddexp")
def _logaddexp_is_one_new_op(logaddexp):
    from nblib.autograd import Value

    a, b = Value(0.5), Value(-1.25)
    out = logaddexp(a, b)
    expect_true(isinstance(out, Value), "logaddexp(Value, Value) to return a Value",
                hint=("build the result with a._result(...), as the operations of section 3 do",
                      "a._result(forward value, 'logaddexp', (a, b), derivative lambda)"))
    expect_true(len(out._prev) == 2 and out._prev[0] is a and out._prev[1] is b,
                "the result's parents to be exactly (a, b): one new operation, not a "
                "composition of exp, + and log",
                hint=("a graph built from Value.exp and Value.log overflows at 1000; write "
                      "the operation as one node",
                      "compute the forward value with math on a.data and b.data, and pass "
                      "(a, b) as the parents to a._result"))


@public_check("02-value-logaddexp")
def _logaddexp_matches_torch(logaddexp):
    from nblib.autograd import Value

    for a0, b0, up in [(0.5, -1.25, 1.0), (2.0, 3.0, -0.7), (1000.0, 999.0, 2.0),
                       (-1000.0, -1001.0, 1.0)]:
        a, b = Value(a0), Value(b0)
        out = logaddexp(a, b)
        (out * up).backward()
        ref = torch_logaddexp(a0, b0, up)
        expect_true(all(math.isfinite(v) for v in (out.data, a.grad, b.grad)),
                    f"a finite value and gradients for a = {a0:g}, b = {b0:g}",
                    hint=("math.exp(1000) raises OverflowError: which shift makes the "
                          "exponents safe, in the forward and in the derivative?",
                          "section 1's log-sum-exp trick works for two terms too; for the "
                          "derivatives, use the out that the lambda receives"))
        expect_close(out.data, ref[0], rtol=1e-10, atol=1e-12,
                     what=f"logaddexp({a0:g}, {b0:g})",
                     hint=("log(e^a + e^b), computed so that it never overflows",
                           "the log-sum-exp trick of section 1, with two terms"))
        expect_close([a.grad, b.grad], list(ref[1:]), rtol=1e-9, atol=1e-12,
                     what=f"(da, db) after backward of {up:g} * logaddexp({a0:g}, {b0:g})",
                     hint=_LAE_HINTS)
