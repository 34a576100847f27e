package lambdahost

import "syscall"

// setParentDeathSignal makes the kernel kill the function if the test binary or tool hosting
// it dies without calling Close (e.g. a test timeout panic), so no bootstrap is left behind.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
