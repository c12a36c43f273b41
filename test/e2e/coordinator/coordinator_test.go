// Package coordinator tests bin/yurt-coordinator as real processes on loopback: a 3-member
// cluster with mutual TLS surviving a SIGKILLed member, a single member keeping every
// acknowledged write across SIGKILL, refusals, and recovery from a full quota.
package coordinator

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
)

func binary(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	bin := filepath.Join(wd, "..", "..", "..", "bin", "yurt-coordinator")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: build it with 'go build -o bin/ ./cmd/yurt-coordinator' (%v)", bin, err)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type member struct {
	name, dataDir, client, peer, health string
	args                                []string
	cmd                                 *exec.Cmd
	log                                 string
	done                                chan struct{}
}

func (m *member) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(m.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.cmd = exec.Command(binary(t), m.args...)
	m.cmd.Stdout, m.cmd.Stderr = f, f
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(m.cmd, m.done)
	t.Cleanup(func() { m.kill() })
}

func (m *member) kill() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.done
}

func (m *member) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			b, _ := os.ReadFile(m.log)
			t.Fatalf("%s exited: %s", m.name, tail(string(b)))
		default:
		}
		code, body := get(m.health + "/readyz")
		if code == 200 {
			return
		}
		last = fmt.Sprintf("%d %s", code, body)
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(m.log)
	t.Fatalf("%s not ready after %s (last /readyz: %s)\n%s", m.name, timeout, last, tail(string(b)))
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

func get(url string) (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type pki struct {
	dir string
	ca  *certs.Pair
}

func newPKI(t *testing.T, pool string) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.NewCA(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, k := certs.Files{Dir: dir}.CA()
	if err := ca.Write(c, k); err != nil {
		t.Fatal(err)
	}
	return &pki{dir: dir, ca: ca}
}

func (p *pki) caFile() string { c, _ := certs.Files{Dir: p.dir}.CA(); return c }

func (p *pki) memberFiles(t *testing.T, name string) (string, string) {
	t.Helper()
	m, err := p.ca.SignMember("pool-a", certs.MemberRequest{Name: name, Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	c, k := certs.Files{Dir: p.dir}.Member(name)
	if err := m.Write(c, k); err != nil {
		t.Fatal(err)
	}
	return c, k
}

func (p *pki) hubFiles(t *testing.T, node string) (string, string) {
	t.Helper()
	h, err := p.ca.SignHub("pool-a", node, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, k := certs.Files{Dir: p.dir}.Hub(node)
	if err := h.Write(c, k); err != nil {
		t.Fatal(err)
	}
	return c, k
}

// newMembers prepares n members; tls adds client and peer mutual TLS with p.
func newMembers(t *testing.T, n int, p *pki, extra ...string) []*member {
	t.Helper()
	root := t.TempDir()
	scheme := "http"
	if p != nil {
		scheme = "https"
	}
	ms := make([]*member, n)
	var cluster []string
	for i := range ms {
		m := &member{
			name:    fmt.Sprintf("m%d", i),
			dataDir: filepath.Join(root, fmt.Sprintf("m%d", i)),
			client:  fmt.Sprintf("%s://127.0.0.1:%d", scheme, freePort(t)),
			peer:    fmt.Sprintf("%s://127.0.0.1:%d", scheme, freePort(t)),
			log:     filepath.Join(root, fmt.Sprintf("m%d.log", i)),
		}
		hp := freePort(t)
		m.health = fmt.Sprintf("http://127.0.0.1:%d", hp)
		m.args = []string{"--pool=pool-a", "--name=" + m.name, "--data-dir=" + m.dataDir,
			"--listen-client-urls=" + m.client, "--listen-peer-urls=" + m.peer,
			fmt.Sprintf("--health-address=127.0.0.1:%d", hp)}
		if p != nil {
			c, k := p.memberFiles(t, m.name)
			m.args = append(m.args, "--cert-file="+c, "--key-file="+k, "--trusted-ca-file="+p.caFile(),
				"--peer-cert-file="+c, "--peer-key-file="+k, "--peer-trusted-ca-file="+p.caFile())
		}
		m.args = append(m.args, extra...)
		cluster = append(cluster, m.name+"="+m.peer)
		ms[i] = m
	}
	for _, m := range ms {
		m.args = append(m.args, "--initial-cluster="+strings.Join(cluster, ","))
	}
	return ms
}

func client(t *testing.T, endpoints []string, caFile, certFile, keyFile string) *clientv3.Client {
	t.Helper()
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 3 * time.Second, Logger: zap.NewNop()}
	if caFile != "" {
		tc, err := (transport.TLSInfo{TrustedCAFile: caFile, CertFile: certFile, KeyFile: keyFile}).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// writeLoad writes keys until stop, returning the acknowledged ones.
func writeLoad(cli *clientv3.Client, prefix string, stop <-chan struct{}) (acked []string) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return acked
		default:
		}
		k := fmt.Sprintf("%s/%06d", prefix, i)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := cli.Put(ctx, k, "v")
		cancel()
		if err == nil {
			acked = append(acked, k)
		}
	}
}

func checkAll(t *testing.T, cli *clientv3.Client, prefix string, acked []string, serializable bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithKeysOnly()}
	if serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := cli.Get(ctx, prefix+"/", opts...)
	if err != nil {
		t.Fatalf("listing %s: %v", prefix, err)
	}
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	var lost []string
	for _, k := range acked {
		if !have[k] {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged writes lost, e.g. %v", len(lost), len(acked), lost[:min(5, len(lost))])
	}
}

func TestThreeMembersMTLSSurviveSIGKILL(t *testing.T) {
	p := newPKI(t, "pool-a")
	ms := newMembers(t, 3, p)
	for _, m := range ms {
		m.start(t)
	}
	for _, m := range ms {
		m.waitReady(t, 90*time.Second)
	}
	hc, hk := p.hubFiles(t, "node-1")
	eps := []string{ms[0].client, ms[1].client, ms[2].client}
	cli := client(t, eps, p.caFile(), hc, hk)

	stop := make(chan struct{})
	var acked []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acked = writeLoad(cli, "/load", stop) }()
	time.Sleep(2 * time.Second)
	ms[1].kill() // SIGKILL mid-load
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	t.Logf("%d writes acknowledged with one member SIGKILLed mid-load", len(acked))
	survivors := client(t, []string{ms[0].client, ms[2].client}, p.caFile(), hc, hk)
	checkAll(t, survivors, "/load", acked, false)
	if _, err := survivors.Put(context.Background(), "/after-kill", "x"); err != nil {
		t.Fatalf("survivors do not serve writes: %v", err)
	}

	ms[1].start(t)
	ms[1].waitReady(t, 60*time.Second)
	restarted := client(t, []string{ms[1].client}, p.caFile(), hc, hk)
	// Serializable reads are answered from the restarted member's own store: it caught up.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := restarted.Get(context.Background(), "/after-kill", clientv3.WithSerializable())
		if err == nil && len(r.Kvs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted member did not catch up: %v %v", r, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkAll(t, restarted, "/load", acked, true)
}

func TestSingleMemberSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	ms := newMembers(t, 1, nil)
	m := ms[0]
	m.start(t)
	m.waitReady(t, 60*time.Second)
	cli := client(t, []string{m.client}, "", "", "")
	stop := make(chan struct{})
	var acked []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acked = writeLoad(cli, "/single", stop) }()
	time.Sleep(2 * time.Second)
	m.kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	m.start(t)
	m.waitReady(t, 60*time.Second)
	checkAll(t, client(t, []string{m.client}, "", "", ""), "/single", acked, false)
	t.Logf("all %d acknowledged writes survived SIGKILL", len(acked))
}

