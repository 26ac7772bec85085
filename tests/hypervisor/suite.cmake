sevemu_test_suite(hypervisor_tests SOURCES support/report_verifier.cpp hypervisor/host_test.cpp
  LIBS sevemu_hypervisor sevemu_fixtures OpenSSL::Crypto)
