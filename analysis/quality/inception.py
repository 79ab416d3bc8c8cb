"""The Inception-v3 network of papers' FID, from torch-fidelity, given its weights file: found, checked, loaded.

FID in papers means the Fréchet distance of the 2,048 pool features of one fixed network:
the TensorFlow Inception-v3 graph of 2015-12-05, converted to PyTorch by pytorch-fid and
torch-fidelity (the same file, ``pt_inception-2015-12-05-6726825d.pth``, 95,628,359 bytes,
SHA-256 :data:`WEIGHTS_SHA256`). landscape does not write that network: it is
torch-fidelity's ``FeatureExtractorInceptionV3`` (the network torchmetrics'
``FrechetInceptionDistance`` runs too), with TensorFlow-compatible resizing to 299 x 299.
The weights cannot be downloaded at run time here, so the file is looked up where the
user put it (:func:`inception_weights_path`) and checked by its SHA-256 before use.

torch-fidelity's package ``__init__`` imports torchvision (for its CLIP, VGG and DINOv2
extractors), which a CPU build of torch often lacks (PyPI's Linux torchvision wheels are
CUDA builds and fail to import on a CPU torch); the Inception module itself needs only
torch, so :func:`inception_class` loads it without the package ``__init__`` when that fails.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landscape.errors import LandscapeError
from landscape.weights import WeightsFileError, cache_dir

#: The file name of papers' FID Inception weights (pytorch-fid's name; torch-fidelity hosts the same bytes as
#: ``weights-inception-2015-12-05-6726825d.pth``).
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
#: SHA-256 of that file (its name carries the first 8 hex digits, as torch.hub names files).
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
#: Where to download it: torch-fidelity's release (pytorch-fid's release of ``pt_inception-...`` is the same file).
WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
#: The environment variable naming the weights file when no path is given.
WEIGHTS_ENV = "LANDSCAPE_INCEPTION_WEIGHTS"
#: The feature layer of FID: the 2,048 average-pooled features before the classifier.
FEATURE_LAYER = "2048"
#: Images per forward pass (a 299 x 299 batch of 50 holds about 1.5 GB of activations in float32).
BATCH = 50


@dataclass(frozen=True)
class InceptionWeights:
    """A checked Inception weights file: its path, the SHA-256 of its bytes, and whether it is papers' file."""

    path: Path
    sha256: str

    @property
    def official(self) -> bool:
        """Whether these are the FID weights papers use (the SHA-256 is :data:`WEIGHTS_SHA256`)."""
        return self.sha256 == WEIGHTS_SHA256

    @property
    def identity(self) -> str:
        """What a stored row names the network by: ``fid-inception-v3-2015-12-05@sha256:<digest>`` for papers'
        weights, ``inception-v3-other-weights@sha256:<digest>`` for any other file (numbers not comparable)."""
        name = "fid-inception-v3-2015-12-05" if self.official else "inception-v3-other-weights"
        return f"{name}@sha256:{self.sha256}"


def inception_weights_path(path: str | os.PathLike | None = None) -> Path:
    """Where the weights file is: ``path``, else ``$LANDSCAPE_INCEPTION_WEIGHTS``, else
    ``<landscape cache>/inception/pt_inception-2015-12-05-6726825d.pth`` (the cache is ``$LANDSCAPE_CACHE``, else
    ``~/.cache/landscape``)."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(WEIGHTS_ENV):
        return Path(os.environ[WEIGHTS_ENV]).expanduser()
    return cache_dir() / "inception" / WEIGHTS_NAME


def check_inception_weights(path: str | os.PathLike | None = None, *, allow_other: bool = False) -> InceptionWeights:
    """The weights file at ``path`` (:func:`inception_weights_path`), checked: one sentence if it is missing, is not
    papers' file (its SHA-256 differs, unless ``allow_other``) or is not a plain PyTorch state dict."""
    where = inception_weights_path(path)
    if not where.is_file():
        raise WeightsFileError(
            f"The Inception weights file {where} does not exist: download {WEIGHTS_URL} (95.6 MB, the same bytes as "
            f"pytorch-fid's {WEIGHTS_NAME}) and save it as {where}, or give its path with --inception-weights or "
            f"${WEIGHTS_ENV}.")
    digest = _sha256(where)
    weights = InceptionWeights(where, digest)
    if not weights.official and not allow_other:
        raise WeightsFileError(
            f"{where} is not the FID Inception weights file (its SHA-256 is {digest[:16]}..., expected "
            f"{WEIGHTS_SHA256[:16]}...): download {WEIGHTS_URL} again, or pass --any-inception-weights to measure "
            "with these weights (their numbers do not compare with papers' FID).")
    state = _state_dict(where)
    if not state or not all(_is_tensor(v) for v in state.values()):
        raise WeightsFileError(f"{where} is not an Inception-v3 weights file: it holds no PyTorch state dict of "
                               "tensors.")
    return weights


