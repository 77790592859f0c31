"""lsan_tracer.py reruns only failures that are LeakSanitizer's tracer
crashing at exit; its twins (a real ASan report, a CUnit failure, a timeout,
a second unrelated failure, no failure at all) must not be rerun.
usage: test_lsan_tracer.py LSAN_TRACER_PY"""
import json
import os
import subprocess
import sys
import tempfile

CUNIT_OK = """Run Summary:    Type  Total    Ran Passed Failed Inactive
              suites      1      1    n/a      0        0
               tests     10     10     10      0        0
             asserts    688    688    688      0      n/a
"""
CUNIT_FAIL = CUNIT_OK.replace("10     10     10      0", "10     10      9      1")
# The crash as flexcl's CI printed it (session 10, learners_np2).
TRACER = """Tracer caught signal 11: addr=0x2cb8 pc=0x55bc65859cca sp=0x7f5bae675d40
==19927==LeakSanitizer has encountered a fatal error.
==19927==HINT: For debugging, try setting environment variable LSAN_OPTIONS=verbosity=1:log_threads=1
==19927==HINT: LeakSanitizer does not work under ptrace (strace, gdb, etc)
[vm:19927] *** Process received signal ***
"""
ASAN = "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020\n"


def rec(name, result, stdout, stderr=""):
    return {"name": f"flexcl:mpi / {name}", "result": result,
            "stdout": stdout, "stderr": stderr, "returncode": 134}


CASES = [
    # (what, records, expected exit, expected names printed)
    ("tracer crash only", [rec("a", "OK", CUNIT_OK),
                           rec("learners_np2", "FAIL", CUNIT_OK, TRACER)],
     0, ["learners_np2"]),
    ("two tracer crashes", [rec("x", "FAIL", CUNIT_OK, TRACER),
                            rec("y", "FAIL", CUNIT_OK + TRACER)], 0, ["x", "y"]),
    ("twin: ASan report", [rec("x", "FAIL", CUNIT_OK, ASAN + TRACER)], 1, []),
    ("twin: CUnit failure", [rec("x", "FAIL", CUNIT_FAIL, TRACER)], 1, []),
    ("twin: timeout", [rec("x", "TIMEOUT", CUNIT_OK, TRACER)], 1, []),
    ("twin: plain failure", [rec("x", "FAIL", CUNIT_OK, "abort\n")], 1, []),
    ("twin: one other failure beside", [rec("x", "FAIL", CUNIT_OK, TRACER),
                                        rec("y", "FAIL", CUNIT_FAIL)], 1, ["x"]),
    ("twin: nothing failed", [rec("x", "OK", CUNIT_OK)], 1, []),
]


def main(script):
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        for what, records, want_rc, want_names in CASES:
            path = os.path.join(d, "testlog.json")
            with open(path, "w") as f:
                for r in records:
                    f.write(json.dumps(r) + "\n")
            p = subprocess.run([sys.executable, script, path],
                               capture_output=True, text=True)
            names = p.stdout.split()
            ok = p.returncode == want_rc and names == want_names
            print(f"{'ok  ' if ok else 'FAIL'} {what}: exit {p.returncode}"
                  f" (want {want_rc}), rerun {names} (want {want_names})")
            bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