func TestRefusals(t *testing.T) {
	p := newPKI(t, "pool-a")
	ms := newMembers(t, 1, p)
	ms[0].start(t)
	ms[0].waitReady(t, 60*time.Second)
	ep := []string{ms[0].client}

	try := func(c *clientv3.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := c.Put(ctx, "/x", "y")
		return err
	}
	hc, hk := p.hubFiles(t, "node-ok")
	if err := try(client(t, ep, p.caFile(), hc, hk)); err != nil {
		t.Fatalf("hub with a pool certificate refused: %v", err)
	}
	if err := try(client(t, ep, p.caFile(), "", "")); err == nil {
		t.Fatal("a client without a certificate was served")
	} else {
		t.Logf("no certificate: %v", err)
	}
	other := newPKI(t, "pool-b")
	oc, ok := other.hubFiles(t, "stranger")
	if err := try(client(t, ep, p.caFile(), oc, ok)); err == nil {
		t.Fatal("a client with another CA's certificate was served")
	} else {
		t.Logf("other CA: %v", err)
	}
	// What a client sees at the TLS level: the member names the missing or unknown certificate.
	for _, tc := range []struct{ name, cert, key, want string }{
		{"no certificate", "", "", "certificate required"},
		{"other CA", oc, ok, "unknown certificate authority"},
	} {
		info := transport.TLSInfo{TrustedCAFile: p.caFile(), CertFile: tc.cert, KeyFile: tc.key}
		cfg, err := info.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		conn, err := tls.Dial("tcp", strings.TrimPrefix(ep[0], "https://"), cfg)
		if err == nil {
			_, _ = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\n"))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: TLS error = %v, want one containing %q", tc.name, err, tc.want)
		} else {
			t.Logf("%s refused: %v", tc.name, err)
		}
	}
	// The member's own log names the TLS failure.
	b, _ := os.ReadFile(ms[0].log)
	if !strings.Contains(string(b), "certificate") {
		t.Errorf("member log does not mention the rejected certificate:\n%s", tail(string(b)))
	}

	out, err := exec.Command(binary(t), "--pool=p", "--data-dir="+t.TempDir(), "--listen-client-urls=http://192.0.2.10:2379",
		"--listen-peer-urls=http://127.0.0.1:0", "--health-address=127.0.0.1:0").CombinedOutput()
	if err == nil {
		t.Fatalf("plain http on a non-loopback address was accepted:\n%s", out)
	}
	for _, want := range []string{"--listen-client-urls", "192.0.2.10:2379", "plain http"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal does not mention %q:\n%s", want, out)
		}
	}
}

