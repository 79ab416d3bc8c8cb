"""The networks a run records, in one table: key, label, which loss and which parameters.

A GAN run records four (loss, gradient norm) pairs per iteration: the generator's,
the discriminator's, and the discriminator's real and fake parts (the two terms of
its loss, each with the norm of its own gradient). Every plot title, report
heading, CLI choice list and the tidy frame's ``network`` column read this table,
so a network has one name and one label everywhere.

``params`` says whose parameters the loss is differentiated by: the Hessian of a
network (``landscape hessian --network g|d``) is taken with respect to those
parameters, the other network held fixed.

Any other training loop names its networks by its fields (:func:`networks_in`):
``<name>_loss`` with ``<name>_grad_norm`` make a network called ``<name>`` (a
classifier logging ``clf_loss`` and ``clf_grad_norm`` has a network ``clf``); the
GAN fields keep their names and this table's mapping, and a writer may store an
explicit mapping for fields that follow neither (``RunWriter(..., networks=...)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from landscape.errors import LandscapeError, unknown_choice


@dataclass(frozen=True)
class Network:
    """One recorded network: its key, a readable label, and the metric columns of its loss and gradient norm."""

    key: str  # "g", "d", "d_real", "d_fake": the tidy frame's ``network`` value
    label: str  # "generator", "discriminator, real part", ...
    loss: str  # metric column of its loss
    grad_norm: str  # metric column of the norm of its gradient
    params: str  # "g" or "d": whose parameters the loss is differentiated by ("" outside the GAN table)

    @property
    def title(self) -> str:
        """Key and label together, e.g. ``"d_real (discriminator, real part)"``."""
        return f"{self.key} ({self.label})"


#: Every network a GAN run records, in report order.
NETWORKS: dict[str, Network] = {
    n.key: n
    for n in (
        Network("g", "generator", "g_loss", "g_grad_norm", "g"),
        Network("d", "discriminator", "d_loss", "d_grad_norm", "d"),
        Network("d_real", "discriminator, real part", "d_loss_real", "d_grad_norm_real", "d"),
        Network("d_fake", "discriminator, fake part", "d_loss_fake", "d_grad_norm_fake", "d"),
    )
}

#: The paper's LGC panels, left to right: generator, the discriminator's real and fake parts, the whole D loss.
PAPER_PANELS: tuple[str, ...] = ("g", "d_real", "d_fake", "d")

#: Networks that own parameters, i.e. that have a Hessian of their own.
PARAMETER_NETWORKS: tuple[str, ...] = ("g", "d")


def networks_in(columns: Iterable[str], mapping: Mapping[str, Sequence[str]] | None = None) -> list[Network]:
    """The networks a run with these metric ``columns`` records, in order.

    First the explicit ``mapping`` (name -> (loss column, gradient-norm column)), then
    the GAN table's networks whose columns exist, then every ``<name>_loss`` with a
    matching ``<name>_grad_norm`` among the remaining columns, in column order.
    """
    columns = list(columns)
    present = set(columns)
    found: dict[str, Network] = {}
    for name, (loss, grad_norm) in (mapping or {}).items():
        if loss in present and grad_norm in present:
            found[name] = NETWORKS.get(name) or Network(name, name, loss, grad_norm, "")
    used = {c for n in found.values() for c in (n.loss, n.grad_norm)}
    for key, net in NETWORKS.items():
        if key not in found and {net.loss, net.grad_norm} <= present - used:
            found[key] = net
    used = {c for n in found.values() for c in (n.loss, n.grad_norm)}
    for column in columns:
        name = column[: -len("_loss")] if column.endswith("_loss") else None
        if name and name not in found and column not in used and f"{name}_grad_norm" in present - used:
            found[name] = Network(name, name, column, f"{name}_grad_norm", "")
    return list(found.values())


def network(key: str) -> Network:
    """The table entry of ``key``; one sentence naming the choices for an unknown key."""
    try:
        return NETWORKS[key]
    except KeyError:
        raise LandscapeError(unknown_choice("network", key, NETWORKS)) from None


def label(key: str, critic: bool = False) -> str:
    """The readable label of ``key`` (the key itself for a network not in the table).

    ``critic``: the run's loss makes D a critic (an unbounded score: WGAN, WGAN-GP, hinge), and
    the label says so ("critic, real part").
    """
    entry = NETWORKS.get(key)
    text = entry.label if entry is not None else key
    return text.replace("discriminator", "critic") if critic else text


def title(key: str) -> str:
    """``"key (label)"`` for a network in the table, else the key."""
    entry = NETWORKS.get(key)
    return entry.title if entry is not None else key


__all__ = ["NETWORKS", "PAPER_PANELS", "PARAMETER_NETWORKS", "Network", "label", "network", "networks_in", "title"]
