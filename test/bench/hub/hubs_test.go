package hub_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/pkg/procstatus"
)

// kubeProxyUA is what kube-proxy v1.36.3 sends; the hub tells components apart by the part
// before the first '/', and caches kube-proxy's responses by default.
const kubeProxyUA = "kube-proxy/v1.36.3 (linux/amd64) kubernetes/bench"

// protobuf is kube-proxy's content type (its --kube-api-content-type default).
const protobuf = "application/vnd.kubernetes.protobuf"

// hubProc is one bin/yurthub on the host's loopback.
type hubProc struct {
	name      string
	dir       string
	proxyURL  string // plain HTTP, for local components
	serverURL string // /readyz, /metrics
	proc      *localstack.Process
}

// hubSpec says how to start a hub.
type hubSpec struct {
	name     string
	pool     string
	cloudURL string   // https URL of kube-apiserver (or of a forwarder in front of it)
	extra    []string // more flags (the coordinator's)
}

// freeAddr returns a free 127.0.0.1:port. Another process may take it before the hub binds
// it; startHub then fails with the hub's log, which says so.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startHub writes the node's client certificate (system:node:<name> in system:nodes) and
// starts bin/yurthub with its own ports and cache directory under the stack's directory,
// then waits for /readyz.
func startHub(ctx context.Context, stack *localstack.Stack, root string, s hubSpec) (*hubProc, error) {
	dir := filepath.Join(stack.Dir, "bench-hubs", s.name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cert, err := stack.PKI.NewClientCert("system:node:"+s.name, []string{"system:nodes"})
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	if err := cert.Write(certFile, keyFile); err != nil {
		return nil, err
	}
	proxyAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	serverAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--server-addr=" + s.cloudURL,
		"--node-name=" + s.name,
		"--certificate-authority=" + stack.PKI.CA.CertFile,
		"--client-certificate=" + certFile, "--client-key=" + keyFile,
		"--cache-dir=" + filepath.Join(dir, "cache"),
		"--proxy-address=" + proxyAddr, "--server-address=" + serverAddr,
		// The machine running the benchmark is small and shared: a probe slower than the 2s
		// default would flip the hub to its cache mid-measurement and make clients relist.
		"--heartbeat-timeout=5s",
		"-v=1",
	}
	if s.pool != "" {
		args = append(args, "--nodepool="+s.pool)
	}
	args = append(args, s.extra...)
	proc, err := localstack.StartProcess("yurthub-"+s.name, filepath.Join(root, "bin", "yurthub"), args, stack.LogFile("yurthub-"+s.name))
	if err != nil {
		return nil, err
	}
	h := &hubProc{name: s.name, dir: dir, proxyURL: "http://" + proxyAddr, serverURL: "http://" + serverAddr, proc: proc}
	client := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := client.Get(h.serverURL + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "ok: cloud healthy") {
				return h, nil
			}
			err = fmt.Errorf("/readyz: %s: %s", resp.Status, body)
		}
		select {
		case <-proc.Done():
			return nil, fmt.Errorf("yurthub %s exited: %v\n%s", s.name, proc.ExitError(), localstack.TailFile(proc.LogFile, 30))
		case <-ctx.Done():
			h.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			h.stop()
			return nil, fmt.Errorf("yurthub %s not ready with a healthy cloud: %v\n%s", s.name, err, localstack.TailFile(proc.LogFile, 30))
		}
	}
}

func (h *hubProc) stop() {
	if h != nil && h.proc != nil {
		_ = h.proc.Stop(10 * time.Second)
	}
}

// config is a client configuration for the hub's proxy as the given component, speaking
// protobuf like kube-proxy.
func (h *hubProc) config(userAgent string) *rest.Config {
	return &rest.Config{Host: h.proxyURL, UserAgent: userAgent, QPS: -1, Timeout: 2 * time.Minute,
		ContentConfig: rest.ContentConfig{ContentType: protobuf, AcceptContentTypes: protobuf + ",application/json"}}
}

// exited reports the hub's exit, with its log, if it has ended.
func (h *hubProc) exited() error {
	select {
	case <-h.proc.Done():
		return fmt.Errorf("yurthub %s exited: %v\n%s", h.name, h.proc.ExitError(), localstack.TailFile(h.proc.LogFile, 30))
	default:
		return nil
	}
}

// readMemory reads a process's memory.
func readMemory(pid int) (procstatus.Memory, error) { return procstatus.Read(pid) }

// metrics fetches the hub's /metrics as series (name with labels) → value.
func (h *hubProc) metrics() (map[string]float64, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(h.serverURL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", h.serverURL, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format as series (name with labels) → value.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sumMetric adds up every series of a metric whose labels contain all of match
// (`name="value"` strings).
func sumMetric(m map[string]float64, name string, match ...string) float64 {
	total := 0.0
	for series, v := range m {
		if series != name && !strings.HasPrefix(series, name+"{") {
			continue
		}
		ok := true
		for _, want := range match {
			if !strings.Contains(series, want) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

func labelValue(series, label string) string {
	i := strings.Index(series, label+`="`)
	if i < 0 {
		return ""
	}
	rest := series[i+len(label)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return rest
}

// waitCacheSettled waits until the hub's cache writes have not changed for quiet (the write
// queue has drained), or timeout.
func (h *hubProc) waitCacheSettled(quiet, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	last, since := -1.0, time.Now()
	for {
		if err := h.exited(); err != nil {
			return 0, err
		}
		m, err := h.metrics()
		if err != nil {
			return 0, err
		}
		n := sumMetric(m, "yurthub_cache_writes_total")
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("hub %s: cache writes still changing after %s (%v so far)", h.name, timeout, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// cpuTicks is the process's user + system CPU time in clock ticks (/proc/<pid>/stat).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at state (field 3).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return utime + stime, nil
}

// waitIdle waits until the hub has used at most 2% of a core for 3 s in a row: its cache
// writes counter alone does not move during a long list replacement.
func (h *hubProc) waitIdle(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last, err := cpuTicks(h.proc.Pid())
	if err != nil {
		return err
	}
	quiet := 0
	for quiet < 3 {
		time.Sleep(time.Second)
		if err := h.exited(); err != nil {
			return err
		}
		now, err := cpuTicks(h.proc.Pid())
		if err != nil {
			return err
		}
		// Ticks are 1/100 s: two ticks a second are 2% of a core.
		if now-last <= 2 {
			quiet++
		} else {
			quiet = 0
		}
		last = now
		if time.Now().After(deadline) {
			return fmt.Errorf("hub %s still busy after %s", h.name, timeout)
		}
	}
	return nil
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) (int64, int, error) {
	var total int64
	files := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
			files++
		}
		return nil
	})
	return total, files, err
}

func mib(b int64) string { return procstatus.MiB(b) }
