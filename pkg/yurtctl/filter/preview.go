// Package filter implements `yurtctl filter`: preview what a hub returns to a local component
// once ResponseFilters (from files or from the cluster) have run on an object.
package filter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	"github.com/yurt-edge/yurt/generated/clientset/versioned"
	celfilter "github.com/yurt-edge/yurt/pkg/filter"
)

// NewCommand returns `yurtctl filter` with its preview subcommand.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "filter",
		Short: "Work with ResponseFilters",
		Run:   func(cmd *cobra.Command, _ []string) { _ = cmd.Help() },
	}
	cmd.AddCommand(newPreviewCommand())
	return cmd
}

func newPreviewCommand() *cobra.Command {
	o := NewPreviewOptions()
	cmd := &cobra.Command{
		Use:   "preview --filter FILE|DIR|NAME --object FILE --node NAME",
		Short: "Print what a hub would return to a component after the filters run on an object",
		Long: `preview runs ResponseFilters on an object the way a hub does for a local component
and prints the result: the object as mutated, or a note that a filter dropped it. A List
(e.g. 'kubectl get endpointslices -o yaml') is filtered item by item and printed without
the dropped items.

--filter takes a file, a directory of files (e.g. artifacts/filters/) or the name of a
ResponseFilter in the cluster (read with --kubeconfig); repeat it to chain filters. They run in
priority order; only those matching the request (--user-agent, --verb and the object's
resource) apply. nodePool() answers from --pool (for --node) and --node-pools; service()
answers from --services.

Examples:
  yurtctl filter preview --filter artifacts/filters/servicetopology.yaml \
    --object slice.yaml --services svc.yaml --node edge-1 --pool hangzhou \
    --node-pools edge-2=hangzhou,edge-3=beijing
  yurtctl filter preview --filter nodeportisolation --object svc.yaml --node edge-1 --pool beijing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out, o.ErrOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := o.Complete(); err != nil {
				return err
			}
			if err := utilerrors.NewAggregate(o.Validate()); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// PreviewOptions are the flags of `yurtctl filter preview`.
type PreviewOptions struct {
	Filters    []string
	Object     string
	Node       string
	NodeLabels map[string]string
	Pool       string
	NodePools  map[string]string
	Services   string
	UserAgent  string
	Verb       string
	Resource   string
	Kubeconfig string
	Output     string

	Out, ErrOut io.Writer
}

// NewPreviewOptions returns the defaults.
func NewPreviewOptions() *PreviewOptions {
	return &PreviewOptions{Verb: "list", Output: "yaml", Out: os.Stdout, ErrOut: os.Stderr}
}

// AddFlags adds the options to fs.
func (o *PreviewOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.Filters, "filter", o.Filters, "A ResponseFilter file, a directory of them, or the name of one in the cluster; repeatable.")
	fs.StringVar(&o.Object, "object", o.Object, "File holding the object (or a List of objects) the hub would return; - reads stdin.")
	fs.StringVar(&o.Node, "node", o.Node, "Name of the hub's node.")
	fs.StringToStringVar(&o.NodeLabels, "node-labels", o.NodeLabels, "Labels of the hub's node, k=v,...")
	fs.StringVar(&o.Pool, "pool", o.Pool, "Pool of the hub's node; defaults to its "+appsapi.NodePoolLabel+" label, empty for no pool.")
	fs.StringToStringVar(&o.NodePools, "node-pools", o.NodePools, "Pools of other nodes, for nodePool(): node=pool,...")
	fs.StringVar(&o.Services, "services", o.Services, "File holding the Services service() finds (several documents or a List).")
	fs.StringVar(&o.UserAgent, "user-agent", o.UserAgent, "The requesting component, e.g. kube-proxy; defaults to the first user agent of the first filter.")
	fs.StringVar(&o.Verb, "verb", o.Verb, "The request's verb: get, list or watch.")
	fs.StringVar(&o.Resource, "resource", o.Resource, "The object's resource (e.g. endpointslices); defaults to the one its kind implies.")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Kubeconfig to read filters named by --filter from; defaults to $KUBECONFIG or ~/.kube/config.")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "yaml or json.")
}

// Complete fills the pool from the node's labels.
func (o *PreviewOptions) Complete() error {
	if o.Pool == "" {
		o.Pool = o.NodeLabels[appsapi.NodePoolLabel]
	}
	return nil
}

// Validate reports every problem with the options.
func (o *PreviewOptions) Validate() []error {
	var errs []error
	if len(o.Filters) == 0 {
		errs = append(errs, errors.New("--filter is required"))
	}
	if o.Object == "" {
		errs = append(errs, errors.New("--object is required"))
	}
	if o.Node == "" {
		errs = append(errs, errors.New("--node is required"))
	}
	switch o.Verb {
	case "get", "list", "watch":
	default:
		errs = append(errs, fmt.Errorf("--verb must be get, list or watch, got %q", o.Verb))
	}
	switch o.Output {
	case "yaml", "json":
	default:
		errs = append(errs, fmt.Errorf("--output must be yaml or json, got %q", o.Output))
	}
	return errs
}

// Run loads the filters and the object, runs the chain and prints the result.
func (o *PreviewOptions) Run(ctx context.Context) error {
	lookup, err := o.lookup()
	if err != nil {
		return err
	}
	compiler, err := celfilter.NewCompiler(celfilter.CompilerOptions{Lookup: lookup})
	if err != nil {
		return err
	}
	rfs, err := o.loadFilters(ctx)
	if err != nil {
		return err
	}
	var compiled []*celfilter.Filter
	for _, l := range rfs {
		f, errs := compiler.Compile(l.filter)
		if len(errs) > 0 {
			return fmt.Errorf("%s: ResponseFilter %s does not compile: %w", l.source, l.filter.Name, errs.ToAggregate())
		}
		compiled = append(compiled, f)
	}
	chain := celfilter.NewChain(compiled...)

	obj, err := readObject(o.Object)
	if err != nil {
		return err
	}
	items := []*unstructured.Unstructured{obj}
	isList := obj.IsList()
	if isList {
		items = nil
		listGVK := obj.GroupVersionKind()
		if err := obj.EachListItem(func(item runtime.Object) error {
			u := item.(*unstructured.Unstructured)
			// An API server's list items carry no kind; the list's kind implies it.
			if u.GetKind() == "" {
				u.SetGroupVersionKind(listGVK.GroupVersion().WithKind(strings.TrimSuffix(listGVK.Kind, "List")))
			}
			items = append(items, u)
			return nil
		}); err != nil {
			return fmt.Errorf("%s: reading the list's items: %w", o.Object, err)
		}
	}
	if len(items) == 0 {
		return fmt.Errorf("%s: the list has no items", o.Object)
	}

	req := o.request(items[0], rfs)
	node := celfilter.Node{Name: o.Node, Labels: o.NodeLabels, Pool: o.Pool}
	matching := chain.For(req)
	if matching.Empty() {
		fmt.Fprintf(o.ErrOut, "# no filter matches %s %s of %s for %q: the hub returns the object unchanged\n", req.Verb, groupResource(req), o.Object, req.UserAgent)
	}
	var kept []any
	for _, item := range items {
		out, err := matching.Apply(ctx, item, req, node)
		if err != nil {
			return fmt.Errorf("%s/%s: the hub would fail the request (failurePolicy Fail): %w", item.GetNamespace(), item.GetName(), err)
		}
		for _, e := range out.Ignored {
			fmt.Fprintf(o.ErrOut, "# %s/%s: ignored (failurePolicy Ignore), the object passes that filter unchanged: %v\n", item.GetNamespace(), item.GetName(), e)
		}
		if !out.Keep {
			fmt.Fprintf(o.ErrOut, "# %s %s/%s: dropped by filter %s\n", item.GetKind(), item.GetNamespace(), item.GetName(), out.DroppedBy)
			continue
		}
		kept = append(kept, out.Object.Object)
	}
	if !isList {
		if len(kept) == 0 {
			return nil
		}
		return o.print(kept[0])
	}
	result := obj.DeepCopy()
	if kept == nil {
		kept = []any{}
	}
	result.Object["items"] = kept
	return o.print(result.Object)
}

func (o *PreviewOptions) print(v any) error {
	var b []byte
	var err error
	if o.Output == "json" {
		b, err = jsonIndent(v)
	} else {
		b, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = o.Out.Write(b)
	return err
}

func jsonIndent(v any) ([]byte, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, j, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// request is the request the hub would see for the object.
func (o *PreviewOptions) request(obj *unstructured.Unstructured, rfs []loadedFilter) celfilter.Request {
	gvk := obj.GroupVersionKind()
	resource := o.Resource
	if resource == "" {
		resource = resourceOf(gvk)
	}
	agent := o.UserAgent
	if agent == "" && len(rfs) > 0 {
		// The filter that runs first decides, as the flag's help says.
		sorted := append([]loadedFilter(nil), rfs...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].filter.Spec.Priority < sorted[j].filter.Spec.Priority })
		if agents := sorted[0].filter.Spec.Match.UserAgents; len(agents) > 0 && agents[0] != "*" {
			agent = agents[0]
		}
	}
	req := celfilter.Request{UserAgent: agent, Verb: o.Verb, Group: gvk.Group, Version: gvk.Version, Resource: resource, Namespace: obj.GetNamespace()}
	if o.Verb == "get" {
		req.Name = obj.GetName()
	}
	return req
}

func groupResource(r celfilter.Request) string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// resourceOf is the resource of a kind: the lower-case plural, as API servers name them.
func resourceOf(gvk schema.GroupVersionKind) string {
	if gvk.Kind == "Endpoints" {
		return "endpoints"
	}
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	return plural.Resource
}

type loadedFilter struct {
	source string
	filter *appsv1alpha1.ResponseFilter
}

func (o *PreviewOptions) loadFilters(ctx context.Context) ([]loadedFilter, error) {
	var out []loadedFilter
	var names []string
	for _, ref := range o.Filters {
		info, err := os.Stat(ref)
		switch {
		case err == nil && info.IsDir():
			files, err := filepath.Glob(filepath.Join(ref, "*.yaml"))
			if err != nil {
				return nil, err
			}
			more, _ := filepath.Glob(filepath.Join(ref, "*.json"))
			files = append(files, more...)
			if len(files) == 0 {
				return nil, fmt.Errorf("--filter %s: the directory holds no .yaml or .json files", ref)
			}
			for _, f := range files {
				l, err := readFilters(f)
				if err != nil {
					return nil, err
				}
				out = append(out, l...)
			}
		case err == nil:
			l, err := readFilters(ref)
			if err != nil {
				return nil, err
			}
			out = append(out, l...)
		case strings.ContainsAny(ref, `/\`) || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".json"):
			return nil, fmt.Errorf("--filter %s: %w", ref, err)
		default:
			names = append(names, ref)
		}
	}
	if len(names) > 0 {
		fromCluster, err := o.getFilters(ctx, names)
		if err != nil {
			return nil, err
		}
		out = append(out, fromCluster...)
	}
	return out, nil
}

func (o *PreviewOptions) getFilters(ctx context.Context, names []string) ([]loadedFilter, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--filter %s is not a file, and reading it from the cluster needs a kubeconfig: %w", names[0], err)
	}
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var out []loadedFilter
	for _, name := range names {
		rf, err := client.AppsV1alpha1().ResponseFilters().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("--filter %s: not a file, and getting the ResponseFilter from the cluster failed: %w", name, err)
		}
		out = append(out, loadedFilter{source: "responsefilter/" + name, filter: rf})
	}
	return out, nil
}

// readFilters reads the ResponseFilters of a file (one or more YAML documents).
func readFilters(path string) ([]loadedFilter, error) {
	docs, err := readDocuments(path)
	if err != nil {
		return nil, err
	}
	var out []loadedFilter
	for i, doc := range docs {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s (document %d): %w", path, i+1, err)
		}
		if tm.Kind != "ResponseFilter" || tm.APIVersion != appsv1alpha1.SchemeGroupVersion.String() {
			return nil, fmt.Errorf("%s (document %d): %s %s is not a %s ResponseFilter", path, i+1, tm.APIVersion, tm.Kind, appsv1alpha1.SchemeGroupVersion)
		}
		rf := &appsv1alpha1.ResponseFilter{}
		if err := yaml.UnmarshalStrict(doc, rf); err != nil {
			return nil, fmt.Errorf("%s (document %d): %w", path, i+1, err)
		}
		out = append(out, loadedFilter{source: path, filter: rf})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no ResponseFilter in the file", path)
	}
	return out, nil
}

func readDocuments(path string) ([][]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
			continue
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

func isOnlyComments(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" {
			return false
		}
	}
	return true
}

func readObject(path string) (*unstructured.Unstructured, error) {
	docs, err := readDocuments(path)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: want one object (or a List), found %d documents", path, len(docs))
	}
	u := &unstructured.Unstructured{}
	j, err := yaml.YAMLToJSON(docs[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// lookup answers nodePool() and service() from the flags.
func (o *PreviewOptions) lookup() (celfilter.Lookup, error) {
	l := staticLookup{pools: map[string]string{}, services: map[string]map[string]any{}}
	for n, p := range o.NodePools {
		l.pools[n] = p
	}
	if o.Pool != "" {
		l.pools[o.Node] = o.Pool
	}
	if o.Services == "" {
		return l, nil
	}
	docs, err := readDocuments(o.Services)
	if err != nil {
		return nil, err
	}
	for i, doc := range docs {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("--services %s (document %d): %w", o.Services, i+1, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("--services %s (document %d): %w", o.Services, i+1, err)
		}
		add := func(s *unstructured.Unstructured) error {
			if s.GetKind() != "Service" && s.GetKind() != "" {
				return fmt.Errorf("--services %s: %s %s is not a Service", o.Services, s.GetKind(), s.GetName())
			}
			l.services[s.GetNamespace()+"/"+s.GetName()] = s.Object
			return nil
		}
		if u.IsList() {
			if err := u.EachListItem(func(item runtime.Object) error { return add(item.(*unstructured.Unstructured)) }); err != nil {
				return nil, err
			}
			continue
		}
		if err := add(u); err != nil {
			return nil, err
		}
	}
	return l, nil
}

type staticLookup struct {
	pools    map[string]string
	services map[string]map[string]any
}

func (l staticLookup) NodePool(node string) string { return l.pools[node] }

func (l staticLookup) Service(namespace, name string) (map[string]any, bool) {
	s, ok := l.services[namespace+"/"+name]
	return s, ok
}
