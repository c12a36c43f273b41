package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"
)

// Where yurt-apiserver is registered in the stack's cluster, as in artifacts/local/.
const (
	YurtNamespace   = "yurt-system"
	YurtServiceName = "yurt-apiserver"
	// DefaultYurtAPIServerPort is the port of artifacts/local/, used by yurtctl local up.
	DefaultYurtAPIServerPort = 8443
)

// yurtLabels label what the stack creates for yurt-apiserver.
var yurtLabels = map[string]string{
	"app.kubernetes.io/name":    "yurt-apiserver",
	"app.kubernetes.io/part-of": "yurt",
}

// YurtGroupVersions are the group versions yurt-apiserver serves, with the APIService
// priorities of artifacts/local/apiservices.yaml (the preferred version has the highest).
var YurtGroupVersions = []struct {
	Group, Version  string
	VersionPriority int32
}{
	{"apps.openyurt.io", "v1beta2", 20},
	{"apps.openyurt.io", "v1beta1", 15},
	{"apps.openyurt.io", "v1alpha1", 10},
	{"iot.openyurt.io", "v1alpha1", 10},
}

// YurtAPIServerService is the ExternalName Service the APIServices point at: the aggregator
// sends requests for an ExternalName Service to https://<externalName>:<APIService port>,
// here https://localhost:<port>.
func YurtAPIServerService(port int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: YurtServiceName, Namespace: YurtNamespace, Labels: yurtLabels},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		},
	}
}

// YurtAPIServices are the APIServices of yurt-apiserver listening on localhost:port. TLS is
// not verified: the server's certificate is self-signed and the traffic stays on loopback.
func YurtAPIServices(port int32) []*apiregistrationv1.APIService {
	out := make([]*apiregistrationv1.APIService, 0, len(YurtGroupVersions))
	for _, gv := range YurtGroupVersions {
		out = append(out, &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Version + "." + gv.Group, Labels: yurtLabels},
			Spec: apiregistrationv1.APIServiceSpec{
				Group:                 gv.Group,
				Version:               gv.Version,
				Service:               &apiregistrationv1.ServiceReference{Namespace: YurtNamespace, Name: YurtServiceName, Port: ptr.To(port)},
				InsecureSkipTLSVerify: true,
				GroupPriorityMinimum:  1000,
				VersionPriority:       gv.VersionPriority,
			},
		})
	}
	return out
}

func (s *Stack) yurtAPIServerArgs(port int) []string {
	args := []string{
		"--secure-port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--cert-dir=" + filepath.Join(s.Dir, "yurt-apiserver", "certs"),
		"--data-dir=" + filepath.Join(s.Dir, "yurt-apiserver", "data"),
		"--kubeconfig=" + s.AdminKubeconfig,
		"--authentication-kubeconfig=" + s.AdminKubeconfig,
		"--authorization-kubeconfig=" + s.AdminKubeconfig,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(args, s.opts.YurtAPIServerArgs...)
}

// StartYurtAPIServer starts yurt-apiserver, registers it with kube-apiserver (the
// yurt-system namespace, an ExternalName Service and the APIServices of YurtAPIServices),
// and waits until every APIService is Available and kube-apiserver's discovery lists every
// group version. Start calls it unless Options.SkipYurtAPIServer is set; tests of the server
// itself call it again after StopYurtAPIServer. The port stays the same across restarts when
// it is free.
func (s *Stack) StartYurtAPIServer(ctx context.Context) error {
	s.mu.Lock()
	prev := s.yurtAPIServer
	s.mu.Unlock()
	if prev != nil {
		select {
		case <-prev.Done():
		default:
			return fmt.Errorf("yurt-apiserver is already running (pid %d)", prev.Pid())
		}
	}
	bin := filepath.Join(s.opts.YurtBinDir, "yurt-apiserver")
	for attempt := 1; ; attempt++ {
		port := s.YurtAPIServerPort
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
		} else if err := checkPortFree(port); err != nil {
			return fmt.Errorf("yurt-apiserver cannot listen on 127.0.0.1:%d: %w", port, err)
		}
		s.YurtAPIServerPort = port
		s.YurtAPIServerURL = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.logger.Info("Starting yurt-apiserver", "url", s.YurtAPIServerURL, "log", s.logFile("yurt-apiserver"))
		proc, err := StartProcess("yurt-apiserver", bin, s.yurtAPIServerArgs(port), s.logFile("yurt-apiserver"))
		if err != nil {
			return err
		}
		s.setProcess(&s.yurtAPIServer, proc)
		err = s.waitYurtAPIServerReady(ctx, proc)
		if err == nil {
			err = s.registerYurtAPIServer(ctx, int32(port))
		}
		if err == nil {
			err = s.waitYurtAPIServicesAvailable(ctx, proc)
		}
		if err == nil {
			s.logger.Info("yurt-apiserver is ready and its APIServices are Available", "url", s.YurtAPIServerURL, "pid", proc.Pid())
			return nil
		}
		stopErr := proc.Stop(s.opts.StopTimeout)
		if attempt < startAttempts && s.opts.YurtAPIServerPort == 0 && errors.Is(err, errExited) && addressInUse(proc.LogFile) {
			s.logger.Info("yurt-apiserver's port was taken; retrying on another", "port", port)
			s.YurtAPIServerPort = 0
			continue
		}
		return errors.Join(err, stopErr)
	}
}

