package localstack

import "syscall"

// sysProcAttr puts a child in its own process group and has the kernel kill it when the
// thread that started it (and so, in practice, this process) dies, so a crashed or killed
// test leaves no kube-apiserver behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
