//go:build unix

package lambdahost

import (
	"os/exec"
	"syscall"
)

// isolate puts the function in its own process group so killProcess can take down qemu, the
// bootstrap and anything it spawned in one go.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// killProcess SIGKILLs the function's whole process group. Lambda freezes or discards an
// environment without asking, so there is no graceful SIGTERM step here either.
func killProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
