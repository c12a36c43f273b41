package printers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

func TestNodePoolTable(t *testing.T) {
	items := []apps.NodePool{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "hangzhou", CreationTimestamp: ago(5 * 24 * time.Hour)},
			Spec:       apps.NodePoolSpec{Type: apps.Edge, HostNetwork: true, InterConnectivity: true},
			Status: apps.NodePoolStatus{
				ReadyNodeNum: 3, UnreadyNodeNum: 2, LeaderNum: 1, LeaderLastElectedTime: ago(2 * time.Minute),
				Nodes: []string{"n1", "n2", "n3", "n4", "n5"},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "cloud", CreationTimestamp: ago(30 * time.Second)},
			Spec:       apps.NodePoolSpec{Type: apps.Cloud},
			Status:     apps.NodePoolStatus{ReadyNodeNum: 1, Nodes: []string{"master"}},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewNodePoolTableConvertor()
	testColumns(t, c, &items[0],
		[]string{"Name", "Type", "ReadyNodes", "NotReadyNodes", "LeaderNodes", "LeaderElectionAge", "Age"},
		[]string{"HostNetwork", "InterConnectivity", "Nodes"})
	testCells(t, c, &apps.NodePoolList{Items: items}, []kindCase{
		{"full", &items[0], []interface{}{"hangzhou", "Edge", int64(3), int64(2), int64(1), "2m", "5d", true, true, "n1,n2,n3 + 2 more..."}},
		{"no leader", &items[1], []interface{}{"cloud", "Cloud", int64(1), int64(0), int64(0), "<unknown>", "30s", false, false, "master"}},
		{"empty", &items[2], []interface{}{"empty", "<none>", int64(0), int64(0), int64(0), "<unknown>", "<unknown>", false, false, "<none>"}},
	})
}

func TestYurtAppSetTable(t *testing.T) {
	items := []apps.YurtAppSet{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(3 * time.Hour)},
			Spec: apps.YurtAppSetSpec{
				Workload: apps.Workload{WorkloadTemplate: apps.WorkloadTemplate{DeploymentTemplate: &apps.DeploymentTemplate{}}},
				Pools:    []string{"hangzhou", "beijing"},
			},
			Status: apps.YurtAppSetStatus{ReadyWorkloads: 1, TotalWorkloads: 2, UpdatedWorkloads: 2},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
			Spec: apps.YurtAppSetSpec{
				Workload:         apps.Workload{WorkloadTemplate: apps.WorkloadTemplate{StatefulSetTemplate: &apps.StatefulSetTemplate{}}},
				NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "east"}},
			},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewYurtAppSetTableConvertor()
	testColumns(t, c, &items[0], []string{"Name", "Ready", "Workload", "Updated", "Age"}, []string{"Template", "Pools"})
	testCells(t, c, &apps.YurtAppSetList{Items: items}, []kindCase{
		{"deployment in pools", &items[0], []interface{}{"web", int64(1), int64(2), int64(2), "3h", "Deployment", "hangzhou,beijing"}},
		{"statefulset by selector", &items[1], []interface{}{"db", int64(0), int64(0), int64(0), "10m", "StatefulSet", "zone=east"}},
		{"empty", &items[2], []interface{}{"empty", int64(0), int64(0), int64(0), "<unknown>", "<none>", "<none>"}},
	})
}

func TestYurtAppDaemonTable(t *testing.T) {
	items := []apps.YurtAppDaemon{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
			Status:     apps.YurtAppDaemonStatus{TemplateType: "Deployment", NodePools: []string{"hangzhou", "beijing"}},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewYurtAppDaemonTableConvertor()
	testColumns(t, c, &items[0], []string{"Name", "WorkloadTemplate", "Age"}, []string{"NodePools"})
	testCells(t, c, &apps.YurtAppDaemonList{Items: items}, []kindCase{
		{"provisioned", &items[0], []interface{}{"agent", "Deployment", "10m", "hangzhou,beijing"}},
		{"empty", &items[1], []interface{}{"empty", "<none>", "<unknown>", "<none>"}},
	})
}

func TestResponseFilterTable(t *testing.T) {
	ignore := apps.Ignore
	items := []apps.ResponseFilter{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "servicetopology", CreationTimestamp: ago(2 * time.Hour)},
			Spec: apps.ResponseFilterSpec{
				Priority:      10,
				FailurePolicy: &ignore,
				Match: apps.MatchResources{
					UserAgents: []string{"kube-proxy", "coredns"},
					Resources: []apps.ResourceRule{
						{Group: "", Resources: []string{"services"}},
						{Group: "discovery.k8s.io", Resources: []string{"endpointslices"}},
					},
				},
			},
			Status: apps.ResponseFilterStatus{Conditions: []metav1.Condition{
				{Type: "Compiled", Status: metav1.ConditionFalse},
				{Type: "Ready", Status: metav1.ConditionTrue},
			}},
		},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}
	c := NewResponseFilterTableConvertor()
	testColumns(t, c, &items[0], []string{"Name", "Priority", "FailurePolicy", "UserAgents", "Resources", "Age"}, []string{"Ready"})
	testCells(t, c, &apps.ResponseFilterList{Items: items}, []kindCase{
		{"full", &items[0], []interface{}{"servicetopology", int64(10), "Ignore", "kube-proxy,coredns", "services,discovery.k8s.io/endpointslices", "120m", "True"}},
		{"defaults", &items[1], []interface{}{"empty", int64(0), "Fail", "<none>", "<none>", "<unknown>", "<none>"}},
	})
}
