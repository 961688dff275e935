# Sanitizer and fuzzing builds (issue 10; SECURITY.md says how to run them).
#
#   SIEVE_SANITIZE=address  every target with AddressSanitizer + UndefinedBehaviorSanitizer; any UB
#                           report aborts (no recovery), so a test that hits one fails.
#   SIEVE_SANITIZE=thread   every target with ThreadSanitizer (run the CTest label `threaded`).
#   SIEVE_FUZZ=ON           clang only: every target instrumented for libFuzzer (+ ASan + UBSan) and
#                           the fuzz targets in tests/fuzz built; CUDA is off. The fuzz binaries link
#                           libstdc++/libgcc statically, so a folder of them runs on another Linux.
# Included by the top-level CMakeLists.txt before CUDA detection and before any target.
set(SIEVE_SANITIZE "" CACHE STRING "Build with sanitizers: '' (none), address (ASan+UBSan), thread")
set_property(CACHE SIEVE_SANITIZE PROPERTY STRINGS "" address thread)
option(SIEVE_FUZZ "Build the libFuzzer targets in tests/fuzz (clang; implies ASan+UBSan, no CUDA)" OFF)

if(SIEVE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SIEVE_FUZZ=ON needs clang: configure with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(SIEVE_SANITIZE)
    message(FATAL_ERROR "SIEVE_FUZZ=ON already uses ASan+UBSan; leave SIEVE_SANITIZE empty")
  endif()
  set(SIEVE_CUDA "OFF" CACHE STRING "" FORCE)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/ubsan_ignorelist.txt
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
elseif(SIEVE_SANITIZE STREQUAL "address")
  # -O1 (after the build type's -O3, so it wins) and line tables only: CI builds this tree from
  # scratch on 2 cores, and -O1 is what the sanitizers are tuned for.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -O1 -g1)
  add_link_options(-fsanitize=address,undefined)
elseif(SIEVE_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -O1 -g1)
  add_link_options(-fsanitize=thread)
elseif(SIEVE_SANITIZE)
  message(FATAL_ERROR "SIEVE_SANITIZE must be empty, address or thread (got '${SIEVE_SANITIZE}')")
endif()
if(SIEVE_SANITIZE OR SIEVE_FUZZ)
  message(STATUS "sieve: sanitize '${SIEVE_SANITIZE}', fuzz ${SIEVE_FUZZ}")
endif()
