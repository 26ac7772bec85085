// /dev/sev and /dev/sev-guest descriptors. Each is a real socket connected to the daemon and
// bound by its hello to a role; the table maps descriptor numbers to what they stand for, so
// ioctl can be marshalled, dup'ed descriptors share their connection, and a forked child gets
// connections of its own (one daemon connection must not carry two processes' frames).
//
// Thread safety: the table is locked; calls on one connection are serialised by its own mutex.
#pragma once

#include <sys/stat.h>

#include <climits>

namespace sevemu::shim {

constexpr int kNotOurs = INT_MIN;

// open() of `path`: kNotOurs unless path is /dev/sev or /dev/sev-guest; else the new
// descriptor or -errno.
int OpenDevice(const char* path, int flags);
// stat() of an absolute path: kNotOurs unless it is a device, probe or configfs-tsm path (the
// ones `sevemu run` answers, devices::ClassifyPath); else 0 with `*st` filled, or -errno.
int StatDevice(const char* path, struct stat* st);
// ioctl on a descriptor: kNotOurs if it is not a device descriptor; else 0 or -errno.
int DeviceIoctl(int fd, unsigned long request, void* arg);
// The descriptor was closed / duplicated (`to` now refers to what `from` does).
void ForgetFd(int fd);
void DupFd(int from, int to);
// Registers the fork handler (once).
void InstallForkHandler();

}  // namespace sevemu::shim
