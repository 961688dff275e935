# Sourced by the scripts/gpu checks. cuBLAS is linked dynamically, and the GPU machine may not
# have it (or other CUDA libraries) on the loader's path:
#   find_cuda_lib NAME     prints the directory that holds NAME (status 1 when none does)
#   add_cuda_libs BINARY   puts on LD_LIBRARY_PATH a directory for each library BINARY misses
find_cuda_lib() {
  local name=$1 dir
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
             $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null |
               tr ' ' '\n' | sed 's|$|/nvidia/cublas/lib|'); do
    [[ -e $dir/$name ]] && { echo "$dir"; return 0; }
  done
  return 1
}

add_cuda_libs() {
  local lib dir
  for lib in $(ldd "$1" 2>/dev/null | awk '/not found/ {print $1}'); do
    if dir=$(find_cuda_lib "$lib"); then
      export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
  done
}
