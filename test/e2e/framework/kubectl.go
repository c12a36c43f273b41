package framework

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubectlTimeout bounds one kubectl run, so a hung request fails the test instead of the package.
const kubectlTimeout = 2 * time.Minute

// Kubectl runs the kubectl on PATH as the admin user (system:masters) against the shared
// stack and returns its stdout. The error, if any, includes stderr.
func Kubectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return runKubectl(t, Stack(t).AdminKubeconfig, "", args)
}

// KubectlAs runs kubectl with the given kubeconfig, e.g. one from UserKubeconfig.
func KubectlAs(t testing.TB, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	return runKubectl(t, kubeconfig, "", args)
}

// KubectlStdin runs kubectl as the admin user with stdin, e.g. KubectlStdin(t, manifest, "apply", "-f", "-").
func KubectlStdin(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	return runKubectl(t, Stack(t).AdminKubeconfig, stdin, args)
}

func runKubectl(t testing.TB, kubeconfig, stdin string, args []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	// The discovery cache lives with the stack, not in $HOME, and goes away with it.
	full := append([]string{"--kubeconfig=" + kubeconfig, "--cache-dir=" + filepath.Join(Stack(t).Dir, "kubectl-cache")}, args...)
	cmd := exec.CommandContext(ctx, "kubectl", full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	t.Logf("kubectl %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
