"""Check a bas_isd results file: NLL falls and stays above the BAS floor."""
import math
import sys

import h5py
import numpy as np

FLOOR = 28 * math.log(32) + 4 * math.log(16)  # 108.13 nats, SPEC §4

def main(path):
    failures = 0
    n_points = 0
    with h5py.File(path, "r") as f:
        missing = [k for k in ("job_text", "git_describe", "mpi_ranks", "hdf5_version", "start_time")
                   if k not in f.attrs]
        if missing:
            print(f"FAIL provenance attributes missing: {missing}")
            return 1
        points = f["points"]
        n_points = len(points)
        for name in sorted(points):
            g = points[name]
            nll = g["curve/nll"][...]
            est = g.attrs["estimator"]
            est = est.decode() if isinstance(est, bytes) else est
            start, end = nll[:, 0], nll[:, -1]
            ok = bool(np.all(end < start - 1.0) and np.all(nll > FLOOR))
            print(f"{'ok  ' if ok else 'FAIL'} point {name} {est}: NLL {start.mean():.2f} -> "
                  f"{end.mean():.2f} (floor {FLOOR:.2f}, {nll.shape[0]} learners)")
            failures += not ok
    print(f"{n_points - failures} passed, {failures} failed")
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
