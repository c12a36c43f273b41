package workload

import (
	"fmt"
	"strings"
)

// maxListed bounds how many pools a condition message or event names; the rest are counted.
const maxListed = 10

// ListPools renders pool names for a message: "a, b, c" or "a, b, … (and 40 more)".
func ListPools(pools []string) string {
	if len(pools) <= maxListed {
		return strings.Join(pools, ", ")
	}
	return fmt.Sprintf("%s (and %d more)", strings.Join(pools[:maxListed], ", "), len(pools)-maxListed)
}

// DescribeRenderErrors joins per-pool render errors for a condition message.
func DescribeRenderErrors(errs []PoolError) string {
	parts := make([]string, 0, len(errs))
	for i, e := range errs {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more pools", len(errs)-maxListed))
			break
		}
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}
