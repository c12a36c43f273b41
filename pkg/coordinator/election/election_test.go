package election_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/election"
	"github.com/yurt-edge/yurt/pkg/coordinator/store"
	"github.com/yurt-edge/yurt/pkg/localstack"
)

const (
	pool = "pool-a"
	// ttl is the smallest session TTL etcd grants with default member settings.
	ttl = 2 * time.Second
)

type result struct {
	l   *election.Leadership
	err error
}

func campaign(ctx context.Context, e *election.Elector) <-chan result {
	ch := make(chan result, 1)
	go func() {
		l, err := e.Campaign(ctx)
		ch <- result{l, err}
	}()
	return ch
}

// stillWaiting fails the test if a campaign has returned.
func stillWaiting(t *testing.T, ch <-chan result, who string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s became leader (err %v) while another one leads", who, r.err)
	default:
	}
}

func waitLeader(t *testing.T, ch <-chan result, within time.Duration) *election.Leadership {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Campaign: %v", r.err)
		}
		return r.l
	case <-time.After(within):
		t.Fatalf("no leadership within %s", within)
		return nil
	}
}

func waitObserved(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("Observe ended before seeing %q", want)
			}
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("Observe did not report %q", want)
		}
	}
}

func TestCrashedLeaderIsReplacedWithinTTL(t *testing.T) {
	e := ct.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hubA := e.NewClient(t, pool, "hub-a", nil)
	hubB := e.NewClient(t, pool, "hub-b", nil)
	observer := e.NewClient(t, pool, "observer", nil)
	elA, elB := election.New(hubA, ttl), election.New(hubB, ttl)
	observed := election.New(observer, ttl).Observe(ctx)
	waitObserved(t, observed, "")

	a := waitLeader(t, campaign(ctx, elA), 30*time.Second)
	waitObserved(t, observed, "hub-a")
	bCh := campaign(ctx, elB)
	// Exactly one leader: B stays a candidate across several TTLs while A renews its session.
	for i := 0; i < 3; i++ {
		time.Sleep(ttl)
		stillWaiting(t, bCh, "hub-b")
		if id, err := elB.Leader(ctx); err != nil || id != "hub-a" {
			t.Fatalf("Leader = %q, %v; want hub-a", id, err)
		}
	}

	// A crashes: its connection closes without resigning, so its session is only ended by
	// the lease expiring.
	crashed := time.Now()
	if err := hubA.Close(); err != nil {
		t.Fatal(err)
	}
	// Lease expiry is checked by etcd every 500ms; allow that and the watch delivery on top of the TTL.
	b := waitLeader(t, bCh, ttl+time.Second)
	t.Logf("hub-b took over %s after hub-a crashed (TTL %s)", time.Since(crashed).Round(time.Millisecond), ttl)
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Error("the crashed leader's Done did not close")
	}
	waitObserved(t, observed, "hub-b")

	// The deposed leader's guard no longer holds, even for a live client.
	deposed := store.New(hubB, nil).WithGuard(a.Guard())
	if _, err := deposed.MarkSynced(ctx, ct.ServicesGVR, "1"); !errors.Is(err, store.ErrGuardFailed) {
		t.Errorf("write under the crashed leader's guard: %v, want ErrGuardFailed", err)
	}
	if _, err := store.New(hubB, nil).WithGuard(b.Guard()).MarkSynced(ctx, ct.ServicesGVR, "1"); err != nil {
		t.Errorf("write under the new leader's guard: %v", err)
	}
}

func TestResignHandsOver(t *testing.T) {
	e := ct.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	elA := election.New(e.NewClient(t, pool, "hub-a", nil), time.Minute)
	elB := election.New(e.NewClient(t, pool, "hub-b", nil), time.Minute)
	a := waitLeader(t, campaign(ctx, elA), 30*time.Second)
	bCh := campaign(ctx, elB)
	time.Sleep(500 * time.Millisecond)
	stillWaiting(t, bCh, "hub-b")
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	// With a one-minute TTL, only the resignation can explain a quick handover.
	b := waitLeader(t, bCh, 30*time.Second)
	if id, err := elA.Leader(ctx); err != nil || id != "hub-b" || b.Identity() != "hub-b" {
		t.Errorf("Leader after resign = %q, %v", id, err)
	}
}

func TestCancelledCampaignLeavesNoCandidate(t *testing.T) {
	e := ct.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hubA := e.NewClient(t, pool, "hub-a", nil)
	a := waitLeader(t, campaign(ctx, election.New(hubA, time.Minute)), 30*time.Second)
	bctx, bcancel := context.WithCancel(ctx)
	bCh := campaign(bctx, election.New(e.NewClient(t, pool, "hub-b", nil), time.Minute))
	time.Sleep(300 * time.Millisecond)
	bcancel()
	if r := <-bCh; r.err == nil {
		t.Fatal("a cancelled campaign succeeded")
	}
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if id, err := election.New(hubA, time.Minute).Leader(ctx); !errors.Is(err, election.ErrNoLeader) {
		t.Errorf("after the leader resigned and the other candidate gave up: leader %q, %v; want none", id, err)
	}
	// The abandoned candidate's lease is revoked in the background (Campaign does not wait
	// for the coordinator once its ctx ended).
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hubA.Etcd.Get(ctx, coordinator.ElectionPrefix(pool), clientv3.WithPrefix())
		if err == nil && len(resp.Kvs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("election keys left: %v %v", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A coordinator that stops answering must not hold a hub that is stopping: a campaign
// returns when its ctx ends, whether it was waiting for its turn when the coordinator went
// away or started without one, and Resign returns within its ctx.
func TestUnreachableCoordinatorDoesNotHoldCampaignOrResign(t *testing.T) {
	e := ct.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The hubs reach the coordinator through a forwarder, closed to make it unreachable.
	u, _ := url.Parse(e.Endpoints[0])
	fwd, err := localstack.Forward("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	client := func(identity string) *coordinator.Client {
		o := coordinator.NewOptions()
		o.Endpoints, o.Pool, o.Identity = []string{"http://" + fwd.Addr()}, pool, identity
		o.DialTimeout = 300 * time.Millisecond
		c, err := coordinator.New(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	elA := election.New(client("hub-a"), time.Minute)
	hubB := client("hub-b")
	a := waitLeader(t, campaign(ctx, elA), 30*time.Second)
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	waiting := campaign(bctx, election.New(hubB, time.Minute))
	time.Sleep(300 * time.Millisecond)
	stillWaiting(t, waiting, "hub-b")

	_ = fwd.Close()
	bcancel()
	returns := func(what string, ch <-chan result) {
		t.Helper()
		select {
		case r := <-ch:
			if r.err == nil {
				t.Errorf("%s: succeeded without a coordinator", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still blocked 10s after its context ended, with the coordinator unreachable", what)
		}
	}
	returns("a waiting campaign cancelled", waiting)

	cctx, ccancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer ccancel()
	returns("a campaign started without a coordinator", campaign(cctx, election.New(hubB, time.Minute)))

	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer rcancel()
	resigned := make(chan error, 1)
	go func() { resigned <- a.Resign(rctx) }()
	select {
	case err := <-resigned:
		if err == nil {
			t.Error("Resign succeeded without a coordinator")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Resign still blocked 10s after its context ended, with the coordinator unreachable")
	}
}