func metric(t *testing.T, m *member, name string) string {
	t.Helper()
	_, body := get(m.health + "/metrics")
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name) {
			return l
		}
	}
	return ""
}

// fill overwrites a few keys with big values until the quota rejects a write.
func fill(t *testing.T, cli *clientv3.Client) error {
	t.Helper()
	val := strings.Repeat("x", 100<<10)
	for i := 0; i < 2000; i++ {
		_, err := cli.Put(context.Background(), fmt.Sprintf("/fill/%d", i%5), val)
		if err != nil {
			return err
		}
	}
	t.Fatal("quota never hit")
	return nil
}

func TestQuotaAlarmAndRecovery(t *testing.T) {
	// Manual recovery first (auto-recovery off), then automatic.
	ms := newMembers(t, 1, nil, "--quota-backend-bytes=8388608", "--auto-recover-nospace=false",
		"--maintenance-interval=500ms", "--auto-compaction-mode=revision", "--auto-compaction-retention=100000")
	m := ms[0]
	m.start(t)
	m.waitReady(t, 60*time.Second)
	cli := client(t, []string{m.client}, "", "", "")
	if _, err := cli.Put(context.Background(), "/committed", "keep-me"); err != nil {
		t.Fatal(err)
	}
	err := fill(t, cli)
	if !strings.Contains(err.Error(), "database space exceeded") {
		t.Fatalf("write error = %v, want 'database space exceeded'", err)
	}
	t.Logf("write at the quota: %v", err)
	if l := metric(t, m, `yurt_coordinator_alarm{type="NOSPACE"}`); !strings.HasSuffix(l, " 1") {
		t.Fatalf("metrics: %q, want the NOSPACE alarm at 1", l)
	}
	code, body := get(m.health + "/readyz")
	if code != 503 || !strings.Contains(body, "NOSPACE") {
		t.Fatalf("/readyz = %d %q, want 503 naming NOSPACE", code, body)
	}

	ctx := context.Background()
	st, err := cli.Status(ctx, m.client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, st.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Defragment(ctx, m.client); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: st.Header.MemberId, Alarm: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/after", "ok"); err != nil {
		t.Fatalf("write after compact+defrag+disarm: %v", err)
	}
	m.waitReady(t, 10*time.Second)
	if r, err := cli.Get(ctx, "/committed"); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "keep-me" {
		t.Fatalf("committed data after recovery: %v %v", r, err)
	}

	// Automatic recovery: the member compacts, defragments and disarms on its own.
	m.kill()
	for i, a := range m.args {
		if a == "--auto-recover-nospace=false" {
			m.args[i] = "--auto-recover-nospace=true"
		}
	}
	m.start(t)
	m.waitReady(t, 60*time.Second)
	cli2 := client(t, []string{m.client}, "", "", "")
	if err := fill(t, cli2); !strings.Contains(err.Error(), "database space exceeded") {
		t.Fatalf("write error = %v", err)
	}
	m.waitReady(t, 30*time.Second)
	if _, err := cli2.Put(ctx, "/after-auto", "ok"); err != nil {
		t.Fatalf("write after automatic recovery: %v", err)
	}
	if l := metric(t, m, "yurt_coordinator_nospace_recoveries_total"); !strings.HasSuffix(l, " 1") {
		t.Errorf("recoveries metric %q, want 1", l)
	}
	if r, err := cli2.Get(ctx, "/committed"); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("committed data after automatic recovery: %v %v", r, err)
	}
}

// TestPeriodicDefrag: once compaction leaves most of the file free, the member defragments
// on its own and the file shrinks.
func TestPeriodicDefrag(t *testing.T) {
	ms := newMembers(t, 1, nil, "--defrag-interval=1s", "--defrag-min-free-bytes=1048576", "--defrag-free-ratio=0.5",
		"--auto-compaction-mode=revision", "--auto-compaction-retention=1000000")
	m := ms[0]
	m.start(t)
	m.waitReady(t, 60*time.Second)
	cli := client(t, []string{m.client}, "", "", "")
	ctx := context.Background()
	val := strings.Repeat("y", 64<<10)
	var rev int64
	for i := 0; i < 100; i++ {
		r, err := cli.Put(ctx, fmt.Sprintf("/churn/%d", i%3), val)
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if l := metric(t, m, `yurt_coordinator_defrag_total{result="ok"}`); l != "" && !strings.HasSuffix(l, " 0") {
			t.Logf("%s; %s", l, metric(t, m, "yurt_coordinator_db_size_bytes"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no defragmentation within 30s: %s %s %s", metric(t, m, "yurt_coordinator_defrag_total"),
				metric(t, m, "yurt_coordinator_db_size_bytes"), metric(t, m, "yurt_coordinator_db_size_in_use_bytes"))
		}
		time.Sleep(300 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		r, err := cli.Get(ctx, fmt.Sprintf("/churn/%d", i))
		if err != nil || len(r.Kvs) != 1 || len(r.Kvs[0].Value) != len(val) {
			t.Fatalf("key %d after defrag: %v %v", i, r, err)
		}
	}
}
