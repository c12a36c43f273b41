package workload

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"

	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
)

// parallelWrites bounds concurrent writes for one owner: many pools converge quickly without
// flooding kube-apiserver (client-go's QPS limit applies on top).
const parallelWrites = 8

// Syncer creates, updates and deletes per-pool workloads and keeps revision history.
type Syncer struct {
	Client       kubernetes.Interface
	Deployments  appslisters.DeploymentLister
	StatefulSets appslisters.StatefulSetLister
	Revisions    appslisters.ControllerRevisionLister
}

// Desired is what an owner wants.
type Desired struct {
	Owner    Owner
	Template Template
	// RevisionHash labels the workloads (RevisionLabel).
	RevisionHash string
	// Pools are the selected pools, sorted.
	Pools []string
	// Tweaks returns the tweaks for a pool; nil means none.
	Tweaks func(pool string) ([]appsv1beta1.Tweaks, error)
}

// PoolError is a pool whose workload could not be rendered: the owner's spec is wrong for
// that pool. Retrying cannot fix it, so it is reported, not returned as an error.
type PoolError struct {
	Pool string
	Err  error
}

func (e PoolError) Error() string { return fmt.Sprintf("pool %s: %v", e.Pool, e.Err) }

// PoolWorkload is the state of one pool's workload after a sync.
type PoolWorkload struct {
	Pool, Name string
	// Updated: rendered from the current revision and current tweaks.
	Updated bool
	// Ready: the workload controller observed the latest spec and all replicas are updated
	// and ready.
	Ready bool
}

// Result is what a sync did and found.
type Result struct {
	Created, Updated, Deleted []string // pools
	RenderErrors              []PoolError
	// Workloads are the owner's workloads in selected pools, sorted by pool.
	Workloads []PoolWorkload
}

// existing is one of the owner's workloads in the cache.
type existing struct {
	name, pool, hash, revision string
	ready                      bool
}

// Sync brings the owner's workloads in line with d. Pools whose rendering fails keep their
// current workload and are listed in RenderErrors. The error joins API failures (retry).
func (s *Syncer) Sync(ctx context.Context, d Desired) (Result, error) {
	kind := d.Template.Kind()
	current, err := s.list(d.Owner, kind)
	if err != nil {
		return Result{}, err
	}
	byPool := map[string][]existing{}
	for _, w := range current {
		byPool[w.pool] = append(byPool[w.pool], w)
	}

	var (
		mu   sync.Mutex
		res  Result
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallelWrites)
	)
	run := func(f func()) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f()
		}()
	}
	selected := map[string]bool{}
	for _, pool := range d.Pools {
		selected[pool] = true
		var tweaks []appsv1beta1.Tweaks
		var rendered *Rendered
		err := error(nil)
		if d.Tweaks != nil {
			tweaks, err = d.Tweaks(pool)
		}
		if err == nil {
			rendered, err = Render(d.Owner, d.Template, pool, d.RevisionHash, tweaks)
		}
		have := byPool[pool]
		// The workload with the deterministic name is the one kept; others (older
		// generateName-style copies) are removed.
		var keep *existing
		for i := range have {
			if keep == nil || have[i].name == WorkloadName(d.Owner.Name, d.Owner.UID, pool) {
				keep = &have[i]
			}
		}
		for _, w := range have {
			if keep != nil && w.name != keep.name {
				run(func() {
					if err := s.delete(ctx, kind, d.Owner.Namespace, w.name); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				})
			}
		}
		if err != nil {
			res.RenderErrors = append(res.RenderErrors, PoolError{Pool: pool, Err: err})
			if keep != nil {
				res.Workloads = append(res.Workloads, PoolWorkload{Pool: pool, Name: keep.name, Ready: keep.ready})
			}
			continue
		}
		switch {
		case keep == nil:
			run(func() {
				w, err := s.create(ctx, rendered)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				res.Created = append(res.Created, pool)
				res.Workloads = append(res.Workloads, PoolWorkload{Pool: pool, Name: w.name, Updated: true, Ready: w.ready})
			})
		case keep.hash != rendered.Hash:
			run(func() {
				w, err := s.update(ctx, rendered, keep.name)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					res.Workloads = append(res.Workloads, PoolWorkload{Pool: pool, Name: keep.name, Ready: keep.ready})
					return
				}
				res.Updated = append(res.Updated, pool)
				res.Workloads = append(res.Workloads, PoolWorkload{Pool: pool, Name: w.name, Updated: true, Ready: w.ready})
			})
		default:
			res.Workloads = append(res.Workloads, PoolWorkload{Pool: pool, Name: keep.name, Updated: keep.revision == d.RevisionHash, Ready: keep.ready})
		}
	}
	for _, pool := range slices.Sorted(maps.Keys(byPool)) {
		if selected[pool] {
			continue
		}
		for _, w := range byPool[pool] {
			run(func() {
				err := s.delete(ctx, kind, d.Owner.Namespace, w.name)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				res.Deleted = append(res.Deleted, pool)
			})
		}
	}
	wg.Wait()
	slices.SortFunc(res.Workloads, func(a, b PoolWorkload) int { return compareStrings(a.Pool, b.Pool) })
	slices.Sort(res.Created)
	slices.Sort(res.Updated)
	slices.Sort(res.Deleted)
	return res, errors.Join(errs...)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// list returns the owner's workloads of kind from the cache.
