package filter

import (
	"fmt"
	"reflect"

	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// CEL values over unstructured content (map[string]any, []any, as decoded from JSON) that
// convert lazily and keep what they converted. cel-go's own wrappers (the default type
// adapter's) convert every element and field again on every read: a filter reading
// e.nodeName on each of a slice's endpoints paid two wrapper allocations per endpoint plus one
// per read of the name (has(e.nodeName) and e.nodeName are two reads). Here an element is
// wrapped once, the wrappers of a list's maps share one allocation, and a map remembers the
// field it last returned. Everything but reading (equality, conversion, concatenation,
// printing) is delegated to cel-go's wrappers, so the values behave exactly as before.
//
// A value belongs to one evaluation (one filter on one object): it caches without locking.

// unstructuredValue converts unstructured content to a CEL value.
func unstructuredValue(v any) ref.Val {
	switch t := v.(type) {
	case map[string]any:
		return &unstructuredMap{m: t}
	case []any:
		return &unstructuredList{l: t}
	}
	return celtypes.DefaultTypeAdapter.NativeToValue(v)
}

type unstructuredMap struct {
	m map[string]any
	// lastKey and lastVal are the field last returned by Find.
	lastKey string
	lastVal ref.Val
}

var (
	_ traits.Mapper = (*unstructuredMap)(nil)
	_ traits.Zeroer = (*unstructuredMap)(nil)
	_ traits.Lister = (*unstructuredList)(nil)
	_ traits.Zeroer = (*unstructuredList)(nil)
)

// delegate is cel-go's wrapper of the map, for the operations filters seldom use (not kept: a
// list's maps are many and most never need it).
func (u *unstructuredMap) delegate() traits.Mapper {
	return celtypes.DefaultTypeAdapter.NativeToValue(u.m).(traits.Mapper)
}

func (u *unstructuredMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(celtypes.String)
	if !ok {
		return u.delegate().Find(key)
	}
	if u.lastVal != nil && string(k) == u.lastKey {
		return u.lastVal, true
	}
	v, found := u.m[string(k)]
	if !found {
		return nil, false
	}
	val := unstructuredValue(v)
	u.lastKey, u.lastVal = string(k), val
	return val, true
}

func (u *unstructuredMap) Get(key ref.Val) ref.Val {
	if v, found := u.Find(key); found {
		return v
	}
	return celtypes.ValOrErr(key, "no such key: %v", key)
}

func (u *unstructuredMap) Contains(key ref.Val) ref.Val {
	if k, ok := key.(celtypes.String); ok {
		_, found := u.m[string(k)]
		return celtypes.Bool(found)
	}
	return u.delegate().Contains(key)
}

func (u *unstructuredMap) Size() ref.Val             { return celtypes.Int(len(u.m)) }
func (u *unstructuredMap) IsZeroValue() bool         { return len(u.m) == 0 }
func (u *unstructuredMap) Iterator() traits.Iterator { return u.delegate().Iterator() }
func (u *unstructuredMap) Type() ref.Type            { return celtypes.MapType }
func (u *unstructuredMap) Value() any                { return u.m }
func (u *unstructuredMap) Equal(other ref.Val) ref.Val {
	return u.delegate().Equal(other)
}
func (u *unstructuredMap) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return u.delegate().ConvertToNative(typeDesc)
}
func (u *unstructuredMap) ConvertToType(typeVal ref.Type) ref.Val {
	if typeVal == celtypes.MapType {
		return u
	}
	return u.delegate().ConvertToType(typeVal)
}
func (u *unstructuredMap) String() string { return fmt.Sprint(u.delegate()) }

type unstructuredList struct {
	l []any
	// maps holds the wrappers of the elements that are maps, allocated together; others the
	// other elements converted so far.
	maps   []unstructuredMap
	others []ref.Val
	base   traits.Lister
}

func (u *unstructuredList) delegate() traits.Lister {
	if u.base == nil {
		u.base = celtypes.DefaultTypeAdapter.NativeToValue(u.l).(traits.Lister)
	}
	return u.base
}

// elem returns element i, 0 <= i < len(u.l), converting it on first use.
func (u *unstructuredList) elem(i int) ref.Val {
	if m, ok := u.l[i].(map[string]any); ok {
		if u.maps == nil {
			u.maps = make([]unstructuredMap, len(u.l))
		}
		w := &u.maps[i]
		if w.m == nil {
			w.m = m
		}
		return w
	}
	if u.others == nil {
		u.others = make([]ref.Val, len(u.l))
	}
	if v := u.others[i]; v != nil {
		return v
	}
	v := unstructuredValue(u.l[i])
	u.others[i] = v
	return v
}

func (u *unstructuredList) Get(index ref.Val) ref.Val {
	if i, ok := index.(celtypes.Int); ok && i >= 0 && int64(i) < int64(len(u.l)) {
		return u.elem(int(i))
	}
	// Other index types and errors, as cel-go reports them.
	return u.delegate().Get(index)
}

func (u *unstructuredList) Iterator() traits.Iterator { return &unstructuredListIterator{list: u} }

// Fold calls FoldEntry with each index and element, as cel-go's lists do.
func (u *unstructuredList) Fold(f traits.Folder) {
	for i := range u.l {
		if !f.FoldEntry(i, u.elem(i)) {
			break
		}
	}
}

func (u *unstructuredList) Size() ref.Val     { return celtypes.Int(len(u.l)) }
func (u *unstructuredList) IsZeroValue() bool { return len(u.l) == 0 }
func (u *unstructuredList) Type() ref.Type    { return celtypes.ListType }
func (u *unstructuredList) Value() any        { return u.l }
func (u *unstructuredList) Add(other ref.Val) ref.Val {
	return u.delegate().Add(other)
}
func (u *unstructuredList) Contains(elem ref.Val) ref.Val { return u.delegate().Contains(elem) }
func (u *unstructuredList) Equal(other ref.Val) ref.Val   { return u.delegate().Equal(other) }
func (u *unstructuredList) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return u.delegate().ConvertToNative(typeDesc)
}
func (u *unstructuredList) ConvertToType(typeVal ref.Type) ref.Val {
	if typeVal == celtypes.ListType {
		return u
	}
	return u.delegate().ConvertToType(typeVal)
}
func (u *unstructuredList) String() string { return fmt.Sprint(u.delegate()) }

type unstructuredListIterator struct {
	list  *unstructuredList
	index int
}

func (it *unstructuredListIterator) HasNext() ref.Val {
	return celtypes.Bool(it.index < len(it.list.l))
}

func (it *unstructuredListIterator) Next() ref.Val {
	if it.index >= len(it.list.l) {
		return celtypes.NewErr("no more elements")
	}
	v := it.list.elem(it.index)
	it.index++
	return v
}

func (it *unstructuredListIterator) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("type conversion on iterators not supported")
}

func (it *unstructuredListIterator) ConvertToType(ref.Type) ref.Val {
	return celtypes.NewErr("no such overload")
}

func (it *unstructuredListIterator) Equal(ref.Val) ref.Val {
	return celtypes.NewErr("no such overload")
}
func (it *unstructuredListIterator) Type() ref.Type { return celtypes.IteratorType }
func (it *unstructuredListIterator) Value() any     { return nil }
