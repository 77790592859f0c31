#!/usr/bin/python3
"""Make a flexcl checkpoint forget part of its state, as a checkpoint that never saved it would:
the must-fail twins of the resume tests (tests/learners/resume_supervised.sh, resume_eqprop.sh).

Usage:  ckpt_forget.py CKPT.h5 optim|memory|phase|clock_v1
  optim   a supervised point's optimiser state: the part of supervised/state after the parameters
          (Adam's moments; the last value, the running loss sum of the epoch, is kept) set to zero and the
          optimiser's update count (supervised/clock column 4) to 0, i.e. a freshly created optimiser
  memory  a train point's model memory (learner/memory, eqprop's per-example store) set to zero
  phase   a supervised ff aol point's phase in progress (supervised/clock columns 5 and 6: its type and
          the steps left) set to zero, i.e. a new phase begins at the next step; refused (exit 2) when
          no phase is in progress, where forgetting it would change nothing
  clock_v1 a supervised checkpoint in the layout before the aol phase was saved: supervised/clock cut to its
          first 5 columns and the root attribute `clock` removed (refused when a phase is in progress)
Exits 2 with one line when the file lacks what it should hold."""
import sys

import h5py


def main(argv):
    if len(argv) != 3 or argv[2] not in ("optim", "memory", "phase", "clock_v1"):
        print("usage: ckpt_forget.py CKPT.h5 optim|memory|phase|clock_v1", file=sys.stderr)
        return 2
    path, what = argv[1], argv[2]
    try:
        with h5py.File(path, "r+") as f:
            if what == "optim":
                P, S = int(f.attrs["params"]), int(f.attrs["state_size"])
                state = f["supervised/state"]
                if state.shape != (1, S) or S <= P + 1:
                    raise KeyError(f"supervised/state has shape {state.shape}, state_size {S}")
                state[0, P:S - 1] = 0.0
                f["supervised/clock"][0, 4] = 0
            elif what == "phase":
                clock = f["supervised/clock"]
                if clock.shape != (1, 7):
                    raise KeyError(f"supervised/clock has shape {clock.shape}, not (1, 7)")
                if clock[0, 6] == 0:
                    raise KeyError("no aol phase in progress (supervised/clock column 6 is 0)")
                clock[0, 5] = 0
                clock[0, 6] = 0
            elif what == "clock_v1":
                clock = f["supervised/clock"][...]
                if clock.shape != (1, 7) or clock[0, 6] != 0 or int(f.attrs["clock"]) != 7:
                    raise KeyError(f"supervised/clock {clock.tolist()} is not a 7-counter clock "
                                   "without a phase in progress")
                del f["supervised/clock"]
                f.create_dataset("supervised/clock", data=clock[:, :5])
                del f.attrs["clock"]
            else:
                mem = f["learner/memory"]
                mem[...] = 0.0
    except (OSError, KeyError) as e:
        print(f"ckpt_forget.py: {path}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
