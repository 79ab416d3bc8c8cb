"""The instrumented GAN training loop: the paper's procedure, every iteration recorded.

One iteration (docs/recording.md, "The paper's setup"):

1. Generator step. z ~ U[-1, 1]; fake = G(z); G loss = BCE(D(fake), 1). Only G's
   gradients are computed (``backward(inputs=...)``: D's weight gradients would be
   thrown away), their norm is recorded and Adam applies them.
2. Discriminator step on the *same* fake batch (made before G's update), real and
   fake in two separate forward passes so BatchNorm sees one kind per batch. As
   G's update does not change D, D's forward on the fakes from step 1 can be
   reused (``share_fake_pass=True``, opt-in: it saves one of D's three forward
   passes, but both losses then see the same dropout mask and BatchNorm's running
   statistics are updated once less; the default runs the second forward, as the
   paper's code does). The real
   part is back-propagated into ``.grad``, the fake part into separate tensors;
   the norms of both are taken, the fake part is added to ``.grad`` and the
   total, which D's optimizer then applies, is measured too. No extra forward or
   backward pass is needed for the split.

Every metric stays a 0-d tensor on the training device; the run writer buffers
them and copies blocks to the host, so there is no device-to-host synchronisation
per iteration. The whole dataset lives on the device as uint8 and each epoch is a
fresh permutation of it, cut into full batches (the last partial batch dropped).

Two options change the step (both Berard et al.'s 1-D mixture recipe, ``mlp100``): with
``extragradient`` each iteration first steps both players from the same point with plain
gradient steps (the look-ahead), then computes the recorded step above at the look-ahead point
and applies it from the starting point (:meth:`GANTrainer._look_ahead`); with ``z_per_point``
every training point keeps one z, drawn once from the seed, and a batch takes its points' z
(with the whole set as one batch, every iteration sees the same deterministic loss).

The writer (``landscape.writer.RunWriter``) is optional: without one the same loop
runs with recording off, which the benchmark uses to measure recording's cost.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable

import torch

from landscape.config import WASSERSTEIN_LOSSES, TrainConfig, check_device
from landscape.data import to_unit_range
from landscape.data.toys import is_toy
from landscape.errors import DivergedError, LandscapeError
from landscape.measurements import Measurement
from trainers import losses
from trainers.models import build_models, network_info
from trainers.optim import make_optimizers
from trainers.samples import sample_grid, sample_points
from trainers.schedule import Schedule, configured_settings, resolve_measurements
from trainers.precision import check_precision, matmul_precision, use_memory_format
from trainers.threads import resolve_threads
from trainers.unroll import unrolled_g_loss

#: Number of z vectors in each sample grid (an 8 x 8 grid).
SAMPLE_COUNT = 64
#: Samples per class in a conditional GAN's grid (one row per class).
SAMPLE_PER_CLASS = 8
#: Points drawn for a 2-D toy's samples (the fixed z; the count of VEEGAN and PacGAN's quality measure).
TOY_SAMPLE_COUNT = 2500
#: On an accelerator, check the losses for NaN/inf every this many iterations (one sync each).
DIVERGENCE_CHECK_EVERY = 100


def _copy_(params: list[torch.Tensor], values: list[torch.Tensor]) -> None:
    """Set each parameter to its saved value in place (no autograd record)."""
    with torch.no_grad():
        for p, v in zip(params, values):
            p.copy_(v)


class StopRequested(KeyboardInterrupt):
    """Raised by :meth:`GANTrainer.run` between two iterations after :meth:`GANTrainer.request_stop`: the
    trainer's state is whole (no iteration half done), so a resume state can be taken."""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; anything else as given, checked against what PyTorch sees."""
    check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LandscapeError(f"The device {name} asks for a GPU, but PyTorch sees none; use cpu or auto.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise LandscapeError(
            f"The device {name} names a GPU that does not exist; PyTorch sees {torch.cuda.device_count()}."
        )
    return device


