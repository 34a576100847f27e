package lambdahost

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// qemuPackage is the Debian/Ubuntu package that ships the user-mode emulators.
const qemuPackage = "qemu-user-static"

// hostMachines maps GOARCH to the ELF machine this host runs natively.
var hostMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"386":     elf.EM_386,
	"arm":     elf.EM_ARM,
	"riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
}

// qemuNames maps a foreign ELF machine to qemu's name for it (qemu-<name>[-static]).
var qemuNames = map[elf.Machine]string{
	elf.EM_X86_64:  "x86_64",
	elf.EM_AARCH64: "aarch64",
	elf.EM_386:     "i386",
	elf.EM_ARM:     "arm",
	elf.EM_RISCV:   "riscv64",
}

// bootstrapCommand returns the argv that runs bootstrap on this host: the file itself when it
// is native (or not an ELF file at all, e.g. a shell script), otherwise qemu user-mode
// emulation in front of it. The functions are built for linux/arm64 (Graviton) while CI and
// dev machines are usually amd64, and binfmt_misc may not be set up (containers), so we call
// qemu explicitly rather than relying on the kernel to do it.
func bootstrapCommand(bootstrap string) ([]string, error) {
	st, err := os.Stat(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("lambdahost: bootstrap: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("lambdahost: bootstrap %s is not an executable file", bootstrap)
	}
	f, err := elf.Open(bootstrap)
	if err != nil {
		// Not ELF: a script with a #! line, which the kernel runs natively.
		return []string{bootstrap}, nil
	}
	machine := f.Machine
	_ = f.Close()
	if native, ok := hostMachines[runtime.GOARCH]; ok && native == machine {
		return []string{bootstrap}, nil
	}
	qemu, err := findQemu(machine)
	if err != nil {
		return nil, err
	}
	return []string{qemu, bootstrap}, nil
}

// findQemu looks for the user-mode emulator for machine on PATH.
func findQemu(machine elf.Machine) (string, error) {
	name, ok := qemuNames[machine]
	if !ok {
		return "", fmt.Errorf("lambdahost: bootstrap is built for %v, which this host (%s) cannot run and qemu support is not wired up for", machine, runtime.GOARCH)
	}
	candidates := []string{"qemu-" + name + "-static", "qemu-" + name}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("lambdahost: bootstrap is built for %v but this host is %s; need %s or %s on PATH to emulate it (install the %q package: apt-get install -y %s)",
		machine, runtime.GOARCH, candidates[0], candidates[1], qemuPackage, qemuPackage)
}
