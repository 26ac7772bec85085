sevemu_test_suite(protocol_tests SOURCES protocol/wire_test.cpp LIBS sevemu_protocol)
