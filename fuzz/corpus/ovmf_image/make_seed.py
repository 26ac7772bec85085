#!/usr/bin/env python3
"""Writes synthetic.bin: a 64 KiB image in the OVMF layout the parser reads (the same shape as
tests/launch/launch_test_util.h SyntheticOvmf::Valid): footer GUID table with an SEV-ES reset
block entry and an SEV metadata entry pointing at an "ASEV" header with four sections."""
import os, struct, uuid

def guid(s):  # EFI byte order: first three fields little-endian
    return uuid.UUID(s).bytes_le

size = 64 * 1024
img = bytearray(size)
sections = [(0x800000, 0x9000, 1), (0x80D000, 0x1000, 2), (0x80E000, 0x1000, 3), (0x80F000, 0x1000, 0x10)]
md = b"ASEV" + struct.pack("<III", 16 + 12 * len(sections), 1, len(sections))
md += b"".join(struct.pack("<III", *s) for s in sections)
img[size - 0x1000:size - 0x1000 + len(md)] = md
entries = [(guid("00f771de-1a7e-4fcb-890e-68c77e2fb44e"), struct.pack("<I", 0x80B004)),
           (guid("dc886566-984a-4798-a75e-5585a7bf67cc"), struct.pack("<I", 0x1000))]
end, total = size - 32 - 18, 18
for g, data in reversed(entries):
    length = len(data) + 18
    img[end - 16:end] = g
    img[end - 18:end - 16] = struct.pack("<H", length)
    img[end - length:end - length + len(data)] = data
    end -= length
    total += length
img[size - 50:size - 48] = struct.pack("<H", total)
img[size - 48:size - 32] = guid("96b582de-1fb2-45f7-baea-a366c55a082d")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "synthetic.bin"), "wb") as f:
    f.write(img)
