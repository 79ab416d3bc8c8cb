"""Game dynamics of GANs: the joint Jacobian's spectrum, its labels, and Berard et al.'s path angle.

A GAN is a two-player game; its joint gradient field ``v = (grad_theta L_G, grad_phi L_D)`` and
the Jacobian ``J = dv/dw`` (not symmetric) say how simultaneous gradient descent behaves near a
point: the rotation the players' interaction adds is invisible in either player's Hessian alone.

**Convention**: ``J`` is the Jacobian of the players' gradients (Berard et al., 2020), so gradient
descent is locally stable when every eigenvalue has a positive real part; Mescheder et al. (2018)
report the Jacobian of the update direction ``-v``, whose eigenvalues are ours negated.

Entry points::

    from analysis.game import GameJacobian, analyse_game, estimate_game, path_angle
    op = GameJacobian(loss_1, params_1, loss_2, params_2)   # any two-player game
    result = analyse_game(op, k=6, which="LM")              # eigenvalues, blocks, rotation, label
    result = estimate_game("run.h5", step=9360)             # a GAN run's checkpoint, on its probe batch
    store(result, "run.h5")                                 # /game/<step>, atomically

Modules: :mod:`~analysis.game.operator` (products with J), :mod:`~analysis.game.spectrum`
(ARPACK / exact eigenvalues, step matrices), :mod:`~analysis.game.labels`,
:mod:`~analysis.game.analyse`, :mod:`~analysis.game.gan` (the probe-batch layer and the path
angle), :mod:`~analysis.game.storage`, :mod:`~analysis.game.measurement` (the ``"game"`` kind),
:mod:`~analysis.game.plot`.
"""

from analysis.game.analyse import GameBlocks, GameResult, analyse_game, game_blocks
from analysis.game.gan import (PathAngle, estimate_game, estimate_game_models, game_models, path_angle,
                               path_angle_models)
from analysis.game.labels import LABEL_TOL, ROTATION_THRESHOLD, GameLabel, label_point, rotation_measures
from analysis.game.operator import GameJacobian
from analysis.game.spectrum import WHICH, GameEigen, game_eigenvalues, step_matrix, step_moduli

__all__ = ["GameBlocks", "GameEigen", "GameJacobian", "GameLabel", "GameResult", "LABEL_TOL", "PathAngle",
           "ROTATION_THRESHOLD", "WHICH", "analyse_game", "estimate_game", "estimate_game_models", "game_blocks",
           "game_eigenvalues", "game_models", "label_point", "path_angle", "path_angle_models", "rotation_measures",
           "step_matrix", "step_moduli"]
