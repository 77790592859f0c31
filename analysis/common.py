"""Small helpers shared by flexcl's analysis scripts (theorems.py, curves.py, ...)."""

import os

import h5py
import numpy as np


def _scalar(value):
    """An HDF5 attribute value as a Python scalar (or list), bytes decoded."""
    value = np.asarray(value)
    value = value.item() if value.size == 1 else value.tolist()
    return value.decode() if isinstance(value, bytes) else value


def _first_line(exc):
    """The first line of an exception's message (or its type name)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def open_results(path, error, need_points=True):
    """A results file opened for reading; `error` (an exception class) with one line naming the
    file when it is missing, not HDF5, or (need_points) has no /points group."""
    if not os.path.isfile(path):
        raise error(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise error(f"{path}: cannot open as HDF5 ({_first_line(e)})")
    if need_points and "points" not in f:
        f.close()
        raise error(f"{path}: not a flexcl results file (no /points group)")
    return f
