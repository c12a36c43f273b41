// Package cache is a hub's on-disk cache: the objects that cached agents (kubelet, kube-proxy,
// coredns…) received from the cloud, one file per object, so that the hub can answer get, list
// and watch for them while the cloud is unreachable, also after a restart.
//
// Layout under the cache directory (like OpenYurt's, so operators find their way):
//
//	<component>/<resource>.<version>.<group|core>/<namespace|_cluster>/<name>   one object
//	<component>/<resource>.<version>.<group|core>/_meta                          list kind and resourceVersion
//	<component>/_nonresource/<sha256 of path and Accept>                         discovery, /version
//
// Every file is written atomically (a temporary file in the same directory, fsync, rename,
// fsync of the directory) and carries a SHA-256 checksum of its content (entry.go). A file whose
// checksum does not match is removed, logged and counted, and never served.
package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
)

// clusterScoped stands in for the namespace of cluster-scoped objects. Namespace names are DNS
// labels, so they cannot contain '_' and cannot collide with it.
const clusterScoped = "_cluster"

// metaFile holds a resource's list metadata. Object names cannot start with '_'.
const metaFile = "_meta"

// tmpPrefix starts temporary files; object names cannot start with '.'.
const tmpPrefix = ".tmp-"

// ErrNotFound is returned when the cache holds no such entry (or held a corrupt one).
var ErrNotFound = errors.New("not in the cache")

// Resource names a cached resource as one agent sees it.
type Resource struct {
	Component string
	schema.GroupVersionResource
}

// dir is the resource's directory relative to the cache root.
func (r Resource) dir() string {
	group := r.Group
	if group == "" {
		group = "core"
	}
	return filepath.Join(r.Component, r.Resource+"."+r.Version+"."+group)
}

func (r Resource) String() string {
	return r.Component + "/" + r.GroupVersionResource.String()
}

// ListMeta is what a list response needs besides its items.
type ListMeta struct {
	// APIVersion and Kind of the list, e.g. v1 ServiceList.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// ResourceVersion is the cloud's resourceVersion the cached items reflect.
	ResourceVersion string `json:"resourceVersion"`
}

// Store is the on-disk cache. It is safe for concurrent use.
type Store struct {
	root      string
	logger    klog.Logger
	onCorrupt func(path string)
	mu        sync.RWMutex
	// readBufs are the buffers sameFile reads into, reused across the thousands of files of
	// a relist.
	readBufs sync.Pool
	// gens counts the changes to each resource's entries (mu held for writing); drops counts
	// corrupt entries dropped (by readers, under the read lock). See Generation.
	gens  map[Resource]uint64
	drops atomic.Uint64
}

// NewStore opens (creating) the cache under root. onCorrupt, if set, is called for every
// corrupt entry dropped (e.g. to count it in a metric). Temporary files left by a crash are removed.
func NewStore(root string, logger klog.Logger, onCorrupt func(path string)) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating the cache directory %s: %w", root, err)
	}
	s := &Store{root: root, logger: logger, onCorrupt: onCorrupt, gens: map[Resource]uint64{}}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), tmpPrefix) {
			logger.Info("Removing a temporary cache file left by an interrupted write", "path", path)
			return os.Remove(path)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("scanning the cache directory %s: %w", root, err)
	}
	return s, nil
}

// Root is the cache directory.
func (s *Store) Root() string { return s.root }

// Generation tells whether a resource's entries may have changed since a writer wrote them.
// Writes counts the changes to the resource's entries (objects, list metadata); Drops counts
// the corrupt entries dropped anywhere in the cache. A writer that is the only one to write a
// resource (the hub's write queue is) and notes Drops before its write and Writes after it
// knows, while Generation still returns the same, that the entries hold what it wrote: writing
// the same again would change nothing, so the work of decoding it can be skipped.
type Generation struct{ Writes, Drops uint64 }

// Generation returns r's generation now.
func (s *Store) Generation(r Resource) Generation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Generation{Writes: s.gens[r], Drops: s.drops.Load()}
}

