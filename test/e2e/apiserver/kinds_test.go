package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// testLabel marks every object a test creates, with the test's own value, so selectors and
// category listings only see that test's objects.
const testLabel = "e2e.yurt.io/test"

// kindCase is one served resource (in one version) and what kubectl should show for it.
type kindCase struct {
	// name names the subtest.
	name string
	// resource is what kubectl is given to address the resource in this version.
	resource string
	// shortName is the discovery short name ("" when the resource has none).
	shortName string
	gvr       schema.GroupVersionResource
	kind      string
	// namespaced kinds are created in namespace "default".
	namespaced bool
	// manifest is a valid object with {{NAME}} and {{LABEL}} (the testLabel value) placeholders.
	manifest string
	// columns are the Table headers of `kubectl get`; wideColumns the extra ones of -o wide.
	columns     []string
	wideColumns []string
	// explainFields must appear in `kubectl explain <resource>.spec`.
	explainFields []string
	// specPatch is a strategic-merge patch of a spec field; specPath/specWant check it.
	specPatch string
	specPath  string
	specWant  string
}

const nodePoolV1beta2Manifest = `apiVersion: apps.openyurt.io/v1beta2
kind: NodePool
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  type: Edge
  labels: {site: e2e}
  taints:
  - {key: e2e.yurt.io/site, value: e2e, effect: NoSchedule}
  interConnectivity: true
  leaderElectionStrategy: mark
  leaderNodeLabelSelector: {leader: "true"}
`

