sevemu_test_suite(protocol_tests SOURCES protocol/wire_test.cpp protocol/errors_test.cpp
  LIBS sevemu_protocol)
target_compile_definitions(protocol_tests PRIVATE SEVEMU_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
