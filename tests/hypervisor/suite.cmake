sevemu_test_suite(hypervisor_tests SOURCES support/report_verifier.cpp hypervisor/host_test.cpp
  hypervisor/sev_guest_host_test.cpp hypervisor/sev_migrate_host_test.cpp
  hypervisor/faults_test.cpp hypervisor/launch_options_test.cpp hypervisor/host_swap_test.cpp hypervisor/host_migrate_test.cpp
  LIBS sevemu_hypervisor sevemu_owner sevemu_fixtures OpenSSL::Crypto)
