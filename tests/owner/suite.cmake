# The legacy SEV secure channel from both sides: emulator/sev_channel (firmware) and owner/
# (guest owner), with known answers from public SEV tools (fixtures/kat/sev_channel.json).
sevemu_test_suite(owner_tests
  SOURCES owner/sev_channel_kat_test.cpp owner/owner_roundtrip_test.cpp
  LIBS sevemu_owner sevemu_emulator)
