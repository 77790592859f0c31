#!/bin/sh
# The MPI-IO component: Open MPI 4's default (ompio) is reported to hang
# parallel HDF5 collective writes at odd rank counts (HDFGroup/hdf5#1227), so
# flexcl itself selects ROMIO before MPI start-up unless the user chose a
# component. Checked from Open MPI's own component-selection log
# (io_base_verbose) and from the results' provenance attribute mpi_io:
#   1. no OMPI_MCA_io in the environment, a bare mpiexec at 3 ranks: the run
#      completes, Open MPI selects romio321 for every file, mpi_io = romio321;
#   2. the twin: OMPI_MCA_io=ompio set by the user (1 rank, where ompio is
#      safe): the user's choice is kept (ompio selected, mpi_io = ompio), so
#      the attribute reports the component and is not a constant.
# usage: mpiio.sh FLEXCL MPIEXEC   (run from the repository root)
flexcl="$1"
mpiexec="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_name="mpiio"

attr() {
    /usr/bin/python3 -c 'import sys, h5py
a = h5py.File(sys.argv[1], "r").attrs["mpi_io"]
print(a if isinstance(a, str) else a.decode())' "$1"
}

# run NAME RANKS: one small BAS job; stdout+stderr (with Open MPI's io
# selection log) in $tmp/NAME.log, results in $tmp/NAME/bas_isd.h5.
run() {
    OMPI_MCA_io_base_verbose=10 timeout 300 "$mpiexec" -n "$2" --oversubscribe "$flexcl" run \
        jobs/bas_isd.ini --set run.steps=2000 --set run.eval_every=1000 \
        --set run.learners_per_rank=1 --out "$tmp/$1" >"$tmp/$1.log" 2>&1
}

# check NAME RANKS COMPONENT: the run exited 0, Open MPI selected COMPONENT
# and no other io module, and the results say COMPONENT.
check() {
    status=$1; name=$2; comp=$3
    sel=$(grep -o 'Selected io module [a-z0-9]*' "$tmp/$name.log" | sort -u | sed 's/.* //' | tr '\n' ' ')
    got=$(attr "$tmp/$name/bas_isd.h5" 2>/dev/null)
    if [ "$status" -eq 0 ] && [ "$sel" = "$comp " ] && [ "$got" = "$comp" ]; then
        ok "$name: exit 0, Open MPI selected ${sel% } for every file, mpi_io = $got"
    else
        bad "$name: exit $status, selected '$sel', mpi_io '$got' (expected $comp)"
        tail -5 "$tmp/$name.log"
    fi
}

status=0
unset OMPI_MCA_io
run default_3ranks 3 || status=$?
check "$status" default_3ranks romio321

status=0
OMPI_MCA_io=ompio run user_ompio 1 || status=$?
check "$status" user_ompio ompio
finish
