# ctest -R shim_needed: libsevemu-preload.so needs nothing but libc and the dynamic loader
# (with -DSANITIZED=ON also the sanitizer runtimes and the libm they bring), because every
# process it is preloaded into pays for loading each dependency (docs/performance.md, "The
# preload library's start-up").
#   cmake -DREADELF=... -DSHIM=path/to/libsevemu-preload.so [-DSANITIZED=ON] -P shim_needed.cmake
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${READELF} -d ${SHIM} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${SHIM} failed")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]]+\\]" lines "${dyn}")
set(needed "")
foreach(line IN LISTS lines)
  string(REGEX REPLACE ".*\\[([^]]+)\\]" "\\1" lib "${line}")
  list(APPEND needed ${lib})
  if(lib MATCHES "^(libc\\.so\\.6|ld-linux-x86-64\\.so\\.2)$")
    continue()
  endif()
  if(NOT (SANITIZED AND lib MATCHES "^(libasan\\.so\\..*|libubsan\\.so\\..*|libm\\.so\\.6)$"))
    message(FATAL_ERROR "libsevemu-preload.so needs ${lib} (all: ${needed})")
  endif()
endforeach()
if(NOT "libc.so.6" IN_LIST needed)
  message(FATAL_ERROR "no NEEDED entries read from ${SHIM}: ${needed}")
endif()
message(STATUS "libsevemu-preload.so needs: ${needed}")
