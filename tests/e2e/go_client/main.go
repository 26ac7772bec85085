// goclient: a Go program that, like go-sev-guest, issues the raw /dev/sev-guest and /dev/sev
// ioctls through the runtime's own system calls (no libc, so the preload shim cannot see
// them). The end-to-end tests build it with Debian's golang-go and run it under `sevemu run`.
//
//	goclient report OUT USER_DATA_HEX   SNP_GET_REPORT; the 4000-byte response to OUT
//	goclient status                     SEV_ISSUE_CMD(SNP_PLATFORM_STATUS) on /dev/sev
//	goclient msr                        SEV_STATUS (MSR 0xC0010131) through /dev/cpu/0/msr
//	goclient tsm NAME OUT AUX HEX       configfs-tsm: mkdir, inblob, outblob and auxblob to OUT and
//	                                    AUX, the directory listings, rmdir (as go-configfs-tsm)
//
// Output: "step=NAME ret=R errno=E" plus fields, one line per step, as tests/e2e/uapi_client.c.
package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// include/uapi/linux/sev-guest.h and psp-sev.h: _IOWR('S', 0, ...) with 32- and 16-byte args.
const (
	snpGetReport      = 0xC0205300
	sevIssueCmd       = 0xC0105300
	snpPlatformStatus = 9
)

type guestRequest struct {
	msgVersion uint8
	_          [7]uint8
	reqData    uint64
	respData   uint64
	exitinfo2  uint64
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) syscall.Errno {
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	return e
}

func report(out, userData string) int {
	fd, err := syscall.Open("/dev/sev-guest", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		fmt.Printf("step=open ret=-1 errno=%d\n", err.(syscall.Errno))
		return 0
	}
	fmt.Printf("step=open ret=0 errno=0\n")
	ud, err := hex.DecodeString(userData)
	if err != nil || len(ud) != 64 {
		fmt.Fprintln(os.Stderr, "USER_DATA_HEX must be 64 bytes of hex")
		return 2
	}
	req := make([]byte, 96)
	copy(req, ud)
	resp := make([]byte, 4000)
	// Several goroutines at once: the runtime spreads them over threads.
	var wg sync.WaitGroup
	errs := make([]syscall.Errno, 4)
	resps := make([][]byte, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := make([]byte, 4000)
			g := guestRequest{msgVersion: 1, reqData: uint64(uintptr(unsafe.Pointer(&req[0]))),
				respData: uint64(uintptr(unsafe.Pointer(&r[0])))}
			errs[i] = ioctl(fd, snpGetReport, unsafe.Pointer(&g))
			resps[i] = r
		}(i)
	}
	wg.Wait()
	for i, e := range errs {
		fmt.Printf("step=report.%d ret=%d errno=%d status=0x%x\n", i, map[bool]int{true: 0, false: -1}[e == 0], int(e),
			binary.LittleEndian.Uint32(resps[i][0:4]))
	}
	copy(resp, resps[0])
	if err := os.WriteFile(out, resp, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func status() int {
	fd, err := syscall.Open("/dev/sev", syscall.O_RDWR, 0)
	if err != nil {
		fmt.Printf("step=open ret=-1 errno=%d\n", err.(syscall.Errno))
		return 0
	}
	data := make([]byte, 32)
	cmd := make([]byte, 16) // __packed: u32 cmd, u64 data, u32 error
	binary.LittleEndian.PutUint32(cmd[0:], snpPlatformStatus)
	binary.LittleEndian.PutUint64(cmd[4:], uint64(uintptr(unsafe.Pointer(&data[0]))))
	e := ioctl(fd, sevIssueCmd, unsafe.Pointer(&cmd[0]))
	fmt.Printf("step=status ret=%d errno=%d error=0x%x api_major=%d state=%d\n",
		map[bool]int{true: 0, false: -1}[e == 0], int(e), binary.LittleEndian.Uint32(cmd[12:]), data[0], data[2])
	return 0
}

func msr() int {
	f, err := os.Open("/dev/cpu/0/msr")
	if err != nil {
		fmt.Printf("step=msr ret=-1 err=%q\n", err.Error())
		return 0
	}
	b := make([]byte, 8)
	_, err = f.ReadAt(b, 0xC0010131)
	if err != nil {
		fmt.Printf("step=msr ret=-1 err=%q\n", err.Error())
		return 0
	}
	fmt.Printf("step=msr ret=0 sev_status=0x%x\n", binary.LittleEndian.Uint64(b))
	return 0
}

func names(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "error:" + err.Error()
	}
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return strings.Join(n, ",")
}

func tsm(name, out, aux, userData string) int {
	const root = "/sys/kernel/config/tsm/report"
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		fmt.Printf("step=mkdir ret=-1 err=%q\n", err.Error())
		return 0
	}
	fmt.Printf("step=mkdir ret=0\n")
	ud, err := hex.DecodeString(userData)
	if err != nil || len(ud) != 64 {
		return 2
	}
	fmt.Printf("step=list_root ret=0 names=%s\n", names(root))
	fmt.Printf("step=list_entry ret=0 names=%s\n", names(dir))
	if err := os.WriteFile(filepath.Join(dir, "inblob"), ud, 0o200); err != nil {
		fmt.Printf("step=write_inblob ret=-1 err=%q\n", err.Error())
		return 0
	}
	gen, err := os.ReadFile(filepath.Join(dir, "generation"))
	fmt.Printf("step=read_generation ret=0 value=%s\n", strings.TrimSpace(string(gen)))
	for _, b := range []struct{ attr, to string }{{"outblob", out}, {"auxblob", aux}} {
		data, err := os.ReadFile(filepath.Join(dir, b.attr))
		if err != nil {
			fmt.Printf("step=read_%s ret=-1 err=%q\n", b.attr, err.Error())
			continue
		}
		fmt.Printf("step=read_%s ret=0 bytes=%d\n", b.attr, len(data))
		if err := os.WriteFile(b.to, data, 0o600); err != nil {
			return 1
		}
	}
	if err := os.Remove(dir); err != nil {
		fmt.Printf("step=rmdir ret=-1 err=%q\n", err.Error())
		return 0
	}
	_, err = os.Stat(dir)
	fmt.Printf("step=rmdir ret=0 gone=%t\n", os.IsNotExist(err))
	return 0
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goclient report OUT HEX | status | msr")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "report":
		if len(os.Args) != 4 {
			os.Exit(2)
		}
		os.Exit(report(os.Args[2], os.Args[3]))
	case "status":
		os.Exit(status())
	case "msr":
		os.Exit(msr())
	case "tsm":
		if len(os.Args) != 6 {
			os.Exit(2)
		}
		os.Exit(tsm(os.Args[2], os.Args[3], os.Args[4], os.Args[5]))
	}
	os.Exit(2)
}
