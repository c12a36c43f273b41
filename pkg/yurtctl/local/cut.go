package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/localstack"
)

// The running `yurtctl local up` and `yurtctl local cut/heal` talk through files in
// <dir>/links/: up writes <node>.state ("connected" or "cut") for every node behind a link and
// polls for <node>.cut, which cut creates and heal removes. Files, not a socket, so a cut
// survives nothing but the run that made it (up clears the directory at start) and needs no
// listener of its own.
const (
	linksDirName   = "links"
	linkStateFile  = ".state"
	linkCutFile    = ".cut"
	stateConnected = "connected"
	stateCut       = "cut"
	linkPoll       = 200 * time.Millisecond
)

// CutOptions are the flags and argument of `yurtctl local cut` and `yurtctl local heal`.
type CutOptions struct {
	// Dir is the directory given to `yurtctl local up`.
	Dir string
	// Node is the demo node whose hub loses (or regains) the cloud.
	Node string
	// Heal restores the link instead of cutting it.
	Heal bool
	// Timeout bounds the wait for `yurtctl local up` to act.
	Timeout time.Duration

	Out io.Writer
}

// NewCutOptions returns the defaults, matching NewUpOptions.
func NewCutOptions(heal bool) *CutOptions {
	return &CutOptions{Dir: filepath.Join("_output", "local"), Heal: heal, Timeout: 10 * time.Second, Out: os.Stdout}
}

// AddFlags adds the options to fs.
func (o *CutOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Dir, "dir", o.Dir, "Directory given to 'yurtctl local up'.")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for 'yurtctl local up' to act.")
}

// Complete makes the directory absolute.
func (o *CutOptions) Complete() error {
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = abs
	return nil
}

// Validate reports every problem with the options.
func (o *CutOptions) Validate() []error {
	var errs []error
	if o.Node == "" {
		errs = append(errs, errors.New("name the node: yurtctl local cut <node>"))
	} else if strings.ContainsAny(o.Node, `/\`) || strings.HasPrefix(o.Node, ".") {
		errs = append(errs, fmt.Errorf("%q is not a node name", o.Node))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout must be positive, got %s", o.Timeout))
	}
	return errs
}

// Run asks the running `yurtctl local up` to cut (or heal) the node's link and waits until
// it reports having done so.
func (o *CutOptions) Run(ctx context.Context) error {
	pid, err := readPIDFile(filepath.Join(o.Dir, pidFileName))
	if err != nil || !isLocalUp(pid) {
		return fmt.Errorf("no local control plane is running in %s (start it with make local-up)", o.Dir)
	}
	dir := filepath.Join(o.Dir, linksDirName)
	stateFile := filepath.Join(dir, o.Node+linkStateFile)
	if _, err := os.Stat(stateFile); err != nil {
		nodes := linkedNodes(dir)
		if len(nodes) == 0 {
			return fmt.Errorf("node %s has no cloud link to cut: no node of this run talks through a hub (see yurtctl local up --hubs)", o.Node)
		}
		return fmt.Errorf("node %s has no cloud link to cut; the nodes behind a hub are: %s", o.Node, strings.Join(nodes, ", "))
	}
	want, cutFile := stateCut, filepath.Join(dir, o.Node+linkCutFile)
	if o.Heal {
		want = stateConnected
		if err := removeIfExists(cutFile); err != nil {
			return err
		}
	} else if err := os.WriteFile(cutFile, nil, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for {
		if b, err := os.ReadFile(stateFile); err == nil && strings.TrimSpace(string(b)) == want {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("yurtctl local up did not report the link of %s %s within %s", o.Node, want, o.Timeout)
		case <-time.After(linkPoll):
		}
	}
	if o.Heal {
		fmt.Fprintf(o.Out, "The hub of %s reaches the cloud again.\n", o.Node)
	} else {
		fmt.Fprintf(o.Out, "The hub of %s is cut off from the cloud (its requests time out); its pool and coordinator stay reachable.\nHeal it with: yurtctl local heal %s --dir %s\n", o.Node, o.Node, o.Dir)
	}
	return nil
}

// linkedNodes lists the nodes that have a link state file in dir.
func linkedNodes(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "*"+linkStateFile))
	var out []string
	for _, m := range matches {
		out = append(out, strings.TrimSuffix(filepath.Base(m), linkStateFile))
	}
	return out
}

// linkWatcher applies cut requests to the links of one `yurtctl local up` run.
type linkWatcher struct {
	dir   string
	links map[string]*localstack.CloudLink
}

// newLinkWatcher clears what an earlier run left in <stackDir>/links and records every link
// as connected.
func newLinkWatcher(stackDir string, links map[string]*localstack.CloudLink) (*linkWatcher, error) {
	dir := filepath.Join(stackDir, linksDirName)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	w := &linkWatcher{dir: dir, links: links}
	for node := range links {
		if err := w.writeState(node, stateConnected); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *linkWatcher) writeState(node, state string) error {
	// Written atomically so cut never reads half a word.
	path := filepath.Join(w.dir, node+linkStateFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(state+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sync cuts every link whose cut file exists and heals every other one.
func (w *linkWatcher) sync(ctx context.Context) {
	logger := klog.FromContext(ctx)
	for node, link := range w.links {
		_, err := os.Stat(filepath.Join(w.dir, node+linkCutFile))
		want := err == nil
		if want == link.IsCut() {
			continue
		}
		state := stateConnected
		if want {
			link.Cut()
			state = stateCut
			logger.Info("Cut the node's hub off the cloud", "node", node)
		} else {
			link.Heal()
			logger.Info("Healed the link between the node's hub and the cloud", "node", node)
		}
		if err := w.writeState(node, state); err != nil {
			logger.Error(err, "Recording the link state", "node", node)
		}
	}
}

// run syncs until ctx ends.
func (w *linkWatcher) run(ctx context.Context) {
	t := time.NewTicker(linkPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.sync(ctx)
		}
	}
}
