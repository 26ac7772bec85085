# The daemon's own tables: capabilities checked against what the firmware answers.
sevemu_test_suite(daemon_tests SOURCES daemon/capabilities_test.cpp
  LIBS sevemu_daemon sevemu_hypervisor sevemu_fixtures)
