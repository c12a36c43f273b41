package localstack

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
)

// CloudLink is a TCP relay on the host's loopback between one node's hub and kube-apiserver,
// which can be cut and healed without root: a stand-in for the node's WAN link when the node
// has no network namespace of its own (yurtctl local up). TLS passes through untouched.
//
// A cut behaves like a link that drops packets, not like a refusing server: relayed
// connections are closed, and new connections are accepted but never answered (held until
// the link heals or closes), so the hub's requests and health probes time out as they would
// over a dead WAN link.
type CloudLink struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cut    bool
	closed bool
	// conns are relayed connections (both ends); held are connections accepted while cut.
	conns map[net.Conn]struct{}
	held  map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartCloudLink starts a link from a free port on 127.0.0.1 to the stack's kube-apiserver.
// The kube-apiserver serving certificate names 127.0.0.1, so hubs verify it through the link.
// The caller closes it (after the hub using it has stopped).
func (s *Stack) StartCloudLink() (*CloudLink, error) {
	u, err := url.Parse(s.KubeAPIServerURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the kube-apiserver URL: %w", err)
	}
	return NewCloudLink("127.0.0.1:0", u.Host)
}

// NewCloudLink listens on listenAddr and relays every connection to target while not cut.
func NewCloudLink(listenAddr, target string) (*CloudLink, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("cloud link: listening on %s: %w", listenAddr, err)
	}
	l := &CloudLink{ln: ln, target: target, conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is the listening address; URL is https://Addr, a hub's --server-addr.
func (l *CloudLink) Addr() string { return l.ln.Addr().String() }

// URL is the link's address as a kube-apiserver URL.
func (l *CloudLink) URL() string { return "https://" + l.Addr() }

// IsCut reports whether the link is cut.
func (l *CloudLink) IsCut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut
}

// Cut closes every relayed connection and holds new ones unanswered until Heal.
func (l *CloudLink) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = true
	for c := range l.conns {
		_ = c.Close()
	}
}

// Heal relays new connections again; connections held while cut are closed, so their
// clients retry at once instead of waiting out their timeouts.
func (l *CloudLink) Heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = false
	for c := range l.held {
		_ = c.Close()
	}
}

// Close stops listening, closes every connection and waits for the relays to end.
func (l *CloudLink) Close() error {
	err := l.ln.Close()
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		_ = c.Close()
	}
	for c := range l.held {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

func (l *CloudLink) accept() {
	defer l.wg.Done()
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		closed, cut := l.closed, l.cut
		if cut && !closed {
			l.held[in] = struct{}{}
		}
		l.mu.Unlock()
		switch {
		case closed:
			_ = in.Close()
		case cut:
			l.wg.Add(1)
			go l.hold(in)
		default:
			l.wg.Add(1)
			go l.relay(in)
		}
	}
}

// hold reads and discards what a client sends over a cut link until the connection is closed
// (by Heal, Close or the client).
func (l *CloudLink) hold(c net.Conn) {
	defer l.wg.Done()
	_, _ = io.Copy(io.Discard, c)
	l.mu.Lock()
	delete(l.held, c)
	l.mu.Unlock()
	_ = c.Close()
}

func (l *CloudLink) relay(in net.Conn) {
	defer l.wg.Done()
	out, err := net.Dial("tcp", l.target)
	if err != nil {
		_ = in.Close()
		return
	}
	l.mu.Lock()
	if l.closed || l.cut {
		// Cut or closed while dialing.
		l.mu.Unlock()
		_ = in.Close()
		_ = out.Close()
		return
	}
	l.conns[in], l.conns[out] = struct{}{}, struct{}{}
	l.mu.Unlock()
	var pipes sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer pipes.Done()
		_, _ = io.Copy(dst, src)
		// Either direction ending ends the connection.
		_ = dst.Close()
		_ = src.Close()
	}
	pipes.Add(2)
	go pipe(in, out)
	go pipe(out, in)
	pipes.Wait()
	l.mu.Lock()
	delete(l.conns, in)
	delete(l.conns, out)
	l.mu.Unlock()
}
