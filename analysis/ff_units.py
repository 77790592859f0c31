#!/usr/bin/python3
"""Which units of trained Forward-Forward networks ever fire.

For every ff point of a flexcl results file, the hidden units of each layer
that stay at zero (ReLU) on every test row under every label overlay: the
network's prediction scores each row once per label, so a unit that fires
for any label of any row is alive. Also the mean fraction of units active
per (row, label). FF's ReLU units can die (a unit whose input is negative for
every row gets no gradient again); the fraction that died is a diagnostic of
an estimator (docs/models.md, "Units that die, and isd across b": isd leaves
more layer-1 units dead than two_term, and below b = 1/2 layer 1 dies).

Reads params/theta and its block attributes W0, b1, W1, b2, ... (written
since session 9), the job text (data.test_images, else data.images;
data.threshold; --set overrides) and the test rows (IDX, .gz or not). The
forward pass is FF's (include/flexcl/ff.h): each layer's input divided by
its norm + 1e-4, h = relu(W x + b); the label overlay zeroes the first
n_classes pixels and writes the row's maximum at the label's pixel.

Usage:  /usr/bin/python3 analysis/ff_units.py RESULTS.h5 [--rows N] [--classes C]
Prints one line per ff point; exits 2 with one line on a bad file.
"""
import argparse
import configparser
import gzip
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import _scalar, _first_line  # noqa: E402  (analysis/common.py)


def read_idx(path):
    """An IDX file (.gz or not) as a numpy array of its shape."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f'{path}: not an unsigned-byte IDX file')
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(nd)]
    n = int(np.prod(dims))
    if len(data) < 4 + 4 * nd + n:
        raise ValueError(f'{path}: truncated ({len(data)} bytes for shape {dims})')
    return np.frombuffer(data, np.uint8, count=n, offset=4 + 4 * nd).reshape(dims)


def blocks(theta_ds):
    """[(W, b), ...] per layer from params/theta's first row and attributes."""
    theta = theta_ds[0]
    layers = []
    for l in range(64):
        wn, bn = f'W{l}', f'b{l + 1}'
        if f'{wn}_offset' not in theta_ds.attrs:
            break
        parts = []
        for name in (wn, bn):
            off = int(theta_ds.attrs[f'{name}_offset'])
            rows, cols = (int(v) for v in str(_scalar(theta_ds.attrs[f'{name}_shape'])).split(','))
            parts.append(theta[off:off + rows * cols].reshape(rows, cols))
        layers.append((parts[0], parts[1][:, 0]))
    if not layers:
        raise ValueError('params/theta has no block attributes (a file written before session 9)')
    return layers


def overlay(x, label, n_classes):
    """FF's label overlay of rows x (copies)."""
    o = x.copy()
    mx = x.max(axis=1)
    o[:, :n_classes] = 0.0
    o[:, label] = mx
    return o


def unit_activity(layers, x, n_classes, labels=None):
    """Per layer: (alive mask over units, mean active fraction) on rows x.
    labels=None scores every label (as FF's prediction does); a list of
    labels per row (the twin of the tests) scores only those."""
    alive = [np.zeros(W.shape[0], bool) for W, _ in layers]
    frac = [0.0] * len(layers)
    passes = range(n_classes) if labels is None else [None]
    for lab in passes:
        if lab is None:
            h = np.stack([overlay(x[i:i + 1], labels[i], n_classes)[0] for i in range(len(x))])
        else:
            h = overlay(x, lab, n_classes)
        for l, (W, b) in enumerate(layers):
            xh = h / (np.sqrt((h * h).sum(axis=1, keepdims=True)) + 1e-4)
            h = np.maximum(xh @ W.T + b, 0.0)
            alive[l] |= (h > 0).any(axis=0)
            frac[l] += float((h > 0).mean()) / len(passes)
    return alive, frac


def job_settings(f):
    """data.* settings of the job text with the --set overrides applied."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(';', '#'), strict=False)
    cp.read_string(str(_scalar(f.attrs['job_text'])))
    data = dict(cp['data']) if cp.has_section('data') else {}
    for ov in str(_scalar(f.attrs.get('job_overrides', ''))).split('\n'):
        key, _, val = ov.strip().partition('=')
        if key.startswith('data.'):
            data[key[5:]] = val
    return data


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('results')
    ap.add_argument('--rows', type=int, default=0, help='first N test rows (0 = all)')
    ap.add_argument('--classes', type=int, default=10, help='labels overlaid (default 10)')
    a = ap.parse_args(argv)
    try:
        with h5py.File(a.results, 'r') as f:
            data = job_settings(f)
            images = data.get('test_images') or data.get('images')
            if not images:
                raise ValueError('the job names no IDX images (data.test_images, data.images)')
            raw = read_idx(images)
            x = raw.reshape(raw.shape[0], -1).astype(float) / 255.0
            thr = float(data.get('threshold', 0.8))
            n = 0
            for name in sorted(f['points']):
                g = f['points'][name]
                if str(_scalar(g.attrs.get('model', ''))) != 'ff':
                    continue
                t = float(g.attrs['data.threshold']) if 'data.threshold' in g.attrs else thr
                # flexcl keeps pixels as float (src/data.c): grey values are
                # p/255 rounded to float, binarised ones exact.
                xs = (x > t).astype(float) if t >= 0 else x.astype(np.float32).astype(float)
                if a.rows:
                    xs = xs[:a.rows]
                layers = blocks(g['params/theta'])
                alive, frac = unit_activity(layers, xs, a.classes)
                desc = ' '.join(f'{k}={_scalar(g.attrs[k])}' for k in sorted(g.attrs)
                                if k.startswith('estimator') or k in ('seed',))
                cells = '; '.join(f'layer {l + 1}: {int((~m).sum())}/{m.size} dead, '
                                  f'{frac[l]:.3f} active' for l, m in enumerate(alive))
                print(f'point {name} ({desc}): {cells}')
                n += 1
            if n == 0:
                print(f'{a.results}: no ff points')
    except (OSError, KeyError, ValueError) as e:
        print(f'ff_units: {a.results}: {_first_line(e)}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
