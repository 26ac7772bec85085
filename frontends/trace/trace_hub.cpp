#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sevemu/trace/trace.h"

namespace sevemu::trace {

Status TraceHub::OpenFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error(ErrorCode::kIo, path + ": " + std::strerror(errno));
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  path_ = path;
  return Status::Ok();
}

TraceHub::~TraceHub() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t TraceHub::AddListener(Listener l) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t id = next_listener_++;
  listeners_.emplace(id, std::move(l));
  return id;
}

void TraceHub::RemoveListener(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(id);
}

void TraceHub::Emit(std::string line) {
  // One lock from numbering to the last listener: lines from different platforms' threads
  // come out whole and in "seq" order everywhere.
  std::lock_guard<std::mutex> lock(mu_);
  // Every line is a JSON object the writer built: "seq" goes first.
  const std::string seq = "\"seq\":" + std::to_string(seq_++) + (line.size() > 2 ? "," : "");
  line.insert(1, seq);
  if (fd_ >= 0 && !file_failed_) {
    line.push_back('\n');
    // O_APPEND and one write per line: a reader never sees half a line unless the disk is full.
    std::size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        file_failed_ = true;  // the trace stops; the daemon does not
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    line.pop_back();
  }
  for (const auto& [id, listener] : listeners_) listener(line);
}

}  // namespace sevemu::trace