def sample_z(
    n: int, config: TrainConfig, device: torch.device, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A batch of latent vectors: U[-1, 1] (the paper's) or N(0, 1)."""
    if config.z_dist == "uniform":
        return torch.rand(n, config.z_dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, config.z_dim, device=device, generator=generator)


def as_training_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 images to float32 in [-1, 1] (the paper's scaling); float data (2-D toy points) as they are."""
    return to_unit_range(batch) if batch.dtype == torch.uint8 else batch


class GANTrainer:
    """A GAN, its optimizers, its data and its schedule; :meth:`run` trains it.

    The trainer can be run in pieces (``run(until=...)`` continues where the last
    call stopped), which the benchmark uses to interleave trainers. ``measurements``
    (:class:`landscape.measurements.Measurement`: Hessian estimates, sample quality, ...;
    ``analysis.measurements`` has them) are called with the trainer at the steps the
    schedule plans for their kind (``schedule.measurement_steps``) while recording, and
    what they return is stored: the trainer itself knows no kind. ``config`` is the given
    config with its device, thread count (:func:`trainers.threads.resolve_threads`; applied
    by :func:`trainers.record`) and the ``<kind>_every`` of its measurement kinds resolved
    (:func:`trainers.schedule.resolve_measurements`); ``notes`` says why a resolved value
    differs from the one asked for.

    Recording starts when a writer is given, here or later with :meth:`start_recording`.
    """

    def __init__(
        self,
        config: TrainConfig,
        images: torch.Tensor,
        writer=None,
        measurements: Iterable[Measurement] = (),
        labels: torch.Tensor | None = None,
        n_classes: int = 0,
    ):
        self.device = resolve_device(config.device)
        self.measurements: list[Measurement] = list(measurements)
        planned, self.notes = resolve_measurements(config, self.measurements, self.device.type)
        threads = resolve_threads(config.threads, config.arch, self.device.type)
        check_precision(config.precision, self.device.type)
        self.config = config = config.replace(device=str(self.device), threads=threads, **configured_settings(planned))
        self.writer = None
        if config.conditional and (labels is None or n_classes < 2):
            raise LandscapeError(f"conditional training needs class labels, and {config.dataset} has none.")
        if config.subset is not None:
            images = images[: config.subset]
            labels = labels[: config.subset] if labels is not None else None
        if images.shape[0] < config.batch_size:
            raise LandscapeError(
                f"{images.shape[0]} training images are fewer than one batch of {config.batch_size}; "
                "lower batch_size or raise subset."
            )
        self.schedule = Schedule.plan(config, images.shape[0], planned)
        self._due = {kind: set(steps) for kind, steps in self.schedule.measurement_steps.items()}

        # Everything random below comes from the run's seed: same seed, device and settings, same run.
        torch.manual_seed(config.seed)
        side = torch.Generator().manual_seed(config.seed + 1)  # probe and sample z; the main stream is untouched
        self.g, self.d = build_models(config)
        use_memory_format(self.g.to(self.device), config.precision)
        use_memory_format(self.d.to(self.device), config.precision)
        self.opt_g, self.opt_d = make_optimizers(self.g, self.d, config)
        self.g_params = [p for p in self.g.parameters() if p.requires_grad]
        self.d_params = [p for p in self.d.parameters() if p.requires_grad]
        self.images = images.to(self.device)  # uint8 images, converted one batch at a time; float32 toy points
        self.n_images = images.shape[0]
        self.n_classes = n_classes
        self.labels = labels.to(self.device) if config.conditional else None

        probe_idx = torch.randperm(self.n_images, generator=side)[: config.probe_size]
        self.probe_real = as_training_input(images[probe_idx])
        self.probe_labels = labels[probe_idx] if config.conditional else None
        self.probe_z = sample_z(config.probe_size, config, torch.device("cpu"), side)
        # z_per_point: one z per training point from its own stream (the side stream's draws stay as they were);
        # the probe batch then pairs its points with their own z, so it samples the very loss training sees.
        self.z_table: torch.Tensor | None = None
        if config.z_per_point:
            table = sample_z(self.n_images, config, torch.device("cpu"), torch.Generator().manual_seed(config.seed + 2))
            self.probe_z = table[probe_idx]
            self.z_table = table.to(self.device)
        self.toy = is_toy(config.dataset)
        count = TOY_SAMPLE_COUNT if self.toy else SAMPLE_COUNT
        if config.conditional:  # one row of the grid per class
            count = SAMPLE_PER_CLASS * n_classes
        self.fixed_z = sample_z(count, config, torch.device("cpu"), side).to(self.device)
        self.fixed_labels = (torch.arange(n_classes).repeat_interleave(SAMPLE_PER_CLASS).to(self.device)
                             if config.conditional else None)

        self.step = 0  # iterations done
        self.measurement_seconds: dict[str, float] = {}  # kind -> wall time spent measuring it (not training)
        self._clock_start: tuple[float, int, float] | None = None  # (time, step, measurement seconds) at the first run()
        self.epoch = 1  # the epoch the next iteration belongs to
        self.batch_in_epoch = 0
        self.perm: torch.Tensor | None = None
        self.latest: dict[str, torch.Tensor] = {}  # the last iteration's metrics
        self.layer_norms: tuple[torch.Tensor, torch.Tensor] | None = None  # its per-tensor (g, d) norms
        self._nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)
        self._stop = threading.Event()
        self._peek_host: torch.Tensor | None = None  # pinned copy of the latest losses (CUDA)
        self._peek_event = None
        self._peek_values: list[float] = []
        self.resume_saver = None  # a trainers.resume.ResumeSaver: writes the resume state when due
        if writer is not None:
            self.start_recording(writer)

    # ------------------------------------------------------------------ recording
    def start_recording(self, writer) -> None:  # noqa: ANN001 - a landscape.writer.RunWriter
        """Record into ``writer`` from now on: metadata, probe batch, the step-0 checkpoint and estimates."""
        self.writer = w = writer
        s = self.schedule
        w.set_meta("networks", network_info(self.g, self.d, self.config))
        w.set_meta("schedule", s.as_meta(self.n_images))
        w.set_probe(self.probe_real, self.probe_z, self.probe_labels)
        if self.config.layer_norms:
            w.declare_layers("g", [n for n, p in self.g.named_parameters() if p.requires_grad])
            w.declare_layers("d", [n for n, p in self.d.named_parameters() if p.requires_grad])
        if 0 in s.checkpoint_steps:
            self._checkpoint()
        self._measure_due()

    def _checkpoint(self) -> None:
        self.writer.add_checkpoint(self.step, {"g": self.g.state_dict(), "d": self.d.state_dict()})

    def _samples(self) -> None:
        if not self.toy:
            nrow = SAMPLE_PER_CLASS if self.config.conditional else None
            self.writer.add_samples(self.epoch, sample_grid(self.g, self.fixed_z, self.fixed_labels, nrow=nrow))
            return
        self.writer.add_samples(self.epoch, sample_points(self.g, self.fixed_z))

    def _measure_due(self) -> None:
        """Call each measurement due after this step and store what it returns; its time is not training time."""
        for measurement in self.measurements:
            if self.step in self._due[measurement.kind]:
                start = time.monotonic()
                try:
                    self.writer.add_measurement(measurement.kind, *measurement(self))
                finally:
                    spent = self.measurement_seconds.get(measurement.kind, 0.0)
                    self.measurement_seconds[measurement.kind] = spent + time.monotonic() - start

    # ------------------------------------------------------------------ one iteration
    def train_step(self, real: torch.Tensor, z: torch.Tensor,
                   real_labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One iteration (one recorded row): a G step when this row has one, then one D step.

        Returns the row's metrics as 0-d tensors; rows without a G step (``d_steps > 1``)
        have no generator fields.
        """
        cfg, g, d = self.config, self.g, self.d
        loss = cfg.loss
        fake_labels = self._fake_labels(real.shape[0]) if cfg.conditional else None
        g_row = self.step % cfg.d_steps == 0
        start = self._look_ahead(real, z, real_labels, fake_labels) if cfg.extragradient else None
        logits_fake = None
        metrics: dict[str, torch.Tensor] = {}

        # 1. generator: its loss through D; only G's gradients are computed
        if g_row:
            with self._autocast():  # bf16: the products and convolutions only; losses and gradients stay float32
                fake = self._forward(g, z, fake_labels)
                if not cfg.unroll:
                    logits_fake = self._forward(d, fake, fake_labels).float()
            if cfg.unroll:  # Metz et al.: G's loss through D unrolled K optimizer steps, differentiated through
                g_loss = unrolled_g_loss(d, self.opt_d, cfg, real, fake, real_labels, fake_labels, self._autocast)
            else:
                g_loss = losses.g_loss(logits_fake, loss)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward(inputs=self.g_params, retain_graph=cfg.share_fake_pass)
            g_norms = torch._foreach_norm([p.grad for p in self.g_params])
            if start is not None:  # extragradient: the look-ahead's gradient, applied from the starting point
                _copy_(self.g_params, start[0])
            self.opt_g.step()
            metrics["g_loss"] = g_loss.detach()
            metrics["g_grad_norm"] = torch.linalg.vector_norm(torch.stack(g_norms))
        else:  # a critic-only row: fresh fakes, no G update
            with torch.no_grad(), self._autocast():
                fake = self._forward(g, z, fake_labels)

        # 2. discriminator: the same fake batch (made before G's update), real and fake passes apart.
        # G's update does not touch D, so D's forward on the fakes from step 1 has the weights and
        # input the D step needs; the paper's code runs it again (fresh dropout mask), as does the default.
        with self._autocast():
            logits_real = self._forward(d, real, real_labels).float()
            if not (cfg.share_fake_pass and logits_fake is not None):
                logits_fake = self._forward(d, fake.detach(), fake_labels).float()
        real_target, fake_target = self._smoothing_targets(real.shape[0])
        loss_real, loss_fake = losses.d_loss_parts(logits_real, logits_fake, loss,
                                                   real_target=real_target, fake_target=fake_target)
        self.opt_d.zero_grad(set_to_none=True)
        loss_real.backward(inputs=self.d_params)
        grads_real = [p.grad for p in self.d_params]
        grads_fake = torch.autograd.grad(loss_fake, self.d_params)  # stops at D's input: G is not touched
        norms_real = torch._foreach_norm(grads_real)
        norms_fake = torch._foreach_norm(grads_fake)
        torch._foreach_add_(grads_real, grads_fake)  # .grad now holds the total the optimizer applies
        d_loss = loss_real + loss_fake
        if loss == "wgan-gp":  # the penalty's gradient joins the total (neither the real nor the fake part)
            penalty = cfg.gp_weight * losses.gradient_penalty(
                lambda x: self._forward(d, x, real_labels), real, fake.detach())
            grads_gp = torch.autograd.grad(penalty, self.d_params, allow_unused=True)
            torch._foreach_add_(grads_real, [gp if gp is not None else torch.zeros_like(p)
                                             for gp, p in zip(grads_gp, self.d_params)])
            d_loss = d_loss + penalty
            metrics["d_gp"] = penalty.detach()
        d_norms = torch._foreach_norm(grads_real)
        if start is not None:
            _copy_(self.d_params, start[1])
        self.opt_d.step()
        if loss == "wgan":  # weight clipping (Arjovsky et al. 2017, Algorithm 1): every critic parameter
            with torch.no_grad():
                torch._foreach_clamp_min_(self.d_params, -cfg.clip)
                torch._foreach_clamp_max_(self.d_params, cfg.clip)

        with torch.no_grad():
            d_norms = torch.stack(d_norms)
            metrics.update({
                "d_loss": d_loss.detach(),
                "d_loss_real": loss_real.detach(),
                "d_loss_fake": loss_fake.detach(),
                "d_grad_norm": torch.linalg.vector_norm(d_norms),
                "d_grad_norm_real": torch.linalg.vector_norm(torch.stack(norms_real)),
                "d_grad_norm_fake": torch.linalg.vector_norm(torch.stack(norms_fake)),
                "d_out_real": losses.d_output(logits_real.detach(), loss).mean(),
                "d_out_fake": losses.d_output(logits_fake.detach(), loss).mean(),
            })
            if loss in WASSERSTEIN_LOSSES:
                metrics["wasserstein"] = losses.wasserstein_estimate(logits_real.detach(), logits_fake.detach())
            g_layer = torch.stack(g_norms) if g_row else torch.full((len(self.g_params),), math.nan)
        self.layer_norms = (g_layer, d_norms)
        return metrics

    def _look_ahead(self, real: torch.Tensor, z: torch.Tensor, real_labels: torch.Tensor | None,
                    fake_labels: torch.Tensor | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Extragradient's first half: both players' gradients at the current point (the same batch, the exact
        targets), a plain step of each (``lr_g``, ``lr_d``; WGAN's clipping after it); returns copies of the
        (G, D) parameters from before it, from which :meth:`train_step` applies the look-ahead's gradients.
        As in Berard et al.'s ``train_mixture_gan.py`` (lines 156-228, ``--method extra``)."""
        cfg, g, d = self.config, self.g, self.d
        start = ([p.detach().clone() for p in self.g_params], [p.detach().clone() for p in self.d_params])
        with self._autocast():
            fake = self._forward(g, z, fake_labels)
            logits_fake = self._forward(d, fake, fake_labels).float()
            logits_real = self._forward(d, real, real_labels).float()
        g_grads = torch.autograd.grad(losses.g_loss(logits_fake, cfg.loss), self.g_params, retain_graph=True)
        with self._autocast():
            logits_fake_d = self._forward(d, fake.detach(), fake_labels).float()
        loss_real, loss_fake = losses.d_loss_parts(logits_real, logits_fake_d, cfg.loss)
        d_loss = loss_real + loss_fake
        if cfg.loss == "wgan-gp":
            d_loss = d_loss + cfg.gp_weight * losses.gradient_penalty(
                lambda x: self._forward(d, x, real_labels), real, fake.detach())
        d_grads = torch.autograd.grad(d_loss, self.d_params, allow_unused=True)
        with torch.no_grad():
            torch._foreach_add_(self.g_params, list(g_grads), alpha=-cfg.lr_g)
            for p, grad in zip(self.d_params, d_grads):
                if grad is not None:
                    p.add_(grad, alpha=-cfg.lr_d)
            if cfg.loss == "wgan":
                torch._foreach_clamp_min_(self.d_params, -cfg.clip)
                torch._foreach_clamp_max_(self.d_params, cfg.clip)
        return start

    @staticmethod
    def _forward(net: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """``net(x)``, or ``net(x, labels)`` for a conditional network."""
        return net(x) if labels is None else net(x, labels)

    def _fake_labels(self, n: int) -> torch.Tensor:
        """Classes asked of the generator: uniform over the dataset's classes (main random stream)."""
        return torch.randint(0, self.n_classes, (n,), device=self.device)

    def _smoothing_targets(self, n: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Per-sample BCE targets for label smoothing (None: the exact 1 and 0)."""
        cfg = self.config
        real = losses.smoothing_targets(n, *cfg.smooth_real, device=self.device) if cfg.smooth_real else None
        fake = losses.smoothing_targets(n, *cfg.smooth_fake, device=self.device) if cfg.smooth_fake else None
        return real, fake

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        until: int | None = None,
        progress: Callable[[GANTrainer], None] | None = None,
        progress_every: float = 0.2,
    ) -> None:
        """Train until ``until`` iterations are done (default: the planned end of the run).

        Raises :class:`~landscape.errors.DivergedError` at the first NaN or inf loss
        (on an accelerator within :data:`DIVERGENCE_CHECK_EVERY` iterations of it),
        after recording that iteration, and KeyboardInterrupt before the next
        iteration once :meth:`request_stop` was called. ``progress(trainer)`` is
        called at the start, about every ``progress_every`` seconds, and at the end.

        ``precision="tf32"`` switches TF32 products on for the call (restored after), so a trainer
        built directly gets the arithmetic its config names, as one built by :func:`trainers.record`.
        """
        with matmul_precision(self.config.precision):
            self._run(until, progress, progress_every)

    def _run(self, until: int | None, progress: Callable[[GANTrainer], None] | None, progress_every: float) -> None:
        """The body of :meth:`run`, inside its arithmetic settings."""
        cfg, s, w = self.config, self.schedule, self.writer
        stop = s.total_iters if until is None else min(until, s.total_iters)
        bs = cfg.batch_size
        on_cpu = self.device.type == "cpu"
        checkpoint_at, sample_at = set(s.checkpoint_steps), set(s.sample_epochs)
        measured_at = set().union(*s.measurement_steps.values())
        if self._clock_start is None:
            self._clock_start = (time.monotonic(), self.step, self.measuring_seconds)
        if progress is not None:
            progress(self)
        next_report = time.monotonic() + progress_every
        while self.step < stop:
            if self._stop.is_set():  # Ctrl-C, turned into a clean stop between iterations
                self._stop.clear()
                raise StopRequested
            if self.batch_in_epoch == 0:  # a new epoch: a fresh shuffle
                self.perm = torch.randperm(self.n_images, device=self.device)
            i = self.batch_in_epoch
            rows = self.perm[i * bs : (i + 1) * bs]
            real = as_training_input(self.images.index_select(0, rows))  # index_select: ~10x faster than []
            z = self.z_table.index_select(0, rows) if self.z_table is not None else sample_z(bs, cfg, self.device)
            real_labels = self.labels.index_select(0, rows) if self.labels is not None else None

            metrics = self.train_step(real, z, real_labels)
            self.latest.update(metrics)  # a critic-only row keeps the last generator values for the display
            if w is not None:
                if cfg.layer_norms:
                    w.log_layers("g", self.layer_norms[0])
                    w.log_layers("d", self.layer_norms[1])
                w.log(self.step, epoch=self.epoch, **metrics)
            self.step += 1
            self.batch_in_epoch += 1
            self._check_finite(metrics, on_cpu)

            if w is not None and self.step in checkpoint_at:
                self._checkpoint()
            end_of_epoch = self.batch_in_epoch == s.iters_per_epoch
            if w is not None and self.epoch in sample_at and (end_of_epoch or self.step == s.total_iters):
                self._samples()
            if w is not None and self.step in measured_at:
                self._measure_due()
            if end_of_epoch:
                self.epoch += 1
                self.batch_in_epoch = 0
            if w is not None and self.resume_saver is not None and self.resume_saver.due(self):
                self.resume_saver.save(self)
            if progress is not None and time.monotonic() >= next_report:
                progress(self)
                next_report = time.monotonic() + progress_every
        if not on_cpu:
            self._raise_if_diverged()
        if progress is not None:
            progress(self)

    def _autocast(self):  # noqa: ANN202 - a context manager
        """bfloat16 autocast for ``precision="bf16"``, else nothing (float32 weights, losses and gradients always)."""
        if self.config.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def measuring_seconds(self) -> float:
        """Wall time spent in measurements of every kind so far (``measurement_seconds`` summed)."""
        return sum(self.measurement_seconds.values())

    def training_rate(self) -> float | None:
        """Iterations per second of training since the first :meth:`run`, time in measurements (every kind) excluded.

        None until an iteration has been timed.
        """
        if self._clock_start is None:
            return None
        start, step0, measured0 = self._clock_start
        seconds = time.monotonic() - start - (self.measuring_seconds - measured0)
        done = self.step - step0
        return done / seconds if done > 0 and seconds > 0 else None

    def request_stop(self) -> None:
        """Ask :meth:`run` to raise KeyboardInterrupt before the next iteration (safe from a signal handler or thread)."""
        self._stop.set()

    def latest_losses(self) -> dict[str, float]:
        """The latest ``g_loss`` and ``d_loss`` as floats, for a progress display.

        On CUDA this never waits for the device: it starts an asynchronous copy and
        shows the values of the last copy that has completed (a few iterations old).
        """
        if not self.latest:
            return {}
        values = torch.stack([self.latest["g_loss"], self.latest["d_loss"]])
        if self.device.type != "cuda":
            return dict(zip(("g_loss", "d_loss"), values.tolist()))
        if self._peek_host is None:
            self._peek_host = torch.empty(2, pin_memory=True)
        if self._peek_event is not None and self._peek_event.query():
            self._peek_values = self._peek_host.tolist()
            self._peek_event = None
        if self._peek_event is None:
            self._peek_host.copy_(values, non_blocking=True)
            self._peek_event = torch.cuda.Event()
            self._peek_event.record()
        return dict(zip(("g_loss", "d_loss"), self._peek_values))

    @property
    def done(self) -> bool:
        """Whether the planned iterations are all done."""
        return self.step >= self.schedule.total_iters

    # ------------------------------------------------------------------ divergence
    def _check_finite(self, metrics: dict[str, torch.Tensor], on_cpu: bool) -> None:
        loss = metrics["g_loss"] + metrics["d_loss"] if "g_loss" in metrics else metrics["d_loss"]
        if on_cpu:  # reading a CPU scalar never waits: check every iteration
            if not math.isfinite(loss.item()):
                self._raise_diverged()
            return
        self._nonfinite |= ~torch.isfinite(loss)  # stays on the device
        if self.step % DIVERGENCE_CHECK_EVERY == 0:
            self._raise_if_diverged()

    def _raise_if_diverged(self) -> None:
        if bool(self._nonfinite):
            self._raise_diverged()

    def _raise_diverged(self) -> None:
        raise DivergedError(
            f"training diverged (a NaN or infinite loss) by iteration {self.step - 1} of epoch {self.epoch}"
        )

