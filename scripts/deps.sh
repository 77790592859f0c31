#!/bin/sh
# Install flexcl's build, test and analysis dependencies from Debian 12's
# packages (run as root). Skips apt entirely when everything is present.
# clang-14 + libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) +
# libomp-14-dev (OpenMP for clang) build the sanitize and fuzz suites'
# tree; valgrind runs the sanitize suite's leak check (docs/hardening.md).
set -eu
PACKAGES="build-essential meson ninja-build pkg-config git
 openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
 libopenblas-dev libscalapack-openmpi-dev libcunit1-dev libinih-dev
 librandom123-dev zlib1g-dev dataset-fashion-mnist
 python3-h5py python3-numpy python3-scipy python3-matplotlib
 munge slurmctld slurmd slurm-client
 clang-14 libclang-rt-14-dev libomp-14-dev valgrind"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "flexcl: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $PACKAGES
fi
