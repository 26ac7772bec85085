# The trace (docs/trace.md): the firmware's observer as JSON lines, end to end over the simulated
# host (a launch, a report, a legacy launch with a secret), its redaction and its renderer.
sevemu_test_suite(trace_tests SOURCES trace/trace_test.cpp trace/trace_render_test.cpp
  LIBS sevemu_trace sevemu_hypervisor sevemu_owner sevemu_fixtures)
target_include_directories(trace_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/emulator)
