// Handing a descriptor between the supervisor's processes over a Unix socket (SCM_RIGHTS,
// one byte of payload): the probe child and the program's child send their listener this way.
#pragma once

namespace sevemu::run {

// True when the descriptor went out.
bool SendFd(int sock, int fd);
// True with `fd` set (close-on-exec) when one came in.
bool RecvFd(int sock, int& fd);

}  // namespace sevemu::run
