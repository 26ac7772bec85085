// sevemu's built-in guest firmware images: the smallest images with OVMF's layout
// (launch/ovmf_image.h) that a VMM can launch as SNP, SEV or SEV-ES. Their bodies are markers,
// not code: sevemu guests do not execute; they exist to be measured and to talk to the firmware.
//
// Two variants, so that the plain image's bytes (and every digest of launches from it) stay as
// they were when direct boot arrived:
//   kPlain       pre-validated memory, secrets and CPUID sections as Debian's OVMF.fd (2022.11)
//                places them, the SEV-ES reset block, a one-page launch secret area;
//   kDirectBoot  the same, plus what OvmfPkg/AmdSev builds add for measured direct boot: a
//                SNP_KERNEL_HASHES metadata section (one page at 0x80C000) and the SEV hash
//                table entry naming the area inside it (0x80C400, 0xC00 bytes), the page where
//                QEMU puts the kernel/initrd/cmdline hashes (launch/kernel_hashes.h). The
//                addresses are sevemu's choice, in the gap the plain layout leaves free.
//
// Thread safety: pure functions.
#pragma once

#include "sevemu/common/bytes.h"

namespace sevemu::launch {

enum class BuiltinImage { kPlain, kDirectBoot };

// 64 KiB, mapped to end at 4 GiB like any OVMF image. `memory` adds that many bytes of
// pre-validated guest memory (one more SNP_SEC_MEM section at 16 MiB, as an OVMF built with more
// of it has; zero pages, measured as such). REQUIRES: `memory` a multiple of 4 KiB, at most
// kMaxBuiltinImageMemory; 0 gives the variant's image unchanged.
constexpr std::uint64_t kMaxBuiltinImageMemory = 2ull << 30;
Bytes BuiltinGuestImage(BuiltinImage variant, std::uint64_t memory = 0);

}  // namespace sevemu::launch