func (s *Syncer) list(owner Owner, kind Kind) ([]existing, error) {
	sel := labels.SelectorFromSet(labels.Set{owner.RefLabel: owner.Name})
	var out []existing
	switch kind {
	case KindDeployment:
		list, err := s.Deployments.Deployments(owner.Namespace).List(sel)
		if err != nil {
			return nil, fmt.Errorf("listing the Deployments of %s/%s: %w", owner.Namespace, owner.Name, err)
		}
		for _, d := range list {
			if isOwnedBy(d, owner.UID) && d.DeletionTimestamp == nil {
				out = append(out, fromDeployment(d))
			}
		}
	case KindStatefulSet:
		list, err := s.StatefulSets.StatefulSets(owner.Namespace).List(sel)
		if err != nil {
			return nil, fmt.Errorf("listing the StatefulSets of %s/%s: %w", owner.Namespace, owner.Name, err)
		}
		for _, st := range list {
			if isOwnedBy(st, owner.UID) && st.DeletionTimestamp == nil {
				out = append(out, fromStatefulSet(st))
			}
		}
	}
	return out, nil
}

func fromDeployment(d *appsv1.Deployment) existing {
	return existing{name: d.Name, pool: d.Labels[PoolNameLabel], hash: d.Annotations[RenderedHashAnnotation],
		revision: d.Labels[RevisionLabel], ready: DeploymentReady(d)}
}

func fromStatefulSet(s *appsv1.StatefulSet) existing {
	return existing{name: s.Name, pool: s.Labels[PoolNameLabel], hash: s.Annotations[RenderedHashAnnotation],
		revision: s.Labels[RevisionLabel], ready: StatefulSetReady(s)}
}

// DeploymentReady: kube-controller-manager saw the current spec and every desired replica is
// updated and ready, with no old ones left.
func DeploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want && st.ReadyReplicas == want && st.Replicas == want
}

// StatefulSetReady is DeploymentReady for StatefulSets.
func StatefulSetReady(s *appsv1.StatefulSet) bool {
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	st := s.Status
	return st.ObservedGeneration >= s.Generation && st.UpdatedReplicas == want && st.ReadyReplicas == want && st.Replicas == want
}

func (s *Syncer) create(ctx context.Context, r *Rendered) (existing, error) {
	switch r.Kind {
	case KindStatefulSet:
		out, err := s.Client.AppsV1().StatefulSets(r.StatefulSet.Namespace).Create(ctx, r.StatefulSet, metav1.CreateOptions{})
		if err != nil {
			return existing{}, fmt.Errorf("creating StatefulSet %s/%s for pool %s: %w", r.StatefulSet.Namespace, r.StatefulSet.Name, r.Pool, err)
		}
		return fromStatefulSet(out), nil
	default:
		out, err := s.Client.AppsV1().Deployments(r.Deployment.Namespace).Create(ctx, r.Deployment, metav1.CreateOptions{})
		if err != nil {
			return existing{}, fmt.Errorf("creating Deployment %s/%s for pool %s: %w", r.Deployment.Namespace, r.Deployment.Name, r.Pool, err)
		}
		return fromDeployment(out), nil
	}
}

// update rewrites the workload name with the rendered labels and spec. Annotations are
// merged: kube-controller-manager keeps its own (deployment.kubernetes.io/revision) there.
func (s *Syncer) update(ctx context.Context, r *Rendered, name string) (existing, error) {
	switch r.Kind {
	case KindStatefulSet:
		cur, err := s.StatefulSets.StatefulSets(r.StatefulSet.Namespace).Get(name)
		if err != nil {
			return existing{}, fmt.Errorf("getting StatefulSet %s/%s of pool %s: %w", r.StatefulSet.Namespace, name, r.Pool, err)
		}
		upd := cur.DeepCopy()
		upd.Labels = r.StatefulSet.Labels
		upd.Annotations = merged(upd.Annotations, r.StatefulSet.Annotations)
		upd.OwnerReferences = r.StatefulSet.OwnerReferences
		upd.Spec = r.StatefulSet.Spec
		out, err := s.Client.AppsV1().StatefulSets(upd.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return existing{}, fmt.Errorf("updating StatefulSet %s/%s of pool %s: %w", upd.Namespace, name, r.Pool, err)
		}
		return fromStatefulSet(out), nil
	default:
		cur, err := s.Deployments.Deployments(r.Deployment.Namespace).Get(name)
		if err != nil {
			return existing{}, fmt.Errorf("getting Deployment %s/%s of pool %s: %w", r.Deployment.Namespace, name, r.Pool, err)
		}
		upd := cur.DeepCopy()
		upd.Labels = r.Deployment.Labels
		upd.Annotations = merged(upd.Annotations, r.Deployment.Annotations)
		upd.OwnerReferences = r.Deployment.OwnerReferences
		upd.Spec = r.Deployment.Spec
		out, err := s.Client.AppsV1().Deployments(upd.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return existing{}, fmt.Errorf("updating Deployment %s/%s of pool %s: %w", upd.Namespace, name, r.Pool, err)
		}
		return fromDeployment(out), nil
	}
}

func (s *Syncer) delete(ctx context.Context, kind Kind, namespace, name string) error {
	var err error
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	switch kind {
	case KindStatefulSet:
		err = s.Client.AppsV1().StatefulSets(namespace).Delete(ctx, name, opts)
	default:
		err = s.Client.AppsV1().Deployments(namespace).Delete(ctx, name, opts)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", kind, namespace, name, err)
	}
	return nil
}
