// Package responsefilter is the storage of ResponseFilters. Beyond the structural validation
// in pkg/apis/apps/validation, every create and update compiles and type checks the filter's
// CEL expressions with the environment hubs use (pkg/filter) and rejects a bad expression or an
// over-budget cost estimate with 422 Invalid naming the field. The status is the server's: a
// stored filter compiled, so the server sets status.observedGeneration and a Ready condition
// (reason Compiled) on every create and spec change; clients cannot change either.
package responsefilter
