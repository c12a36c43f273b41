// Package resource builds the REST storage of one Yurt resource from a small definition:
// every kind Yurt serves has a spec and a status, a status subresource, optional selectable
// fields beyond metadata, short names and categories. One strategy and one store builder
// serve them all; a resource's own package (e.g. pkg/registry/apps/nodepool) supplies its
// validation, table, fields and any hooks.
package resource
