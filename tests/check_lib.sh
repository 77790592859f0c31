# Pass/fail bookkeeping of the shell tests (POSIX sh; safe under set -eu).
# A test sources it relative to its own location, e.g. from tests/NAME/x.sh
#     . "$(dirname "$0")/../check_lib.sh"
# and then reports every check it makes with ok or bad, and ends with finish.
#
#   ok WHAT...      a check passed: count it, print "${check_ok}WHAT"
#   bad WHAT...     a check failed: count it, print "${check_fail}WHAT"
#   finish [TAIL]   print the summary "[NAME: ]P passed, F failed[TAIL]" and
#                   exit: status 0 when no check failed, 1 otherwise
#   stop WHAT...    a check failed and the test goes no further: bad WHAT,
#                   then finish (the summary of the checks so far; status 1)
# A table of cases, one row a case (NAME padded to $check_width columns):
#   case_ok NAME DETAIL          ok "NAME DETAIL"
#   case_bad NAME WHY STDERR     bad "NAME WHY", then "      stderr: STDERR"
#
# The counts are in $passed and $failed. Settings, set after sourcing:
#   check_name   NAME in the summary (none by default)
#   check_ok     the prefix of a passed check, "ok    " by default
#   check_fail   the prefix of a failed check, "FAIL  " by default
#                (check_ok="ok: " check_fail="FAIL: " for the colon style)
#   check_t0     a start time (date +%s): ok lines end with " [N s]" and the
#                summary with " (N s)", the seconds since then
#   check_width  the width of a case's name in case_ok and case_bad (28)
passed=0
failed=0
check_name=""
check_ok="ok    "
check_fail="FAIL  "
check_t0=""
check_width=28

# check_seconds: the seconds since $check_t0.
check_seconds() {
    echo $(($(date +%s) - check_t0))
}

ok() {
    passed=$((passed + 1))
    if [ -n "$check_t0" ]; then
        printf '%s%s [%s s]\n' "$check_ok" "$*" "$(check_seconds)"
    else
        printf '%s%s\n' "$check_ok" "$*"
    fi
}

bad() {
    failed=$((failed + 1))
    printf '%s%s\n' "$check_fail" "$*"
}

case_ok() {
    ok "$(printf "%-${check_width}s %s" "$1" "$2")"
}

case_bad() {
    bad "$(printf "%-${check_width}s %s\\n      stderr: %s" "$1" "$2" "$3")"
}

# shellcheck disable=SC2120 # TAIL is optional
finish() {
    printf '%s%s passed, %s failed%s' "${check_name:+$check_name: }" "$passed" "$failed" "${1:-}"
    if [ -n "$check_t0" ]; then
        printf ' (%s s)' "$(check_seconds)"
    fi
    echo
    [ "$failed" -eq 0 ] || exit 1
    exit 0
}

stop() {
    bad "$@"
    finish
}
