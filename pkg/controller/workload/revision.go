package workload

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
)

// maxCollisions bounds the search for a free revision name; each step is a real hash
// collision (different data under the same name), which is astronomically rare.
const maxCollisions = 10

// RevisionHash is the hash of a revision's data, with the collision count mixed in as
// Kubernetes' controllers do, so a collision is resolved by counting up.
func RevisionHash(data []byte, collisionCount int32) string {
	h := fnv.New32a()
	_, _ = h.Write(data)
	if collisionCount != 0 {
		_, _ = h.Write([]byte(strconv.Itoa(int(collisionCount))))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// Revision is the owner's current revision.
type Revision struct {
	// Name is the ControllerRevision's name (<owner>-<hash>), for status.currentRevision.
	Name string
	// Hash goes into the workloads' RevisionLabel.
	Hash string
	// CollisionCount is the (possibly raised) count for status.collisionCount.
	CollisionCount int32
}

// EnsureRevision makes sure a ControllerRevision holding data exists for owner and returns
// it. data is the JSON of what defines the workloads (template and tweaks); a rollback to
// earlier data finds its old revision again. At most limit older revisions are kept.
func (s *Syncer) EnsureRevision(ctx context.Context, owner Owner, data []byte, collisionCount int32, limit int32) (Revision, error) {
	owned, err := s.ownedRevisions(owner)
	if err != nil {
		return Revision{}, err
	}
	var next int64 = 1
	for _, r := range owned {
		next = max(next, r.Revision+1)
	}
	for range maxCollisions {
		hash := RevisionHash(data, collisionCount)
		name := owner.Name + "-" + hash
		existing, err := s.Revisions.ControllerRevisions(owner.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			cr := &appsv1.ControllerRevision{
				ObjectMeta: metav1.ObjectMeta{
					Name: name, Namespace: owner.Namespace,
					Labels:          map[string]string{owner.RefLabel: owner.Name, RevisionLabel: hash},
					OwnerReferences: []metav1.OwnerReference{owner.OwnerReference()},
				},
				Data:     runtime.RawExtension{Raw: data},
				Revision: next,
			}
			existing, err = s.Client.AppsV1().ControllerRevisions(owner.Namespace).Create(ctx, cr, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				// The cache is behind; compare with what the server has.
				existing, err = s.Client.AppsV1().ControllerRevisions(owner.Namespace).Get(ctx, name, metav1.GetOptions{})
			}
		}
		if err != nil {
			return Revision{}, fmt.Errorf("ensuring ControllerRevision %s/%s: %w", owner.Namespace, name, err)
		}
		if isOwnedBy(existing, owner.UID) && bytes.Equal(existing.Data.Raw, data) {
			if err := s.pruneRevisions(ctx, owner, name, limit); err != nil {
				return Revision{}, err
			}
			return Revision{Name: name, Hash: hash, CollisionCount: collisionCount}, nil
		}
		collisionCount++
	}
	return Revision{}, fmt.Errorf("no free ControllerRevision name for %s/%s after %d hash collisions", owner.Namespace, owner.Name, maxCollisions)
}

func (s *Syncer) ownedRevisions(owner Owner) ([]*appsv1.ControllerRevision, error) {
	list, err := s.Revisions.ControllerRevisions(owner.Namespace).List(labels.SelectorFromSet(labels.Set{owner.RefLabel: owner.Name}))
	if err != nil {
		return nil, fmt.Errorf("listing the ControllerRevisions of %s/%s: %w", owner.Namespace, owner.Name, err)
	}
	out := list[:0]
	for _, r := range list {
		if isOwnedBy(r, owner.UID) {
			out = append(out, r)
		}
	}
	return out, nil
}

// pruneRevisions deletes the oldest revisions beyond limit, never the current one.
func (s *Syncer) pruneRevisions(ctx context.Context, owner Owner, current string, limit int32) error {
	owned, err := s.ownedRevisions(owner)
	if err != nil {
		return err
	}
	old := slices.DeleteFunc(slices.Clone(owned), func(r *appsv1.ControllerRevision) bool { return r.Name == current })
	if len(old) <= int(limit) {
		return nil
	}
	slices.SortFunc(old, func(a, b *appsv1.ControllerRevision) int {
		if a.Revision != b.Revision {
			return int(a.Revision - b.Revision)
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	for _, r := range old[:len(old)-int(limit)] {
		err := s.Client.AppsV1().ControllerRevisions(owner.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting old ControllerRevision %s/%s: %w", owner.Namespace, r.Name, err)
		}
	}
	return nil
}

func isOwnedBy(obj metav1.Object, uid string) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && string(ref.UID) == uid
}
