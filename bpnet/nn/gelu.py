"""GELU (Hendrycks & Gimpel 2016), exact (x Phi(x), through erf) or with PyTorch's tanh approximation."""
import math

import numpy as np

from .module import Module

__all__ = ["GELU", "erf"]

# erf as Cephes computes it (S. L. Moshier, ndtr.c): x T(x^2)/U(x^2) for |x| < 1, else 1 - erfc(|x|) with
# erfc(a) = exp(-a^2) P(a)/Q(a) for a < 8 and exp(-a^2) R(a)/S(a) beyond; relative error about 1e-16.
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3, 7.00332514112805075473e3,
      5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0, 4.86371970985681366614e1,
      1.96520832956077098242e2, 5.26445194995477358631e2, 9.34528527171957607540e2, 1.02755188689515710272e3,
      5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3, 1.65666309194161350182e3,
      5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0, 6.16021097993053585195e0,
      7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)


def _poly(coefficients, x):
    """sum c_k x^(n-k), highest power first (Horner)."""
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


def erf(x):
    """The error function, elementwise, in float64 (numpy has none, and bpnet needs no scipy)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    small = a < 1.0
    z = np.where(small, x * x, 0.0)
    inner = x * _poly(_T, z) / _poly(_U, z)
    b = np.where(small, 1.0, np.minimum(a, 27.0))  # erfc(27) underflows to 0 in float64
    tail = np.exp(-b * b) * np.where(b < 8.0, _poly(_P, b) / _poly(_Q, b), _poly(_R, b) / _poly(_S, b))
    return np.where(small, inner, np.copysign(1.0 - tail, x))


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_KAPPA = 0.044715


class GELU(Module):
    """approximate='none': x Phi(x), d/dx = Phi(x) + x phi(x) with phi the standard normal density.
    approximate='tanh': x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3), and its derivative."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        if self.approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + _KAPPA * x ** 3))
            derivative = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _KAPPA * x * x)
            y = 0.5 * x * (1 + t)
        else:
            cdf = 0.5 * (1 + erf(x / math.sqrt(2.0)))
            derivative = cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            y = x * cdf
        self.save_for_backward(derivative.astype(x.dtype, copy=False))
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        derivative, = self.saved_tensors
        return dy * derivative

    def extra_repr(self):
        return f"approximate={self.approximate!r}"
