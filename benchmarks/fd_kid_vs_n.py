"""How the Fréchet distance and KID change with the number of samples n (the table in docs/quality.md).

Features of the shipped MNIST classifier. Two "generators":

* **real test images**: n of a random half of the test set against the other half (5,000) as
  the reference: one distribution, so the true distance is 0 and whatever FD shows is its
  small-sample bias (n up to 5,000);
* **a trained vanilla GAN** (the last checkpoint of ``--run``, if given): n generated images
  from a fixed z per draw.

For each n, ``--draws`` independent draws; mean and standard deviation across draws. KID is
torch-fidelity's default: 100 subsets of min(1,000, n) per side::

    OMP_NUM_THREADS=1 python benchmarks/fd_kid_vs_n.py --run runs/vanilla-mnist-full.h5
"""

from __future__ import annotations

import argparse
import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="run file with a trained MNIST generator checkpoint")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10_000])
    args = parser.parse_args()
    torch.set_num_threads(1)
    from analysis.quality.classifiers import get_reference
    from analysis.quality.measure import generate
    from analysis.quality.metrics import feature_statistics, frechet_distance, kernel_inception_distance
    from trainers.classifier import classify

    ref = get_reference("mnist")
    feats = ref.real_features
    # source -> list of (sample features, reference features) per draw
    sources: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    rng = np.random.default_rng(0)
    halves = []
    for _ in range(args.draws):
        order = rng.permutation(len(feats))
        halves.append((feats[order[5000:]], feats[order[:5000]]))
    sources["real test images (other half as reference)"] = halves
    if args.run:
        from analysis.quality.checkpoints import load_generator
        from landscape import open_run

        run = open_run(args.run)
        step = run.checkpoint_steps[-1]
        g = load_generator(run, step, "cpu")
        name = f"vanilla GAN at step {step:,} (all 10,000 test images as reference)"
        sources[name] = [(classify(ref.model, generate(g, run.config, max(args.sizes), seed=100 + d))[1].numpy(), feats)
                         for d in range(args.draws)]
    print(f"| samples | n | FD (mean ± sd over {args.draws} draws) | KID x 1e3 (mean ± sd over draws) | "
          "KID's own sd x 1e3 |")
    print("|---|---:|---:|---:|---:|")
    for label, draws in sources.items():
        for n in args.sizes:
            if n > len(draws[0][0]):
                continue
            fds, kids, sds = [], [], []
            for sample, reference in draws:
                x = sample[:n]
                fds.append(frechet_distance(*feature_statistics(x), *feature_statistics(reference)))
                k, s = kernel_inception_distance(reference, x)
                kids.append(1e3 * k)
                sds.append(1e3 * s)
            print(f"| {label} | {n:,} | {np.mean(fds):.3f} ± {np.std(fds):.3f} | {np.mean(kids):.3f} ± "
                  f"{np.std(kids):.3f} | {np.mean(sds):.3f} |", flush=True)


if __name__ == "__main__":
    main()
