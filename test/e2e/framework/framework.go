// Package framework runs the end-to-end tests of a test package against one shared local
// control plane (pkg/localstack: embedded etcd, the real kube-apiserver, bin/yurt-apiserver)
// and gives them kubectl and clients for it.
//
//	func TestMain(m *testing.M) { framework.Main(m) }
//
// The binaries come from bin/ and bin/kube/ at the repository root (YURT_BIN_DIR and
// YURT_KUBE_BIN_DIR override them) and kubectl from PATH. When one is missing the package
// fails with a message saying how to build it; with YURT_E2E_ALLOW_SKIP=1 it prints the
// message and exits 0 instead. YURT_E2E_KEEP_DIR=1 keeps the stack's directory (logs, data).
package framework

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/localstack"
)

// Environment variables the framework reads.
const (
	EnvAllowSkip  = "YURT_E2E_ALLOW_SKIP"
	EnvKeepDir    = "YURT_E2E_KEEP_DIR"
	EnvBinDir     = "YURT_BIN_DIR"
	EnvKubeBinDir = "YURT_KUBE_BIN_DIR"
)

// modulePath identifies the repository root's go.mod.
const modulePath = "github.com/yurt-edge/yurt"

// shared is the package's stack, set by Setup.
var shared *localstack.Stack

// Main runs the test package against a shared stack and exits with the result; call it from TestMain.
func Main(m *testing.M, mutate ...func(*localstack.Options)) {
	os.Exit(Setup(m, mutate...))
}

// Setup starts one stack for the test package, runs m and stops the stack, returning the
// exit code for os.Exit. mutate may adjust the stack's options (extra flags, a fixed port,
// SkipYurtAPIServer). A missing binary fails the package (exit 1) unless YURT_E2E_ALLOW_SKIP=1,
// which makes it exit 0 after printing why nothing ran.
func Setup(m *testing.M, mutate ...func(*localstack.Options)) int {
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	binDir := envOr(EnvBinDir, filepath.Join(root, "bin"))
	kubeBinDir := envOr(EnvKubeBinDir, filepath.Join(binDir, "kube"))
	opts := localstack.Options{
		BinDir:            kubeBinDir,
		YurtBinDir:        binDir,
		EtcdUnsafeNoFsync: true,
		Logger:            klog.Background(),
	}
	for _, f := range mutate {
		f(&opts)
	}
	if missing := missingPrerequisites(opts); len(missing) > 0 {
		msg := "e2e: cannot run these tests: " + strings.Join(missing, "; ")
		if os.Getenv(EnvAllowSkip) == "1" {
			fmt.Fprintf(os.Stderr, "%s\nSKIPPED: %s=1 is set, so exiting 0 without running any test.\n", msg, EnvAllowSkip)
			return 0
		}
		fmt.Fprintf(os.Stderr, "%s\nFAILED: set %s=1 to skip instead.\n", msg, EnvAllowSkip)
		return 1
	}

	dir, err := os.MkdirTemp("", "yurt-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	opts.Dir = dir
	keep := os.Getenv(EnvKeepDir) == "1"
	cleanup := func() {
		if keep {
			fmt.Fprintf(os.Stderr, "e2e: kept the stack's directory %s (%s=1)\n", dir, EnvKeepDir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: removing %s: %v\n", dir, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	stack, err := localstack.Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the local control plane: %v\n", err)
		cleanup()
		return 1
	}
	shared = stack

	// An interrupted `go test` still stops the servers and removes the directory.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			fmt.Fprintln(os.Stderr, "e2e: interrupted; stopping the local control plane")
			_ = stack.Stop()
			cleanup()
			os.Exit(1)
		}
	}()
	go func() {
		if err, ok := <-stack.Failed(); ok {
			fmt.Fprintf(os.Stderr, "e2e: a component of the local control plane failed: %v\n", err)
		}
	}()

	code := m.Run()

	signal.Stop(sigs)
	close(sigs)
	if code != 0 {
		for _, c := range []string{"yurt-apiserver", "kube-apiserver"} {
			fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n%s\n", stack.LogFile(c), localstack.TailFile(stack.LogFile(c), 40))
		}
	}
	if err := stack.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the local control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	cleanup()
	return code
}

// Stack is the package's shared stack, e.g. to restart yurt-apiserver with
// StopYurtAPIServer/StartYurtAPIServer. It fails t when Setup was not called.
func Stack(t testing.TB) *localstack.Stack {
	t.Helper()
	if shared == nil {
		t.Fatal("no local control plane: call framework.Main(m) or framework.Setup(m) from TestMain")
	}
	return shared
}

// RepoPath returns a path under the repository root, e.g. RepoPath("artifacts", "examples").
func RepoPath(t testing.TB, elem ...string) string {
	t.Helper()
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// missingPrerequisites names each binary the stack or the helpers need but cannot find.
func missingPrerequisites(opts localstack.Options) []string {
	var missing []string
	need := map[string]string{filepath.Join(opts.BinDir, "kube-apiserver"): "make kube-binaries"}
	if !opts.SkipYurtAPIServer {
		need[filepath.Join(opts.YurtBinDir, "yurt-apiserver")] = "make build"
	}
	for bin, how := range need {
		if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			missing = append(missing, fmt.Sprintf("%s is missing (build it with %s)", bin, how))
		}
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		missing = append(missing, "kubectl is not on PATH (install kubectl)")
	}
	slices.Sort(missing)
	return missing
}

// findRepoRoot walks up from the working directory (the test package's) to Yurt's go.mod.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root: no go.mod for module " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

func isModuleRoot(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if fields := strings.Fields(scanner.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == modulePath
		}
	}
	return false
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// KillProcess SIGKILLs a process group and waits until it is reaped.
func KillProcess(t testing.TB, p *localstack.Process) {
	t.Helper()
	if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s: %v", p.Name, err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die", p.Name)
	}
}
