package workload

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
)

// SelectPools returns the names of the existing pools that selector matches or names lists
// (their union), sorted, and the listed names that are not pools. A nil selector matches
// nothing; an empty one matches every pool, as Kubernetes label selectors do.
func SelectPools(pools []*appsv1beta2.NodePool, selector *metav1.LabelSelector, names []string) (selected, missing []string, err error) {
	var sel labels.Selector
	if selector != nil {
		if sel, err = metav1.LabelSelectorAsSelector(selector); err != nil {
			return nil, nil, fmt.Errorf("nodepoolSelector: %w", err)
		}
	}
	exists := map[string]bool{}
	for _, p := range pools {
		if p.DeletionTimestamp != nil {
			// A pool being deleted keeps nothing new; its workload goes now.
			continue
		}
		exists[p.Name] = true
		if sel != nil && sel.Matches(labels.Set(p.Labels)) {
			selected = append(selected, p.Name)
		}
	}
	for _, n := range names {
		if !exists[n] {
			missing = append(missing, n)
		} else if !slices.Contains(selected, n) {
			selected = append(selected, n)
		}
	}
	slices.Sort(selected)
	slices.Sort(missing)
	return selected, missing, nil
}

// TweaksFor returns, in order, the tweaks of the workloadTweaks that select pool (by name or
// by the pool's labels). Later tweaks win where they set the same thing.
func TweaksFor(tweaks []appsv1beta1.WorkloadTweak, pool string, poolLabels map[string]string) ([]appsv1beta1.Tweaks, error) {
	var out []appsv1beta1.Tweaks
	for i, wt := range tweaks {
		match := slices.Contains(wt.Pools, pool)
		if !match && wt.NodePoolSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(wt.NodePoolSelector)
			if err != nil {
				return nil, fmt.Errorf("workloadTweaks[%d].nodepoolSelector: %w", i, err)
			}
			match = sel.Matches(labels.Set(poolLabels))
		}
		if match {
			out = append(out, wt.Tweaks)
		}
	}
	return out, nil
}
