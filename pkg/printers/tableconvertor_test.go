package printers

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
	"github.com/yurt-edge/yurt/pkg/apis/iot"
)

// testNow is the instant ages are computed against in the tests.
var testNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func fixClock(t *testing.T) {
	t.Helper()
	saved := now
	now = func() metav1.Time { return metav1.NewTime(testNow) }
	t.Cleanup(func() { now = saved })
}

// ago is the creation time of an object created d before testNow.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

// convert converts obj and checks what every Table must satisfy: one cell per column, cells
// the apimachinery JSON helpers accept, and the row's object set.
func convert(t *testing.T, c rest.TableConvertor, obj runtime.Object, opts runtime.Object) *metav1.Table {
	t.Helper()
	table, err := c.ConvertToTable(context.Background(), obj, opts)
	if err != nil {
		t.Fatalf("ConvertToTable(%T): %v", obj, err)
	}
	for i, row := range table.Rows {
		if table.ColumnDefinitions != nil && len(row.Cells) != len(table.ColumnDefinitions) {
			t.Errorf("row %d: %d cells for %d columns", i, len(row.Cells), len(table.ColumnDefinitions))
		}
		if row.Object.Object == nil {
			t.Errorf("row %d: no object", i)
		}
	}
	_ = table.DeepCopy() // panics on cells of other types than JSON's
	if _, err := json.Marshal(table); err != nil {
		t.Errorf("marshal table: %v", err)
	}
	return table
}

func TestConvertSingleObject(t *testing.T) {
	fixClock(t)
	np := &apps.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "hangzhou", ResourceVersion: "42", CreationTimestamp: ago(5 * time.Minute)}}
	table := convert(t, NewNodePoolTableConvertor(), np, nil)

	if table.ResourceVersion != "42" {
		t.Errorf("resourceVersion = %q, want 42", table.ResourceVersion)
	}
	if len(table.ColumnDefinitions) != len(nodePoolColumns) {
		t.Errorf("got %d columns, want %d", len(table.ColumnDefinitions), len(nodePoolColumns))
	}
	if len(table.Rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(table.Rows))
	}
	row := table.Rows[0]
	if row.Cells[0] != "hangzhou" {
		t.Errorf("name cell = %v", row.Cells[0])
	}
	if row.Object.Object != np {
		t.Errorf("row object = %v, want the NodePool itself", row.Object.Object)
	}
}

func TestConvertList(t *testing.T) {
	fixClock(t)
	remaining := int64(7)
	list := &apps.NodePoolList{
		ListMeta: metav1.ListMeta{ResourceVersion: "100", Continue: "token", RemainingItemCount: &remaining},
		Items: []apps.NodePool{
			{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b", ResourceVersion: "2"}},
		},
	}
	table := convert(t, NewNodePoolTableConvertor(), list, &metav1.TableOptions{})

	if table.ResourceVersion != "100" || table.Continue != "token" {
		t.Errorf("list meta = %q/%q, want 100/token", table.ResourceVersion, table.Continue)
	}
	if table.RemainingItemCount == nil || *table.RemainingItemCount != 7 {
		t.Errorf("remainingItemCount = %v, want 7", table.RemainingItemCount)
	}
	if len(table.Rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(table.Rows))
	}
	for i, row := range table.Rows {
		if row.Cells[0] != list.Items[i].Name {
			t.Errorf("row %d name = %v, want %s", i, row.Cells[0], list.Items[i].Name)
		}
		if row.Object.Object != &list.Items[i] {
			t.Errorf("row %d object is not the list item", i)
		}
	}

	empty := convert(t, NewNodePoolTableConvertor(), &apps.NodePoolList{ListMeta: metav1.ListMeta{ResourceVersion: "5"}}, nil)
	if len(empty.Rows) != 0 || empty.ResourceVersion != "5" || len(empty.ColumnDefinitions) == 0 {
		t.Errorf("empty list: rows %d, resourceVersion %q, %d columns", len(empty.Rows), empty.ResourceVersion, len(empty.ColumnDefinitions))
	}
}

func TestTableOptions(t *testing.T) {
	fixClock(t)
	np := &apps.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	tests := []struct {
		name        string
		opts        runtime.Object
		wantHeaders bool
	}{
		{"nil", nil, true},
		{"typed nil", (*metav1.TableOptions)(nil), true},
		{"headers", &metav1.TableOptions{}, true},
		{"no headers", &metav1.TableOptions{NoHeaders: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := convert(t, NewNodePoolTableConvertor(), np, tt.opts)
			if got := table.ColumnDefinitions != nil; got != tt.wantHeaders {
				t.Errorf("headers = %v, want %v", got, tt.wantHeaders)
			}
			if len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(nodePoolColumns) {
				t.Errorf("rows = %+v, want one full row", table.Rows)
			}
		})
	}

	if _, err := NewNodePoolTableConvertor().ConvertToTable(context.Background(), np, &metav1.ListOptions{}); err == nil {
		t.Error("unknown table options type: no error")
	}
}

func TestConvertWrongType(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
	}{
		{"nil", nil},
		{"typed nil", (*apps.NodePool)(nil)},
		{"other kind", &apps.YurtAppSet{ObjectMeta: metav1.ObjectMeta{Name: "a"}}},
		{"other group", &iot.Device{}},
		{"list of other kind", &apps.YurtAppSetList{Items: []apps.YurtAppSet{{}}}},
		{"empty list of other kind", &apps.YurtAppSetList{}},
		{"typed nil list", (*apps.NodePoolList)(nil)},
		{"status", &metav1.Status{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := NewNodePoolTableConvertor().ConvertToTable(context.Background(), tt.obj, nil)
			if err == nil {
				t.Fatalf("no error, table %+v", table)
			}
			if table != nil {
				t.Errorf("table %+v returned with error %v", table, err)
			}
		})
	}
}

