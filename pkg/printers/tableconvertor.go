// Package printers computes the server-side Tables that kubectl get shows for Yurt's
// resources, like Kubernetes' pkg/printers/internalversion but table-driven: each kind is a
// set of column definitions plus a function returning one row's cells.
package printers

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// TableConvertor converts objects of type T, and lists of them, to Tables.
type TableConvertor[T runtime.Object] struct {
	columns []metav1.TableColumnDefinition
	cells   func(T) []interface{}
}

var _ rest.TableConvertor = &TableConvertor[runtime.Object]{}

// NewTableConvertor returns a TableConvertor with the given columns; cells returns one
// object's cells, one per column and in the same order. Cells of integer, string or bool
// kinds (int32, named string types, ...) are stored as int64, string and bool, so the Table
// stays deep-copyable.
func NewTableConvertor[T runtime.Object](columns []metav1.TableColumnDefinition, cells func(T) []interface{}) *TableConvertor[T] {
	return &TableConvertor[T]{columns: columns, cells: cells}
}

// ConvertToTable returns one row per object: obj is a T or a list whose items are Ts.
// tableOptions may be nil or a *metav1.TableOptions; NoHeaders leaves the column definitions out.
func (c *TableConvertor[T]) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	noHeaders := false
	switch t := tableOptions.(type) {
	case nil:
	case *metav1.TableOptions:
		noHeaders = t != nil && t.NoHeaders
	default:
		return nil, fmt.Errorf("unrecognized type %T for table options, can't display tabular output", tableOptions)
	}

	table := &metav1.Table{}
	if meta.IsListType(obj) {
		if err := c.checkListType(obj); err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, err
		}
		table.Rows = make([]metav1.TableRow, 0, len(items))
		for _, item := range items {
			row, err := c.row(item)
			if err != nil {
				return nil, err
			}
			table.Rows = append(table.Rows, row)
		}
		if m, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
			table.Continue = m.GetContinue()
			table.RemainingItemCount = m.GetRemainingItemCount()
		}
	} else {
		row, err := c.row(obj)
		if err != nil {
			return nil, err
		}
		table.Rows = []metav1.TableRow{row}
		if m, err := meta.CommonAccessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	if !noHeaders {
		table.ColumnDefinitions = slices.Clone(c.columns)
	}
	return table, nil
}

func (c *TableConvertor[T]) row(obj runtime.Object) (metav1.TableRow, error) {
	t, ok := obj.(T)
	if !ok || isNil(obj) {
		return metav1.TableRow{}, c.typeError(obj)
	}
	cells := c.cells(t)
	if len(cells) != len(c.columns) {
		return metav1.TableRow{}, fmt.Errorf("printers: %d cells for %d columns of %s", len(cells), len(c.columns), reflect.TypeFor[T]())
	}
	for i := range cells {
		cells[i] = jsonCell(cells[i])
	}
	return metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: obj}}, nil
}

// checkListType rejects lists of something other than T, even when they are empty.
func (c *TableConvertor[T]) checkListType(list runtime.Object) error {
	itemsPtr, err := meta.GetItemsPtr(list)
	if err != nil {
		return c.typeError(list)
	}
	elem, want := reflect.TypeOf(itemsPtr).Elem().Elem(), reflect.TypeFor[T]()
	if elem == want || (want.Kind() == reflect.Pointer && elem == want.Elem()) || want.Kind() == reflect.Interface {
		return nil
	}
	return c.typeError(list)
}

func (c *TableConvertor[T]) typeError(obj runtime.Object) error {
	return fmt.Errorf("printers: cannot convert %T to a table of %s", obj, reflect.TypeFor[T]())
}

func isNil(obj runtime.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// jsonCell returns v as one of the types metav1.Table cells may hold (string, int64, bool,
// float64 or nil); runtime.DeepCopyJSONValue panics on any other.
func jsonCell(v interface{}) interface{} {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	return fmt.Sprint(v)
}

// Column helpers shared by the kinds.

var objectMetaDescriptions = metav1.ObjectMeta{}.SwaggerDoc()

// now is the clock ages are computed against; tests replace it.
var now = metav1.Now

// maxListed is how many items a list cell shows before "+ N more...".
const maxListed = 3

func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDescriptions["name"]}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDescriptions["creationTimestamp"]}
}

func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wide marks a column shown only with -o wide.
func wide(col metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	col.Priority = 1
	return col
}

// age is the time since t, like kubectl's AGE column, or <unknown> when t is zero.
func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(t.Time))
}

// orNone returns s, or <none> when it is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// list joins items with commas, showing at most maxListed of them, or <none> when empty.
func list(items []string) string {
	if len(items) == 0 {
		return "<none>"
	}
	if len(items) <= maxListed {
		return strings.Join(items, ",")
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(items[:maxListed], ","), len(items)-maxListed)
}