def inception_class() -> type:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` (one sentence if torch-fidelity is not installed).

    Imported normally when torch-fidelity's package imports; when it does not (its ``__init__`` imports torchvision,
    missing or broken on a CPU torch), its Inception module is loaded without the package ``__init__``: it needs only
    torch. The package then stays registered without its ``__init__``'s names, so torchmetrics' FID (which imports
    the same module) works in the same process.
    """
    name = "torch_fidelity.feature_extractor_inceptionv3"
    try:
        return importlib.import_module(name).FeatureExtractorInceptionV3
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.split(".")[0] == "torch_fidelity":
            raise _missing_library() from None
        reason: BaseException = err
    except (ImportError, RuntimeError) as err:  # a torchvision built for another torch fails with RuntimeError
        reason = err
    spec = importlib.util.find_spec("torch_fidelity")
    if spec is None or not spec.submodule_search_locations:
        raise _missing_library() from None
    for partial in [key for key in sys.modules if key == "torch_fidelity" or key.startswith("torch_fidelity.")]:
        del sys.modules[partial]  # what the failed import of the package left behind
    package = importlib.util.module_from_spec(spec)  # the package, its __init__ not run
    sys.modules["torch_fidelity"] = package
    try:
        return importlib.import_module(name).FeatureExtractorInceptionV3
    except Exception:
        del sys.modules["torch_fidelity"]
        raise LandscapeError(f"torch-fidelity's Inception network cannot be imported ({type(reason).__name__}: "
                             f"{str(reason).splitlines()[0][:120]}).") from None


def load_inception(weights: InceptionWeights, device: Any = "cpu") -> Any:
    """torch-fidelity's Inception-v3 with ``weights`` (a checked file), in eval mode on ``device``, returning the
    2,048 pool features of uint8 N x 3 x H x W images; one sentence if the file's tensors are not its weights."""
    cls = inception_class()
    try:
        model = cls("inception-v3-compat", [FEATURE_LAYER], feature_extractor_weights_path=str(weights.path))
    except RuntimeError as err:  # load_state_dict: missing or unexpected keys, wrong shapes
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = (lines[1] if len(lines) > 1 else lines[0] if lines else type(err).__name__)[:100]
        raise WeightsFileError(f"{weights.path} does not hold the weights of torch-fidelity's Inception-v3: its "
                               f"tensors do not match the network's names and shapes ({detail.rstrip('.')}...).") from None
    return model.to(device)


def write_random_inception_weights(path: str | os.PathLike, seed: int = 0) -> Path:
    """Save the state dict of torch-fidelity's Inception-v3 as PyTorch initialises it (seeded; BatchNorm statistics
    of one batch of noise images): a file of the right architecture for testing the plumbing without papers' weights.

    FIDs measured with it mean nothing. Its SHA-256 differs from papers' file, so only ``allow_other`` accepts it,
    and the rows it measures name it ``inception-v3-other-weights@sha256:...``.
    """
    import torch

    cls = inception_class()

    class Unloaded(cls):  # type: ignore[misc, valid-type]
        """The network as constructed, its random initialisation kept (the constructor's load is skipped)."""

        def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
            return None

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    empty = path.with_name(path.name + ".empty")
    torch.save({}, empty)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Unloaded("inception-v3-compat", [FEATURE_LAYER], feature_extractor_weights_path=str(empty))
            # BatchNorm statistics of one batch of uniform noise images, so that each layer's output keeps a unit
            # scale (with the initial statistics the pool features shrink to about 1e-8 and every FD is rounding)
            norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None
            model.train()
            with torch.no_grad():
                model(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8))
            for norm in norms:
                norm.momentum = 0.1
    finally:
        empty.unlink()
    torch.save(model.state_dict(), path)
    return path


def _missing_library() -> LandscapeError:
    return LandscapeError("Inception FID needs torch-fidelity, which is not installed: install a torchvision that "
                          "matches your torch from the index your torch came from (a CPU torch: `pip install "
                          "torchvision --index-url https://download.pytorch.org/whl/cpu`), then `pip install "
                          "torch-fidelity` (or landscape's `fid` extra).")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _state_dict(path: Path) -> dict[str, Any]:
    """The file's tensors, loaded without unpickling code (``weights_only``); one sentence if it cannot be."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsFileError(f"{path} is not a PyTorch weights file ({type(err).__name__}: "
                               f"{str(err).splitlines()[0][:100] if str(err) else 'unreadable'}).") from None
    return dict(state) if isinstance(state, dict) else {}


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


__all__ = ["BATCH", "FEATURE_LAYER", "InceptionWeights", "WEIGHTS_ENV", "WEIGHTS_NAME", "WEIGHTS_SHA256",
           "WEIGHTS_URL", "check_inception_weights", "inception_class", "inception_weights_path", "load_inception",
           "write_random_inception_weights"]
