# Environment for running Open MPI as root on a workstation (sourced).
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Parallel HDF5 collective writes can hang with Open MPI's ompio at odd rank
# counts (HDFGroup/hdf5#1227); ROMIO is the safe MPI-IO component.
export OMPI_MCA_io=romio321
# Shared-memory messages up to 32 KiB go eagerly (Open MPI's vader default is
# 4 KiB): a parameter average of small models (4 learners x 288 doubles is
# 9 KiB) then completes in one round instead of a rendezvous of several
# (docs/performance.md, averaging). Set it yourself to override.
export OMPI_MCA_btl_vader_eager_limit=${OMPI_MCA_btl_vader_eager_limit:-32768}
