// The seccomp filter `sevemu run` puts on the program, and the check that this kernel can run
// it. Built with libseccomp; see docs/run.md for which system calls notify and why.
#pragma once

#include "sevemu/common/result.h"

namespace sevemu::run {

// In the child, before exec: sets no_new_privs and loads the filter. Returns the listener
// (notification) descriptor, close-on-exec. `paths`: the path-based calls notify too (the
// notify-everything mode); without it only type-'S' ioctls do (the namespace mode, whose
// paths are real files: stand_ins.h).
Result<int> LoadNotifyFilter(bool paths);

// Whether this kernel (and any seccomp policy around us) supports what `run` needs: user
// notification (Linux 5.0), SECCOMP_IOCTL_NOTIF_ADDFD (5.9) and SECCOMP_USER_NOTIF_FLAG_CONTINUE
// (5.5). Tried for real in a short-lived child: a one-line reason when not.
Status CheckUserNotifSupport();

// Adds `srcfd` to the notifying task's descriptors and answers the notification with the new
// number (SECCOMP_ADDFD_FLAG_SEND, Linux 5.14; before it, ADDFD then a separate answer).
// Returns the target's descriptor number or -errno.
int InjectFd(int notify_fd, std::uint64_t id, int srcfd, bool cloexec);

}  // namespace sevemu::run