var kindCases = []kindCase{
	{
		name: "NodePool-v1beta2", resource: "nodepools.v1beta2.apps.openyurt.io", shortName: "np",
		gvr:  schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1beta2", Resource: "nodepools"},
		kind: "NodePool", manifest: nodePoolV1beta2Manifest,
		columns:       []string{"NAME", "TYPE", "READYNODES", "NOTREADYNODES", "LEADERNODES", "LEADERELECTIONAGE", "AGE"},
		wideColumns:   []string{"HOSTNETWORK", "INTERCONNECTIVITY", "NODES"},
		explainFields: []string{"type", "hostNetwork", "labels", "annotations", "taints", "interConnectivity", "leaderElectionStrategy", "leaderReplicas", "poolScopeMetadata"},
		specPatch:     `{"spec":{"labels":{"patched":"yes"}}}`, specPath: "{.spec.labels.patched}", specWant: "yes",
	},
	{
		name: "NodePool-v1beta1", resource: "nodepools.v1beta1.apps.openyurt.io",
		gvr:  schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1beta1", Resource: "nodepools"},
		kind: "NodePool",
		manifest: `apiVersion: apps.openyurt.io/v1beta1
kind: NodePool
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  type: Cloud
  labels: {site: e2e}
  annotations: {contact: ops}
`,
		// The Table comes from the internal object, so v1beta1 shows the same columns.
		columns:       []string{"NAME", "TYPE", "READYNODES", "NOTREADYNODES", "LEADERNODES", "LEADERELECTIONAGE", "AGE"},
		wideColumns:   []string{"HOSTNETWORK", "INTERCONNECTIVITY", "NODES"},
		explainFields: []string{"type", "hostNetwork", "labels", "annotations", "taints"},
		specPatch:     `{"spec":{"annotations":{"patched":"yes"}}}`, specPath: "{.spec.annotations.patched}", specWant: "yes",
	},
	{
		name: "YurtAppSet", resource: "yurtappsets.v1beta1.apps.openyurt.io", shortName: "yas",
		gvr:  schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1beta1", Resource: "yurtappsets"},
		kind: "YurtAppSet", namespaced: true,
		manifest: `apiVersion: apps.openyurt.io/v1beta1
kind: YurtAppSet
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  pools: [hangzhou]
  revisionHistoryLimit: 3
  workload:
    workloadTemplate:
      deploymentTemplate:
        metadata: {labels: {app: web}}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: nginx:1.27}]
`,
		columns:       []string{"NAME", "READY", "WORKLOAD", "UPDATED", "AGE"},
		wideColumns:   []string{"TEMPLATE", "POOLS"},
		explainFields: []string{"nodepoolSelector", "pools", "workload", "revisionHistoryLimit"},
		specPatch:     `{"spec":{"revisionHistoryLimit":7}}`, specPath: "{.spec.revisionHistoryLimit}", specWant: "7",
	},
	{
		name: "YurtAppDaemon", resource: "yurtappdaemons.v1alpha1.apps.openyurt.io", shortName: "yad",
		gvr:  schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1alpha1", Resource: "yurtappdaemons"},
		kind: "YurtAppDaemon", namespaced: true,
		manifest: `apiVersion: apps.openyurt.io/v1alpha1
kind: YurtAppDaemon
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  selector: {matchLabels: {app: agent}}
  nodepoolSelector: {matchLabels: {monitoring: enabled}}
  revisionHistoryLimit: 3
  workloadTemplate:
    deploymentTemplate:
      metadata: {labels: {app: agent}}
      spec:
        selector: {matchLabels: {app: agent}}
        template:
          metadata: {labels: {app: agent}}
          spec:
            containers: [{name: agent, image: busybox:1.36}]
`,
		columns:       []string{"NAME", "WORKLOADTEMPLATE", "AGE"},
		wideColumns:   []string{"NODEPOOLS"},
		explainFields: []string{"selector", "workloadTemplate", "nodepoolSelector", "revisionHistoryLimit"},
		specPatch:     `{"spec":{"revisionHistoryLimit":7}}`, specPath: "{.spec.revisionHistoryLimit}", specWant: "7",
	},
	{
		name: "ResponseFilter", resource: "responsefilters.v1alpha1.apps.openyurt.io", shortName: "rf",
		gvr:  schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1alpha1", Resource: "responsefilters"},
		kind: "ResponseFilter",
		manifest: `apiVersion: apps.openyurt.io/v1alpha1
kind: ResponseFilter
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  priority: 300
  failurePolicy: Ignore
  match:
    userAgents: [kube-proxy]
    resources: [{group: "", resources: [services], verbs: [list, watch]}]
  keep: "true"
`,
		columns:       []string{"NAME", "PRIORITY", "FAILUREPOLICY", "USERAGENTS", "RESOURCES", "AGE"},
		wideColumns:   []string{"READY"},
		explainFields: []string{"priority", "failurePolicy", "match", "matchConditions", "variables", "keep", "mutations"},
		specPatch:     `{"spec":{"priority":321}}`, specPath: "{.spec.priority}", specWant: "321",
	},
	{
		name: "Device", resource: "devices.v1alpha1.iot.openyurt.io", shortName: "dev",
		gvr:  schema.GroupVersionResource{Group: "iot.openyurt.io", Version: "v1alpha1", Resource: "devices"},
		kind: "Device", namespaced: true,
		manifest: `apiVersion: iot.openyurt.io/v1alpha1
kind: Device
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  description: a sensor
  adminState: UNLOCKED
  operatingState: UP
  protocols: {modbus-tcp: {Address: 10.0.0.7, Port: "502"}}
  serviceName: device-modbus
  profileName: thermometer
  nodePool: hangzhou
`,
		columns:       []string{"NAME", "NODEPOOL", "SYNCED", "AGE"},
		wideColumns:   []string{"SERVICE", "PROFILE", "ADMINSTATE", "OPERATINGSTATE"},
		explainFields: []string{"description", "adminState", "protocols", "serviceName", "profileName", "nodePool"},
		specPatch:     `{"spec":{"description":"patched"}}`, specPath: "{.spec.description}", specWant: "patched",
	},
	{
		name: "DeviceService", resource: "deviceservices.v1alpha1.iot.openyurt.io", shortName: "dsvc",
		gvr:  schema.GroupVersionResource{Group: "iot.openyurt.io", Version: "v1alpha1", Resource: "deviceservices"},
		kind: "DeviceService", namespaced: true,
		manifest: `apiVersion: iot.openyurt.io/v1alpha1
kind: DeviceService
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  description: modbus service
  adminState: UNLOCKED
  baseAddress: http://edgex-device-modbus:59901
  nodePool: hangzhou
`,
		columns:       []string{"NAME", "NODEPOOL", "SYNCED", "AGE"},
		wideColumns:   []string{"BASEADDRESS", "ADMINSTATE"},
		explainFields: []string{"description", "adminState", "baseAddress", "nodePool"},
		specPatch:     `{"spec":{"description":"patched"}}`, specPath: "{.spec.description}", specWant: "patched",
	},
	{
		name: "DeviceProfile", resource: "deviceprofiles.v1alpha1.iot.openyurt.io", shortName: "dp",
		gvr:  schema.GroupVersionResource{Group: "iot.openyurt.io", Version: "v1alpha1", Resource: "deviceprofiles"},
		kind: "DeviceProfile", namespaced: true,
		manifest: `apiVersion: iot.openyurt.io/v1alpha1
kind: DeviceProfile
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  description: thermometer
  manufacturer: Example
  model: T-1
  nodePool: hangzhou
  deviceResources:
  - name: Temperature
    properties: {valueType: Float32, readWrite: R}
`,
		columns:       []string{"NAME", "NODEPOOL", "SYNCED", "AGE"},
		wideColumns:   []string{"MANUFACTURER", "MODEL"},
		explainFields: []string{"description", "manufacturer", "model", "deviceResources", "deviceCommands", "nodePool"},
		specPatch:     `{"spec":{"description":"patched"}}`, specPath: "{.spec.description}", specWant: "patched",
	},
	{
		name: "PlatformAdmin", resource: "platformadmins.v1alpha1.iot.openyurt.io", shortName: "pa",
		gvr:  schema.GroupVersionResource{Group: "iot.openyurt.io", Version: "v1alpha1", Resource: "platformadmins"},
		kind: "PlatformAdmin", namespaced: true,
		manifest: `apiVersion: iot.openyurt.io/v1alpha1
kind: PlatformAdmin
metadata:
  name: {{NAME}}
  labels: {` + testLabel + `: {{LABEL}}, owner: first}
spec:
  platform: edgex
  version: minnesota
  poolName: hangzhou
  components: [{name: edgex-device-modbus}]
`,
		columns:       []string{"NAME", "READY", "READYCOMPONENTS", "NOTREADYCOMPONENTS", "AGE"},
		wideColumns:   []string{"POOL", "VERSION"},
		explainFields: []string{"platform", "version", "imageRegistry", "poolName", "components", "security"},
		specPatch:     `{"spec":{"imageRegistry":"registry.example.com"}}`, specPath: "{.spec.imageRegistry}", specWant: "registry.example.com",
	},
}

