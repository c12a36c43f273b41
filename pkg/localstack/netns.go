package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NetNS is a network namespace joined to the host by a veth pair in a /30: the host end has
// HostIP, the namespace end NSIP. It stands for one edge node in end-to-end tests. Creating
// and deleting one needs root (CAP_NET_ADMIN) and the ip command.
type NetNS struct {
	Name   string
	HostIF string
	NSIF   string
	HostIP string
	NSIP   string
}

// CreateNetNS creates namespace name with a veth pair; subnet is a /30 like "10.231.7.0/30"
// (host end .1, namespace end .2). Loopback is brought up inside. On error nothing is left behind.
func CreateNetNS(ctx context.Context, name, subnet string) (_ *NetNS, err error) {
	ip, ipnet, perr := net.ParseCIDR(subnet)
	if perr != nil || ip.To4() == nil {
		return nil, fmt.Errorf("netns %s: subnet %q is not an IPv4 CIDR", name, subnet)
	}
	if ones, _ := ipnet.Mask.Size(); ones != 30 {
		return nil, fmt.Errorf("netns %s: subnet %q must be a /30", name, subnet)
	}
	base := ipnet.IP.To4()
	host := net.IPv4(base[0], base[1], base[2], base[3]+1).String()
	inside := net.IPv4(base[0], base[1], base[2], base[3]+2).String()
	short := name
	if len(short) > 12 {
		short = short[:12]
	}
	n := &NetNS{Name: name, HostIF: short + "-h", NSIF: short + "-n", HostIP: host, NSIP: inside}
	if err := runIP(ctx, "netns", "add", name); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Delete(context.Background()))
		}
	}()
	steps := [][]string{
		{"link", "add", n.HostIF, "type", "veth", "peer", "name", n.NSIF},
		{"link", "set", n.NSIF, "netns", name},
		{"addr", "add", host + "/30", "dev", n.HostIF},
		{"link", "set", n.HostIF, "up"},
		{"-n", name, "addr", "add", inside + "/30", "dev", n.NSIF},
		{"-n", name, "link", "set", n.NSIF, "up"},
		{"-n", name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := runIP(ctx, s...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Command returns a command that runs inside the namespace (ip netns exec).
func (n *NetNS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output.
func (n *NetNS) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in netns %s: %s %s: %w: %s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Cut drops, inside the namespace, every packet to the host end of the veth: the node loses
// the cloud but keeps its own loopback. Heal undoes it.
func (n *NetNS) Cut(ctx context.Context) error {
	_, err := n.Run(ctx, "iptables", "-w", "-I", "OUTPUT", "-d", n.HostIP, "-j", "DROP")
	return err
}

// Heal removes the rule Cut added.
func (n *NetNS) Heal(ctx context.Context) error {
	_, err := n.Run(ctx, "iptables", "-w", "-D", "OUTPUT", "-d", n.HostIP, "-j", "DROP")
	return err
}

// CutPort drops, inside the namespace, TCP packets to one port of the host end: the node
// loses that service (the cloud's forwarder, say) and keeps the others (its pool's
// coordinator). HealPort undoes it.
func (n *NetNS) CutPort(ctx context.Context, port string) error {
	_, err := n.Run(ctx, "iptables", "-w", "-I", "OUTPUT", "-d", n.HostIP, "-p", "tcp", "--dport", port, "-j", "DROP")
	return err
}

// HealPort removes the rule CutPort added.
func (n *NetNS) HealPort(ctx context.Context, port string) error {
	_, err := n.Run(ctx, "iptables", "-w", "-D", "OUTPUT", "-d", n.HostIP, "-p", "tcp", "--dport", port, "-j", "DROP")
	return err
}

// Delete removes the namespace and the host end of the veth (deleting either end deletes both).
func (n *NetNS) Delete(ctx context.Context) error {
	var errs []error
	if err := runIP(ctx, "link", "del", n.HostIF); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		errs = append(errs, err)
	}
	if err := runIP(ctx, "netns", "del", n.Name); err != nil && !strings.Contains(err.Error(), "No such file") {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func runIP(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TCPForwarder relays TCP connections from a listening address to a target, e.g. from a veth
// address reachable from a namespace to kube-apiserver on 127.0.0.1. TLS passes through
// untouched, so the serving certificate must name the listening address. It counts the bytes
// relayed each way (what a WAN link between the two would carry).
type TCPForwarder struct {
	ln     net.Listener
	target string
	// fromTarget and toTarget count relayed bytes: target → clients and clients → target.
	fromTarget, toTarget atomic.Int64
	wg                   sync.WaitGroup
	mu                   sync.Mutex
	conns                map[net.Conn]struct{}
	closed               bool
}

// BytesFromTarget is how many bytes the target has sent to clients so far.
func (f *TCPForwarder) BytesFromTarget() int64 { return f.fromTarget.Load() }

// BytesToTarget is how many bytes clients have sent to the target so far.
func (f *TCPForwarder) BytesToTarget() int64 { return f.toTarget.Load() }

// Forward listens on listenAddr and relays every connection to target.
func Forward(listenAddr, target string) (*TCPForwarder, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("forwarder: listening on %s: %w", listenAddr, err)
	}
	f := &TCPForwarder{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

// Addr is the listening address.
func (f *TCPForwarder) Addr() string { return f.ln.Addr().String() }

func (f *TCPForwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *TCPForwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	_ = c.Close()
}

func (f *TCPForwarder) accept() {
	defer f.wg.Done()
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", f.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !f.track(in) || !f.track(out) {
			_ = in.Close()
			_ = out.Close()
			return
		}
		f.wg.Add(2)
		pipe := func(dst, src net.Conn, n *atomic.Int64) {
			defer f.wg.Done()
			_, _ = io.Copy(countingWriter{dst, n}, src)
			f.untrack(dst)
			f.untrack(src)
		}
		go pipe(in, out, &f.fromTarget)
		go pipe(out, in, &f.toTarget)
	}
}

// Close stops listening, closes every relayed connection and waits for the relays to end.
func (f *TCPForwarder) Close() error {
	err := f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

// DialContext opens a TCP connection from inside the namespace, e.g. to a server listening on
// the namespace's own loopback. The socket is created on a thread switched into the namespace;
// once created it stays in that namespace whatever thread uses it.
func (n *NetNS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// Switch this goroutine's thread into the namespace and back. The thread must not be
		// retired instead: a child process started from it (Pdeathsig) would be killed.
		runtime.LockOSThread()
		self, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("opening this thread's netns: %w", err)}
			return
		}
		defer unix.Close(self)
		fd, err := unix.Open("/var/run/netns/"+n.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("opening netns %s: %w", n.Name, err)}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("entering netns %s: %w", n.Name, err)}
			return
		}
		// Only socket creation must happen inside; connect can finish anywhere.
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if unix.Setns(self, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else: leave the thread locked so the runtime retires it rather than reuse it inside the namespace
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}

// countingWriter counts what it writes; it hides the connection's ReadFrom so every byte
// passes through Write.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
