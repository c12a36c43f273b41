package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
	appsv1beta1 "github.com/yurt-edge/yurt/pkg/apis/apps/v1beta1"
)

func validNodePool() *apps.NodePool {
	return &apps.NodePool{
		ObjectMeta: metav1.ObjectMeta{
			Name:            "hangzhou",
			ResourceVersion: "1",
			Labels:          map[string]string{"nodepool.openyurt.io/type": "edge"},
		},
		Spec: apps.NodePoolSpec{
			Type:                   apps.Edge,
			HostNetwork:            true,
			Labels:                 map[string]string{"zone": "hz-a", "example.com/tier": "edge"},
			Annotations:            map[string]string{"example.com/owner": "ops team"},
			Taints:                 []corev1.Taint{{Key: "edge", Value: "true", Effect: corev1.TaintEffectNoSchedule}},
			InterConnectivity:      true,
			LeaderElectionStrategy: apps.ElectionStrategyMark,
			LeaderNodeLabelSelector: map[string]string{
				"example.com/leader": "true",
			},
			EnableLeaderElection: true,
			LeaderReplicas:       2,
			PoolScopeMetadata: []metav1.GroupVersionResource{
				{Group: "", Version: "v1", Resource: "services"},
				{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
			},
		},
	}
}

func TestValidateNodePool(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.NodePool)
		want   []string
	}{
		{name: "valid", mutate: func(*apps.NodePool) {}},
		{name: "valid cloud pool", mutate: func(p *apps.NodePool) {
			p.Spec.Type, p.Spec.HostNetwork = apps.Cloud, false
		}},
		{name: "valid minimal pool", mutate: func(p *apps.NodePool) {
			p.Spec = apps.NodePoolSpec{Type: apps.Edge}
		}},
		{name: "empty strategy tolerated", mutate: func(p *apps.NodePool) {
			p.Spec.LeaderElectionStrategy = ""
		}},
		{name: "zero leader replicas without election", mutate: func(p *apps.NodePool) {
			p.Spec.EnableLeaderElection, p.Spec.LeaderReplicas = false, 0
		}},
		{name: "name with dots", mutate: func(p *apps.NodePool) { p.Name = "beijing.zone-a" }},
		{name: "missing name", mutate: func(p *apps.NodePool) { p.Name = "" },
			want: []string{required + " metadata.name"}},
		{name: "uppercase name", mutate: func(p *apps.NodePool) { p.Name = "HangZhou" },
			want: []string{invalid + " metadata.name"}},
		{name: "name too long for a label value", mutate: func(p *apps.NodePool) { p.Name = strings.Repeat("a", 64) },
			want: []string{invalid + " metadata.name"}},
		{name: "namespace on a cluster-scoped kind", mutate: func(p *apps.NodePool) { p.Namespace = "default" },
			want: []string{forbidden + " metadata.namespace"}},
		{name: "reserved v1beta1 annotation", mutate: func(p *apps.NodePool) {
			p.Annotations = map[string]string{appsv1beta1.V1beta2SpecAnnotation: `{"leaderReplicas":3}`}
		}, want: []string{forbidden + " metadata.annotations[apps.openyurt.io/v1beta2-spec]"}},
		{name: "missing type", mutate: func(p *apps.NodePool) { p.Spec.Type = "" },
			want: []string{required + " spec.type"}},
		{name: "unknown type", mutate: func(p *apps.NodePool) { p.Spec.Type = "Fog" },
			want: []string{notSupported + " spec.type"}},
		{name: "lowercase type", mutate: func(p *apps.NodePool) { p.Spec.Type = "edge" },
			want: []string{notSupported + " spec.type"}},
		{name: "cloud pool with host network", mutate: func(p *apps.NodePool) { p.Spec.Type = apps.Cloud },
			want: []string{invalid + " spec.hostNetwork"}},
		{name: "bad label key and value", mutate: func(p *apps.NodePool) {
			p.Spec.Labels = map[string]string{"bad key": "ok", "ok": "bad value"}
		}, want: []string{invalid + " spec.labels", invalid + " spec.labels"}},
		{name: "reserved pool label", mutate: func(p *apps.NodePool) {
			p.Spec.Labels = map[string]string{"apps.openyurt.io/nodepool": "other"}
		}, want: []string{forbidden + " spec.labels[apps.openyurt.io/nodepool]"}},
		{name: "reserved hostnetwork label", mutate: func(p *apps.NodePool) {
			p.Spec.Labels = map[string]string{"nodepool.openyurt.io/hostnetwork": "true"}
		}, want: []string{forbidden + " spec.labels[nodepool.openyurt.io/hostnetwork]"}},
		{name: "bad annotation key", mutate: func(p *apps.NodePool) {
			p.Spec.Annotations = map[string]string{"/nope": "x"}
		}, want: []string{invalid + " spec.annotations"}},
		{name: "reserved previous-attributes annotation", mutate: func(p *apps.NodePool) {
			p.Spec.Annotations = map[string]string{"nodepool.openyurt.io/previous-attributes": "{}"}
		}, want: []string{forbidden + " spec.annotations[nodepool.openyurt.io/previous-attributes]"}},
		{name: "annotations too large", mutate: func(p *apps.NodePool) {
			p.Spec.Annotations = map[string]string{"big": strings.Repeat("x", 256*1024+1)}
		}, want: []string{tooLong + " spec.annotations"}},
		{name: "taint without key or effect", mutate: func(p *apps.NodePool) {
			p.Spec.Taints = []corev1.Taint{{}}
		}, want: []string{required + " spec.taints[0].key", required + " spec.taints[0].effect"}},
		{name: "taint with bad key, value and effect", mutate: func(p *apps.NodePool) {
			p.Spec.Taints = []corev1.Taint{{Key: "a b", Value: "-x-", Effect: "Evict"}}
		}, want: []string{invalid + " spec.taints[0].key", invalid + " spec.taints[0].value", notSupported + " spec.taints[0].effect"}},
		{name: "duplicate taint key and effect", mutate: func(p *apps.NodePool) {
			p.Spec.Taints = []corev1.Taint{
				{Key: "k", Value: "a", Effect: corev1.TaintEffectNoSchedule},
				{Key: "k", Value: "b", Effect: corev1.TaintEffectNoExecute},
				{Key: "k", Value: "c", Effect: corev1.TaintEffectNoSchedule},
			}
		}, want: []string{duplicate + " spec.taints[2]"}},
		{name: "unknown strategy", mutate: func(p *apps.NodePool) { p.Spec.LeaderElectionStrategy = "Random" },
			want: []string{notSupported + " spec.leaderElectionStrategy"}},
		{name: "negative leader replicas", mutate: func(p *apps.NodePool) {
			p.Spec.EnableLeaderElection, p.Spec.LeaderReplicas = false, -1
		}, want: []string{invalid + " spec.leaderReplicas"}},
		{name: "no leader replicas with election", mutate: func(p *apps.NodePool) { p.Spec.LeaderReplicas = 0 },
			want: []string{invalid + " spec.leaderReplicas"}},
		{name: "bad leader selector", mutate: func(p *apps.NodePool) {
			p.Spec.LeaderNodeLabelSelector = map[string]string{"k": "a b"}
		}, want: []string{invalid + " spec.leaderNodeLabelSelector"}},
		{name: "pool scope metadata without version and resource", mutate: func(p *apps.NodePool) {
			p.Spec.PoolScopeMetadata = append(p.Spec.PoolScopeMetadata, metav1.GroupVersionResource{Group: "apps"})
		}, want: []string{required + " spec.poolScopeMetadata[2].version", required + " spec.poolScopeMetadata[2].resource"}},
		{name: "pool scope metadata with bad names", mutate: func(p *apps.NodePool) {
			p.Spec.PoolScopeMetadata = []metav1.GroupVersionResource{{Group: "Apps_", Version: "V1", Resource: "Pods"}}
		}, want: []string{invalid + " spec.poolScopeMetadata[0].group", invalid + " spec.poolScopeMetadata[0].version", invalid + " spec.poolScopeMetadata[0].resource"}},
		{name: "duplicate pool scope metadata", mutate: func(p *apps.NodePool) {
			p.Spec.PoolScopeMetadata = append(p.Spec.PoolScopeMetadata, p.Spec.PoolScopeMetadata[0])
		}, want: []string{duplicate + " spec.poolScopeMetadata[2]"}},
		{name: "status is not checked on create", mutate: func(p *apps.NodePool) { p.Status.ReadyNodeNum = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := validNodePool()
			tc.mutate(pool)
			expectErrors(t, ValidateNodePool(pool), tc.want...)
		})
	}
}

func TestValidateNodePoolUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.NodePool)
		want   []string
	}{
		{name: "no change", mutate: func(*apps.NodePool) {}},
		{name: "mutable fields change", mutate: func(p *apps.NodePool) {
			p.Spec.Labels = map[string]string{"zone": "hz-b"}
			p.Spec.Taints = nil
			p.Spec.LeaderReplicas = 3
			p.Spec.LeaderElectionStrategy = apps.ElectionStrategyRandom
		}},
		{name: "type is immutable", mutate: func(p *apps.NodePool) { p.Spec.Type, p.Spec.HostNetwork = apps.Cloud, false },
			want: []string{invalid + " spec.type", invalid + " spec.hostNetwork"}},
		{name: "hostNetwork is immutable", mutate: func(p *apps.NodePool) { p.Spec.HostNetwork = false },
			want: []string{invalid + " spec.hostNetwork"}},
		{name: "interConnectivity is immutable", mutate: func(p *apps.NodePool) { p.Spec.InterConnectivity = false },
			want: []string{invalid + " spec.interConnectivity"}},
		{name: "new spec is validated", mutate: func(p *apps.NodePool) { p.Spec.LeaderElectionStrategy = "first" },
			want: []string{notSupported + " spec.leaderElectionStrategy"}},
		{name: "name is immutable", mutate: func(p *apps.NodePool) { p.Name = "other" },
			want: []string{invalid + " metadata.name"}},
		{name: "resource version required", mutate: func(p *apps.NodePool) { p.ResourceVersion = "" },
			want: []string{invalid + " metadata.resourceVersion"}},
		{name: "reserved annotation added", mutate: func(p *apps.NodePool) {
			p.Annotations = map[string]string{appsv1beta1.V1beta2SpecAnnotation: "{}"}
		}, want: []string{forbidden + " metadata.annotations[apps.openyurt.io/v1beta2-spec]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldPool := validNodePool()
			newPool := oldPool.DeepCopy()
			tc.mutate(newPool)
			errs := ValidateNodePoolUpdate(newPool, oldPool)
			expectErrors(t, errs, tc.want...)
			for _, err := range errs {
				if err.Field == "spec.type" && err.Detail != "field is immutable" {
					t.Errorf("immutable field error has detail %q", err.Detail)
				}
			}
		})
	}
}

func TestValidateNodePoolStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*apps.NodePool)
		want   []string
	}{
		{name: "valid", mutate: func(p *apps.NodePool) {
			p.Status = apps.NodePoolStatus{
				ReadyNodeNum: 2, UnreadyNodeNum: 1, Nodes: []string{"a", "b", "c"},
				LeaderEndpoints: []apps.Leader{{NodeName: "a", Address: "10.0.0.1"}}, LeaderNum: 1,
				Conditions: []apps.NodePoolCondition{{Type: apps.LeaderReady, Status: corev1.ConditionTrue}},
			}
		}},
		{name: "negative counts", mutate: func(p *apps.NodePool) {
			p.Status.ReadyNodeNum, p.Status.UnreadyNodeNum, p.Status.LeaderNum = -1, -2, -3
		}, want: []string{invalid + " status.readyNodeNum", invalid + " status.unreadyNodeNum", invalid + " status.leaderNum"}},
		{name: "leader without node name", mutate: func(p *apps.NodePool) {
			p.Status.LeaderEndpoints = []apps.Leader{{Address: "10.0.0.1"}}
		}, want: []string{required + " status.leaderEndpoints[0].nodeName"}},
		{name: "duplicate and empty condition types", mutate: func(p *apps.NodePool) {
			p.Status.Conditions = []apps.NodePoolCondition{{Type: apps.LeaderReady}, {Type: apps.LeaderReady}, {}}
		}, want: []string{duplicate + " status.conditions[1].type", required + " status.conditions[2].type"}},
		{name: "spec is not checked", mutate: func(p *apps.NodePool) { p.Spec.Type = "Fog" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldPool := validNodePool()
			newPool := oldPool.DeepCopy()
			tc.mutate(newPool)
			expectErrors(t, ValidateNodePoolStatusUpdate(newPool, oldPool), tc.want...)
		})
	}
}

func TestValidateNodePoolName(t *testing.T) {
	for name, valid := range map[string]bool{
		"a": true, "pool-1": true, "a.b.c": true, strings.Repeat("a", 63): true,
		"": false, "A": false, "-a": false, "a_b": false, strings.Repeat("a", 64): false,
	} {
		if got := len(ValidateNodePoolName(name, false)) == 0; got != valid {
			t.Errorf("ValidateNodePoolName(%q) valid = %v, want %v", name, got, valid)
		}
	}
	// generateName prefixes may end with a dash.
	if msgs := ValidateNodePoolName("pool-", true); len(msgs) != 0 {
		t.Errorf("prefix pool- rejected: %v", msgs)
	}
}
