"""Exit 0 when PATH is a complete flexcl results file: it opens, carries the
provenance attributes written last (end_time, job_hash, schema_version),
holds as many /points groups as /points says, and every dataset in them
reads in full. Used by faults.sh to tell a complete file from a corrupt one.
usage: check_complete.py PATH [EXPECTED_POINTS]"""
import sys

import h5py


def main():
    path = sys.argv[1]
    try:
        with h5py.File(path, "r") as f:
            for a in ("end_time", "job_hash", "schema_version"):
                if a not in f.attrs:
                    return f"{path}: no attribute {a}"
            count = int(f["points"].attrs["count"])
            groups = list(f["points"].keys())
            if len(groups) != count:
                return f"{path}: /points says {count} points, holds {len(groups)}"
            if len(sys.argv) > 2 and count != int(sys.argv[2]):
                return f"{path}: {count} points, expected {sys.argv[2]}"
            bad = []

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    try:
                        obj[()]
                    except Exception as e:  # noqa: BLE001 - any failure means corrupt
                        bad.append(f"{name}: {e}")

            f["points"].visititems(visit)
            if bad:
                return f"{path}: unreadable datasets: {bad[:3]}"
    except Exception as e:  # noqa: BLE001
        return f"{path}: cannot be read: {e}"
    return None


if __name__ == "__main__":
    err = main()
    if err:
        print(err)
        sys.exit(1)
