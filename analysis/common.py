"""Small helpers shared by flexcl's analysis scripts (theorems.py, curves.py)."""

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
