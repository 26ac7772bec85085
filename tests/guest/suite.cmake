# The simulated guest kernel: sev-guest driver and configfs-tsm, end to end over the emulated
# firmware (tests/emulator's fixtures launch the guest; support/ verifies reports with OpenSSL).
sevemu_test_suite(guest_tests
  SOURCES support/report_verifier.cpp guest/sev_guest_driver_test.cpp guest/tsm_report_test.cpp
  LIBS sevemu_guest sevemu_emulator sevemu_fixtures OpenSSL::Crypto)
target_include_directories(guest_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/emulator)
