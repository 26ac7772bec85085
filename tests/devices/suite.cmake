# The device logic the shim and `sevemu run` share (frontends/devices): configfs-tsm's tree.
sevemu_test_suite(devices_tests SOURCES devices/tsm_tree_test.cpp LIBS sevemu_devices)
