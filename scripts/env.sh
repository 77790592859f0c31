# Environment for running Open MPI as root on a workstation (sourced).
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Parallel HDF5 collective writes can hang with Open MPI's ompio at odd rank
# counts (HDFGroup/hdf5#1227); ROMIO is the safe MPI-IO component.
export OMPI_MCA_io=romio321
