package heartbeat

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
	ct "github.com/yurt-edge/yurt/pkg/coordinator/coordinatortest"
	"github.com/yurt-edge/yurt/pkg/coordinator/lease"
)

func cloudLease(t *testing.T, cs *fake.Clientset, name string) *coordinationv1.Lease {
	t.Helper()
	l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func createNode(t *testing.T, cs *fake.Clientset, name, nodePool string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if nodePool != "" {
		n.Labels = map[string]string{"apps.openyurt.io/nodepool": nodePool}
	}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRenew(t *testing.T) {
	now := time.Now().Truncate(time.Microsecond)
	for _, tc := range []struct {
		name       string
		cloud      *coordinationv1.Lease // nil: none in the cloud
		coord      *coordinationv1.Lease
		conflicts  int
		raceCreate bool   // kubelet's Lease appears between the leader's get and create
		nodePool   string // the Node's pool label; "" = pool, "-" = no Node in the cloud
		want       string
		wantErr    bool
		wantRenew  time.Time // the cloud's renewTime afterwards
		wantMarked bool
	}{
		{name: "newer delegated heartbeat", cloud: ct.Lease(node, "", now.Add(-20*time.Second)), coord: ct.Lease(node, "", now.Add(-time.Second)),
			want: resultRenewed, wantRenew: now.Add(-time.Second), wantMarked: true},
		{name: "conflict then renewed", cloud: ct.Lease(node, "", now.Add(-20*time.Second)), coord: ct.Lease(node, "", now), conflicts: 1,
			want: resultRenewed, wantRenew: now, wantMarked: true},
		{name: "always conflicting", cloud: ct.Lease(node, "", now.Add(-20*time.Second)), coord: ct.Lease(node, "", now), conflicts: 5,
			want: resultError, wantErr: true, wantRenew: now.Add(-20 * time.Second)},
		{name: "direct heartbeat is newer", cloud: ct.Lease(node, "", now), coord: ct.Lease(node, "", now.Add(-5*time.Second)),
			want: resultNotNewer, wantRenew: now},
		{name: "same renewTime", cloud: ct.Lease(node, "", now), coord: ct.Lease(node, "", now),
			want: resultNotNewer, wantRenew: now},
		{name: "stale: kubelet stopped heartbeating", cloud: ct.Lease(node, "", now.Add(-2*time.Minute)), coord: ct.Lease(node, "", now.Add(-41*time.Second)),
			want: resultStale, wantRenew: now.Add(-2 * time.Minute)},
		{name: "no Lease in the cloud: created from the coordinator's", coord: ct.Lease(node, "", now), want: resultCreated, wantRenew: now, wantMarked: true},
		{name: "no Lease in the cloud, kubelet creates it meanwhile: renewed", coord: ct.Lease(node, "", now), raceCreate: true,
			want: resultRenewed, wantRenew: now, wantMarked: true},
		{name: "no Lease and no Node in the cloud", coord: ct.Lease(node, "", now), nodePool: "-", want: resultNotFound},
		{name: "node of another pool", cloud: ct.Lease(node, "", now.Add(-20*time.Second)), coord: ct.Lease(node, "", now), nodePool: "pool-b",
			want: resultNotInPool, wantRenew: now.Add(-20 * time.Second)},
		{name: "node in no pool", cloud: ct.Lease(node, "", now.Add(-20*time.Second)), coord: ct.Lease(node, "", now), nodePool: "none",
			want: resultNotInPool, wantRenew: now.Add(-20 * time.Second)},
		{name: "no Node in the cloud", cloud: ct.Lease(node, "", now.Add(-20*time.Second)), coord: ct.Lease(node, "", now), nodePool: "-",
			want: resultNotFound, wantRenew: now.Add(-20 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			switch tc.nodePool {
			case "-":
			case "none":
				createNode(t, cs, node, "")
			case "":
				createNode(t, cs, node, pool)
			default:
				createNode(t, cs, node, tc.nodePool)
			}
			if tc.cloud != nil && !tc.raceCreate {
				tc.cloud.Annotations = map[string]string{"other": "kept"}
				if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(context.Background(), tc.cloud, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			conflicts := tc.conflicts
			cs.PrependReactor("update", "leases", func(clienttesting.Action) (bool, runtime.Object, error) {
				if conflicts > 0 {
					conflicts--
					return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, node, errors.New("changed"))
				}
				return false, nil, nil
			})
			if tc.raceCreate {
				cs.PrependReactor("create", "leases", func(a clienttesting.Action) (bool, runtime.Object, error) {
					if !tc.raceCreate {
						return false, nil, nil
					}
					tc.raceCreate = false
					kubelet := ct.Lease(node, "", now.Add(-5*time.Second))
					kubelet.Annotations = map[string]string{"other": "kept"}
					if err := cs.Tracker().Create(a.GetResource(), kubelet, corev1.NamespaceNodeLease); err != nil {
						t.Error(err)
					}
					return true, nil, apierrors.NewAlreadyExists(a.GetResource().GroupResource(), node)
				})
				tc.cloud = &coordinationv1.Lease{} // checked below, not created here
			}
			r := &Renewer{Cloud: cs, Self: "edge-9", Pool: pool, Now: func() time.Time { return now }}
			got, err := r.Renew(context.Background(), tc.coord)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("Renew = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
			if tc.want == resultCreated {
				l := cloudLease(t, cs, node)
				if !l.Spec.RenewTime.Time.Equal(tc.wantRenew) || !lease.IsDelegated(l) {
					t.Errorf("created Lease renewTime %s annotations %v, want %s delegated", l.Spec.RenewTime.Time, l.Annotations, tc.wantRenew)
				}
				if *l.Spec.HolderIdentity != *tc.coord.Spec.HolderIdentity || *l.Spec.LeaseDurationSeconds != *tc.coord.Spec.LeaseDurationSeconds {
					t.Errorf("created Lease spec %+v, want the coordinator's %+v", l.Spec, tc.coord.Spec)
				}
				if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].Name != node {
					t.Errorf("created Lease owners %+v, want its Node", l.OwnerReferences)
				}
				return
			}
			if tc.cloud == nil {
				if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), node, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("a Lease exists in the cloud: %v", err)
				}
				return
			}
			l := cloudLease(t, cs, node)
			if !l.Spec.RenewTime.Time.Equal(tc.wantRenew) {
				t.Errorf("cloud renewTime %s, want %s", l.Spec.RenewTime.Time, tc.wantRenew)
			}
			if lease.IsDelegated(l) != tc.wantMarked || l.Annotations["other"] != "kept" {
				t.Errorf("cloud annotations %v, want delegated=%v and other annotations kept", l.Annotations, tc.wantMarked)
			}
		})
	}
}

// TestRenewerFollowsCoordinator runs the leader's task against a real embedded etcd: delegated
// Leases of other nodes are renewed in the cloud as they change, its own and undelegated ones
// never, and a delegation that ends stops the renewals.
func TestRenewerFollowsCoordinator(t *testing.T) {
	etcd := ct.Start(t, nil)
	leases := lease.New(etcd.NewClient(t, pool, "edge-9", coordinator.NewMetrics(nil)), 0)
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	base := time.Now().Add(-30 * time.Second).Truncate(time.Microsecond)
	cs := fake.NewClientset()
	createNode(t, cs, "edge-x", "pool-b")
	for _, n := range []string{"edge-1", "edge-2", "edge-9", "edge-x"} {
		if n != "edge-x" {
			createNode(t, cs, n, pool)
		}
		if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, ct.Lease(n, "", base), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	met, _ := NewMetrics(nil)
	r := &Renewer{Leases: leases, Cloud: cs, Self: "edge-9", Pool: pool, Metrics: met, RetryInterval: 50 * time.Millisecond}
	// edge-1 is already delegated when the leadership starts: the initial list picks it up.
	t1 := time.Now().Truncate(time.Microsecond)
	if _, err := leases.Renew(ctx, ct.Lease("edge-1", "", t1), true); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })

	waitCloud := func(name string, renew time.Time, delegated bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			l := cloudLease(t, cs, name)
			if l.Spec.RenewTime.Time.Equal(renew) && lease.IsDelegated(l) == delegated {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("cloud Lease %s: renewTime %s delegated=%v; want %s %v", name, l.Spec.RenewTime.Time, lease.IsDelegated(l), renew, delegated)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitCloud("edge-1", t1, true)

	// Watched changes: a newer renewal of edge-1; edge-2 mirrored undelegated; the leader's
	// own Lease marked delegated (stale: a leader reaches the cloud itself); a node of another
	// pool marked delegated in this pool's coordinator.
	t2 := t1.Add(10 * time.Second)
	for _, w := range []struct {
		name      string
		at        time.Time
		delegated bool
	}{{"edge-2", t2, false}, {"edge-9", t2, true}, {"edge-x", t2, true}, {"edge-1", t2, true}} {
		if _, err := leases.Renew(ctx, ct.Lease(w.name, "", w.at), w.delegated); err != nil {
			t.Fatal(err)
		}
	}
	waitCloud("edge-1", t2, true)
	for _, n := range []string{"edge-2", "edge-9", "edge-x"} {
		if l := cloudLease(t, cs, n); !l.Spec.RenewTime.Time.Equal(base) || lease.IsDelegated(l) {
			t.Errorf("%s renewed by the leader: renewTime %s annotations %v", n, l.Spec.RenewTime.Time, l.Annotations)
		}
	}

	// edge-1 heartbeats directly again (kubelet's write through its hub drops the annotation)
	// and its hub ends the delegation: the leader must not renew its Lease any more.
	t3 := t2.Add(10 * time.Second)
	direct := ct.Lease("edge-1", "", t3)
	if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, direct, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := leases.Renew(ctx, ct.Lease("edge-1", "", t3), false); err != nil {
		t.Fatal(err)
	}
	// A late delegated write with a newer time would be renewed; after the end of the
	// delegation nothing is, however long we wait.
	time.Sleep(300 * time.Millisecond)
	if l := cloudLease(t, cs, "edge-1"); !l.Spec.RenewTime.Time.Equal(t3) || lease.IsDelegated(l) {
		t.Errorf("after the delegation ended: renewTime %s annotations %v", l.Spec.RenewTime.Time, l.Annotations)
	}
	if got := testutil.ToFloat64(met.DelegatedRenewals.WithLabelValues(resultRenewed)); got != 2 {
		t.Errorf("renewals counted: %v, want 2", got)
	}
}

// TestRenewChecksDelegationProofs: with a verifier, the leader renews a delegated Lease only if
// the node's own hub signed it; a Lease another hub marked delegated is left alone.
func TestRenewChecksDelegationProofs(t *testing.T) {
	now := time.Now().Truncate(time.Microsecond)
	dir := t.TempDir()
	files := certs.Files{Dir: dir}
	ca, err := certs.NewCA(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := files.CA()
	if err := ca.Write(caCert, caKey); err != nil {
		t.Fatal(err)
	}
	v, err := lease.NewProofVerifier(pool, caCert)
	if err != nil {
		t.Fatal(err)
	}
	e := ct.Start(t, nil)
	// signedBy writes node's delegated Lease to the coordinator as the hub of signer would.
	signedBy := func(signer string) *coordinationv1.Lease {
		hub, err := ca.SignHub(pool, signer, 0)
		if err != nil {
			t.Fatal(err)
		}
		hc, hk := files.Hub(signer)
		if err := hub.Write(hc, hk); err != nil {
			t.Fatal(err)
		}
		s := lease.New(e.NewClient(t, pool, signer, coordinator.NewMetrics(nil)), 0)
		if s.Prover, err = lease.NewProver(pool, hc, hk); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := s.Renew(ctx, ct.Lease(node, "", now), true); err != nil {
			t.Fatal(err)
		}
		l, err := s.Get(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, tc := range []struct {
		name   string
		signer string
		want   string
	}{
		{"signed by the node's own hub", node, resultRenewed},
		{"marked delegated by another node's hub", "edge-2", resultUnproven},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			createNode(t, cs, node, pool)
			old := ct.Lease(node, "", now.Add(-20*time.Second))
			if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(context.Background(), old, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			r := &Renewer{Cloud: cs, Self: "edge-9", Pool: pool, Verifier: v, Now: func() time.Time { return now }}
			got, err := r.Renew(context.Background(), signedBy(tc.signer))
			if err != nil || got != tc.want {
				t.Fatalf("Renew = %q, %v; want %q", got, err, tc.want)
			}
			renewed := cloudLease(t, cs, node).Spec.RenewTime.Time
			if (tc.want == resultRenewed) != renewed.Equal(now) {
				t.Errorf("cloud renewTime %s after %q", renewed, got)
			}
		})
	}
}
