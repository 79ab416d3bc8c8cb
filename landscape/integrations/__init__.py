"""Recording from the training frameworks people already use, through :class:`landscape.writer.RunWriter`.

- :mod:`landscape.integrations.lightning`: :class:`~landscape.integrations.lightning.LandscapeCallback`, a
  PyTorch Lightning callback (``pip install 'landscape[lightning]'``);
- :mod:`landscape.integrations.accelerate`: :class:`~landscape.integrations.accelerate.LandscapeTracker`, a
  Hugging Face Accelerate tracker (``pip install 'landscape[accelerate]'``).

Each module imports its framework; this package imports neither, so ``import landscape`` never needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from landscape.errors import LandscapeError


def scalar(value: Any) -> Any:
    """A loggable scalar: a float or int, or a one-element tensor detached (kept on its device); None otherwise."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return value
    numel = getattr(value, "numel", None)
    if numel is not None and callable(numel) and numel() == 1:
        return value.detach().reshape(())
    try:  # numpy scalars and 0-d arrays
        import numpy as np

        if isinstance(value, (np.generic, np.ndarray)) and np.size(value) == 1:
            return float(np.asarray(value).reshape(()))
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return None


def plain_config(config: Any) -> dict[str, Any]:
    """A run config as a plain dict: a :class:`~landscape.config.TrainConfig` (its ``to_dict``), a mapping, an
    argparse namespace or Lightning's ``hparams``; one sentence for anything else."""
    if config is None:
        return {}
    to_dict = getattr(config, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    if isinstance(config, Mapping):
        return {str(k): v for k, v in config.items()}
    if hasattr(config, "__dict__"):
        return {k: v for k, v in vars(config).items() if not k.startswith("_")}
    raise LandscapeError(f"config must be a TrainConfig, a dict or a namespace of settings, got {type(config).__name__}.")


def probe_z(config: Mapping[str, Any], n: int) -> Any:
    """``n`` latent vectors as a landscape run draws them (``z_dim``, ``z_dist`` uniform U[-1, 1] or normal, seeded by
    ``seed``), for the probe batch a rebuilt run's Hessian is taken on; None if the config has no ``z_dim``."""
    import torch

    z_dim = config.get("z_dim")
    if not isinstance(z_dim, int) or z_dim < 1:
        return None
    gen = torch.Generator().manual_seed(int(config.get("seed", 0) or 0) + 1)
    if config.get("z_dist", "uniform") == "normal":
        return torch.randn(n, z_dim, generator=gen)
    return torch.rand(n, z_dim, generator=gen) * 2 - 1


__all__ = ["plain_config", "probe_z", "scalar"]
