sevemu_test_suite(launch_tests SOURCES launch/ovmf_image_test.cpp launch/vmsa_test.cpp
  launch/expected_digest_test.cpp launch/firmware_launch_test.cpp launch/sev_launch_test.cpp
  launch/direct_boot_test.cpp
  LIBS sevemu_launch sevemu_fixtures)
