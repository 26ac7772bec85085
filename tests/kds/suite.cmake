# The simulated KDS: routes without sockets, the CRL builder, the HTTP server in-process, and
# `sevemu kds serve` as a process.
find_package(Threads REQUIRED)
sevemu_test_suite(kds_tests SOURCES kds/routes_test.cpp kds/crl_test.cpp kds/http_server_test.cpp
  kds/cli_serve_test.cpp kds/faults_test.cpp
  LIBS sevemu_kds_server sevemu_emulator sevemu_fixtures Boost::headers Threads::Threads)
target_include_directories(kds_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/emulator)
target_compile_definitions(kds_tests PRIVATE SEVEMU_CLI_PATH="$<TARGET_FILE:sevemu>")
add_dependencies(kds_tests sevemu)
