"""Analysis of recorded runs: loss-gradient clouds, Hessian eigenvalues, stationarity reports.

Reads run files through ``landscape.reader`` only (never h5py).
"""
