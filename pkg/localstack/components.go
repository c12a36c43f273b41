package localstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"
)

// addComponent records a process Stop must end (kube-controller-manager, hollow nodes,
// yurt-manager), stopped in reverse order of starting before the API servers. An exit
// without Stop is reported through Failed when report is set.
func (s *Stack) addComponent(proc *Process, report bool) {
	s.mu.Lock()
	s.components = append(s.components, proc)
	s.mu.Unlock()
	if !report {
		return
	}
	go func() {
		<-proc.Done()
		if !proc.Stopping() && !s.stopping.Load() {
			s.reportFailure(proc.exitedError())
		}
	}()
}

// stopComponents stops what addComponent recorded, newest first.
func (s *Stack) stopComponents() []error {
	s.mu.Lock()
	procs := s.components
	s.components = nil
	s.mu.Unlock()
	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.Done():
			continue
		default:
		}
		s.logger.Info("Stopping "+p.Name, "pid", p.Pid())
		if err := p.Stop(s.opts.StopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkHTTPHealth passes when url answers 200. TLS is not verified: these are the stack's own
// loopback servers with self-signed certificates.
func checkHTTPHealth(ctx context.Context, url string) error {
	client := &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback, self-signed
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// AddComponent makes Stop end proc too (before the API servers), e.g. a process a test
// started itself that must outlive the test.
func (s *Stack) AddComponent(proc *Process) { s.addComponent(proc, false) }
