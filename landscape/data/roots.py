"""Where datasets live: the data root.

Resolution order: an explicit argument (the CLI's ``--data-dir``) first, then the
``LANDSCAPE_DATA`` environment variable, then ``./data`` in the working directory.
Under the root, datasets sit in the folders torchvision uses (``MNIST/raw``,
``FashionMNIST/raw``, ``cifar-10-batches-bin``, ``cifar-10-batches-py``).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "LANDSCAPE_DATA"
DEFAULT_ROOT = "data"


def resolve_data_root_with_source(root: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The absolute data root and a few words saying where it came from (for messages)."""
    if root is not None and str(root) != "":
        return Path(root).expanduser().absolute(), "--data-dir"
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser().absolute(), f"${ENV_VAR}"
    return Path(DEFAULT_ROOT).absolute(), "default ./data"


def resolve_data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root`` if given, else ``$LANDSCAPE_DATA``, else ``./data`` (made absolute)."""
    return resolve_data_root_with_source(root)[0]
