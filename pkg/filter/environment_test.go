package filter

import (
	"fmt"
	"sync"
	"testing"

	celtypes "github.com/google/cel-go/common/types"
)

func TestPoolNames(t *testing.T) {
	p := &poolNames{max: 50}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("pool-%d", i)
				if v := p.value(name); v != celtypes.String(name) {
					t.Errorf("value(%q) = %v", name, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(*p.names.Load()); n != 50 {
		t.Errorf("%d names interned, want the cap 50", n)
	}
	if v := p.value(""); v != celtypes.String("") {
		t.Errorf("value(\"\") = %v", v)
	}
}
