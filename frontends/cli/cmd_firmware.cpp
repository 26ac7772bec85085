// sevemu firmware image: a simulated SEV firmware image for SNP_DOWNLOAD_FIRMWARE_EX, signed by
// the platform's simulated AMD root (emulator/manufacturing/firmware_image.h).
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/manufacturing/firmware_image.h"
#include "sevemu/emulator/manufacturing/platform_state.h"

namespace sevemu::cli {

int RunFirmware(const std::string& name, const Args& args) {
  std::string action, state = DefaultStateDir(), version_text, tcb_text, out;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "image")
      ("state", po::value(&state), "state directory of the platform the image is for")
      ("version", po::value(&version_text)->required(), "firmware version MAJOR.MINOR.BUILD, e.g. 1.56.3")
      ("tcb", po::value(&tcb_text), "TCB the new firmware runs at (default: the platform's current TCB)")
      ("out", po::value(&out)->required(), "file to write the signed image to");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1);
  int code = 0;
  auto vm = ParseArgs(name, "image --version X.Y.Z --out FILE [--state DIR] [--tcb SPEC]", desc,
                      args, code, &pos);
  if (!vm) return code;
  if (action != "image")
    return UsageError(name, "unknown action '" + action + "' (expected image)");
  unsigned major = 0, minor = 0, build = 0;
  char tail = 0;
  if (std::sscanf(version_text.c_str(), "%u.%u.%u%c", &major, &minor, &build, &tail) != 3 ||
      major > 255 || minor > 255 || build > 255) {
    return UsageError(name, "--version must be MAJOR.MINOR.BUILD with each part 0..255");
  }
  auto platform = emulator::LoadPlatform(state);
  if (!platform.ok()) return Fail(name, platform.error());
  emulator::FirmwareImage image;
  image.product = platform->state.chip.product;
  image.version = {static_cast<std::uint8_t>(major), static_cast<std::uint8_t>(minor),
                   static_cast<std::uint8_t>(build)};
  image.tcb = platform->state.current_tcb;
  if (!tcb_text.empty()) {
    auto tcb = emulator::ParseTcb(image.product, tcb_text);
    if (!tcb.ok()) return UsageError(name, "--tcb: " + tcb.error().message());
    image.tcb = *tcb;
  }
  image.body = Bytes(4096, 0x90);  // stands in for the firmware's code
  auto bytes = emulator::BuildFirmwareImage(image, platform->root.ark_key);
  if (!bytes.ok()) return Fail(name, bytes.error());
  if (Status st = WriteFileAtomic(out, *bytes, 0644, false); !st.ok())
    return Fail(name, st.error());
  std::cout << "wrote " << bytes->size() << "-byte " << emulator::Info(image.product).name
            << " firmware image " << version_text << " (" << image.tcb.ToString() << ") to " << out
            << "\n";
  return kExitOk;
}

}  // namespace sevemu::cli
