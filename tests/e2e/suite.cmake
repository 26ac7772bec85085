# End to end with the real ABI: `sevemu serve` as a process, the CLI, the HTTP KDS, and a C
# program written against the system's <linux/psp-sev.h> and <linux/sev-guest.h> that runs
# under the preload shim (libsevemu-preload.so) as any unmodified tool would.
find_package(Threads REQUIRED)

# A C11 program (the .c source makes it C; the project enables the language).
add_executable(e2e_uapi_client e2e/uapi_client.c)
set_target_properties(e2e_uapi_client PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
  C_EXTENSIONS OFF OUTPUT_NAME uapi_client)
target_compile_options(e2e_uapi_client PRIVATE -Wall -Wextra -Wpedantic -Werror)

# The same program linked statically, for `sevemu run` (no libc to interpose: only seccomp user
# notification reaches it). Never sanitized: the sanitizer runtimes cannot link -static.
add_executable(e2e_uapi_client_static e2e/uapi_client.c)
set_target_properties(e2e_uapi_client_static PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
  C_EXTENSIONS OFF OUTPUT_NAME uapi_client_static)
target_compile_options(e2e_uapi_client_static PRIVATE -Wall -Wextra -Wpedantic -Werror
  -fno-sanitize=all)
target_link_options(e2e_uapi_client_static PRIVATE -static -fno-sanitize=all)

# A program that calls stat as binaries built against glibc before 2.33 do (__xstat), for the
# shim's compat entry points. x86-64 only: the compat symbols' version is that target's.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  add_executable(e2e_xstat_client e2e/xstat_client.c)
  target_compile_options(e2e_xstat_client PRIVATE -Wall -Wextra -Werror)
endif()

sevemu_test_suite(e2e_tests SOURCES e2e/e2e_test.cpp support/report_verifier.cpp
  LIBS sevemu_owner sevemu_emulator sevemu_protocol OpenSSL::Crypto Threads::Threads
  PkgConfig::SECCOMP)

# In a sanitized build the shim is itself instrumented, so a foreign program must load the
# sanitizer runtimes before it: LD_PRELOAD=libasan.so:libubsan.so:libsevemu-preload.so.
set(_e2e_sanitizer_preload "")
set(_e2e_runtimes "")
if(SEVEMU_SANITIZE)
  set(_e2e_runtimes libasan.so libubsan.so)
elseif(SEVEMU_TSAN)
  set(_e2e_runtimes libtsan.so)  # the tsan preset: the same for ThreadSanitizer
endif()
if(_e2e_runtimes)
  foreach(_rt ${_e2e_runtimes})
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${_rt}
      OUTPUT_VARIABLE _rt_path OUTPUT_STRIP_TRAILING_WHITESPACE)
    string(APPEND _e2e_sanitizer_preload "${_rt_path}:")
  endforeach()
endif()

if(TARGET sevemu-preload)
  set(_e2e_shim "$<TARGET_FILE:sevemu-preload>")
  add_dependencies(e2e_tests sevemu-preload)
  add_test(NAME shim_needed COMMAND ${CMAKE_COMMAND} -DREADELF=${CMAKE_READELF}
    -DSHIM=$<TARGET_FILE:sevemu-preload> -DSANITIZED=${SEVEMU_SANITIZE} -P ${CMAKE_CURRENT_SOURCE_DIR}/e2e/shim_needed.cmake)
else()
  set(_e2e_shim "")  # the shim tests fail, saying so
endif()

target_compile_definitions(e2e_tests PRIVATE
  SEVEMU_CLI_PATH="$<TARGET_FILE:sevemu>"
  SEVEMU_UAPI_CLIENT_PATH="$<TARGET_FILE:e2e_uapi_client>"
  SEVEMU_UAPI_CLIENT_STATIC_PATH="$<TARGET_FILE:e2e_uapi_client_static>"
  SEVEMU_GO_CLIENT_DIR="${CMAKE_CURRENT_SOURCE_DIR}/e2e/go_client"
  SEVEMU_PRELOAD_PATH="${_e2e_shim}"
  SEVEMU_SANITIZER_PRELOAD="${_e2e_sanitizer_preload}")
add_dependencies(e2e_tests sevemu e2e_uapi_client e2e_uapi_client_static)
if(TARGET e2e_xstat_client)
  add_dependencies(e2e_tests e2e_xstat_client)
  target_compile_definitions(e2e_tests PRIVATE
    SEVEMU_XSTAT_CLIENT_PATH="$<TARGET_FILE:e2e_xstat_client>")
endif()
