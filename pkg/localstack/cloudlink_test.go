package localstack

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials the link, sends a line and reads the answer within timeout.
func roundTrip(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	return echoOn(c, timeout)
}

func echoOn(c net.Conn, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return errors.New("unexpected answer " + line)
	}
	return nil
}

func TestCloudLink(t *testing.T) {
	link, err := NewCloudLink("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()

	// A connection relayed before the cut.
	before, err := net.Dial("tcp", link.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if err := echoOn(before, 2*time.Second); err != nil {
		t.Fatalf("relay before the cut: %v", err)
	}

	link.Cut()
	if !link.IsCut() {
		t.Fatal("IsCut() = false after Cut")
	}
	// The relayed connection is closed: the client sees an error, not a hang.
	if err := echoOn(before, 2*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("relayed connection after the cut: got %v, want it closed", err)
	}
	// A new connection is accepted but never answered, like a link that drops packets.
	held, err := net.Dial("tcp", link.Addr())
	if err != nil {
		t.Fatalf("dial while cut: %v (a cut link accepts and holds)", err)
	}
	defer held.Close()
	if err := echoOn(held, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("request while cut: got %v, want a timeout", err)
	}

	link.Heal()
	if link.IsCut() {
		t.Fatal("IsCut() = true after Heal")
	}
	// The held connection is closed at the heal, so its client retries at once.
	if err := held.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("held connection after the heal: got %v, want it closed", err)
	}
	if err := roundTrip(link.Addr(), 2*time.Second); err != nil {
		t.Errorf("relay after the heal: %v", err)
	}
}

func TestCloudLinkClose(t *testing.T) {
	link, err := NewCloudLink("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	relayed, err := net.Dial("tcp", link.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer relayed.Close()
	if err := echoOn(relayed, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	link.Cut()
	held, err := net.Dial("tcp", link.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	done := make(chan error, 1)
	go func() { done <- link.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: a relay or a held connection was left running")
	}
	if _, err := net.DialTimeout("tcp", link.Addr(), time.Second); err == nil {
		t.Error("the link still accepts connections after Close")
	}
}
