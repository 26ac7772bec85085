// Dispatch of the legacy SEV commands: a table of (command id, handler, buffer size), as
// AMD-ASPFW sev_dispatch.c master_handler_table (and Linux psp-sev.h for the sizes). Anything
// else is INVALID_COMMAND. Handlers: cmd_sev_platform.cpp, cmd_sev_guest.cpp,
// cmd_sev_launch.cpp, cmd_sev_migrate.cpp.
#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using Handler = FwStatus (*)(FirmwareState&, MutableByteSpan);

struct SevCommandSpec {
  SevCmd id;
  Handler handler;
  std::size_t buffer_size;  // bytes of the command buffer; 0 = no buffer
};

// clang-format off
constexpr SevCommandSpec kSevCommands[] = {
  //  id                          handler               buffer bytes
  { SevCmd::kInit,                &SevInit,             sizeof(SevInitBuf)             },
  { SevCmd::kShutdown,            &SevShutdown,         0                              },
  { SevCmd::kPlatformReset,       &SevPlatformReset,    0                              },
  { SevCmd::kPlatformStatus,      &SevPlatformStatus,   sizeof(SevPlatformStatusBuf)   },
  { SevCmd::kPekGen,              &SevPekGen,           0                              },
  { SevCmd::kPekCsr,              &SevPekCsr,           sizeof(SevAddrLenBuf)          },
  { SevCmd::kPekCertImport,       &SevPekCertImport,    sizeof(SevPekCertImportBuf)    },
  { SevCmd::kPdhCertExport,       &SevPdhCertExport,    sizeof(SevPdhCertExportBuf)    },
  { SevCmd::kPdhGen,              &SevPdhGen,           0                              },
  { SevCmd::kDfFlush,             &SevDfFlush,          0                              },
  { SevCmd::kDownloadFirmware,    &SevDownloadFirmware, sizeof(SevDownloadFirmwareBuf) },
  { SevCmd::kGetId,               &SevGetId,            sizeof(SevAddrLenBuf)          },
  { SevCmd::kInitEx,              &SevInitEx,           sizeof(SevInitExBuf)           },
  // Guest commands (cmd_sev_guest.cpp, cmd_sev_launch.cpp).
  { SevCmd::kDecommission,        &SevDecommission,     sizeof(SevHandleBuf)           },
  { SevCmd::kActivate,            &SevActivate,         sizeof(SevActivateBuf)         },
  { SevCmd::kDeactivate,          &SevDeactivate,       sizeof(SevHandleBuf)           },
  { SevCmd::kGuestStatus,         &SevGuestStatus,      sizeof(SevGuestStatusBuf)      },
  { SevCmd::kLaunchStart,         &SevLaunchStart,      sizeof(SevLaunchStartBuf)      },
  { SevCmd::kLaunchUpdateData,    &SevLaunchUpdateData, sizeof(SevLaunchUpdateBuf)     },
  { SevCmd::kLaunchUpdateVmsa,    &SevLaunchUpdateVmsa, sizeof(SevLaunchUpdateBuf)     },
  { SevCmd::kLaunchMeasure,       &SevLaunchMeasure,    sizeof(SevLaunchMeasureBuf)    },
  { SevCmd::kLaunchUpdateSecret,  &SevLaunchSecret,     sizeof(SevLaunchSecretBuf)     },
  { SevCmd::kLaunchFinish,        &SevLaunchFinish,     sizeof(SevHandleBuf)           },
  { SevCmd::kAttestation,         &SevAttestation,      sizeof(SevAttestationBuf)      },
  // Migration (cmd_sev_migrate.cpp).
  { SevCmd::kSendStart,           &SevSendStart,        sizeof(SevSendStartBuf)        },
  { SevCmd::kSendUpdateData,      &SevSendUpdateData,   sizeof(SevTransportBuf)        },
  { SevCmd::kSendUpdateVmsa,      &SevSendUpdateVmsa,   sizeof(SevTransportBuf)        },
  { SevCmd::kSendFinish,          &SevSendFinish,       sizeof(SevHandleBuf)           },
  { SevCmd::kSendCancel,          &SevSendCancel,       sizeof(SevHandleBuf)           },
  { SevCmd::kReceiveStart,        &SevReceiveStart,     sizeof(SevReceiveStartBuf)     },
  { SevCmd::kReceiveUpdateData,   &SevReceiveUpdateData, sizeof(SevTransportBuf)       },
  { SevCmd::kReceiveUpdateVmsa,   &SevReceiveUpdateVmsa, sizeof(SevTransportBuf)       },
  { SevCmd::kReceiveFinish,       &SevReceiveFinish,    sizeof(SevHandleBuf)           },
  { SevCmd::kDbgDecrypt,          &SevDbgDecrypt,       sizeof(SevDbgBuf)              },
  { SevCmd::kDbgEncrypt,          &SevDbgEncrypt,       sizeof(SevDbgBuf)              },
};
// clang-format on

}  // namespace

