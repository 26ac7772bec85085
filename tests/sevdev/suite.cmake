# /dev/sev as the ccp driver serves it (hypervisor/sev_dev.cpp) and the staged user memory the
# shim carries it over with (uapi/staged_memory.cpp).
sevemu_test_suite(sevdev_tests SOURCES sevdev/sev_dev_test.cpp
  LIBS sevemu_hypervisor sevemu_fixtures)
