package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// Pod conditions of the OTA upgrade; the same names as pkg/controller/daemonupgrade writes
// (not imported: the hub does not link the controllers).
const (
	podNeedUpgrade corev1.PodConditionType = "PodNeedUpgrade"
	podImageReady  corev1.PodConditionType = "PodImageReady"
)

// OTA serves OpenYurt's over-the-air upgrade API on the hub's server port:
//
//	GET  /pods                                                  the pods bound to this node
//	POST /openyurt.io/v1/namespaces/{ns}/pods/{podname}/upgrade delete a DaemonSet pod so
//	     kube-controller-manager recreates it at the newest revision
//
// Both answer 503 while the cloud is unreachable: the list would be stale and a deletion
// could not be carried out. An upgrade is refused (403) for a pod on another node, a pod
// being deleted, a pod whose PodNeedUpgrade condition is not True, or whose PodImageReady
// condition, when present, is not True.
type OTA struct {
	NodeName string
	// Healthy reports whether the cloud is reachable.
	Healthy func() bool
	// Client talks to the cloud with the node's credentials.
	Client kubernetes.Interface
	Logger klog.Logger
}

// Register adds the OTA routes to mux.
func (o *OTA) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /pods", o.listPods)
	mux.HandleFunc("POST /openyurt.io/v1/namespaces/{ns}/pods/{podname}/upgrade", o.upgrade)
}

func (o *OTA) listPods(w http.ResponseWriter, r *http.Request) {
	if !o.Healthy() {
		http.Error(w, "the cloud is unreachable; pods cannot be listed now", http.StatusServiceUnavailable)
		return
	}
	list, err := o.Client.CoreV1().Pods("").List(r.Context(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", o.NodeName).String(),
	})
	if err != nil {
		writeAPIError(w, fmt.Errorf("listing the pods of node %s: %w", o.NodeName, err))
		return
	}
	// The field selector already does this on a real server; filtering again costs nothing
	// and keeps the answer right whatever serves the list.
	mine := list.Items[:0]
	for _, p := range list.Items {
		if p.Spec.NodeName == o.NodeName {
			mine = append(mine, p)
		}
	}
	list.Items = mine
	list.APIVersion, list.Kind = "v1", "PodList"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

func (o *OTA) upgrade(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("podname")
	if !o.Healthy() {
		http.Error(w, "the cloud is unreachable; the upgrade of pod "+ns+"/"+name+" cannot be carried out now", http.StatusServiceUnavailable)
		return
	}
	pod, err := o.Client.CoreV1().Pods(ns).Get(r.Context(), name, metav1.GetOptions{})
	if apierrors.IsForbidden(err) {
		// The node authorizer lets a node read only the pods bound to it.
		http.Error(w, fmt.Sprintf("pod %s/%s cannot be upgraded: it is not bound to this node %q (the cloud refused to show it to the node: %v)", ns, name, o.NodeName, err), http.StatusForbidden)
		return
	}
	if err != nil {
		writeAPIError(w, fmt.Errorf("getting pod %s/%s: %w", ns, name, err))
		return
	}
	if reason := o.refuse(pod); reason != "" {
		http.Error(w, fmt.Sprintf("pod %s/%s cannot be upgraded: %s", ns, name, reason), http.StatusForbidden)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.Kind != "DaemonSet" {
		http.Error(w, fmt.Sprintf("pod %s/%s is not a DaemonSet pod; only DaemonSet pods are upgraded here", ns, name), http.StatusNotImplemented)
		return
	}
	err = o.Client.CoreV1().Pods(ns).Delete(r.Context(), name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil {
		writeAPIError(w, fmt.Errorf("deleting pod %s/%s: %w", ns, name, err))
		return
	}
	o.Logger.Info("OTA upgrade: deleted pod", "pod", klog.KObj(pod))
	_, _ = fmt.Fprintf(w, "pod %s/%s is being upgraded\n", ns, name)
}

// refuse says why pod may not be upgraded from this node, or "".
func (o *OTA) refuse(pod *corev1.Pod) string {
	if pod.Spec.NodeName != o.NodeName {
		return fmt.Sprintf("it runs on node %q, not on this node %q", pod.Spec.NodeName, o.NodeName)
	}
	if pod.DeletionTimestamp != nil {
		return "it is already being deleted"
	}
	need := podCondition(pod, podNeedUpgrade)
	if need == nil || need.Status != corev1.ConditionTrue {
		return "its " + string(podNeedUpgrade) + " condition is not True"
	}
	if img := podCondition(pod, podImageReady); img != nil && img.Status != corev1.ConditionTrue {
		return "its " + string(podImageReady) + " condition is not True"
	}
	return ""
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// writeAPIError passes the cloud's status code on (404, 403, 409…), 502 for anything else.
func writeAPIError(w http.ResponseWriter, err error) {
	code := http.StatusBadGateway
	var s apierrors.APIStatus
	if errors.As(err, &s) && s.Status().Code >= 400 {
		code = int(s.Status().Code)
	}
	http.Error(w, err.Error(), code)
}

// registerOTA adds the OTA API to the hub's server mux, talking to the cloud with the node's
// credentials.
func registerOTA(mux *http.ServeMux, cfg *rest.Config, nodeName string, healthy func() bool, logger klog.Logger) error {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "yurthub-ota"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the OTA client: %w", err)
	}
	(&OTA{NodeName: nodeName, Healthy: healthy, Client: client, Logger: logger}).Register(mux)
	return nil
}