const char* SevCmdName(SevCmd c) {
  switch (c) {
    case SevCmd::kInit:
      return "INIT";
    case SevCmd::kShutdown:
      return "SHUTDOWN";
    case SevCmd::kPlatformReset:
      return "PLATFORM_RESET";
    case SevCmd::kPlatformStatus:
      return "PLATFORM_STATUS";
    case SevCmd::kPekGen:
      return "PEK_GEN";
    case SevCmd::kPekCsr:
      return "PEK_CSR";
    case SevCmd::kPekCertImport:
      return "PEK_CERT_IMPORT";
    case SevCmd::kPdhCertExport:
      return "PDH_CERT_EXPORT";
    case SevCmd::kPdhGen:
      return "PDH_GEN";
    case SevCmd::kDfFlush:
      return "DF_FLUSH";
    case SevCmd::kDownloadFirmware:
      return "DOWNLOAD_FIRMWARE";
    case SevCmd::kGetId:
      return "GET_ID";
    case SevCmd::kInitEx:
      return "INIT_EX";
    case SevCmd::kDecommission:
      return "DECOMMISSION";
    case SevCmd::kActivate:
      return "ACTIVATE";
    case SevCmd::kDeactivate:
      return "DEACTIVATE";
    case SevCmd::kGuestStatus:
      return "GUEST_STATUS";
    case SevCmd::kLaunchStart:
      return "LAUNCH_START";
    case SevCmd::kLaunchUpdateData:
      return "LAUNCH_UPDATE_DATA";
    case SevCmd::kLaunchUpdateVmsa:
      return "LAUNCH_UPDATE_VMSA";
    case SevCmd::kLaunchMeasure:
      return "LAUNCH_MEASURE";
    case SevCmd::kLaunchUpdateSecret:
      return "LAUNCH_UPDATE_SECRET";
    case SevCmd::kLaunchFinish:
      return "LAUNCH_FINISH";
    case SevCmd::kAttestation:
      return "ATTESTATION";
    case SevCmd::kSendStart:
      return "SEND_START";
    case SevCmd::kSendUpdateData:
      return "SEND_UPDATE_DATA";
    case SevCmd::kSendUpdateVmsa:
      return "SEND_UPDATE_VMSA";
    case SevCmd::kSendFinish:
      return "SEND_FINISH";
    case SevCmd::kSendCancel:
      return "SEND_CANCEL";
    case SevCmd::kReceiveStart:
      return "RECEIVE_START";
    case SevCmd::kReceiveUpdateData:
      return "RECEIVE_UPDATE_DATA";
    case SevCmd::kReceiveUpdateVmsa:
      return "RECEIVE_UPDATE_VMSA";
    case SevCmd::kReceiveFinish:
      return "RECEIVE_FINISH";
    case SevCmd::kDbgDecrypt:
      return "DBG_DECRYPT";
    case SevCmd::kDbgEncrypt:
      return "DBG_ENCRYPT";
  }
  return "UNKNOWN";
}

std::vector<SevCmd> ImplementedSevCommands() {
  std::vector<SevCmd> out;
  for (const SevCommandSpec& spec : kSevCommands) out.push_back(spec.id);
  return out;
}

std::optional<std::size_t> SevCommandBufferSize(SevCmd cmd) {
  for (const SevCommandSpec& spec : kSevCommands) {
    if (spec.id == cmd) return spec.buffer_size;
  }
  return std::nullopt;
}

FwStatus DispatchSev(FirmwareState& s, SevCmd cmd, MutableByteSpan buffer) {
  for (const SevCommandSpec& spec : kSevCommands) {
    if (spec.id != cmd) continue;
    if (buffer.size() != spec.buffer_size) return FwStatus::kInvalidLength;
    return spec.handler(s, buffer);
  }
  return FwStatus::kInvalidCommand;
}

statemachine::SevPlatformState Firmware::sev_state() const {
  return s_->sev.machine.state();
}

void AppendSevStateDigest(const FirmwareState& s, Bytes& blob) {
  auto put64 = [&blob](std::uint64_t v) {
    std::uint8_t b[8];
    StoreLe64(b, v);
    blob.insert(blob.end(), b, b + 8);
  };
  const SevLegacyState& v = s.sev;
  put64(static_cast<std::uint64_t>(v.machine.state()));
  put64(v.cek.has_value());
  put64(v.config_flags);
  put64(v.tmr_paddr);
  put64(v.tmr_length);
  put64(v.nv_paddr);
  put64(v.guest_count);
  const SevIdentity& id = v.identity;
  put64(id.ext_owned);
  put64(id.oca.has_value());
  put64(id.pek.has_value());
  put64(id.pdh.has_value());
  for (const SevCert* c : {&id.oca_cert, &id.pek_cert, &id.pdh_cert}) {
    const SevCertBytes bytes = c->Encode();
    blob.insert(blob.end(), bytes.begin(), bytes.end());
  }
  AppendSevGuestStateDigest(s, blob);  // the legacy guests (cmd_sev_guest.cpp)
}

}  // namespace sevemu::emulator
