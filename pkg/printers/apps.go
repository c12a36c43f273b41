package printers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

// Column sets of the apps.openyurt.io kinds. Every kind's Table is computed from the internal
// object, so all versions show the same columns (NodePool's leader columns included).

var nodePoolColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Type", "string", "The type of the pool: Edge or Cloud."),
	column("ReadyNodes", "integer", "The number of Ready nodes in the pool."),
	column("NotReadyNodes", "integer", "The number of nodes in the pool that are not Ready."),
	column("LeaderNodes", "integer", "The number of elected hub leaders."),
	column("LeaderElectionAge", "string", "The time since the leaders last changed."),
	ageColumn(),
	wide(column("HostNetwork", "boolean", "Whether the pool's pods use the host network.")),
	wide(column("InterConnectivity", "boolean", "Whether the pool's nodes can reach each other.")),
	wide(column("Nodes", "string", "The pool's nodes.")),
}

func nodePoolCells(np *apps.NodePool) []interface{} {
	return []interface{}{
		np.Name,
		orNone(string(np.Spec.Type)),
		np.Status.ReadyNodeNum,
		np.Status.UnreadyNodeNum,
		np.Status.LeaderNum,
		age(np.Status.LeaderLastElectedTime),
		age(np.CreationTimestamp),
		np.Spec.HostNetwork,
		np.Spec.InterConnectivity,
		list(np.Status.Nodes),
	}
}

// NewNodePoolTableConvertor returns the Table convertor of NodePools.
func NewNodePoolTableConvertor() rest.TableConvertor {
	return NewTableConvertor(nodePoolColumns, nodePoolCells)
}

var yurtAppSetColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Ready", "integer", "The number of ready workloads."),
	column("Workload", "integer", "The total number of workloads."),
	column("Updated", "integer", "The number of updated workloads."),
	ageColumn(),
	wide(column("Template", "string", "The kind of the workload template: Deployment or StatefulSet.")),
	wide(column("Pools", "string", "The pools named explicitly, or else the node pool selector.")),
}

func yurtAppSetCells(yas *apps.YurtAppSet) []interface{} {
	pools := list(yas.Spec.Pools)
	if len(yas.Spec.Pools) == 0 && yas.Spec.NodePoolSelector != nil {
		pools = metav1.FormatLabelSelector(yas.Spec.NodePoolSelector)
	}
	return []interface{}{
		yas.Name,
		yas.Status.ReadyWorkloads,
		yas.Status.TotalWorkloads,
		yas.Status.UpdatedWorkloads,
		age(yas.CreationTimestamp),
		templateKind(yas.Spec.Workload.WorkloadTemplate),
		pools,
	}
}

func templateKind(t apps.WorkloadTemplate) string {
	switch {
	case t.DeploymentTemplate != nil:
		return "Deployment"
	case t.StatefulSetTemplate != nil:
		return "StatefulSet"
	}
	return "<none>"
}

// NewYurtAppSetTableConvertor returns the Table convertor of YurtAppSets.
func NewYurtAppSetTableConvertor() rest.TableConvertor {
	return NewTableConvertor(yurtAppSetColumns, yurtAppSetCells)
}

var yurtAppDaemonColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("WorkloadTemplate", "string", "The kind of the workload: Deployment or StatefulSet."),
	ageColumn(),
	wide(column("NodePools", "string", "The pools the workload runs in.")),
}

func yurtAppDaemonCells(yad *apps.YurtAppDaemon) []interface{} {
	return []interface{}{
		yad.Name,
		orNone(yad.Status.TemplateType),
		age(yad.CreationTimestamp),
		list(yad.Status.NodePools),
	}
}

// NewYurtAppDaemonTableConvertor returns the Table convertor of YurtAppDaemons.
func NewYurtAppDaemonTableConvertor() rest.TableConvertor {
	return NewTableConvertor(yurtAppDaemonColumns, yurtAppDaemonCells)
}

var responseFilterColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Priority", "integer", "The order of the filter; lower runs first."),
	column("FailurePolicy", "string", "What a hub does when the filter fails: Ignore or Fail."),
	column("UserAgents", "string", "The clients the filter applies to."),
	column("Resources", "string", "The resources the filter applies to, as group/resource."),
	ageColumn(),
	wide(column("Ready", "string", "The status of the Ready condition.")),
}

func responseFilterCells(rf *apps.ResponseFilter) []interface{} {
	policy := apps.Fail // the default
	if rf.Spec.FailurePolicy != nil {
		policy = *rf.Spec.FailurePolicy
	}
	var resources []string
	for _, rule := range rf.Spec.Match.Resources {
		for _, r := range rule.Resources {
			if rule.Group != "" {
				r = rule.Group + "/" + r
			}
			resources = append(resources, r)
		}
	}
	ready := "<none>"
	if c := meta.FindStatusCondition(rf.Status.Conditions, "Ready"); c != nil {
		ready = string(c.Status)
	}
	return []interface{}{
		rf.Name,
		rf.Spec.Priority,
		string(policy),
		list(rf.Spec.Match.UserAgents),
		list(resources),
		age(rf.CreationTimestamp),
		ready,
	}
}

// NewResponseFilterTableConvertor returns the Table convertor of ResponseFilters.
func NewResponseFilterTableConvertor() rest.TableConvertor {
	return NewTableConvertor(responseFilterColumns, responseFilterCells)
}
