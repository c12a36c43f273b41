package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// fieldManager owns the fields `yurtctl local up` applies, so a later kubectl apply or edit
// by the user shows up as a different manager.
const fieldManager = "yurtctl-local"

// manifest is one object read from a manifest file.
type manifest struct {
	// Source is file#index, for errors.
	Source string
	Object *unstructured.Unstructured
}

// readManifests reads path, or every *.yaml file in path when it is a directory (in name
// order, not recursing), and splits each into its objects. Documents holding only comments
// are skipped; an object without apiVersion, kind or name is an error naming its file and
// position.
func readManifests(path string) ([]manifest, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if st.IsDir() {
		if files, err = filepath.Glob(filepath.Join(path, "*.yaml")); err != nil {
			return nil, err
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("no *.yaml manifests in %s", path)
		}
	}
	var out []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		objs, err := decodeManifests(f, data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func decodeManifests(file string, data []byte) ([]manifest, error) {
	var out []manifest
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 0; ; i++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s#%d: %w", file, i, err)
		}
		if len(raw) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: raw}
		src := fmt.Sprintf("%s#%d", file, i)
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" || obj.GetName() == "" {
			return nil, fmt.Errorf("%s: an object needs apiVersion, kind and metadata.name", src)
		}
		out = append(out, manifest{Source: src, Object: obj})
	}
}

// applyManifests server-side applies every object of path's manifests (as `kubectl apply
// --server-side --force-conflicts` would) and returns "resource/name" of each, in order.
func applyManifests(ctx context.Context, cfg *rest.Config, path string) ([]string, error) {
	objs, err := readManifests(path)
	if err != nil {
		return nil, err
	}
	return apply(ctx, cfg, objs)
}

// applyObjects is applyManifests for manifests in memory; source names them in errors.
func applyObjects(ctx context.Context, cfg *rest.Config, source string, data []byte) ([]string, error) {
	objs, err := decodeManifests(source, data)
	if err != nil {
		return nil, err
	}
	return apply(ctx, cfg, objs)
}

func apply(ctx context.Context, cfg *rest.Config, objs []manifest) ([]string, error) {
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range objs {
		gvk := m.Object.GroupVersionKind()
		mapping, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
		if err != nil {
			return applied, fmt.Errorf("%s: finding the resource of %s: %w", m.Source, gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == "namespace" {
			ns := m.Object.GetNamespace()
			if ns == "" {
				ns = metav1.NamespaceDefault
			}
			ri = dyn.Resource(mapping.Resource).Namespace(ns)
		}
		if err := applyRetrying(ctx, ri, m.Object); err != nil {
			return applied, fmt.Errorf("%s: applying %s %s: %w", m.Source, gvk.Kind, m.Object.GetName(), err)
		}
		applied = append(applied, mapping.Resource.Resource+"/"+m.Object.GetName())
	}
	return applied, nil
}

// applyRetryTimeout bounds retries of transient refusals. Right after an aggregated API
// server's APIService turns Available, kube-apiserver's proxy to it can still answer 503 for
// a moment.
const applyRetryTimeout = 30 * time.Second

// applyRetrying server-side applies obj, retrying while the answer is transient (503, 429,
// a timeout); any other error is returned at once.
func applyRetrying(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) error {
	deadline := time.Now().Add(applyRetryTimeout)
	delay := 100 * time.Millisecond
	for {
		_, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err == nil {
			return nil
		}
		transient := apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) ||
			apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err)
		if !transient || time.Now().Add(delay).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