// render fills a manifest's placeholders.
func (k kindCase) render(name, label string) string {
	return strings.NewReplacer("{{NAME}}", name, "{{LABEL}}", label).Replace(k.manifest)
}

// object decodes the rendered manifest, for the dynamic client.
func (k kindCase) object(t testing.TB, name, label string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]interface{}
	if err := yaml.Unmarshal([]byte(k.render(name, label)), &m); err != nil {
		t.Fatalf("%s manifest: %v", k.name, err)
	}
	return &unstructured.Unstructured{Object: m}
}

// ns is the namespace argument for the dynamic client ("" for cluster-scoped kinds).
func (k kindCase) ns() string {
	if k.namespaced {
		return "default"
	}
	return ""
}

// uniqueName returns a DNS-label name unique to this run, from a readable prefix.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(prefix), time.Now().UnixNano()%1_000_000_000)
}

// kubectlOK runs kubectl as admin and fails the test on error.
func kubectlOK(t testing.TB, args ...string) string {
	t.Helper()
	out, err := framework.Kubectl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubectlStdinOK runs kubectl as admin with stdin and fails the test on error.
func kubectlStdinOK(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := framework.KubectlStdin(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// watchEvent is one event of `kubectl get -w --output-watch-events -o json`.
type watchEvent struct {
	Type   string                    `json:"type"`
	Object unstructured.Unstructured `json:"object"`
}

// kubectlWatch is a running `kubectl get -w`, whose events arrive on events.
type kubectlWatch struct {
	events <-chan watchEvent
}

// startKubectlWatch starts `kubectl get <args> -w --output-watch-events -o json` as admin and
// stops it when the test ends. framework.Kubectl waits for kubectl to exit, so a watch, which
// does not exit, runs here.
func startKubectlWatch(t *testing.T, args ...string) *kubectlWatch {
	t.Helper()
	s := framework.Stack(t)
	ctx, cancel := context.WithCancel(context.Background())
	full := append([]string{"--kubeconfig=" + s.AdminKubeconfig, "--cache-dir=" + filepath.Join(s.Dir, "kubectl-cache"), "get"}, args...)
	full = append(full, "-w", "--output-watch-events", "-o", "json")
	cmd := exec.CommandContext(ctx, "kubectl", full...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting kubectl %s: %v", strings.Join(full, " "), err)
	}
	events := make(chan watchEvent, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(events)
		dec := json.NewDecoder(bufio.NewReader(stdout))
		for {
			var ev watchEvent
			if err := dec.Decode(&ev); err != nil {
				if err != io.EOF && ctx.Err() == nil {
					t.Logf("kubectl watch output: %v", err)
				}
				return
			}
			events <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("kubectl watch stderr: %s", stderr.String())
		}
	})
	return &kubectlWatch{events: events}
}

// next returns the next event of type typ for name, failing the test after timeout.
func (w *kubectlWatch) next(t testing.TB, typ, name string, timeout time.Duration) watchEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				t.Fatalf("kubectl watch ended before a %s event for %s", typ, name)
			}
			if ev.Type == typ && ev.Object.GetName() == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for %s from kubectl get -w within %s", typ, name, timeout)
		}
	}
}
