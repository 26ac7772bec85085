// Capabilities are generated from the code's tables; this checks them against behaviour: a
// command listed is one the firmware dispatches (anything else is INVALID_COMMAND), a guest
// message listed is one SNP_GUEST_REQUEST answers.
#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "../emulator/emulator_fixture.h"
#include "sevemu/daemon/daemon.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/firmware_abi.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/hypervisor/faults.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu {
namespace {

using nlohmann::json;

std::set<std::uint32_t> Ids(const json& list, const char* key) {
  std::set<std::uint32_t> out;
  for (const auto& e : list) {
    const json& v = e[key];
    out.insert(v.is_string()
                   ? static_cast<std::uint32_t>(std::stoul(v.get<std::string>(), nullptr, 16))
                   : v.get<std::uint32_t>());
  }
  return out;
}

}  // namespace

TEST_CASE("capabilities list exactly the commands the firmware dispatches") {
  const json caps = json::parse(daemon::CapabilitiesJson());
  const auto snp = Ids(caps["snp_commands"], "id");
  const auto sev = Ids(caps["sev_commands"], "id");
  CHECK(snp.count(static_cast<std::uint32_t>(emulator::SnpCmd::kGuestRequest)) == 1);
  CHECK(sev.count(static_cast<std::uint32_t>(emulator::SevCmd::kLaunchUpdateData)) == 1);
  // A command listed with a since_abi is dispatched only from that ABI on: on every simulated
  // ABI, a listed command the ABI has answers INVALID_LENGTH (or runs, if it takes no buffer)
  // to an empty buffer; any other id is INVALID_COMMAND.
  std::map<std::uint32_t, std::string> since;
  for (const auto& e : caps["snp_commands"]) {
    if (e.contains("since_abi")) {
      since[static_cast<std::uint32_t>(std::stoul(e["id"].get<std::string>(), nullptr, 16))] =
          e["since_abi"].get<std::string>();
    }
  }
  CHECK(since.at(static_cast<std::uint32_t>(emulator::SnpCmd::kVerifyMitigation)) == "1.58");
  // The simulated ABIs, and the default firmware (the newest) for each product.
  CHECK(caps["firmware_abis"] == json::array({"1.55", "1.57", "1.58"}));
  for (const auto& p : caps["products"]) CHECK(p["firmware"] == "1.58.1");
  std::unique_ptr<emulator::Firmware> fw;
  for (const emulator::FirmwareAbi& abi : emulator::SimulatedAbis()) {
    emulator::ProvisionOptions opts;
    opts.product = emulator::Product::kMilan;
    opts.seed = Bytes{1};
    opts.firmware = emulator::FirmwareVersion{abi.major, abi.minor, 1};
    auto platform = emulator::Provision(opts, test::TestRoot(emulator::Product::kMilan));
    REQUIRE(platform.ok());
    auto booted = emulator::Firmware::Boot(std::move(platform).value(), {});
    REQUIRE(booted.ok());
    fw = std::move(booted).value();
    const std::string name = std::to_string(abi.major) + "." + std::to_string(abi.minor);
    for (std::uint32_t id = 0x80; id < 0x100; ++id) {
      const auto st = fw->Execute(static_cast<emulator::SnpCmd>(id), MutableByteSpan{});
      const bool has =
          snp.count(id) == 1 && (since.count(id) == 0 || std::stod(since[id]) <= std::stod(name));
      CHECK_MESSAGE((st == emulator::FwStatus::kInvalidCommand) == !has, name, " ", id);
    }
  }
  for (std::uint32_t id = 0; id < 0x80; ++id) {
    const auto st = fw->ExecuteSev(static_cast<emulator::SevCmd>(id), MutableByteSpan{});
    CHECK_MESSAGE((st == emulator::FwStatus::kInvalidCommand) == (sev.count(id) == 0), id);
  }
  CHECK(caps["dev_sev_commands"].size() == static_cast<std::size_t>(uapi::SevUserCmd::kMax));
  std::set<std::string> kinds;
  for (const auto& k : caps["fault_kinds"]) kinds.insert(k["kind"].get<std::string>());
  CHECK(kinds.size() == hypervisor::FaultKinds().size());
  for (const auto& k : hypervisor::FaultKinds()) CHECK(kinds.count(k.name) == 1);
}

TEST_CASE("capabilities list exactly the guest messages SNP_GUEST_REQUEST answers") {
  const json caps = json::parse(daemon::CapabilitiesJson());
  const auto listed = Ids(caps["guest_messages"], "type");
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = hypervisor::Host::Boot(test::SeededPlatform(emulator::Product::kMilan), cfg);
  REQUIRE(host.ok());
  hypervisor::GuestLaunchSpec spec;
  spec.name = "g";
  auto g = (*host)->LaunchGuest(spec);
  REQUIRE(g.ok());
  auto secrets = (*host)->ReadGuestMemory("g", g->secrets_gpa, 4096);
  REQUIRE(secrets.ok());
  const Bytes vmpck0(secrets->begin() + 0x20, secrets->begin() + 0x40);
  std::uint64_t seq = 1;
  for (std::uint32_t type = 1; type < 40; ++type) {
    guestmsg::GuestMsgHeader h;
    h.seqno = seq;
    h.type = static_cast<guestmsg::GuestMsgType>(type);
    const Bytes payload(0x60, 0);
    h.msg_size = static_cast<std::uint16_t>(payload.size());
    auto ct = guestmsg::SealGuestMsg(h, payload, vmpck0);
    REQUIRE(ct.ok());
    Bytes page(4096, 0);
    const auto hdr = guestmsg::SerializeGuestMsgHeader(h);
    std::memcpy(page.data(), hdr.data(), hdr.size());
    std::memcpy(page.data() + 0x60, ct->data(), ct->size());
    auto r = (*host)->GuestRequest("g", page, std::nullopt);
    REQUIRE(r.ok());
    const bool answered = r->fw_status == emulator::FwStatus::kSuccess;
    CHECK_MESSAGE(answered == (listed.count(type) == 1), type);
    if (answered) seq += 2;  // a refused message leaves the sequence number where it was
  }
}

}  // namespace sevemu
