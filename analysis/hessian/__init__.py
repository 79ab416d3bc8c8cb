"""Hessian eigenvalue estimates of GAN losses: ``analysis.hessian``.

For one network at a time (the generator loss w.r.t. G with D fixed, or the
discriminator loss w.r.t. D with G fixed) on a run's fixed probe batch:

- the k largest and k smallest *algebraic* eigenvalues with residual norms and
  converged flags (thick-restart Lanczos, scipy ``eigsh``, or the exact Hessian
  for small networks),
- the trace (Hutch++ / Hutchinson, with a standard error),
- the spectral density (stochastic Lanczos quadrature),
- a curvature label (convex, concave, saddle, singular, flat) with its tolerance.

Entry points::

    from analysis.hessian import estimate, estimate_models, store, read_estimates, HessianEstimates
    result = estimate("run.h5", step=9360, network="d", k=5)   # at a stored checkpoint
    result = estimate_models(g, d, probe_real, probe_z, "g")    # networks in memory
    store(result, "run.h5")                 # atomically, via landscape.amend.append_measurement
    read_estimates("run.h5")                # every stored estimate, with its stage
    trainers.record(config, path, measurements=[HessianEstimates()])   # during training

Modules: :mod:`~analysis.hessian.estimate` (computing), :mod:`~analysis.hessian.storage`
(run files), :mod:`~analysis.hessian.measurement` (the measurement kind: during training and at
checkpoints), :mod:`~analysis.hessian.plot`; the probe loss is :mod:`analysis.probe_loss`'s.
Generic pieces (any scalar loss of any parameters): :class:`HessianVectorProduct`,
:class:`HessianOperator`, :func:`analyse`, :func:`extreme_eigenvalues`,
:func:`estimate_trace`, :func:`slq_density`, :func:`curvature_class`.
"""

from analysis.hessian.classify import Classification, curvature_class
from analysis.hessian.density import SpectralDensity, exact_density, slq_density
from analysis.hessian.eigen import METHODS, EigenResult, extreme_eigenvalues, power_iteration
from analysis.hessian.estimate import HessianResult, analyse, estimate, estimate_models
from analysis.hessian.gan import check_deterministic, deterministic_copy, gan_loss
from analysis.hessian.measurement import HessianEstimates
from analysis.hessian.hvp import HessianVectorProduct, hessian_matrix
from analysis.hessian.operator import HessianOperator
from analysis.hessian.storage import from_record, load_estimate, read_estimates, store, to_record
from analysis.hessian.trace import TraceEstimate, estimate_trace, hutchinson, hutchpp

__all__ = [
    "Classification",
    "EigenResult",
    "HessianEstimates",
    "HessianOperator",
    "HessianResult",
    "HessianVectorProduct",
    "METHODS",
    "SpectralDensity",
    "TraceEstimate",
    "analyse",
    "check_deterministic",
    "curvature_class",
    "deterministic_copy",
    "estimate",
    "estimate_models",
    "estimate_trace",
    "exact_density",
    "extreme_eigenvalues",
    "from_record",
    "gan_loss",
    "hessian_matrix",
    "hutchinson",
    "hutchpp",
    "load_estimate",
    "power_iteration",
    "read_estimates",
    "slq_density",
    "store",
    "to_record",
]