func TestCellMismatch(t *testing.T) {
	c := NewTableConvertor([]metav1.TableColumnDefinition{nameColumn(), ageColumn()},
		func(np *apps.NodePool) []interface{} { return []interface{}{np.Name} })
	if _, err := c.ConvertToTable(context.Background(), &apps.NodePool{}, nil); err == nil {
		t.Error("one cell for two columns: no error")
	}
}

type flavor string

func TestCellTypes(t *testing.T) {
	c := NewTableConvertor(
		[]metav1.TableColumnDefinition{nameColumn(), column("A", "string", ""), column("B", "integer", ""),
			column("C", "integer", ""), column("D", "boolean", ""), column("E", "number", ""), column("F", "string", "")},
		func(np *apps.NodePool) []interface{} {
			return []interface{}{np.Name, flavor("x"), int32(3), uint8(4), true, float32(0.5), nil}
		})
	table := convert(t, c, &apps.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, nil)
	want := []interface{}{"a", "x", int64(3), int64(4), true, float64(0.5), nil}
	if !reflect.DeepEqual(table.Rows[0].Cells, want) {
		t.Errorf("cells = %#v, want %#v", table.Rows[0].Cells, want)
	}
}

func TestColumnsNotShared(t *testing.T) {
	c := NewNodePoolTableConvertor()
	first := convert(t, c, &apps.NodePool{}, nil)
	first.ColumnDefinitions[0].Name = "changed"
	if second := convert(t, c, &apps.NodePool{}, nil); second.ColumnDefinitions[0].Name != "Name" {
		t.Errorf("column changed through an earlier table: %q", second.ColumnDefinitions[0].Name)
	}
}

func TestAge(t *testing.T) {
	fixClock(t)
	tests := []struct {
		time metav1.Time
		want string
	}{
		{metav1.Time{}, "<unknown>"},
		{ago(30 * time.Second), "30s"},
		{ago(5 * time.Minute), "5m"},
		{ago(90 * time.Minute), "90m"},
		{ago(50 * time.Hour), "2d2h"},
		{ago(-time.Hour), "<invalid>"},
	}
	for _, tt := range tests {
		if got := age(tt.time); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.time, got, tt.want)
		}
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		items []string
		want  string
	}{
		{nil, "<none>"},
		{[]string{"a"}, "a"},
		{[]string{"a", "b", "c"}, "a,b,c"},
		{[]string{"a", "b", "c", "d", "e"}, "a,b,c + 2 more..."},
	}
	for _, tt := range tests {
		if got := list(tt.items); got != tt.want {
			t.Errorf("list(%q) = %q, want %q", tt.items, got, tt.want)
		}
	}
}

// kindCase is one object of a kind and the cells of its row.
type kindCase struct {
	name  string
	obj   runtime.Object
	cells []interface{}
}

// testColumns checks a kind's column set: Name first, Age last of the default columns, wide
// columns after it, and the expected names.
func testColumns(t *testing.T, c rest.TableConvertor, obj runtime.Object, want, wantWide []string) {
	t.Helper()
	table := convert(t, c, obj, nil)
	var names, wide []string
	for _, col := range table.ColumnDefinitions {
		switch col.Priority {
		case 0:
			if len(wide) > 0 {
				t.Errorf("default column %s after wide ones", col.Name)
			}
			names = append(names, col.Name)
		case 1:
			wide = append(wide, col.Name)
		default:
			t.Errorf("column %s has priority %d", col.Name, col.Priority)
		}
		if col.Type == "" || col.Description == "" {
			t.Errorf("column %s lacks a type or a description", col.Name)
		}
	}
	if !reflect.DeepEqual(names, want) || !reflect.DeepEqual(wide, wantWide) {
		t.Errorf("columns = %v + wide %v, want %v + wide %v", names, wide, want, wantWide)
	}
	if first := table.ColumnDefinitions[0]; first.Name != "Name" || first.Format != "name" {
		t.Errorf("first column = %+v, want Name with format name", first)
	}
	if names[len(names)-1] != "Age" {
		t.Errorf("last default column = %s, want Age", names[len(names)-1])
	}
}

// testCells converts every case alone, then the list holding all cases' objects in order,
// and compares the cells.
func testCells(t *testing.T, c rest.TableConvertor, all runtime.Object, cases []kindCase) {
	t.Helper()
	fixClock(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table := convert(t, c, tc.obj, &metav1.TableOptions{})
			if len(table.Rows) != 1 {
				t.Fatalf("got %d rows, want 1", len(table.Rows))
			}
			if got := table.Rows[0].Cells; !reflect.DeepEqual(got, tc.cells) {
				t.Errorf("cells:\n got %#v\nwant %#v", got, tc.cells)
			}
		})
	}
	table := convert(t, c, all, nil)
	if len(table.Rows) != len(cases) {
		t.Fatalf("list: got %d rows, want %d", len(table.Rows), len(cases))
	}
	for i, row := range table.Rows {
		if !reflect.DeepEqual(row.Cells, cases[i].cells) {
			t.Errorf("list row %d:\n got %#v\nwant %#v", i, row.Cells, cases[i].cells)
		}
	}
}
