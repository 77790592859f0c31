#!/usr/bin/python3
"""Tests of analysis/ff_units.py on a synthetic results file whose dead units are known. No pytest.

Run:  /usr/bin/python3 analysis/test_ff_units.py
Prints one line per case and finishes with "N passed, M failed"; exits 1 on any failure.
Deterministic (no statistics, fixed seed), so no false-fail rate.

The network is 784-6-4 on 20 random test rows whose labels are 0..6:
  layer 1: unit 0 is dead (negative weights and bias); unit 1 fires only when label 7 is
           overlaid (weight 100 on pixel 7, bias -1e-3), which no row carries; units 2-5 fire.
  layer 2: unit 0 is dead; units 1-3 fire.
Cases:
  dead_units       1/6 and 1/4 dead, unit 1 of layer 1 alive
  label_twin       scoring only each row's true label (a plausible mistake) must call unit 1 dead
  cli_line         the command prints the point's line with both counts and exits 0
  no_attributes    a params/theta without block attributes: exit 2, one line naming the file
"""
import gzip
import io
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ff_units  # noqa: E402

results = []


def check(name, ok, detail=''):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def network():
    rng = np.random.default_rng(11)
    W0 = rng.uniform(0.1, 1.0, (6, 784))
    b1 = np.full(6, 0.1)
    W0[0] = -1.0
    b1[0] = -1.0
    W0[1] = 0.0
    W0[1, 7] = 100.0
    b1[1] = -1e-3
    W1 = rng.uniform(0.1, 1.0, (4, 6))
    b2 = np.full(4, 0.1)
    W1[0] = -1.0
    b2[0] = -1.0
    return [(W0, b1), (W1, b2)]


def write_file(path, images, with_attrs=True):
    layers = network()
    theta = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in layers])
    with h5py.File(path, 'w') as f:
        f.attrs['job_text'] = f'[data]\nsource = idx\nimages = {images}\nthreshold = -1\n'
        f.attrs['job_overrides'] = ''
        g = f.create_group('points/000000')
        g.attrs['model'] = 'ff'
        g.attrs['estimator'] = 'isd'
        d = g.create_dataset('params/theta', data=theta[None, :])
        if with_attrs:
            off = 0
            for l, (W, b) in enumerate(layers):
                d.attrs[f'W{l}_offset'] = off
                d.attrs[f'W{l}_shape'] = f'{W.shape[0]},{W.shape[1]}'
                off += W.size
                d.attrs[f'b{l + 1}_offset'] = off
                d.attrs[f'b{l + 1}_shape'] = f'{b.size},1'
                off += b.size


def main():
    rng = np.random.default_rng(5)
    pix = rng.integers(1, 256, (20, 28, 28), dtype=np.uint8)
    labels = [i % 7 for i in range(20)]
    with tempfile.TemporaryDirectory() as tmp:
        images = os.path.join(tmp, 'imgs-idx3-ubyte.gz')
        with gzip.open(images, 'wb') as f:
            f.write(bytes([0, 0, 8, 3]) + b''.join(n.to_bytes(4, 'big') for n in (20, 28, 28)))
            f.write(pix.tobytes())
        x = ff_units.read_idx(images).reshape(20, -1).astype(float) / 255.0
        alive, frac = ff_units.unit_activity(network(), x, 10)
        dead = [int((~m).sum()) for m in alive]
        check('dead_units', dead == [1, 1] and bool(alive[0][1]) and not alive[0][0]
              and not alive[1][0], f'dead {dead}, layer-1 unit 1 alive {bool(alive[0][1])}')
        twin, _ = ff_units.unit_activity(network(), x, 10, labels=labels)
        check('label_twin', not twin[0][1],
              'true-label-only scoring calls unit 1 ' + ('alive' if twin[0][1] else 'dead'))
        path = os.path.join(tmp, 'r.h5')
        write_file(path, images)
        out = io.StringIO()
        with redirect_stdout(out):
            rc = ff_units.main([path])
        line = out.getvalue().strip()
        check('cli_line', rc == 0 and 'layer 1: 1/6 dead' in line and 'layer 2: 1/4 dead' in line,
              line)
        bad = os.path.join(tmp, 'old.h5')
        write_file(bad, images, with_attrs=False)
        p = subprocess.run([sys.executable, os.path.join(HERE, 'ff_units.py'), bad],
                           capture_output=True, text=True)
        err = p.stderr.strip().splitlines()
        check('no_attributes', p.returncode == 2 and len(err) == 1 and 'old.h5' in err[0]
              and 'block attributes' in err[0], f'exit {p.returncode}: {err}')
    n_fail = results.count(False)
    print(f'{results.count(True)} passed, {n_fail} failed')
    return 1 if n_fail else 0


if __name__ == '__main__':
    sys.exit(main())