// changedLocked notes a change of r's entries; mu held for writing.
func (s *Store) changedLocked(r Resource) { s.gens[r]++ }

func (s *Store) objectPath(r Resource, namespace, name string) (string, error) {
	if err := checkPathElement("name", name); err != nil {
		return "", err
	}
	return filepath.Join(s.nsDir(r, namespace), name), nil
}

func (s *Store) nsDir(r Resource, namespace string) string {
	if namespace == "" {
		namespace = clusterScoped
	}
	return filepath.Join(s.root, r.dir(), namespace)
}

// checkPathElement refuses values that would escape or confuse the layout; the API server
// never produces them, so they mean a malformed request or object.
func checkPathElement(what, v string) error {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, `/\`) || strings.HasPrefix(v, tmpPrefix) || strings.HasPrefix(v, "_") {
		return fmt.Errorf("cache: invalid %s %q", what, v)
	}
	return nil
}

func checkResource(r Resource) error {
	for what, v := range map[string]string{"component": r.Component, "resource": r.Resource, "version": r.Version} {
		if err := checkPathElement(what, v); err != nil {
			return err
		}
	}
	if r.Group != "" {
		return checkPathElement("group", r.Group)
	}
	return nil
}

// Encoded is one object in the form the cache stores it: its JSON, apiVersion and kind set.
type Encoded struct {
	Namespace, Name string
	JSON            []byte
}

// Put stores obj (replacing any previous version).
func (s *Store) Put(r Resource, obj *unstructured.Unstructured) error {
	e, err := encode(r, obj)
	if err != nil {
		return err
	}
	return s.PutEncoded(r, e)
}

func encode(r Resource, obj *unstructured.Unstructured) (Encoded, error) {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return Encoded{}, fmt.Errorf("cache: encoding %s %s/%s: %w", r, obj.GetNamespace(), obj.GetName(), err)
	}
	return Encoded{Namespace: obj.GetNamespace(), Name: obj.GetName(), JSON: data}, nil
}

// PutEncoded stores an object already encoded (replacing any previous version).
func (s *Store) PutEncoded(r Resource, e Encoded) error {
	if err := checkResource(r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, changed, err := s.putLocked(r, e)
	if err != nil || !changed {
		return err
	}
	s.changedLocked(r)
	return syncDir(dir)
}

// putLocked writes e and returns its directory, which the caller must sync if changed.
func (s *Store) putLocked(r Resource, e Encoded) (dir string, changed bool, err error) {
	if e.Namespace != "" {
		if err := checkPathElement("namespace", e.Namespace); err != nil {
			return "", false, err
		}
	}
	path, err := s.objectPath(r, e.Namespace, e.Name)
	if err != nil {
		return "", false, err
	}
	entry := EncodeEntry(e.JSON)
	if s.sameFile(path, entry) {
		return filepath.Dir(path), false, nil // unchanged (a relist): skip the write and its fsyncs
	}
	return filepath.Dir(path), true, writeFileSynced(path, entry)
}

// sameFile reports whether the file at path holds exactly entry. A relist rewrites every
// object, nearly all unchanged; the size is checked first and the file's bytes compared
// without decoding them.
func (s *Store) sameFile(path string, entry []byte) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() != int64(len(entry)) {
		return false
	}
	bufp, _ := s.readBufs.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	defer s.readBufs.Put(bufp)
	if cap(*bufp) < len(entry) {
		*bufp = make([]byte, len(entry))
	}
	buf := (*bufp)[:len(entry)]
	if _, err := io.ReadFull(f, buf); err != nil {
		return false
	}
	return bytes.Equal(buf, entry)
}

// Get returns one object, or ErrNotFound.
func (s *Store) Get(r Resource, namespace, name string) (*unstructured.Unstructured, error) {
	if err := checkResource(r); err != nil {
		return nil, err
	}
	path, err := s.objectPath(r, namespace, name)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.readObject(path)
}

// Delete removes one object; a missing one is not an error.
func (s *Store) Delete(r Resource, namespace, name string) error {
	if err := checkResource(r); err != nil {
		return err
	}
	path, err := s.objectPath(r, namespace, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cache: removing %s: %w", path, err)
	}
	s.changedLocked(r)
	return nil
}

// List returns the cached objects of r in namespace ("" for all namespaces), sorted by
// namespace and name. Corrupt entries are dropped and skipped.
func (s *Store) List(r Resource, namespace string) ([]*unstructured.Unstructured, error) {
	if err := checkResource(r); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.list(r, namespace)
}

func (s *Store) list(r Resource, namespace string) ([]*unstructured.Unstructured, error) {
	var dirs []string
	if namespace != "" {
		dirs = []string{s.nsDir(r, namespace)}
	} else {
		entries, err := os.ReadDir(filepath.Join(s.root, r.dir()))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cache: listing %s: %w", r, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(s.root, r.dir(), e.Name()))
			}
		}
	}
	var out []*unstructured.Unstructured
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cache: listing %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), tmpPrefix) {
				continue
			}
			obj, err := s.readObject(filepath.Join(dir, e.Name()))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, obj)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GetNamespace() != out[j].GetNamespace() {
			return out[i].GetNamespace() < out[j].GetNamespace()
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out, nil
}

// Replace makes the cached objects of r in namespace that satisfy matches exactly items: it
// writes every item and removes the matching entries that are not among them (objects deleted
// in the cloud while nobody watched). Objects outside matches (another selector's) are kept.
func (s *Store) Replace(r Resource, namespace string, matches func(*unstructured.Unstructured) bool, items []*unstructured.Unstructured) error {
	return s.ReplaceEncoded(r, namespace, matches, func(yield func(Encoded, error) bool) {
		for _, it := range items {
			if !yield(encode(r, it)) {
				return
			}
		}
	})
}

// ReplaceEncoded is Replace for items already encoded, taken one at a time from a sequence
// (which may decode them lazily) so that a large list never exists decoded in full. The
// sequence's first error stops the replacement before anything is removed.
func (s *Store) ReplaceEncoded(r Resource, namespace string, matches func(*unstructured.Unstructured) bool, items iter.Seq2[Encoded, error]) error {
	if err := checkResource(r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := map[string]bool{}
	// Each file is synced before its rename; each directory once at the end, which is what
	// makes a large list affordable.
	dirs := map[string]bool{}
	defer func() {
		if len(dirs) > 0 {
			s.changedLocked(r)
		}
	}()
	for it, err := range items {
		if err != nil {
			return err
		}
		dir, changed, err := s.putLocked(r, it)
		if err != nil {
			return err
		}
		if changed {
			dirs[dir] = true
		}
		keep[it.Namespace+"/"+it.Name] = true
	}
	// Only entries the list did not hold can be stale; just those are read back (to apply
	// matches), so a relist does not decode the whole cache again.
	err := s.walkNames(r, namespace, func(ns, name, path string) error {
		if keep[ns+"/"+name] {
			return nil
		}
		if matches != nil {
			obj, err := s.readObject(path)
			if errors.Is(err, ErrNotFound) {
				return nil // gone or corrupt (and dropped)
			}
			if err != nil {
				return err
			}
			if !matches(obj) {
				return nil
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cache: removing %s: %w", path, err)
		}
		dirs[filepath.Dir(path)] = true
		return nil
	})
	if err != nil {
		return err
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// walkNames calls fn with the namespace, name and path of every entry of r in namespace
// ("" for all namespaces), without reading the entries.
func (s *Store) walkNames(r Resource, namespace string, fn func(ns, name, path string) error) error {
	var nss []string
	if namespace != "" {
		nss = []string{namespace}
	} else {
		entries, err := os.ReadDir(filepath.Join(s.root, r.dir()))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cache: listing %s: %w", r, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				ns := e.Name()
				if ns == clusterScoped {
					ns = ""
				}
				nss = append(nss, ns)
			}
		}
	}
	for _, ns := range nss {
		dir := s.nsDir(r, ns)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cache: listing %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), tmpPrefix) {
				continue
			}
			if err := fn(ns, e.Name(), filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// PutListMeta records a resource's list kind and latest resourceVersion.
func (s *Store) PutListMeta(r Resource, meta ListMeta) error {
	if err := checkResource(r); err != nil {
		return err
	}
	data, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.root, r.dir(), metaFile)
	entry := EncodeEntry(data)
	if s.sameFile(path, entry) {
		return nil // a relist at the same resourceVersion: skip the write and its fsyncs
	}
	s.changedLocked(r)
	if err := writeFileSynced(path, entry); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// ListMeta returns what PutListMeta recorded, or ErrNotFound.
func (s *Store) ListMeta(r Resource) (ListMeta, error) {
	if err := checkResource(r); err != nil {
		return ListMeta{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	path := filepath.Join(s.root, r.dir(), metaFile)
	payload, err := s.readEntry(path)
	if err != nil {
		return ListMeta{}, err
	}
	var meta ListMeta
	if err := json.Unmarshal(payload, &meta); err != nil {
		s.dropCorrupt(path, err)
		return ListMeta{}, ErrNotFound
	}
	return meta, nil
}

// readEntry reads and checks one file; a corrupt one is dropped and reported as ErrNotFound.
func (s *Store) readEntry(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cache: reading %s: %w", path, err)
	}
	payload, err := DecodeEntry(data)
	if err != nil {
		s.dropCorrupt(path, err)
		return nil, ErrNotFound
	}
	return payload, nil
}

func (s *Store) readObject(path string) (*unstructured.Unstructured, error) {
	payload, err := s.readEntry(path)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(payload); err != nil {
		s.dropCorrupt(path, err)
		return nil, ErrNotFound
	}
	return obj, nil
}

// dropCorrupt removes a corrupt file (readers hold only the read lock; removing is safe
// because a concurrent writer replaces the file by rename, never in place).
func (s *Store) dropCorrupt(path string, why error) {
	s.logger.Error(why, "Dropping a corrupt cache entry; it will not be served", "path", path)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logger.Error(err, "Could not remove a corrupt cache entry", "path", path)
	}
	// After the removal: a writer that noted the generation before it now sees a new one.
	s.drops.Add(1)
	if s.onCorrupt != nil {
		s.onCorrupt(path)
	}
}

// writeFileSynced writes data to path so that a reader sees the old file or the new one,
// never a mix, also across a crash: a temporary file in the same directory, fsync, rename.
// The rename itself is durable once the directory is synced (syncDir).
func writeFileSynced(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache: creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("cache: creating a temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("cache: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("cache: syncing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("cache: closing %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cache: renaming into %s: %w", path, err)
	}
	return nil
}

// syncDir makes the renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cache: opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cache: syncing %s: %w", dir, err)
	}
	return nil
}

// rawDir holds non-resource responses (discovery, /version) of a component.
const rawDir = "_nonresource"

// RawResponse is a non-resource response kept as received.
type RawResponse struct {
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

func (s *Store) rawPath(component, key string) (string, error) {
	if err := checkPathElement("component", component); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.root, component, rawDir, hex.EncodeToString(sum[:])), nil
}

// PutRaw keeps a non-resource response of component under key (its path and Accept header).
func (s *Store) PutRaw(component, key string, resp RawResponse) error {
	path, err := s.rawPath(component, key)
	if err != nil {
		return err
	}
	data, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entry := EncodeEntry(data)
	if s.sameFile(path, entry) {
		return nil // discovery rarely changes: skip the write and its fsyncs
	}
	if err := writeFileSynced(path, entry); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// GetRaw returns what PutRaw kept, or ErrNotFound.
func (s *Store) GetRaw(component, key string) (RawResponse, error) {
	path, err := s.rawPath(component, key)
	if err != nil {
		return RawResponse{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	payload, err := s.readEntry(path)
	if err != nil {
		return RawResponse{}, err
	}
	var resp RawResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		s.dropCorrupt(path, err)
		return RawResponse{}, ErrNotFound
	}
	return resp, nil
}
