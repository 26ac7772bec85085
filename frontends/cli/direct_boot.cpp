#include "direct_boot.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "sevemu/crypto/hash.h"

namespace sevemu::cli {
namespace {

// SHA-256 of a file read in chunks; "" hashes the empty string (no initrd).
Result<std::array<std::uint8_t, 32>> HashFile(const std::string& path) {
  SEVEMU_ASSIGN_OR_RETURN(crypto::Hasher h, crypto::Hasher::Create(crypto::HashAlg::kSha256));
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error(ErrorCode::kIo, path + ": " + std::strerror(errno));
    std::vector<std::uint8_t> buf(1u << 20);
    while (in) {
      in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
      SEVEMU_RETURN_IF_ERROR(h.Update(ByteSpan(buf.data(), static_cast<std::size_t>(in.gcount()))));
    }
    if (in.bad()) return Error(ErrorCode::kIo, path + ": read failed");
  }
  SEVEMU_ASSIGN_OR_RETURN(Bytes d, h.Finish());
  std::array<std::uint8_t, 32> out{};
  std::memcpy(out.data(), d.data(), out.size());
  return out;
}

}  // namespace

Result<std::optional<launch::DirectBoot>> HashDirectBootArgs(const DirectBootArgs& args) {
  if (args.kernel.empty()) {
    // QEMU refuses the same, in this order (system/vl.c, formerly softmmu/vl.c,
    // qemu_validate_options).
    if (args.append_given) {
      return Error(ErrorCode::kInvalidArgument, "-append only allowed with -kernel option");
    }
    if (!args.initrd.empty()) {
      return Error(ErrorCode::kInvalidArgument, "-initrd only allowed with -kernel option");
    }
    return std::optional<launch::DirectBoot>();
  }
  launch::DirectBoot boot;
  SEVEMU_ASSIGN_OR_RETURN(boot.cmdline, launch::CmdlineHash(args.append));
  SEVEMU_ASSIGN_OR_RETURN(boot.kernel, HashFile(args.kernel));
  SEVEMU_ASSIGN_OR_RETURN(boot.initrd, HashFile(args.initrd));
  return std::optional<launch::DirectBoot>(boot);
}

}  // namespace sevemu::cli
