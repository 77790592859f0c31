"""Which failed tests of a sanitizer run failed only because LeakSanitizer's
own tracer crashed at exit?

LeakSanitizer stops the world with a tracer thread at process exit; that
tracer can segfault ("Tracer caught signal 11", then "LeakSanitizer has
encountered a fatal error") after the test itself has passed, a fault of
the tool (google/sanitizers#1353; flexcl's cause, a bogus dynamic-TLS block,
is avoided by env.sh's intercept_tls_get_addr=0, docs/hardening.md).
sanitize.sh reruns such tests once, as a guard; this script picks them.

usage: lsan_tracer.py TESTLOG_JSON
Prints the short name of each failed test whose output carries the tracer
crash and nothing else a sanitizer or CUnit reports, one per line, and exits
0 when every failed test is such a test (and at least one failed). Exits 1
when any failure is of another kind (a real ASan/UBSan/leak report, a CUnit
failure, a timeout, a plain non-zero exit): those are never rerun.
"""
import json
import re
import sys

TRACER = ("Tracer caught signal", "LeakSanitizer has encountered a fatal error")
# Anything that a sanitizer or CUnit reports as a finding of the test.
FINDINGS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer: detected memory leaks",
    "runtime error:",
    "SUMMARY: AddressSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
)
# CUnit's run summary: "suites|tests|asserts  T  R  P  F  I"; F must be 0.
CUNIT_ROW = re.compile(r"^\s*(suites|tests|asserts)\s+\d+\s+\d+\s+\S+\s+(\d+)", re.M)


def tracer_only(text):
    if not all(t in text for t in TRACER):
        return False
    if any(f in text for f in FINDINGS):
        return False
    if any(int(m.group(2)) != 0 for m in CUNIT_ROW.finditer(text)):
        return False
    return True


def main(path):
    retry, other = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if rec.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
                continue
            text = (rec.get("stdout") or "") + "\n" + (rec.get("stderr") or "")
            name = rec["name"].split(" / ")[-1]
            if rec.get("result") == "FAIL" and tracer_only(text):
                retry.append(name)
            else:
                other.append(name)
    for name in retry:
        print(name)
    for name in other:
        print(f"lsan_tracer: {name} failed for another reason; not rerun",
              file=sys.stderr)
    return 0 if retry and not other else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: lsan_tracer.py TESTLOG_JSON")
    sys.exit(main(sys.argv[1]))
