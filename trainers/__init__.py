"""Instrumented GAN trainers: the paper's models and a training loop that records every iteration.

Writes run files through ``landscape.writer`` only (never h5py).
"""
