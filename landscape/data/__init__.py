"""Datasets: a registry, loaders for the official on-disk layouts, and verified downloads.

```python
from landscape.data import load_dataset, to_unit_range
ds = load_dataset("mnist", root=None, split="train")   # root: arg > $LANDSCAPE_DATA > ./data
ds.images  # torch.uint8 (60000, 1, 28, 28);  ds.labels: torch.int64 (60000,)
x = to_unit_range(ds.images[:128])                     # float32 in [-1, 1]
```

Downloads live in :mod:`landscape.data.download` (``landscape data fetch NAME``).
Importing this package does not import torch; loading does.
"""

from __future__ import annotations

from landscape.data.checksums import DatasetChecksumWarning
from landscape.data.loader import Dataset, load_dataset, to_unit_range
from landscape.data.registry import DATASETS, DatasetSpec, canonical_name, get_spec
from landscape.data.roots import resolve_data_root

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetChecksumWarning",
    "DatasetSpec",
    "canonical_name",
    "get_spec",
    "load_dataset",
    "resolve_data_root",
    "to_unit_range",
]