// StopYurtAPIServer stops yurt-apiserver and leaves its registration in place, so a restart
// on the same port serves the same APIServices.
func (s *Stack) StopYurtAPIServer() error {
	s.mu.Lock()
	proc := s.yurtAPIServer
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	s.logger.Info("Stopping yurt-apiserver", "pid", proc.Pid())
	return proc.Stop(s.opts.StopTimeout)
}

// waitYurtAPIServerReady polls yurt-apiserver's own /readyz, authenticating with the admin
// certificate (its client CA comes from kube-apiserver).
func (s *Stack) waitYurtAPIServerReady(ctx context.Context, proc *Process) error {
	cfg := &rest.Config{
		Host:    s.YurtAPIServerURL,
		Timeout: 5 * time.Second,
		TLSClientConfig: rest.TLSClientConfig{
			// Self-signed at its start; only this process on loopback talks to it.
			Insecure: true,
			CertData: s.PKI.Admin.CertPEM,
			KeyData:  s.PKI.Admin.KeyPEM,
		},
	}
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	return waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error {
		return checkReadyz(ctx, client.RESTClient())
	})
}

// registerYurtAPIServer creates or updates the namespace, Service and APIServices.
func (s *Stack) registerYurtAPIServer(ctx context.Context, port int32) error {
	kube, err := kubernetes.NewForConfig(s.RESTConfig())
	if err != nil {
		return err
	}
	agg, err := aggregatorclient.NewForConfig(s.RESTConfig())
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: YurtNamespace, Labels: map[string]string{"app.kubernetes.io/part-of": "yurt"}}}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", YurtNamespace, err)
	}
	want := YurtAPIServerService(port)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := kube.CoreV1().Services(YurtNamespace).Get(ctx, YurtServiceName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = kube.CoreV1().Services(YurtNamespace).Create(ctx, want, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		if svc.Spec.Type != corev1.ServiceTypeExternalName {
			// A ClusterIP Service cannot become ExternalName in place with its IP kept; replace it.
			if err := kube.CoreV1().Services(YurtNamespace).Delete(ctx, YurtServiceName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			_, err = kube.CoreV1().Services(YurtNamespace).Create(ctx, want, metav1.CreateOptions{})
			return err
		}
		svc.Labels = want.Labels
		svc.Spec.ExternalName = want.Spec.ExternalName
		svc.Spec.Ports = want.Spec.Ports
		_, err = kube.CoreV1().Services(YurtNamespace).Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("applying Service %s/%s: %w", YurtNamespace, YurtServiceName, err)
	}
	for _, want := range YurtAPIServices(port) {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			got, err := agg.ApiregistrationV1().APIServices().Get(ctx, want.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				_, err = agg.ApiregistrationV1().APIServices().Create(ctx, want, metav1.CreateOptions{})
				return err
			}
			if err != nil {
				return err
			}
			got.Labels = want.Labels
			got.Spec = want.Spec
			_, err = agg.ApiregistrationV1().APIServices().Update(ctx, got, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("applying APIService %s: %w", want.Name, err)
		}
	}
	return nil
}

// waitYurtAPIServicesAvailable waits until every APIService is Available and kube-apiserver's
// discovery lists every group version yurt-apiserver serves.
func (s *Stack) waitYurtAPIServicesAvailable(ctx context.Context, proc *Process) error {
	agg, err := aggregatorclient.NewForConfig(s.RESTConfig())
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(s.RESTConfig())
	if err != nil {
		return err
	}
	return waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error {
		if err := CheckYurtAPIServicesAvailable(ctx, agg); err != nil {
			return err
		}
		return checkDiscovery(disc)
	})
}

// CheckYurtAPIServicesAvailable returns nil when every APIService of yurt-apiserver exists
// and is Available, and otherwise an error naming each that is not, with its condition.
func CheckYurtAPIServicesAvailable(ctx context.Context, agg aggregatorclient.Interface) error {
	var problems []string
	for _, want := range YurtAPIServices(0) {
		got, err := agg.ApiregistrationV1().APIServices().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", want.Name, err))
			continue
		}
		i := slices.IndexFunc(got.Status.Conditions, func(c apiregistrationv1.APIServiceCondition) bool {
			return c.Type == apiregistrationv1.Available
		})
		switch {
		case i < 0:
			problems = append(problems, fmt.Sprintf("%s: no Available condition yet", want.Name))
		case got.Status.Conditions[i].Status != apiregistrationv1.ConditionTrue:
			c := got.Status.Conditions[i]
			problems = append(problems, fmt.Sprintf("%s: Available=%s %s: %s", want.Name, c.Status, c.Reason, c.Message))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("APIServices not Available: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkDiscovery returns nil when kube-apiserver's discovery lists every group version of
// YurtGroupVersions.
func checkDiscovery(disc discovery.DiscoveryInterface) error {
	groups, err := disc.ServerGroups()
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	var missing []string
	for _, gv := range YurtGroupVersions {
		found := false
		for _, g := range groups.Groups {
			if g.Name == gv.Group && slices.ContainsFunc(g.Versions, func(v metav1.GroupVersionForDiscovery) bool { return v.Version == gv.Version }) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, gv.Group+"/"+gv.Version)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("discovery through kube-apiserver does not list %s yet", strings.Join(missing, ", "))
	}
	return nil
}

// checkPortFree reports whether a fixed port can be bound on 127.0.0.1 right now.
func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// SetYurtAPIServerArgs replaces the extra flags yurt-apiserver gets from its next start on,
// e.g. --etcd-servers once the stack's etcd is known.
func (s *Stack) SetYurtAPIServerArgs(args ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.YurtAPIServerArgs = slices.Clone(args)
}
