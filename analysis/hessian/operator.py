"""The Hessian as a scipy ``LinearOperator`` (float64 on the scipy side).

scipy's solvers (``eigsh``, ``lobpcg``, ...) see a float64 operator; each
``matvec`` converts to the network's dtype and device, runs one Hessian-vector
product and converts back. The product counter lives on the wrapped
:class:`~analysis.hessian.hvp.HessianVectorProduct`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

from analysis.hessian.hvp import HessianVectorProduct


class HessianOperator(LinearOperator):
    """Symmetric ``n x n`` float64 operator ``x -> H x`` backed by a :class:`HessianVectorProduct`."""

    def __init__(self, hvp: HessianVectorProduct) -> None:
        super().__init__(dtype=np.float64, shape=(hvp.n, hvp.n))
        self.hvp = hvp

    @property
    def n_products(self) -> int:
        """Hessian-vector products computed so far."""
        return self.hvp.n_products

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        out = self.hvp(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64).reshape(-1)))
        return out.to(dtype=torch.float64, device="cpu").numpy()

    def _rmatvec(self, x: np.ndarray) -> np.ndarray:  # symmetric
        return self._matvec(x)

    def _adjoint(self) -> "HessianOperator":
        return self
