package localstack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// HollowNodeOptions configure a kubemark hollow kubelet: real kubelet code with a fake
// container runtime, registering a Node and running the pods bound to it.
type HollowNodeOptions struct {
	// Name is the node's name. Required.
	Name string
	// Pool, when set, adds the label apps.openyurt.io/nodepool=<Pool>.
	Pool string
	// Labels are more node labels.
	Labels map[string]string
	// Server is the URL the kubelet talks to; default the stack's kube-apiserver (a hub's
	// proxy URL makes a node whose kubelet goes through that hub).
	Server string
	// ExtraArgs are appended to kubemark's flags.
	ExtraArgs []string
	// WaitReady waits until the Node reports Ready (about 25 s here).
	WaitReady bool
	// NetNS, when set, runs the kubelet inside that network namespace (ip netns exec), e.g.
	// next to a hub listening on the namespace's loopback. Needs root.
	NetNS string
}

// HollowNode is a running hollow kubelet.
type HollowNode struct {
	Name string
	// Dir holds its kubeconfig and the kubelet's temporary root directory.
	Dir string
	// Kubeconfig authenticates as system:node:<Name> in group system:nodes.
	Kubeconfig string
	*Process
}

// StartHollowNode starts bin/kube/kubemark --morph=kubelet as node o.Name with node
// credentials made from the stack's client CA, in <Dir>/nodes/<name>. Stop (of the stack or
// of the node) ends it; the Node object stays, as when a real kubelet dies.
func (s *Stack) StartHollowNode(ctx context.Context, o HollowNodeOptions) (*HollowNode, error) {
	if o.Name == "" {
		return nil, errors.New("localstack: a hollow node needs a name")
	}
	bin := filepath.Join(s.opts.BinDir, "kubemark")
	if err := checkExecutable(bin); err != nil {
		return nil, fmt.Errorf("%w (build it with make kube-binaries)", err)
	}
	dir := filepath.Join(s.Dir, "nodes", o.Name)
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("creating the directory of hollow node %s: %w", o.Name, err)
	}
	ck, err := s.PKI.NewClientCert("system:node:"+o.Name, []string{"system:nodes"})
	if err != nil {
		return nil, fmt.Errorf("making the credentials of node %s: %w", o.Name, err)
	}
	server := o.Server
	if server == "" {
		server = s.KubeAPIServerURL
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(kubeconfig, server, s.PKI.CA.CertPEM, "system:node:"+o.Name, ck.CertPEM, ck.KeyPEM); err != nil {
		return nil, err
	}
	labels := maps.Clone(o.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if o.Pool != "" {
		labels["apps.openyurt.io/nodepool"] = o.Pool
	}
	kubeletPort, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--morph=kubelet",
		"--use-host-image-service=false",
		"--name=" + o.Name,
		"--kubeconfig=" + kubeconfig,
		"--kubelet-port=" + strconv.Itoa(kubeletPort),
		// 0 turns the unauthenticated read-only port off.
		"--kubelet-read-only-port=0",
	}
	if len(labels) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			kv = append(kv, k+"="+labels[k])
		}
		args = append(args, "--node-labels="+strings.Join(kv, ","))
	}
	args = append(args, o.ExtraArgs...)
	name := "hollow-node-" + o.Name
	logFile := s.logFile(name)
	// kubemark makes the kubelet's root directory with os.MkdirTemp; TMPDIR keeps it in dir.
	path := bin
	if o.NetNS != "" {
		path, args = "ip", append([]string{"netns", "exec", o.NetNS, bin}, args...)
	}
	proc, err := startProcessEnv(name, path, args, logFile, append(os.Environ(), "TMPDIR="+filepath.Join(dir, "tmp")))
	if err != nil {
		return nil, err
	}
	s.addComponent(proc, false)
	s.logger.Info("Started hollow node", "node", o.Name, "pool", o.Pool, "pid", proc.Pid(), "log", logFile)
	n := &HollowNode{Name: o.Name, Dir: dir, Kubeconfig: kubeconfig, Process: proc}
	if o.WaitReady {
		client, err := kubernetes.NewForConfig(s.RESTConfig())
		if err != nil {
			return nil, errors.Join(err, proc.Stop(s.opts.StopTimeout))
		}
		err = waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error {
			node, err := client.CoreV1().Nodes().Get(ctx, o.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("node %s not registered yet", o.Name)
			}
			if err != nil {
				return err
			}
			if !NodeReady(node) {
				return fmt.Errorf("node %s not Ready yet", o.Name)
			}
			return nil
		})
		if err != nil {
			return nil, errors.Join(err, proc.Stop(s.opts.StopTimeout))
		}
	}
	return n, nil
}

// NodeReady reports whether node's Ready condition is True.
func NodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// startProcessEnv is StartProcess with an environment for the child.
func startProcessEnv(name, path string, args []string, logFile string, env []string) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		return nil, fmt.Errorf("creating the log directory of %s: %w", name, err)
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", name, err)
	}
	defer log.Close()
	fmt.Fprintf(log, "==== %s starting %s %s\n", time.Now().Format(time.RFC3339), path, strings.Join(args, " "))
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, LogFile: logFile, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}
