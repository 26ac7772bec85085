# The daemon's own tables: capabilities checked against what the firmware answers; its threads:
# platforms served side by side over a real socket (in-process).
find_package(Threads REQUIRED)
sevemu_test_suite(daemon_tests SOURCES daemon/capabilities_test.cpp daemon/concurrency_test.cpp
  LIBS sevemu_daemon sevemu_hypervisor sevemu_fixtures Threads::Threads)
